"""The index outbox: new items are indexed in the background, after they are acknowledged.

An acknowledgement (SMTP ``250``, the ``200`` to a BYE, an upload's ``201``)
means *durable*: the sealed blobs, the catalog row and the audit event are on
disk. Making the item searchable costs far more than that (the trainer's
redacted copy, the mentions), so it follows from this outbox, like
Elasticsearch's own refresh interval, within about a second under load.

The outbox is durable without a table of its own: every new item is committed
with the catalog's ``index_dirty`` mark, and the mark is cleared only after its
document is in the index. In memory the outbox keeps what it needs to build the
documents without unsealing (the parsed sections of the item just ingested);
on ``start`` it first takes every item still marked (a SIGKILL, a failed
index) and builds those from their sealed parts. Documents go to the index in
batches: one SQLite FTS transaction or one Elasticsearch bulk request for many
items.

A document built from the state at commit time may be stale by the time it
reaches the index (the item was erased, restricted, held, transcribed or
rectified meanwhile), so every batch is re-checked against the catalog after
it is written (``Indexer.recheck``), and items whose state changed in this
process since their group committed are rebuilt from their sealed parts.
Either the change happened before the re-check, which sees it, or after, and
then the change brings its own index update.

A backlog over the configured limits (``OutboxLimits``) makes ingest refuse
temporarily (SMTP ``451``, HTTP ``503``) instead of letting memory and the time
to searchable run away.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy import exc as sa_exc

import keys
from archive import catalog as cat
from archive.errors import ContentIntegrityError, ItemNotFound, TemporaryFailure
from archive.index import IndexDoc
from archive.indexing import Indexer
from archive.model import NewItem, PurposeTag
from archive.vault import Vault

log = logging.getLogger(__name__)

#: Items per index transaction / bulk request.
DEFAULT_BATCH_ITEMS: Final = 64
#: Items waiting past which ingest is refused for now (``451``/``503``).
DEFAULT_MAX_DEPTH: Final = 2000
#: Age of the oldest waiting item past which ingest is refused for now.
DEFAULT_MAX_AGE_SECONDS: Final = 30.0
#: How long to wait before retrying a batch the index refused.
RETRY_SECONDS: Final = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
#: Latencies kept for the p50/p99 of "acknowledged to searchable".
LATENCY_SAMPLES: Final = 10_000


@dataclass(frozen=True, slots=True)
class OutboxLimits:
    """When the backlog is too large for ingest to go on accepting (see the module)."""

    max_depth: int = DEFAULT_MAX_DEPTH
    max_age_s: float = DEFAULT_MAX_AGE_SECONDS
    batch_items: int = DEFAULT_BATCH_ITEMS

    def __post_init__(self) -> None:
        if self.max_depth < 1 or self.max_age_s <= 0 or self.batch_items < 1:
            raise ValueError("outbox limits must be positive")


@dataclass(frozen=True, slots=True)
class OutboxStatus:
    """What ``/readyz`` and the metrics report."""

    running: bool
    depth: int
    oldest_age_s: float
    indexed: int
    failed_batches: int
    #: Items set aside because indexing them alone raised (left marked for the catch-up).
    set_aside: int
    #: Enqueued (before the acknowledgement) to written in the index, over recent items.
    latency_p50_s: float
    latency_p99_s: float
    backlogged: str | None


@dataclass(slots=True)
class _Entry:
    item_id: str
    enqueued: float
    #: The index change counter when the item's state was read (``Indexer.generation``).
    generation: int
    #: Built from memory when given; from the sealed parts when None.
    new: NewItem | None = None
    tags: Sequence[PurposeTag] = ()
    subjects: Sequence[str] = ()
    restricted: bool = False
    held: bool = False


class IndexOutbox:
    """The background indexer over the catalog's ``index_dirty`` marks (see the module)."""

    def __init__(self, vault: Vault, indexer: Indexer,
                 limits: OutboxLimits | None = None) -> None:
        self._vault = vault
        self._indexer = indexer
        self.limits = limits or OutboxLimits()
        self._pending: OrderedDict[str, _Entry] = OrderedDict()
        self._busy: dict[str, _Entry] = {}  # taken by the thread, not written yet
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._indexed = 0
        self._failed_batches = 0
        #: Items of a batch that raised, taken one at a time until each is through or
        #: set aside, so one item the indexer cannot handle never holds up the others.
        self._alone: set[str] = set()
        self._set_aside = 0
        self._latencies: deque[float] = deque(maxlen=LATENCY_SAMPLES)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    # -- control ------------------------------------------------------------------------

    def start(self, limits: OutboxLimits | None = None) -> None:
        """Start the thread, with what the catalog still marks unindexed queued first
        (so a ``flush`` right after waits for those too)."""
        with self._cond:
            if limits is not None:
                self.limits = limits
            if self.running:
                return
            self._indexer.tracking = True  # before anything is put: no change is missed
            self._stopping = False
        try:
            found = self.put_dirty()
            if found:
                log.info("indexing %d item(s) left unindexed before this start", found)
        except TemporaryFailure as exc:
            log.warning("could not read the unindexed items (%s); the periodic job retries",
                        exc.reason)
        with self._cond:
            if self.running:
                return
            self._thread = threading.Thread(target=self._run, name="index-outbox", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Index what is waiting (up to ``timeout``), then stop; the rest stays marked."""
        thread = self._thread
        if thread is None:
            return
        self.flush(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        thread.join(timeout)
        self._thread = None

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything waiting now is in the index; False on timeout.

        For the CLI and tests that search right after ingesting (no sleeping).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            waiting = set(self._pending) | set(self._busy)
            while waiting & (set(self._pending) | set(self._busy)):
                if not self.running:
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(left)
        return True

    # -- input ----------------------------------------------------------------------------

    def put_new(self, item_id: str, new: NewItem, tags: Sequence[PurposeTag],
                subjects: Iterable[str], *, restricted: bool, held: bool,
                generation: int) -> None:
        """A just-committed item, built later from memory (its original is not kept)."""
        entry = _Entry(item_id, time.monotonic(), generation,
                       dataclasses.replace(new, original=b""), tuple(tags), tuple(subjects),
                       restricted, held)
        self._put([entry])

    def put_marked(self, item_ids: Iterable[str]) -> int:
        """Items the catalog marks unindexed, built from their sealed parts; returns how
        many were not waiting already."""
        generation = self._indexer.generation
        now = time.monotonic()
        with self._cond:
            fresh = [i for i in item_ids if i not in self._pending and i not in self._busy]
        self._put([_Entry(i, now, generation) for i in fresh])
        return len(fresh)

    def put_dirty(self) -> int:
        """Everything the catalog marks unindexed (after a crash, a failed index write)."""
        self._indexer.flush_flags()
        return self.put_marked(self._vault.item_ids(where=cat.items.c.index_dirty.is_(True)))

    def _put(self, entries: Sequence[_Entry]) -> None:
        if not entries:
            return
        with self._cond:
            for entry in entries:
                old = self._pending.pop(entry.item_id, None)
                if old is not None:  # keep the older time: the wait is what it is
                    entry.enqueued = min(entry.enqueued, old.enqueued)
                self._pending[entry.item_id] = entry
            self._cond.notify_all()

    # -- state ----------------------------------------------------------------------------

    def backlogged(self) -> str | None:
        """Why ingest should refuse for now, or None."""
        with self._cond:
            depth = len(self._pending) + len(self._busy)
            oldest = self._oldest_locked()
        if depth > self.limits.max_depth:
            return f"index backlog of {depth} items (limit {self.limits.max_depth})"
        if oldest > self.limits.max_age_s:
            return (f"index backlog {oldest:.0f} s old "
                    f"(limit {self.limits.max_age_s:.0f} s)")
        return None

    def _oldest_locked(self) -> float:
        times = [e.enqueued for e in self._busy.values()]
        if self._pending:
            times.append(next(iter(self._pending.values())).enqueued)
        return max(0.0, time.monotonic() - min(times)) if times else 0.0

    def status(self) -> OutboxStatus:
        with self._cond:
            depth = len(self._pending) + len(self._busy)
            oldest = self._oldest_locked()
            samples = sorted(self._latencies)
            indexed, failed, aside = self._indexed, self._failed_batches, self._set_aside
        return OutboxStatus(
            running=self.running, depth=depth, oldest_age_s=oldest, indexed=indexed,
            failed_batches=failed, set_aside=aside, latency_p50_s=_quantile(samples, 0.50),
            latency_p99_s=_quantile(samples, 0.99), backlogged=self.backlogged())

    # -- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while True:
            with self._cond:
                while not self._pending and not self._stopping:
                    self._cond.wait()
                if self._stopping and not self._pending:
                    return
                batch: list[_Entry] = []
                while self._pending and len(batch) < self.limits.batch_items:
                    if batch and next(iter(self._pending)) in self._alone:
                        break
                    batch.append(self._pending.popitem(last=False)[1])
                    if batch[0].item_id in self._alone:
                        break
                self._busy = {e.item_id: e for e in batch}
            raised = False
            try:
                ok = self._index(batch)
            except (TemporaryFailure, sa_exc.OperationalError) as exc:  # the catalog, busy
                log.warning("indexing %d item(s) deferred: %s", len(batch), exc)
                ok = False
            except Exception as exc:  # a bug must not stop indexing: see below
                # Where, not what: a bug's message may quote the text being indexed
                # (a KeyError names a word), and logs are plaintext on disk.
                log.error("indexing a batch of %d item(s) failed: %s", len(batch),
                          _where(exc))
                ok, raised = False, True
            with self._cond:
                self._busy = {}
                if raised and len(batch) > 1:
                    # Which item? Each is tried alone next, at once.
                    self._failed_batches += 1
                    self._alone.update(e.item_id for e in batch)
                    self._requeue(batch)
                    continue
                if raised:  # this item alone: set aside, the others go on
                    entry = batch[0]
                    self._alone.discard(entry.item_id)
                    self._failed_batches += 1
                    self._set_aside += 1
                    log.error("item %s cannot be indexed (the failure is above); it stays "
                              "marked unindexed and is tried again by the next catch-up "
                              "or start, or by reindex", entry.item_id)
                    self._cond.notify_all()
                    continue
                if ok:
                    self._alone.difference_update(e.item_id for e in batch)
                    failures = 0
                    now = time.monotonic()
                    self._indexed += len(batch)
                    self._latencies.extend(now - e.enqueued for e in batch)
                else:  # back to the front, in order; retried after a pause
                    self._failed_batches += 1
                    self._requeue(batch)
                self._cond.notify_all()
                if not ok and not self._stopping:
                    self._cond.wait(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                    failures += 1
                elif not ok:
                    return  # stopping with the index down: the marks stay for next start

    def _requeue(self, batch: Sequence[_Entry]) -> None:
        """Put ``batch`` back at the front, in order (under the lock)."""
        for entry in reversed(batch):
            if entry.item_id not in self._pending:
                self._pending[entry.item_id] = entry
                self._pending.move_to_end(entry.item_id, last=False)

    def _index(self, batch: Sequence[_Entry]) -> bool:
        """Build, write in one index transaction, re-check; False: retry the batch later."""
        docs: list[IndexDoc] = []
        gone: list[str] = []
        for entry in batch:
            try:
                docs.append(self._document(entry))
            except ItemNotFound:
                gone.append(entry.item_id)  # erased before it was indexed
            except (TemporaryFailure, keys.KeysError, ContentIntegrityError) as exc:
                # Shredded meanwhile, or unreadable: the re-check below or the periodic
                # job settles it; the item stays marked in the catalog.
                log.warning("item %s not indexed: %s", entry.item_id, type(exc).__name__)
                gone.append(entry.item_id)
        if docs and not self._indexer.index_docs(docs):
            return False
        for item_id, why in self._indexer.drop(gone):
            log.error("item %s may be left in the index: %s", item_id, why)
        if docs:
            oldest = min(e.generation for e in batch)
            changed = self._indexer.changed_since(oldest)
            stale = [e.item_id for e in batch
                     if changed.get(e.item_id, -1) > e.generation]
            self._indexer.recheck(docs)
            if stale:
                self._indexer.index_items(stale)
        self._indexer.prune_changes(self._oldest_generation())
        return True

    def _oldest_generation(self) -> int:
        with self._cond:
            gens = [e.generation for e in self._pending.values()]
        return min(gens) if gens else self._indexer.generation

    def _document(self, entry: _Entry) -> IndexDoc:
        if entry.new is None:
            return self._indexer.build(entry.item_id)
        return self._indexer.document_of_new(
            entry.item_id, entry.new, entry.tags, entry.subjects,
            restricted=entry.restricted, held=entry.held)


def _quantile(samples: Sequence[float], q: float) -> float:
    if not samples:
        return 0.0
    return samples[min(len(samples) - 1, int(q * len(samples)))]


def _where(exc: BaseException) -> str:
    """An exception's type and the code that raised it, without its message."""
    frames = traceback.extract_tb(exc.__traceback__)
    at = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames[-4:]))
    return f"{type(exc).__name__} at {at}" if at else type(exc).__name__
