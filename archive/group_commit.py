"""Group commit: concurrent ingests share one catalog transaction.

Ingesters that receive items concurrently (the SMTP server's sessions) call
``GroupCommitter.ingest`` from their worker threads (or ``submit`` an item a
worker process prepared). Each item is prepared on its own, in parallel
(``Archive.prepare``: seal, write and fsync the blobs). Then two stages, each
one thread, in a pipeline:

1. the committer takes whatever prepared items are waiting and commits them as
   one group (``Archive.commit_group``: one catalog transaction, one WAL fsync,
   one audit run and anchor);
2. the finisher hands that group to the index and runs the listeners
   (``Archive.finish_group``) while the committer already commits the next one,
   wakes each caller with its own result, then re-checks the group's index
   entries against privacy requests that raced it (``Archive.recheck_group``).

With the index outbox running (``Archive.start_indexing``, as the SMTP server
and ``serve`` do), "hands to the index" means "joins the outbox": a caller's
answer means *durable* (blobs, catalog row and audit event fsync'd), and the
item is searchable about a second later (``archive.outbox``). Without it the
group is indexed before the answer. Either way the answer is the item's result
or the exception its own ``ingest`` would have raised; one item's refusal does
not fail the others. Under light load a group is one
item and nothing waits; under load, items prepared while the previous group was
committing go together.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from typing import Final, Protocol

from archive.errors import TemporaryFailure
from archive.intake import CommittedGroup, PreparedItem
from archive.model import IngestResult, NewItem
from archive.users import User

log = logging.getLogger(__name__)

#: Items per group at most: bounds one transaction's size and a caller's wait.
DEFAULT_MAX_GROUP: Final = 32


class GroupSink(Protocol):
    """What group commit and the ingesters feeding it need of ``Archive``.

    The committer uses the prepare/commit/finish/recheck/abandon stages; the SMTP
    server also starts the background indexing, asks whether its backlog is too
    long (``451``), asks who is internal (parties' sides) and checks AUTH tokens.
    """

    def prepare(self, new: NewItem) -> PreparedItem: ...

    def commit_group(self, items: list[PreparedItem]) -> CommittedGroup: ...

    def finish_group(self, done: CommittedGroup) -> list[IngestResult | Exception]: ...

    def recheck_group(self, done: CommittedGroup) -> None: ...

    def abandon(self, item: PreparedItem) -> None: ...

    def start_indexing(self) -> None: ...

    def index_backlog(self) -> str | None: ...

    def is_internal_address(self, address: str) -> bool: ...

    def authenticate(self, token: str) -> User: ...


class GroupCommitter:
    """A committer thread feeding ``ingest_many``; ``close()`` drains and stops it."""

    def __init__(self, sink: GroupSink, *, max_group: int = DEFAULT_MAX_GROUP,
                 name: str = "group-commit") -> None:
        if max_group < 1:
            raise ValueError("max_group must be at least 1")
        self._sink = sink
        self._max_group = max_group
        self._queue: queue.SimpleQueue[tuple[PreparedItem, Future[IngestResult]] | None] = (
            queue.SimpleQueue())
        self._closed = False
        self._lock = threading.Lock()
        self._finishing: queue.SimpleQueue[
            tuple[CommittedGroup, list[Future[IngestResult]]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._finisher = threading.Thread(target=self._finish, name=f"{name}-finish",
                                          daemon=True)
        self._thread.start()
        self._finisher.start()
        #: Groups committed and items in them (for stats and tests).
        self.groups = 0
        self.items = 0

    def submit(self, item: PreparedItem) -> Future[IngestResult]:
        """Queue a prepared item for the next group; its future holds the outcome."""
        future: Future[IngestResult] = Future()
        with self._lock:
            if self._closed:
                self._sink.abandon(item)
                raise TemporaryFailure("ingest", reason="shutting down")
            self._queue.put((item, future))
        return future

    def ingest(self, new: NewItem) -> IngestResult:
        """``Archive.ingest``: prepared in the calling thread, committed in a group with
        whatever else is being ingested now. Raises what ``ingest`` would raise."""
        if self._closed:
            raise TemporaryFailure("ingest", reason="shutting down")
        return self.submit(self._sink.prepare(new)).result()

    def close(self, timeout: float | None = None) -> None:
        """Commit what was submitted, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout)
        self._finisher.join(timeout)

    def _run(self) -> None:
        stopping = False
        try:
            while not stopping:
                first = self._queue.get()
                if first is None:
                    break
                group = [first]
                while len(group) < self._max_group:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stopping = True
                        break
                    group.append(more)
                # A caller that gave up (cancelled) gets nothing committed; the others'
                # futures can no longer be cancelled, so each answer below lands.
                live = [(item, future) for item, future in group
                        if future.set_running_or_notify_cancel() or self._drop(item)]
                if live:
                    self._commit(live)
        finally:
            with self._lock:
                self._closed = True
            self._refuse_queued()
            self._finishing.put(None)

    def _drop(self, item: PreparedItem) -> bool:
        self._sink.abandon(item)
        return False

    def _refuse_queued(self) -> None:
        """After the committer stopped (closed, or a bug): nobody waits forever."""
        while True:
            try:
                left = self._queue.get_nowait()
            except queue.Empty:
                return
            if left is None:
                continue
            item, future = left
            self._sink.abandon(item)
            if future.set_running_or_notify_cancel():
                future.set_exception(TemporaryFailure("ingest", reason="shutting down"))

    def _commit(self, group: list[tuple[PreparedItem, Future[IngestResult]]]) -> None:
        futures = [future for _, future in group]
        try:
            done = self._sink.commit_group([item for item, _ in group])
        except Exception as exc:  # a bug: every caller answers "internal error", none hangs
            self._fail(futures, exc)
            return
        self._finishing.put((done, futures))

    def _finish(self) -> None:
        while (work := self._finishing.get()) is not None:
            done, futures = work
            try:
                results = self._sink.finish_group(done)
                if len(results) != len(futures):
                    raise RuntimeError(f"{len(results)} results for {len(futures)} items")
            except Exception as exc:
                self._fail(futures, exc)
                continue
            self.groups += 1
            self.items += len(futures)
            for future, result in zip(futures, results, strict=True):
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            try:  # after the answers: it only matters if a privacy request raced the index
                self._sink.recheck_group(done)
            except Exception as exc:
                log.error("re-checking %d indexed item(s) failed (%s)", len(futures),
                          type(exc).__name__)

    @staticmethod
    def _fail(futures: list[Future[IngestResult]], exc: Exception) -> None:
        # No message text in the log: it may quote the mail.
        log.error("group commit of %d item(s) failed (%s)", len(futures), type(exc).__name__)
        for future in futures:
            future.set_exception(exc)
