"""Statistics per agent, team and criterion over time, from the aggregates only.

Everything here is read from ``quality_aggregates`` and ``quality_plans``,
which name no item: an erased item's review still counts in its agent's
trend, while nothing links the figure back to the communication. A team is
the one an admin gave the agent's link (``archive.quality.agents``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import sqlalchemy as sa

from archive import quality_tables as qt
from archive.config import Role
from archive.errors import AccessDenied, ErrorCode
from archive.quality.agents import identifiers_of, teams
from archive.service import Archive
from archive.users import User

CSV_COLUMNS: Final = ("week", "agent", "team", "scorecard", "criterion", "reviews",
                      "mean_score", "failures", "failure_rate", "planned")


@dataclass(slots=True)
class Filter:
    agent: str | None = None
    team: str | None = None
    scorecard: str | None = None
    since: date | None = None
    until: date | None = None


@dataclass(slots=True)
class Stats:
    #: per week: reviews, mean score, planned
    weeks: list[dict[str, Any]] = field(default_factory=list)
    #: per criterion: reviews, failures, failure rate
    criteria: list[dict[str, Any]] = field(default_factory=list)
    #: per agent: reviews, mean score, planned, team
    agents: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)


def _scope(archive: Archive, user: User, wanted: Filter) -> set[str] | None:
    """Which agents the user may see (None: all): an agent only itself."""
    if user.role is Role.AGENT:
        own = identifiers_of(archive, user)
        if wanted.agent is not None and wanted.agent not in own:
            raise AccessDenied(ErrorCode.WRONG_ROLE, "an agent sees only its own statistics")
        return own
    if user.role is not Role.QUALITY:
        raise AccessDenied(ErrorCode.WRONG_ROLE,
                           f"role {user.role.value} may not see quality statistics")
    return None


def _planned(archive: Archive, scope: set[str] | None, wanted: Filter,
             team_of: dict[str, str]) -> dict[str, int]:
    """Week -> reviews planned by the sampler for the agents in view."""
    out: dict[str, int] = {}
    with archive.catalog.read() as conn:
        for p in conn.execute(sa.select(qt.plans)):
            agent = str(p.agent)
            if ((scope is not None and agent not in scope)
                    or (wanted.agent is not None and agent != wanted.agent)
                    or (wanted.team is not None and team_of.get(agent) != wanted.team)
                    or (wanted.since is not None and p.week < wanted.since)
                    or (wanted.until is not None and p.week > wanted.until)):
                continue
            out[p.week.isoformat()] = out.get(p.week.isoformat(), 0) + int(p.planned)
    return out


def _rows(archive: Archive, user: User, wanted: Filter) -> list[dict[str, Any]]:
    scope = _scope(archive, user, wanted)
    team_of = teams(archive)
    agg = qt.aggregates
    stmt = sa.select(agg)
    if wanted.agent is not None:
        stmt = stmt.where(agg.c.agent == wanted.agent)
    if scope is not None:
        stmt = stmt.where(agg.c.agent.in_(sorted(scope)))
    if wanted.scorecard is not None:
        stmt = stmt.where(agg.c.scorecard == wanted.scorecard)
    if wanted.since is not None:
        stmt = stmt.where(agg.c.week >= wanted.since)
    if wanted.until is not None:
        stmt = stmt.where(agg.c.week <= wanted.until)
    plan_stmt = sa.select(qt.plans)
    with archive.catalog.read() as conn:
        rows = conn.execute(stmt.order_by(agg.c.week, agg.c.agent, agg.c.criterion)).all()
        planned = {(str(p.agent), p.week): int(p.planned) for p in conn.execute(plan_stmt)}
    out = []
    for r in rows:
        team = team_of.get(str(r.agent))
        if wanted.team is not None and team != wanted.team:
            continue
        out.append({
            "week": r.week.isoformat(), "agent": str(r.agent), "team": team or "",
            "scorecard": str(r.scorecard), "criterion": str(r.criterion),
            "reviews": int(r.reviews), "mean_score": round(r.score_sum / r.reviews, 1),
            "failures": int(r.failures), "failure_rate": round(r.failures / r.reviews, 3),
            "planned": planned.get((str(r.agent), r.week), 0) if not r.criterion else None,
        })
    return out


def _totals(rows: Iterable[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    acc: dict[str, dict[str, Any]] = {}
    for r in rows:
        a = acc.setdefault(r[key], {key: r[key], "reviews": 0, "score_sum": 0.0,
                                     "failures": 0, "planned": 0, "team": r["team"]})
        a["reviews"] += r["reviews"]
        a["score_sum"] += r["mean_score"] * r["reviews"]
        a["failures"] += r["failures"]
        a["planned"] += r["planned"] or 0
    out = []
    for a in acc.values():
        n = a.pop("reviews")
        out.append({**a, "reviews": n, "mean_score": round(a.pop("score_sum") / n, 1),
                    "failure_rate": round(a["failures"] / n, 3)})
    return sorted(out, key=lambda a: str(a[key]))


def statistics(archive: Archive, user: User, wanted: Filter) -> Stats:
    """Trend per week, failure rate per criterion, totals per agent; audited."""
    rows = _rows(archive, user, wanted)
    totals = [r for r in rows if not r["criterion"]]
    stats = Stats(rows=rows)
    done = {w["week"]: w for w in _totals(totals, "week")}
    planned = _planned(archive, _scope(archive, user, wanted), wanted, teams(archive))
    stats.weeks = [{"week": week, "reviews": done[week]["reviews"] if week in done else 0,
                    "mean_score": done[week]["mean_score"] if week in done else None,
                    "planned": planned.get(week, 0)}
                   for week in sorted(set(done) | set(planned))]
    stats.agents = [{k: a[k] for k in ("agent", "team", "reviews", "mean_score", "planned",
                                        "failures")}
                    for a in _totals(totals, "agent")]
    stats.criteria = [{k: c[k] for k in ("criterion", "reviews", "failures", "failure_rate")}
                      for c in _totals([r for r in rows if r["criterion"]], "criterion")]
    archive.audit.record(actor=user.name, role=user.role.value, action="quality_stats",
                         detail={"agent": wanted.agent, "team": wanted.team})
    return stats


def to_csv(stats: Stats) -> str:
    """The rows behind the charts, one per week, agent, scorecard and criterion."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for r in stats.rows:
        writer.writerow({**r, "criterion": r["criterion"] or "(total)",
                         "planned": "" if r["planned"] is None else r["planned"]})
    return buf.getvalue()
