"""``commarchive worker``: runs the shared job queue's jobs (``archive.jobs``) on any node.

Kinds: ``transcribe`` (one call, by item id), ``monitor`` (the quality team's
monitoring policies over one item, queued in the item's own commit:
``archive.quality.monitoring``), ``backfill_monitor`` (a stored monitoring backfill,
in batches that record their progress: ``archive.quality.backfill``), ``backfill``
(queue every pending call),
``reindex`` (rebuild the index from the sealed parts) and ``sweep`` (the
retention sweep; it also takes ``Catalog.exclusive("sweep")``, so a sweep runs
once at a time cluster-wide whoever asked). While idle a worker queues what is
due: a ``transcribe`` job for each pending call (so a call acknowledged by a
node that died before asking is still transcribed) and a ``sweep`` every
``COMMARCHIVE_SWEEP_INTERVAL_SECONDS``; asking twice queues once.

A worker renews its claim while a job runs; if the claim is taken over (this
worker was paused past its lease) the job is cancelled where it can be, and
its completion is refused, so a call is transcribed once. ``serve`` runs the
same transcription and sweep in process, and workers of ``monitor`` jobs
(``start_embedded``, woken by each new item) and of ``backfill_monitor`` jobs (a
thread of their own, so a long backfill never holds up new items' checks), unless
``COMMARCHIVE_EMBEDDED_WORKER`` is false (several nodes: run workers instead).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Final

from archive.jobs import Job, JobQueue
from archive.quality import backfill, monitoring
from archive.retention import sweep
from archive.service import Archive
from commarchive.settings import Settings
from ingest.transcription.routing import LanguageRouter
from ingest.transcription.worker import Models, Outcome, transcribe_item

log = logging.getLogger("commarchive.worker")


class JobKind(StrEnum):
    TRANSCRIBE = "transcribe"
    MONITOR = monitoring.JOB_KIND
    BACKFILL_MONITOR = backfill.JOB_KIND
    BACKFILL = "backfill"
    REINDEX = "reindex"
    SWEEP = "sweep"


#: How often an idle worker looks for pending calls nobody queued.
SCAN_INTERVAL_SECONDS: Final = 30.0
IDLE_WAIT_SECONDS: Final = 1.0
#: A job left for later (no model yet, archive busy) is tried again after this.
RETRY_SECONDS: Final = 30.0
PENDING_BATCH: Final = 500
#: How long stopping waits for a job in hand to finish.
STOP_WAIT_SECONDS: Final = 30.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobWorker:
    """Claims, runs and finishes jobs until stopped."""

    def __init__(self, archive: Archive, settings: Settings, *,
                 router: Callable[[], Models | None],
                 queue: JobQueue | None = None, name: str | None = None,
                 kinds: Sequence[JobKind] = tuple(JobKind)) -> None:
        self.archive = archive
        self.settings = settings
        self.queue = queue or JobQueue(archive.catalog, lease_s=settings.job_lease_seconds)
        self.name = name or worker_name()
        #: The kinds this worker claims (and, while idle, asks for when due).
        self.kinds = tuple(kinds)
        self._router = router
        self._wake = threading.Event()
        #: Set when the worker is asked to stop (``run``'s event): long jobs end early.
        self._stopping = threading.Event()
        self._next_scan = 0.0
        self._next_sweep = 0.0
        #: Jobs this worker ran to the end, per kind and outcome (for tests and logs).
        self.done: list[tuple[str, str, str]] = []

    def run(self, stop: threading.Event) -> None:
        log.info("worker %s: running jobs %s", self.name, ", ".join(self.kinds))
        self._stopping = stop
        while not stop.is_set():
            try:
                self._ask_for_due()
                self._wake.clear()
                job = self.queue.claim(self.name, list(self.kinds))
            except Exception:  # catalog down: wait and try again
                log.warning("worker %s: cannot reach the job queue", self.name, exc_info=True)
                stop.wait(IDLE_WAIT_SECONDS * 5)
                continue
            if job is None:
                self._wake.wait(IDLE_WAIT_SECONDS)
                continue
            self.run_one(job)

    def wake(self) -> None:
        """Look for a job now rather than after the idle wait (a new item came in)."""
        self._wake.set()

    def _ask_for_due(self) -> None:
        now = time.monotonic()
        if now >= self._next_scan and JobKind.TRANSCRIBE in self.kinds:
            self._next_scan = now + SCAN_INTERVAL_SECONDS
            self._queue_pending()
        if now >= self._next_sweep and JobKind.SWEEP in self.kinds:
            self._next_sweep = now + self.settings.sweep_interval_seconds
            self.queue.enqueue(JobKind.SWEEP)

    def _queue_pending(self) -> int:
        if self._router() is None:
            return 0  # nothing could transcribe them: leave them pending, unqueued
        return self.queue.enqueue(JobKind.TRANSCRIBE,
                                  self.archive.pending_transcripts(PENDING_BATCH))

    def run_one(self, job: Job) -> None:
        if job.kind == JobKind.MONITOR:
            self._run_monitor(job)
            return
        cancel = threading.Event()
        beating = threading.Event()
        heart = threading.Thread(target=self._heartbeat, args=(job, cancel, beating),
                                 name=f"lease-{job.id}", daemon=True)
        heart.start()
        try:
            outcome = self._handle(job, cancel)
        except Exception as exc:
            log.exception("worker %s: %s job %s failed", self.name, job.kind, job.id)
            self.queue.fail(job, self.name, f"{type(exc).__name__}: {exc}",
                            retry_in_s=RETRY_SECONDS)
            return
        finally:
            beating.set()
            heart.join()
        if outcome == Outcome.RETRY:
            self.queue.fail(job, self.name, "left for later", retry_in_s=RETRY_SECONDS)
        elif self.queue.complete(job, self.name):
            self.done.append((job.kind, job.key, outcome))
        else:
            log.warning("worker %s: %s job %s was taken over; its result is not counted",
                        self.name, job.kind, job.id)

    def _run_monitor(self, first: Job) -> None:
        """Monitor jobs in a batch with ``first`` (short: the lease is not renewed; one
        taken over meanwhile is evaluated twice, which queues nothing twice)."""
        batch = [first]
        try:
            batch += self.queue.claim_many(self.name, [JobKind.MONITOR],
                                           limit=monitoring.BATCH_JOBS - 1)
            entries = monitoring.run_claimed(self.archive, self.queue, batch, self.name)
        except Exception:  # left to their leases and retries; the worker goes on
            log.exception("worker %s: %d monitor job(s) failed", self.name, len(batch))
            return
        self.done.extend((JobKind.MONITOR.value, key, f"queued {len(found)}")
                         for key, found in entries.items())

    def _heartbeat(self, job: Job, cancel: threading.Event, finished: threading.Event) -> None:
        interval = max(0.2, self.queue.lease_s / 3)
        while not finished.wait(interval):
            try:
                if not self.queue.heartbeat(job, self.name):
                    cancel.set()  # another worker holds it now
                    return
            except Exception:
                log.warning("worker %s: lease renewal failed", self.name, exc_info=True)

    def _handle(self, job: Job, cancel: threading.Event) -> str:
        kind = JobKind(job.kind)
        if kind is JobKind.TRANSCRIBE:
            router = self._router()
            if router is None:
                return Outcome.RETRY
            return transcribe_item(self.archive, router, job.key, cancel=cancel).value
        if kind is JobKind.BACKFILL:
            return f"queued {self._queue_pending()}"
        if kind is JobKind.BACKFILL_MONITOR:  # stopped between batches: handed back
            outcome = backfill.run_job(self.archive, job, self.queue, self.name,
                                       cancel=cancel, stop=self._stopping)
            return Outcome.RETRY if outcome is None else outcome
        if kind is JobKind.REINDEX:
            return f"indexed {self.archive.reindex()}"
        report = sweep(self.archive, actor="sweeper")
        return f"dropped {len(report.dropped)}, purged {len(report.purged)}"


def discover_router(settings: Settings) -> Callable[[], LanguageRouter | None]:
    """The configured speech models (looked for again every minute while there are none)."""
    found: list[LanguageRouter | None] = [None]
    checked = [float("-inf")]
    lock = threading.Lock()

    def router() -> LanguageRouter | None:
        with lock:
            if found[0] is None and time.monotonic() - checked[0] > 60:
                checked[0] = time.monotonic()
                candidate = settings.transcribe.router()
                found[0] = candidate if candidate.enabled else None
            return found[0]

    return router


def start_embedded(archive: Archive, settings: Settings,
                   kinds: Sequence[JobKind]) -> Callable[[], None]:
    """``serve``'s in-process worker of ``kinds`` on a thread, woken by every new item;
    returns the stopper (which lets a running job finish)."""
    worker = JobWorker(archive, settings, router=lambda: None, kinds=kinds)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), name="embedded-jobs",
                              daemon=True)
    archive.ingest_listeners.append(lambda result, new: worker.wake())
    archive.transcripts.listeners.append(lambda item_id: worker.wake())
    thread.start()

    def close() -> None:
        stop.set()
        worker.wake()
        thread.join(STOP_WAIT_SECONDS)

    return close


def run_worker(settings: Settings, stop: threading.Event) -> None:
    """``commarchive worker``: open the archive and run jobs until ``stop``."""
    from commarchive import runtime

    archive = runtime.open_archive(settings)
    try:
        # Backfills on a thread of their own: a long one never holds up new items' jobs.
        backfills = JobWorker(archive, settings, router=lambda: None,
                              kinds=[JobKind.BACKFILL_MONITOR])
        thread = threading.Thread(target=backfills.run, args=(stop,), name="backfill-jobs",
                                  daemon=True)
        thread.start()
        JobWorker(archive, settings, router=discover_router(settings),
                  kinds=[k for k in JobKind if k is not JobKind.BACKFILL_MONITOR]).run(stop)
        thread.join(STOP_WAIT_SECONDS)
    finally:
        archive.close()
