"""Durability against power loss, not only process kills: the syscall order of each ``250``.

A SIGKILL leaves the page cache intact, so a crash test passes even when an
``fsync`` is missing. Here the SMTP server (with its ingest worker processes)
runs under ``strace -f`` and one client sends messages one after another; for
each ``250 ... archived as ID`` the trace must show, after the previous reply
and before this reply is written, in this order:

1. the ``fsync`` of the item's sealed original (``blobs/items/XX/ID.original``),
2. the ``fsync`` of that file's directory (so its name survives too),
3. the ``fsync``/``fdatasync`` of the catalog's WAL (its row and audit event).

``serve --break blob|directory|wal`` runs the same server with one of them
removed (in the worker processes too), so a test can show the check fails then:
the approach of crash-consistency tools such as ALICE, on one path.

    python -m tests.soak.durability check --messages 5 [--break wal]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import re
import signal
import smtplib
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
BREAKS: Final = ("blob", "directory", "wal")
SYSCALLS: Final = "fsync,fdatasync,write,writev,sendto,sendmsg"
_LINE_RE: Final = re.compile(r"^(\d+)\s+(.*)$")
_CALL_RE: Final = re.compile(r"^(\w+)\((\d+)<([^>]*)>")
_REPLY_RE: Final = re.compile(r'"250 2\.0\.0 Ok: archived as (\w+)')


# ------------------------------------------------------------------ the server, maybe broken


class _NoFsyncOf(ModuleType):
    """``os`` for ``archive.store.local``, with fsync skipped for one kind of file."""

    def __init__(self, skip_dirs: bool) -> None:
        super().__init__("os")
        self._skip_dirs = skip_dirs

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def fsync(self, fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode) != self._skip_dirs:
            os.fsync(fd)


def break_durability(what: str | None, archive: Any = None) -> None:
    """Remove one of the three syncs in this process (for the negative tests only)."""
    if what in ("blob", "directory"):
        import archive.store.local as local

        setattr(local, "os", _NoFsyncOf(skip_dirs=what == "directory"))  # noqa: B010
    elif what == "wal" and archive is not None:
        from sqlalchemy import event

        engine = archive.catalog.write_engine

        @event.listens_for(engine, "connect")
        def _off(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.execute("PRAGMA synchronous=OFF")

        engine.dispose()


def open_preparer(settings: Any, broken: str | None) -> Any:
    """The worker processes' archive, broken like the server's."""
    from commarchive import runtime

    break_durability(broken)
    return runtime.open_preparer(settings)


def serve_main(data_dir: Path, port: int, workers: int, broken: str | None) -> None:
    from commarchive import runtime
    from commarchive.settings import Settings
    from ingest.email.config import SmtpConfig
    from ingest.email.smtp import start_smtp_server

    async def run() -> None:
        settings = Settings(data_dir=data_dir)
        archive = runtime.open_archive(settings)
        break_durability(broken, archive)
        handle = await start_smtp_server(
            archive, SmtpConfig(port=port, workers=workers),
            preparer=functools.partial(open_preparer, settings, broken))
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        print(f"READY {os.getpid()}", flush=True)
        await stop.wait()
        await handle.close()
        archive.close()

    asyncio.run(run())


# ------------------------------------------------------------------ the trace


@dataclass
class Checked:
    acked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def events(trace: str) -> list[tuple[str, str]]:
    """("sync", path) when an fsync/fdatasync returned 0; ("reply", item id) when a 250
    starts being written. In trace order (strace -f serialises the tracees' calls)."""
    out: list[tuple[str, str]] = []
    pending: dict[str, tuple[str, str]] = {}  # pid -> (syscall, fd path), unfinished
    for line in trace.splitlines():
        m = _LINE_RE.match(line)
        if not m:
            continue
        pid, rest = m.groups()
        if rest.startswith("<..."):
            call = pending.pop(pid, None)
            if call and call[0] in ("fsync", "fdatasync") and rest.rstrip().endswith("= 0"):
                out.append(("sync", call[1]))
            continue
        c = _CALL_RE.match(rest)
        if not c:
            continue
        name, _fd, path = c.groups()
        if name in ("fsync", "fdatasync"):
            if rest.endswith("<unfinished ...>"):
                pending[pid] = (name, path)
            elif rest.rstrip().endswith("= 0"):
                out.append(("sync", path))
        else:
            reply = _REPLY_RE.search(rest)
            if reply:
                out.append(("reply", reply.group(1)))
    return out


def check(trace: str) -> Checked:
    """Every 250 preceded (since the previous one) by blob, directory, WAL syncs in order."""
    result = Checked()
    window: list[str] = []
    for kind, value in events(trace):
        if kind == "sync":
            window.append(value)
            continue
        item = value
        result.acked.append(item)
        blob = f"/items/{item[-2:]}/{item}.original"
        directory = f"/items/{item[-2:]}"
        at = _first(window, blob)
        if at is None:
            result.problems.append(f"{item}: its blob was not fsync'd before the 250")
        else:
            at_dir = _first(window, directory, after=at)
            if at_dir is None:
                result.problems.append(
                    f"{item}: its blob's directory was not fsync'd after the blob, before the 250")
            elif _first(window, "catalog.sqlite-wal", after=at_dir) is None:
                result.problems.append(
                    f"{item}: the catalog WAL was not fsync'd after its blob, before the 250")
        window = []
    return result


def _first(paths: list[str], suffix: str, after: int = -1) -> int | None:
    """The first path after position ``after`` that ends with ``suffix``."""
    for i in range(after + 1, len(paths)):
        if paths[i].endswith(suffix):
            return i
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_traced(work: Path, *, messages: int, workers: int, broken: str | None = None,
               strace: str = "strace") -> tuple[Checked, int]:
    """Start the server under strace, send ``messages`` one by one, stop it, check the
    trace. Returns the check and how many 250s the client got."""
    from commarchive import runtime
    from commarchive.settings import Settings

    data_dir = work / "archive"
    runtime.init_archive(Settings(data_dir=data_dir)).close()
    out = work / "trace.txt"
    port = free_port()
    command = [strace, "-f", "-qq", "-y", "-s", "120", "-e", f"trace={SYSCALLS}",
               "-o", str(out), sys.executable, "-m", "tests.soak.durability", "serve",
               "--data-dir", str(data_dir), "--port", str(port), "--workers", str(workers)]
    if broken:
        command += ["--break", broken]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            start_new_session=True)
    acked = 0
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline().split()
        if not ready or ready[0] != b"READY":
            raise RuntimeError("the traced server did not start")
        server_pid = int(ready[1])
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
            smtp.ehlo("durability")
            for n in range(messages):
                raw = (f"From: Jan <jan@customer.nl>\r\nTo: support@example.com\r\n"
                       f"Subject: durable {n}\r\nMessage-ID: <durable-{n}-{time.time_ns()}"
                       f"@customer.nl>\r\n\r\nInvoice question number {n}.\r\n").encode()
                smtp.mail("jan@customer.nl")
                smtp.rcpt("support@example.com")
                code, _ = smtp.data(raw)
                acked += code == 250
        os.kill(server_pid, signal.SIGTERM)
        proc.wait(60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    return check(out.read_text(errors="replace")), acked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.soak.durability")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve")
    serve.add_argument("--data-dir", type=Path, required=True)
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--workers", type=int, default=2)
    serve.add_argument("--break", dest="broken", choices=BREAKS)
    run = sub.add_parser("check")
    run.add_argument("--messages", type=int, default=5)
    run.add_argument("--workers", type=int, default=2)
    run.add_argument("--break", dest="broken", choices=BREAKS)
    args = parser.parse_args(argv)
    if args.command == "serve":
        serve_main(args.data_dir, args.port, args.workers, args.broken)
        return 0
    with tempfile.TemporaryDirectory(prefix="durability-") as tmp:
        checked, acked = run_traced(Path(tmp), messages=args.messages, workers=args.workers,
                                    broken=args.broken)
    print(f"{acked} acknowledged, {len(checked.acked)} 250s in the trace")
    for problem in checked.problems:
        print(problem)
    return 1 if checked.problems else 0


if __name__ == "__main__":
    sys.exit(main())
