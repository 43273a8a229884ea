"""Worker processes for CPU-bound ingest steps, driven from the event loop.

``concurrent.futures.ProcessPoolExecutor`` routes every call through a feeder
thread and a management thread of the serving process; under load each of those
hops waits for the GIL, and a 64 KiB message spent longer in that plumbing than
in the worker. Here each worker has one socket pair to the event loop: a call is
one length-prefixed pickle written with asyncio, its answer one frame read by
the loop. Calls to a worker are pipelined and answered in order.

Workers are spawned (never forked, so they do not inherit the listening sockets
or open database connections), exit when the serving process goes away (their
socket reaches EOF), and a worker that dies is replaced; the calls it had taken
fail with ``WorkerDied`` (the SMTP server answers 451, the sender retries).

Only the SMTP server uses it today; nothing here is specific to e-mail.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import multiprocessing
import pickle
import signal
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from ingest.errors import WorkerDied, WorkerStartError

log = logging.getLogger(__name__)

_HEADER: Final = struct.Struct("!Q")
#: Seconds a new worker may take to import and run its initializer.
START_TIMEOUT_S: Final = 60.0
#: Back-off between attempts to replace a dead worker.
RESPAWN_FIRST_DELAY_S: Final = 0.5
RESPAWN_MAX_DELAY_S: Final = 30.0


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives pickling, else its type name only."""
    try:
        pickle.loads(pickle.dumps(exc, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:
        return RuntimeError(f"{type(exc).__name__} in ingest worker")
    return exc


def _send(sock: socket.socket, obj: object) -> None:
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def _recv(sock: socket.socket) -> bytes | None:
    header = _recv_exactly(sock, _HEADER.size)
    if header is None:
        return None
    return _recv_exactly(sock, _HEADER.unpack(header)[0])


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            return None
        got += n
    return bytes(buf)


def _worker_main(
    sock: socket.socket, initializer: Callable[..., object], initargs: tuple[Any, ...]
) -> None:
    # Ctrl-C and a service manager's SIGTERM reach the whole process group: the serving
    # process stops us (end of our socket) once what we took is done, so neither may
    # kill us half-way, nor make the pool report a worker that died.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(ConnectionError):  # the serving process went away: just exit
        _serve(sock, initializer, initargs)


def _serve(
    sock: socket.socket, initializer: Callable[..., object], initargs: tuple[Any, ...]
) -> None:
    try:
        initializer(*initargs)
    except BaseException as exc:
        _send(sock, ("failed", _portable(exc)))
        return
    _send(sock, ("ready", None))
    while (frame := _recv(sock)) is not None:
        fn, args = pickle.loads(frame)
        try:
            answer: tuple[str, object] = ("ok", fn(*args))
        except Exception as exc:
            answer = ("err", _portable(exc))
        try:
            _send(sock, answer)
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            _send(sock, ("err", RuntimeError(f"unpicklable result: {type(exc).__name__}")))


@dataclass(eq=False)
class _Worker:
    process: Any
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    pending: collections.deque[asyncio.Future[Any]] = field(default_factory=collections.deque)
    alive: bool = True
    task: asyncio.Task[None] | None = None


class WorkerPool:
    """``count`` spawned processes running ``initializer(*initargs)`` once each."""

    def __init__(self, count: int, initializer: Callable[..., object],
                 initargs: tuple[Any, ...], *, name: str = "ingest-worker",
                 discard: Callable[[Any], None] | None = None) -> None:
        """``discard`` gets a result nobody waits for any more (its caller gave up)."""
        if count < 1:
            raise ValueError("a worker pool needs at least one worker")
        self._count = count
        self._initializer = initializer
        self._initargs = initargs
        self._name = name
        self._discard = discard
        self._workers: list[_Worker] = []
        self._closing = False
        self.restarts = 0

    async def start(self) -> None:
        """Start every worker; raises WorkerStartError if one cannot."""
        try:
            for _ in range(self._count):
                self._workers.append(await self._spawn())
        except BaseException:
            await self.close()
            raise

    async def _spawn(self) -> _Worker:
        ctx = multiprocessing.get_context("spawn")
        parent, child = socket.socketpair()
        process = ctx.Process(target=_worker_main, name=self._name, daemon=True,
                              args=(child, self._initializer, self._initargs))
        try:
            await asyncio.to_thread(process.start)
        finally:
            child.close()
        reader, writer = await asyncio.open_connection(sock=parent)
        worker = _Worker(process, reader, writer)
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                status, detail = pickle.loads(await self._read_frame(reader))
        except (TimeoutError, asyncio.IncompleteReadError, pickle.UnpicklingError) as exc:
            self._kill(worker)
            raise WorkerStartError(f"{self._name} did not start ({type(exc).__name__})") from exc
        if status != "ready":
            self._kill(worker)
            raise WorkerStartError(f"{self._name} failed to start: {detail}") from detail
        worker.task = asyncio.create_task(self._read_answers(worker))
        return worker

    @staticmethod
    async def _read_frame(reader: asyncio.StreamReader) -> bytes:
        header = await reader.readexactly(_HEADER.size)
        return await reader.readexactly(_HEADER.unpack(header)[0])

    async def _read_answers(self, worker: _Worker) -> None:
        while True:
            try:
                frame = await self._read_frame(worker.reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            future = worker.pending.popleft() if worker.pending else None
            try:
                status, value = pickle.loads(frame)
            except Exception as exc:  # one unreadable answer fails its call, not the worker
                status, value = "err", RuntimeError(
                    f"unreadable answer from {self._name}: {type(exc).__name__}")
            if future is None or future.done():
                if status == "ok" and self._discard is not None:
                    try:
                        self._discard(value)
                    except Exception as exc:
                        log.warning("could not discard an unwanted result (%s)",
                                    type(exc).__name__)
                continue
            if status == "ok":
                future.set_result(value)
            else:
                future.set_exception(value)
        await self._lost(worker)

    async def _lost(self, worker: _Worker) -> None:
        worker.alive = False
        self._kill(worker)
        while worker.pending:
            future = worker.pending.popleft()
            if not future.done():
                future.set_exception(WorkerDied(f"{self._name} exited"))
        if self._closing or worker not in self._workers:
            return
        log.error("%s (pid %s) exited; starting a new one", self._name, worker.process.pid)
        delay = RESPAWN_FIRST_DELAY_S
        while not self._closing:
            try:
                replacement = await self._spawn()
            except Exception as exc:  # keep trying: a pool must not shrink for good
                log.error("could not replace %s (%s); trying again in %.0f s",
                          self._name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RESPAWN_MAX_DELAY_S)
                continue
            if self._closing:  # close() ran meanwhile: it did not see this one
                self._kill(replacement)
                return
            self._workers[self._workers.index(worker)] = replacement
            self.restarts += 1
            return

    def _kill(self, worker: _Worker) -> None:
        worker.writer.close()
        if worker.process.is_alive():
            worker.process.kill()

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in the least busy worker (``fn`` must be importable by name)."""
        alive = [w for w in self._workers if w.alive]
        if not alive or self._closing:
            raise WorkerDied(f"no {self._name} running")
        worker = min(alive, key=lambda w: len(w.pending))
        payload = pickle.dumps((fn, args), protocol=pickle.HIGHEST_PROTOCOL)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        worker.pending.append(future)
        worker.writer.write(_HEADER.pack(len(payload)) + payload)
        with contextlib.suppress(ConnectionError):  # then the reader task fails the future
            await worker.writer.drain()
        return await future

    @property
    def pids(self) -> list[int]:
        return [int(w.process.pid) for w in self._workers if w.alive]

    async def close(self, timeout: float = 30.0) -> None:
        """Let the workers finish what they took, then stop them."""
        self._closing = True
        pending = [f for w in self._workers for f in w.pending]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        for worker in self._workers:
            worker.writer.close()  # EOF: the worker's loop ends
        for worker in self._workers:
            await asyncio.to_thread(worker.process.join, 5.0)
            if worker.process.is_alive():
                worker.process.kill()
            if worker.task is not None:
                worker.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker.task
