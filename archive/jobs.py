"""Jobs as a shared queue in the catalog: transcription, monitoring, backfill, reindex, sweep.

Workers on any node claim the oldest runnable job: on PostgreSQL with
``SELECT ... FOR UPDATE SKIP LOCKED`` (a row another claimer holds is passed
over, never waited for), on SQLite inside its write lock (one writer at a
time is the lock). A claim is a lease: the worker renews it while it works
(:meth:`JobQueue.heartbeat`); a worker that crashed stops renewing, its lease
runs out, and the next claimer takes the job again (counted in ``attempts``),
until :data:`MAX_ATTEMPTS`, after which the job is ``failed`` with its last
error for an operator to see. A job is done once: completion is accepted
only from the lease holder, so a worker whose lease was taken over cannot
mark the job again.

One job per (kind, key) is active at a time, so enqueueing is idempotent:
the transcription of an item is asked for once however many nodes notice it
is pending. Jobs that must run once cluster-wide while they run (the sweep)
also take ``Catalog.exclusive`` inside. Work that must not be lost once an item
is acknowledged (monitoring an e-mail) is queued with :func:`enqueue_on` inside
the item's own commit, so the item and its job are durable together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive.catalog import Catalog, UTCDateTime, metadata

#: How long a claim holds without a heartbeat.
LEASE_SECONDS: Final = 60.0
#: Claims of one job (first run and retries after crashes or failures) before it is failed.
MAX_ATTEMPTS: Final = 5


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


ACTIVE: Final = (JobState.QUEUED.value, JobState.RUNNING.value)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(40), nullable=False),
    #: What the job is about (an item id, or "" for archive-wide jobs).
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("run_after", UTCDateTime, nullable=False),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("worker", sa.String(200)),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Index("ix_jobs_state_run_after", "state", "run_after"),
    sa.Index("ix_jobs_kind_key", "kind", "key"),
)


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    key: str
    attempts: int


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """Per kind: jobs waiting (queued), being worked on, failed for good; oldest wait."""

    kind: str
    queued: int
    running: int
    failed: int
    oldest_queued_age_s: float


class JobQueue:
    def __init__(self, catalog: Catalog, *, lease_s: float = LEASE_SECONDS,
                 max_attempts: int = MAX_ATTEMPTS) -> None:
        self._catalog = catalog
        self.lease_s = lease_s
        self._lease = timedelta(seconds=lease_s)
        self._max_attempts = max_attempts

    def enqueue(self, kind: str, keys: Iterable[str] = ("",), *,
                now: datetime | None = None) -> int:
        """Queue a job per key unless one of that kind and key is active; returns how many."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return 0
        with self._catalog.write() as conn:
            return enqueue_on(conn, kind, wanted, now=now)

    def claim(self, worker: str, kinds: Sequence[str], *, keys: Sequence[str] | None = None,
              now: datetime | None = None) -> Job | None:
        """The oldest runnable job of ``kinds`` (queued, or running with its lease run out),
        of one of ``keys`` when given (a process running the job it just queued)."""
        claimed = self.claim_many(worker, kinds, keys=keys, limit=1, now=now)
        return claimed[0] if claimed else None

    def claim_many(self, worker: str, kinds: Sequence[str], *, limit: int,
                   keys: Sequence[str] | None = None,
                   now: datetime | None = None) -> list[Job]:
        """Up to ``limit`` of the oldest runnable jobs, claimed in one transaction (small
        jobs run in batches: one claim, one evaluation write, one completion)."""
        now = now or datetime.now(UTC)
        runnable = sa.or_(
            sa.and_(jobs.c.state == JobState.QUEUED.value, jobs.c.run_after <= now),
            sa.and_(jobs.c.state == JobState.RUNNING.value, jobs.c.lease_until < now))
        stmt = (sa.select(jobs.c.id, jobs.c.kind, jobs.c.key, jobs.c.attempts)
                .where(jobs.c.kind.in_(list(kinds)), runnable).order_by(jobs.c.id)
                .limit(limit))
        if keys is not None:
            stmt = stmt.where(jobs.c.key.in_(list(keys)))
        claimed: list[Job] = []
        with self._catalog.write() as conn:
            if not self._catalog.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True)
            for row in conn.execute(stmt).all():
                if row.attempts >= self._max_attempts:  # its last holder crashed: give up
                    _finish(conn, row.id, JobState.FAILED, now,
                            error=f"lease ran out {row.attempts} times (worker crashed?)")
                    continue
                claimed.append(Job(row.id, row.kind, row.key, row.attempts + 1))
            if claimed:
                conn.execute(jobs.update().where(jobs.c.id.in_([j.id for j in claimed])).values(
                    state=JobState.RUNNING.value, attempts=jobs.c.attempts + 1, worker=worker,
                    lease_until=now + self._lease))
        return claimed

    def heartbeat(self, job: Job, worker: str, *, now: datetime | None = None) -> bool:
        """Renew the lease; False when it is no longer this worker's (taken over)."""
        now = now or datetime.now(UTC)
        with self._catalog.write() as conn:
            result = conn.execute(jobs.update().where(*_held(job, worker))
                                  .values(lease_until=now + self._lease))
        return bool(result.rowcount)

    def complete(self, job: Job, worker: str, *, now: datetime | None = None) -> bool:
        """Done, if this worker still holds it; False when another took it over."""
        with self._catalog.write() as conn:
            if conn.execute(sa.select(jobs.c.id).where(*_held(job, worker))).first() is None:
                return False
            _finish(conn, job.id, JobState.DONE, now or datetime.now(UTC))
        return True

    def complete_many(self, done: Sequence[Job], worker: str, *,
                      now: datetime | None = None) -> list[Job]:
        """``complete`` for a batch in one transaction; the jobs this worker still held."""
        if not done:
            return []
        held = sa.or_(*(sa.and_(*_held(job, worker)) for job in done))
        with self._catalog.write() as conn:
            ids = {int(i) for (i,) in conn.execute(sa.select(jobs.c.id).where(held))}
            if ids:
                conn.execute(jobs.update().where(jobs.c.id.in_(ids)).values(
                    state=JobState.DONE.value, finished_at=now or datetime.now(UTC),
                    lease_until=None))
        return [job for job in done if job.id in ids]

    def fail(self, job: Job, worker: str, error: str, *, retry_in_s: float = 30.0,
             now: datetime | None = None) -> None:
        """Failed this time: queued again after ``retry_in_s``, or failed for good."""
        now = now or datetime.now(UTC)
        with self._catalog.write() as conn:
            if conn.execute(sa.select(jobs.c.id).where(*_held(job, worker))).first() is None:
                return
            if job.attempts >= self._max_attempts:
                _finish(conn, job.id, JobState.FAILED, now, error=error)
                return
            conn.execute(jobs.update().where(jobs.c.id == job.id).values(
                state=JobState.QUEUED.value, worker=None, lease_until=None,
                run_after=now + timedelta(seconds=retry_in_s), last_error=error[:2000]))

    def depth(self, *, now: datetime | None = None) -> list[QueueDepth]:
        now = now or datetime.now(UTC)
        with self._catalog.read() as conn:
            rows = conn.execute(
                sa.select(jobs.c.kind, jobs.c.state, sa.func.count(),
                          sa.func.min(jobs.c.created_at))
                .where(jobs.c.state != JobState.DONE.value)
                .group_by(jobs.c.kind, jobs.c.state)).all()
        by_kind: dict[str, dict[str, tuple[int, datetime | None]]] = {}
        for kind, state, count, oldest in rows:
            by_kind.setdefault(kind, {})[state] = (int(count), oldest)
        out = []
        for kind, states in sorted(by_kind.items()):
            queued, oldest = states.get(JobState.QUEUED.value, (0, None))
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)  # min() bypasses the column's type
            out.append(QueueDepth(
                kind, queued, states.get(JobState.RUNNING.value, (0, None))[0],
                states.get(JobState.FAILED.value, (0, None))[0],
                (now - oldest).total_seconds() if oldest is not None else 0.0))
        return out

    def forget_done(self, older_than: timedelta, *, now: datetime | None = None) -> int:
        """Drop finished jobs past ``older_than`` (they name item ids; keep the table small)."""
        cutoff = (now or datetime.now(UTC)) - older_than
        with self._catalog.write() as conn:
            result = conn.execute(jobs.delete().where(jobs.c.state == JobState.DONE.value,
                                                      jobs.c.finished_at < cutoff))
        return int(result.rowcount)


