"""The quality team's queue, monitoring policies, sampling, calibration and statistics.

``quality`` works the queue, keeps the policies and draws samples; the
statistics are the quality team's, and an ``agent``'s own.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from archive.quality import backfill, monitoring, queue, sampling, stats
from search_api.deps import ArchiveDep
from search_api.errors import AUTHENTICATED_ERRORS, error_responses
from search_api.routers.quality import QualityUser, ReviewReader, plain
from search_api.schemas.quality import (
    BackfillPublic,
    BackfillRequest,
    CalibrationPublic,
    PolicyBody,
    PolicyPublic,
    QueueEntryCreate,
    QueueEntryPublic,
    QueueEntryUpdate,
    SamplePublic,
    SampleRequest,
    StatsPublic,
)

router = APIRouter(prefix="/api/v1/quality", tags=["quality"], responses=AUTHENTICATED_ERRORS)


@router.get("/queue", responses=error_responses(422))
def list_queue(
    archive: ArchiveDep, user: QualityUser,
    status: Annotated[queue.Status | None, Query()] = None,
    assignee: Annotated[str | None, Query(max_length=200)] = None,
    source: Annotated[queue.Source | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[QueueEntryPublic]:
    """Entries on items the quality team may read, oldest first."""
    return [QueueEntryPublic.model_validate(plain(e)) for e in queue.listing(
        archive, user, status=status, assignee=assignee, source=source, limit=limit)]


@router.post("/queue", status_code=201, responses=error_responses(400, 404, 409, 422))
def add_to_queue(body: QueueEntryCreate, archive: ArchiveDep,
                 user: QualityUser) -> QueueEntryPublic:
    """Queue an item by hand, or open a calibration round on it."""
    entry = queue.add_manual(archive, user, body.item_id, calibration=body.calibration)
    return QueueEntryPublic.model_validate(plain(queue.entry(archive, user, entry)))


@router.get("/queue/{entry_id}", responses=error_responses(404, 422))
def get_queue_entry(entry_id: int, archive: ArchiveDep, user: QualityUser) -> QueueEntryPublic:
    return QueueEntryPublic.model_validate(plain(queue.entry(archive, user, entry_id)))


@router.patch("/queue/{entry_id}", responses=error_responses(400, 404, 422))
def update_queue_entry(entry_id: int, body: QueueEntryUpdate, archive: ArchiveDep,
                       user: QualityUser) -> QueueEntryPublic:
    """Assign to a reviewer, unassign, or move the status (open, in_review, done)."""
    got = queue.update(archive, user, entry_id, assignee=body.assignee, unassign=body.unassign,
                       status=queue.Status(body.status) if body.status else None)
    return QueueEntryPublic.model_validate(plain(got))


@router.post("/sample", responses=error_responses(400, 422))
def sample(body: SampleRequest, archive: ArchiveDep, user: QualityUser) -> SamplePublic:
    """Draw N calls per agent for a week (seeded, reproducible; see the README)."""
    got = sampling.sample_week(archive, week=body.week, per_agent=body.per_agent,
                               seed=body.seed, actor=user.name, role=user.role.value,
                               dry_run=body.dry_run)
    return SamplePublic.model_validate(got.public())


@router.get("/policies", responses=error_responses(422))
def list_policies(archive: ArchiveDep, user: QualityUser) -> list[PolicyPublic]:
    return [PolicyPublic.model_validate(p.public()) for p in monitoring.policies(archive)]


@router.put("/policies/{name}", responses=error_responses(400, 422))
def save_policy(name: str, body: PolicyBody, archive: ArchiveDep,
                user: QualityUser) -> PolicyPublic:
    """Create or replace a lexicon policy (phrases per language, proximity rules)."""
    raw = {"lists": body.lists, "near": [n.model_dump() for n in body.near]}
    policy = monitoring.save(archive, name, raw, enabled=body.enabled, actor=user.name,
                             role=user.role.value)
    return PolicyPublic.model_validate(policy.public())


def _backfill(got: backfill.Backfill) -> BackfillPublic:
    return BackfillPublic.model_validate(
        {**plain(got.public()), "url": f"{router.prefix}/backfills/{got.id}"})


@router.post("/backfills", status_code=202, responses=error_responses(400, 404, 422))
def start_backfill(body: BackfillRequest, archive: ArchiveDep, user: QualityUser,
                   response: Response) -> BackfillPublic:
    """Ask for policies (those named, or every enabled one) to be run over items already
    archived (started in [since, until)). A worker runs it in the background; poll
    ``url`` (also the ``Location`` header) for its progress and result."""
    def at(day: date | None) -> datetime | None:
        return None if day is None else datetime.combine(day, time(), tzinfo=UTC)

    got = _backfill(backfill.request(archive, since=at(body.since), until=at(body.until),
                                     names=body.policies, actor=user.name,
                                     role=user.role.value))
    response.headers["Location"] = got.url
    return got


@router.get("/backfills", responses=error_responses(422))
def list_backfills(archive: ArchiveDep, user: QualityUser) -> list[BackfillPublic]:
    """The newest backfill requests first, with their progress."""
    return [_backfill(b) for b in backfill.recent(archive)]


@router.get("/backfills/{backfill_id}", responses=error_responses(404, 422))
def get_backfill(backfill_id: int, archive: ArchiveDep, user: QualityUser) -> BackfillPublic:
    """One backfill: queued, running (items done of total, entries queued), done or failed."""
    return _backfill(backfill.get(archive, backfill_id))


@router.get("/calibration/{item_id}", responses=error_responses(404, 422))
def calibration(item_id: str, archive: ArchiveDep, user: QualityUser) -> CalibrationPublic:
    """Every reviewer's calibration score per criterion, and the spread (blind until
    the caller submitted its own)."""
    return CalibrationPublic.model_validate(queue.spread(archive, user, item_id))


StatsQuery = Annotated[str | None, Query(max_length=600)]


def _filter(agent: str | None, team: str | None, scorecard: str | None, since: date | None,
            until: date | None) -> stats.Filter:
    return stats.Filter(agent=agent, team=team, scorecard=scorecard, since=since, until=until)


@router.get("/stats", responses=error_responses(422))
def statistics(
    archive: ArchiveDep, user: ReviewReader, agent: StatsQuery = None, team: StatsQuery = None,
    scorecard: StatsQuery = None, since: date | None = None, until: date | None = None,
) -> StatsPublic:
    """Score trend per week with reviews done vs planned, failure rate per criterion,
    totals per agent (an agent: its own)."""
    got = stats.statistics(archive, user, _filter(agent, team, scorecard, since, until))
    return StatsPublic.model_validate(
        {"weeks": got.weeks, "criteria": got.criteria, "agents": got.agents})


@router.get("/stats.csv", response_class=Response, responses={
    200: {"content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
          "description": "one row per week, agent, scorecard and criterion"},
    **error_responses(422)})
def statistics_csv(
    archive: ArchiveDep, user: ReviewReader, agent: StatsQuery = None, team: StatsQuery = None,
    scorecard: StatsQuery = None, since: date | None = None, until: date | None = None,
) -> Response:
    got = stats.statistics(archive, user, _filter(agent, team, scorecard, since, until))
    return Response(stats.to_csv(got), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="quality-stats.csv"'})
