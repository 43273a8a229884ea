"""Monitoring backfill: policies over items already archived, as a stored request and a job.

A year of items does not fit in one HTTP request, nor in one process's life.
So a backfill is a row of ``quality_backfills`` (who asked, when, the range,
the policies: those named, enabled or not, or every enabled one), asked for
in one audited transaction that also queues its ``backfill_monitor`` job
(key: the request id) in the shared queue (``archive.jobs``). Any worker runs
it (``commarchive worker``, the one ``serve`` embeds, or the CLI in process):
in batches of items ordered by id, each batch's queue entries, audit events
and progress (items done, entries queued, the last item id) committed in one
transaction, and only while the worker still holds the job. A worker that dies
mid-run leaves the request where its last batch ended; whoever takes the job
over resumes there, so no item is read twice and no entry queued twice
(``queue.add`` is idempotent as well). The end is audited with the counts.

A request that cannot run (a named policy gone) fails at once with the
reason; one whose job failed for good (``MAX_ATTEMPTS``) reads as failed with
the job's last error. An item that cannot be read is counted, the first reason
kept, and the rest go on.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from archive import catalog as cat
from archive.audit import SYSTEM_ACTOR
from archive.errors import ArchiveError, ErrorCode, InvalidRequest, ItemNotFound
from archive.jobs import Job, JobQueue, JobState, enqueue_on, held_on
from archive.jobs import jobs as job_rows
from archive.model import now_utc
from archive.quality import monitoring
from archive.quality.backfill_tables import backfills
from archive.quality.reviews import QUALITY_PURPOSE
from archive.service import Archive

log = logging.getLogger(__name__)

#: The job kind that runs one request (key: its id); ``commarchive.worker.JobKind``.
JOB_KIND: Final = "backfill_monitor"
#: Items read per batch: one transaction of entries, audit events and progress.
BATCH_ITEMS = 200
RECENT: Final = 20


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


FINISHED: Final = (Status.DONE.value, Status.FAILED.value)


@dataclass(frozen=True, slots=True)
class Backfill:
    id: int
    requested_by: str
    requested_at: datetime
    since: datetime | None
    until: datetime | None
    policies: list[str]
    all_enabled: bool
    status: Status
    items_total: int | None
    items_done: int
    items_failed: int
    queued: int
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "requested_by": self.requested_by,
                "requested_at": self.requested_at, "since": self.since, "until": self.until,
                "policies": self.policies, "all_enabled": self.all_enabled,
                "status": self.status.value, "items_total": self.items_total,
                "items_done": self.items_done, "items_failed": self.items_failed,
                "queued": self.queued, "started_at": self.started_at,
                "finished_at": self.finished_at, "error": self.error}


def request(archive: Archive, *, since: datetime | None = None, until: datetime | None = None,
            names: Sequence[str] = (), actor: str, role: str) -> Backfill:
    """Store a backfill and queue its job in one audited transaction; nothing is read yet."""
    if since is not None and until is not None and since >= until:
        raise InvalidRequest(f"'since' ({since.date()}) must be before 'until' "
                             f"({until.date()})")
    known = monitoring.policies(archive)
    wanted = list(dict.fromkeys(names))
    missing = [n for n in wanted if n not in {p.name for p in known}]
    if missing:
        raise InvalidRequest(f"policy {missing[0]!r} does not exist", code=ErrorCode.NOT_FOUND)
    chosen = wanted or [p.name for p in known if p.enabled]
    if not chosen:
        raise InvalidRequest("no policy is enabled: name the policies to run")
    with archive.vault.write() as tx:
        request_id = cat.inserted_id(tx.conn.execute(backfills.insert().values(
            requested_by=actor, requested_role=role, requested_at=now_utc(), since=since,
            until=until, policies=json.dumps(chosen), all_enabled=not wanted,
            status=Status.QUEUED.value, items_done=0, items_failed=0, queued=0,
        )))
        enqueue_on(tx.conn, JOB_KIND, [str(request_id)])
        tx.event(actor=actor, role=role, action="quality_backfill_request",
                 purpose=QUALITY_PURPOSE,
                 detail={"request_id": request_id, "policies": chosen,
                         "since": None if since is None else since.isoformat(),
                         "until": None if until is None else until.isoformat()})
    return get(archive, request_id)


def get(archive: Archive, request_id: int) -> Backfill:
    with archive.catalog.read() as conn:
        row = conn.execute(sa.select(backfills).where(backfills.c.id == request_id)).first()
        if row is None:
            raise InvalidRequest(f"backfill request {request_id} does not exist",
                                 code=ErrorCode.NOT_FOUND)
        return _of(row, _failed_jobs(conn, [row.id]))


def recent(archive: Archive, *, limit: int = RECENT) -> list[Backfill]:
    """The newest requests first."""
    with archive.catalog.read() as conn:
        rows = conn.execute(sa.select(backfills).order_by(backfills.c.id.desc())
                            .limit(limit)).all()
        failed = _failed_jobs(conn, [r.id for r in rows])
    return [_of(r, failed) for r in rows]


def _failed_jobs(conn: Connection, ids: Sequence[int]) -> dict[int, str]:
    """The last error of requests whose job the queue gave up on."""
    if not ids:
        return {}
    rows = conn.execute(sa.select(job_rows.c.key, job_rows.c.last_error).where(
        job_rows.c.kind == JOB_KIND, job_rows.c.state == JobState.FAILED.value,
        job_rows.c.key.in_([str(i) for i in ids])))
    return {int(key): str(error or "the job failed") for key, error in rows}


def _of(row: Row[Any], failed_jobs: dict[int, str]) -> Backfill:
    status, error = Status(row.status), row.error
    if row.status not in FINISHED and row.id in failed_jobs:
        status, error = Status.FAILED, failed_jobs[row.id]
    return Backfill(
        id=int(row.id), requested_by=str(row.requested_by), requested_at=row.requested_at,
        since=row.since, until=row.until, policies=list(json.loads(row.policies)),
        all_enabled=bool(row.all_enabled), status=status, items_total=row.items_total,
        items_done=int(row.items_done), items_failed=int(row.items_failed),
        queued=int(row.queued), started_at=row.started_at, finished_at=row.finished_at,
        error=error)


def _in_range(row: Row[Any]) -> list[sa.ColumnElement[bool]]:
    where = []
    if row.since is not None:
        where.append(cat.items.c.started_at >= row.since)
    if row.until is not None:
        where.append(cat.items.c.started_at < row.until)
    return where


def run_batch(archive: Archive, job: Job, jobs: JobQueue, worker: str, *,
              batch_items: int | None = None) -> bool:
    """Read the next batch of the job's request and commit its entries with its progress;
    False when nothing is left to do here (finished, or the job is no longer this
    worker's). InvalidRequest when the request cannot run (a policy is gone)."""
    request_id = int(job.key)
    with archive.catalog.read() as conn:
        row = conn.execute(sa.select(backfills).where(backfills.c.id == request_id)).first()
    if row is None or row.status in FINISHED:
        return False
    names = list(json.loads(row.policies))
    chosen = [p for p in monitoring.policies(archive) if p.name in names]
    gone = sorted(set(names) - {p.name for p in chosen})
    if gone:
        raise InvalidRequest(f"policy {gone[0]!r} no longer exists", code=ErrorCode.NOT_FOUND)
    in_range = _in_range(row)
    if row.items_total is None:  # the first batch: how many there are to read
        with archive.catalog.write() as conn:
            if not held_on(conn, job, worker):
                return False
            total = conn.execute(sa.select(sa.func.count()).select_from(cat.items)
                                 .where(sa.true(), *in_range)).scalar_one()
            conn.execute(backfills.update().where(backfills.c.id == request_id).values(
                status=Status.RUNNING.value, items_total=int(total), started_at=now_utc()))
    after = [] if row.cursor is None else [cat.items.c.id > row.cursor]
    with archive.catalog.read() as conn:
        ids = [str(i) for (i,) in conn.execute(
            sa.select(cat.items.c.id).where(sa.true(), *in_range, *after)
            .order_by(cat.items.c.id).limit(batch_items or BATCH_ITEMS))]
    if not ids:
        return _finish(archive, job, worker, request_id)
    found: dict[str, monitoring.Found] = {}
    failed: list[str] = []
    for item_id in ids:
        try:
            hits = monitoring.find_hits(archive, item_id, chosen)
        except ItemNotFound:  # erased meanwhile: nothing left to check
            continue
        except Exception as exc:  # one unreadable item must not hold up the others
            log.warning("backfill %d: item %s failed: %s", request_id, item_id, exc)
            # Only the archive's own messages are stored: they never quote content.
            why = str(exc) if isinstance(exc, ArchiveError) else "see the worker's log"
            failed.append(f"item {item_id}: {type(exc).__name__}: {why}")
            continue
        if hits is not None:
            found[item_id] = hits
    with archive.vault.write() as tx:
        if not held_on(tx.conn, job, worker):
            return False  # taken over: its holder writes this batch, not us
        entries = monitoring.queue_hits_on(tx, archive, found, actor=row.requested_by,
                                           role=row.requested_role)
        values: dict[str, Any] = {
            "items_done": backfills.c.items_done + len(ids),
            "items_failed": backfills.c.items_failed + len(failed),
            "queued": backfills.c.queued + sum(len(e) for e in entries.values()),
            "cursor": ids[-1]}
        if failed and row.error is None:
            values["error"] = failed[0][:2000]
        tx.conn.execute(backfills.update().where(backfills.c.id == request_id).values(**values))
    return True


def _finish(archive: Archive, job: Job, worker: str, request_id: int, *,
            error: str | None = None) -> bool:
    with archive.vault.write() as tx:
        if not held_on(tx.conn, job, worker):
            return False
        row = tx.conn.execute(sa.select(backfills).where(backfills.c.id == request_id)).one()
        status = Status.FAILED if error is not None else Status.DONE
        values: dict[str, Any] = {"status": status.value, "finished_at": now_utc()}
        if error is None:  # items that came into the range, or were erased, meanwhile
            values["items_total"] = row.items_done
        if error is not None:
            values["error"] = error[:2000]
        tx.conn.execute(backfills.update().where(backfills.c.id == request_id).values(**values))
        tx.event(actor=SYSTEM_ACTOR, role="system", action="quality_backfill_done",
                 purpose=QUALITY_PURPOSE,
                 detail={"request_id": request_id, "requested_by": row.requested_by,
                         "status": status.value, "items": row.items_done,
                         "failed": row.items_failed, "queued": row.queued, "error": error})
    return False


def run_job(archive: Archive, job: Job, jobs: JobQueue, worker: str, *,
            cancel: threading.Event | None = None, stop: threading.Event | None = None,
            batch_items: int | None = None,
            progress: Callable[[Backfill], None] | None = None) -> str | None:
    """Run a claimed request's batches until it is finished, cancelled (the lease taken
    over) or no longer this worker's; the outcome, for the worker's log. None when
    ``stop`` (the worker is shutting down) ended it between two batches: the job is
    still this worker's, to hand back. ``progress`` sees the request after each batch
    (the CLI's progress bar)."""
    try:
        while not (cancel is not None and cancel.is_set()):
            if stop is not None and stop.is_set():
                return None
            if not run_batch(archive, job, jobs, worker, batch_items=batch_items):
                break
            if progress is not None:
                progress(get(archive, int(job.key)))
            if not jobs.heartbeat(job, worker):
                break
    except InvalidRequest as exc:  # it can never run: say why, and end the job
        _finish(archive, job, worker, int(job.key), error=str(exc))
    got = get(archive, int(job.key))
    return f"{got.status.value}: {got.items_done} items, queued {got.queued}"


def run_queued(archive: Archive, *, worker: str, keys: Sequence[str] | None = None,
               queue: JobQueue | None = None, batch_items: int | None = None,
               progress: Callable[[Backfill], None] | None = None) -> int:
    """Run runnable backfill jobs (of ``keys`` when given) to their end, in this process;
    how many were claimed (the CLI, and tests)."""
    jobs = queue or JobQueue(archive.catalog)
    ran = 0
    while (job := jobs.claim(worker, [JOB_KIND], keys=keys)) is not None:
        ran += 1
        try:
            run_job(archive, job, jobs, worker, batch_items=batch_items, progress=progress)
        except Exception as exc:
            log.exception("backfill %s failed; retried later", job.key)
            jobs.fail(job, worker, f"{type(exc).__name__}: {exc}")
            continue
        jobs.complete(job, worker)
    return ran
