"""Group commit: concurrent ingests share one catalog transaction.

Ingesters that receive items concurrently (the SMTP server's sessions) call
``GroupCommitter.ingest`` from their worker threads. Each caller prepares its
own item (``Archive.prepare``: seal, write and fsync the blobs), in parallel;
one committer thread takes whatever prepared items are waiting, hands them to
``Archive.commit_prepared`` as one group (one catalog transaction, one WAL
fsync, one audit anchor, one index update), and wakes each caller with its own
result once the group is durable. Under light load a group is one item and
nothing waits; under load, the items that were prepared while the previous
group was committing go together.

Each caller still gets ``ingest``'s contract: its result is durable when
``ingest`` returns, or it gets the exception its own ``ingest`` would have
raised, and one item's refusal does not fail the others.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future
from typing import Final, Protocol

from archive.errors import TemporaryFailure
from archive.model import IngestResult, NewItem
from archive.service import PreparedItem

log = logging.getLogger(__name__)

#: Items per group at most: bounds one transaction's size and a caller's wait.
DEFAULT_MAX_GROUP: Final = 32


class GroupSink(Protocol):
    def prepare(self, new: NewItem) -> PreparedItem: ...

    def commit_prepared(self, items: list[PreparedItem]) -> list[IngestResult | Exception]: ...

    def abandon(self, item: PreparedItem) -> None: ...


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
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
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

    def _run(self) -> None:
        stopping = False
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
            self._commit(group)

    def _commit(self, group: list[tuple[PreparedItem, Future[IngestResult]]]) -> None:
        try:
            results = self._sink.commit_prepared([item for item, _ in group])
            if len(results) != len(group):
                raise RuntimeError(f"{len(results)} results for {len(group)} items")
        except Exception as exc:  # a bug: every caller answers "internal error", none hangs
            # No message text: it may quote the mail.
            log.error("group commit of %d item(s) failed (%s)", len(group), type(exc).__name__)
            for _, future in group:
                future.set_exception(exc)
            return
        self.groups += 1
        self.items += len(group)
        for (_, future), result in zip(group, results, strict=True):
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
