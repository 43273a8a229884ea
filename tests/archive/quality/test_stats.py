"""Statistics from the aggregates: trend, failure rates, done vs planned, CSV."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from archive.config import Role
from archive.quality import reviews, sampling, scorecards, stats
from archive.quality.agents import link
from archive.quality.reviews import week_of
from archive.service import Archive
from tests.archive.quality.conftest import AGENT, AGENT_NUMBER, QUALITY
from tests.subjects import A, call_item

WEEK = week_of(datetime.now(UTC))


def test_reviews_done_against_planned_and_failure_rates(
    archive: Archive, card: scorecards.Scorecard,
) -> None:
    """GIVEN 3 calls sampled for the agent this week, 2 of them reviewed (one failed)
    THEN the week shows 2 done of 3 planned, the mean score and the failing criterion."""
    start = datetime.combine(WEEK, time(), tzinfo=UTC)
    for n in range(3):
        archive.ingest(call_item(A, started_at=start + timedelta(minutes=n + 1)))
    got = sampling.sample_week(archive, week=WEEK, per_agent=3, seed="w", actor="rita",
                               role="quality")
    picked = got.picked[AGENT_NUMBER]
    answers = [{"greeting": "yes", "identify": "yes", "solved": "yes"},
               {"greeting": "no", "identify": "no", "solved": "yes"}]
    for item, given in zip(picked, answers, strict=False):
        review = reviews.start(archive, QUALITY, item, card.id)
        reviews.submit(archive, QUALITY, review, given, "")
    result = stats.statistics(archive, QUALITY, stats.Filter())
    assert result.weeks == [{"week": WEEK.isoformat(), "reviews": 2, "mean_score": 50.0,
                             "planned": 3}]
    rates = {c["criterion"]: c["failure_rate"] for c in result.criteria}
    assert rates == {"greeting": 0.5, "identify": 0.5, "solved": 0.0}
    lines = stats.to_csv(result).splitlines()
    assert lines[0] == ",".join(stats.CSV_COLUMNS)
    assert f"{WEEK.isoformat()},{AGENT_NUMBER},,Calls,(total),2,50.0,1,0.5,3" in lines
    # The agent sees the same figures for itself.
    archive.users.add(AGENT.name, Role.AGENT)
    link(archive, AGENT.name, [AGENT_NUMBER], team=None, actor="admin", role="admin")
    assert stats.statistics(archive, AGENT, stats.Filter()).weeks == result.weeks