def enqueue_on(conn: Connection, kind: str, keys: Iterable[str], *,
               now: datetime | None = None) -> int:
    """``JobQueue.enqueue`` inside a write transaction the caller holds (an item's own
    commit): the job is durable exactly when that transaction is."""
    now = now or datetime.now(UTC)
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return 0
    active = {str(k) for (k,) in conn.execute(
        sa.select(jobs.c.key).where(jobs.c.kind == kind, jobs.c.state.in_(ACTIVE),
                                    jobs.c.key.in_(wanted)))}
    new = [{"kind": kind, "key": k, "state": JobState.QUEUED.value, "attempts": 0,
            "created_at": now, "run_after": now} for k in wanted if k not in active]
    if new:
        conn.execute(jobs.insert(), new)
    return len(new)


def held_on(conn: Connection, job: Job, worker: str) -> bool:
    """Whether ``worker`` still holds ``job``, inside a write the caller holds: a job that
    commits its work in steps (a backfill's batches) writes a step only while it is its
    own. On PostgreSQL the row stays locked to the commit, so no claimer takes it between."""
    stmt = sa.select(jobs.c.id).where(*_held(job, worker))
    if conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    return conn.execute(stmt).first() is not None


def _held(job: Job, worker: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (jobs.c.id == job.id, jobs.c.state == JobState.RUNNING.value,
            jobs.c.worker == worker, jobs.c.attempts == job.attempts)


def _finish(conn: Connection, job_id: int, state: JobState, now: datetime, *,
            error: str | None = None) -> None:
    values: dict[str, object] = {"state": state.value, "finished_at": now, "lease_until": None}
    if error is not None:
        values["last_error"] = error[:2000]
    conn.execute(jobs.update().where(jobs.c.id == job_id).values(**values))


