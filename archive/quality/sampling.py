"""Random sampling for review: "N calls per agent per week", seedable and fair.

The sampler, step by step (also in README):

1. Candidates are the calls that started in the ISO week (Monday 00:00 UTC to
   the next Monday), still carry ``quality`` (not past its retention), are not
   restricted, have an agent (``archive.quality.agents``), and have neither a
   review (calibration aside) nor a sample entry in the queue yet.
2. They are grouped by agent; each agent's candidates are ordered by item id.
3. Each agent gets its own ``random.Random`` seeded with
   ``"<seed>|<week Monday>|<agent>"`` and draws ``min(N, candidates)`` items
   without replacement (``Random.sample``). One agent's calls therefore never
   change another agent's draw, and the same seed over the same archive draws
   the same items: reproducible. Every agent with at least N candidates gets
   exactly N, one with fewer gets all of them: fair.
4. The draws join the queue as ``sample`` entries, and N is recorded as the
   week's plan per agent (for "reviews done vs planned").

``dry_run`` answers the draw without changing anything.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

import sqlalchemy as sa

from archive import catalog as cat
from archive import quality_tables as qt
from archive.errors import InvalidRequest
from archive.model import Channel, now_utc
from archive.quality import queue
from archive.quality.agents import agent_of
from archive.quality.reviews import QUALITY_PURPOSE, week_of
from archive.service import Archive

MAX_PER_AGENT: Final = 100


@dataclass(slots=True)
class Sample:
    week: date
    per_agent: int
    seed: str
    dry_run: bool
    #: agent -> sampled item ids (in draw order)
    picked: dict[str, list[str]] = field(default_factory=dict)
    #: agent -> how many candidates there were
    candidates: dict[str, int] = field(default_factory=dict)

    def public(self) -> dict[str, object]:
        return {"week": self.week.isoformat(), "per_agent": self.per_agent, "seed": self.seed,
                "dry_run": self.dry_run, "picked": self.picked, "candidates": self.candidates}


def candidates(archive: Archive, week: date) -> dict[str, list[str]]:
    """Agent -> its candidate calls of the week, ordered by item id (step 1 and 2)."""
    start = datetime.combine(week, time(), tzinfo=UTC)
    items = cat.items
    reviewed = sa.select(qt.reviews.c.item_id).where(
        qt.reviews.c.item_id == items.c.id, qt.reviews.c.calibration.is_(False))
    sampled = sa.select(qt.queue.c.item_id).where(
        qt.queue.c.item_id == items.c.id, qt.queue.c.source == queue.Source.SAMPLE.value)
    carrying = sa.select(cat.purpose_tags.c.item_id).where(
        cat.purpose_tags.c.item_id == items.c.id,
        cat.purpose_tags.c.purpose == QUALITY_PURPOSE,
        cat.purpose_tags.c.retain_until > now_utc())
    stmt = sa.select(items.c.id).where(
        items.c.channel == Channel.CALL.value, items.c.started_at >= start,
        items.c.started_at < start + timedelta(days=7), items.c.restricted.is_(False),
        sa.exists(carrying), ~sa.exists(reviewed), ~sa.exists(sampled)).order_by(items.c.id)
    with archive.catalog.read() as conn:
        ids = [str(r[0]) for r in conn.execute(stmt)]
        records = archive.vault.records(conn, ids)
    out: dict[str, list[str]] = {}
    for item_id in ids:
        agent = agent_of(records[item_id])
        if agent:
            out.setdefault(agent, []).append(item_id)
    return out


def draw(pool: dict[str, list[str]], *, per_agent: int, seed: str,
         week: date) -> dict[str, list[str]]:
    """Step 3: each agent's own seeded draw of ``min(per_agent, candidates)`` items."""
    return {agent: random.Random(f"{seed}|{week.isoformat()}|{agent}").sample(
                ids, min(per_agent, len(ids)))
            for agent, ids in sorted(pool.items())}


def sample_week(archive: Archive, *, week: date, per_agent: int, seed: str, actor: str,
                role: str, dry_run: bool = False) -> Sample:
    """Draw the week's sample and queue it (see the module docstring); audited."""
    if week != week_of(week):
        raise InvalidRequest(f"week {week.isoformat()} is not a Monday (ISO weeks start then)")
    if not 1 <= per_agent <= MAX_PER_AGENT:
        raise InvalidRequest(f"per_agent must be 1 to {MAX_PER_AGENT}, not {per_agent}")
    if not seed.strip():
        raise InvalidRequest("a sample needs a seed (any text), so it can be drawn again")
    pool = candidates(archive, week)
    result = Sample(week, per_agent, seed, dry_run,
                    draw(pool, per_agent=per_agent, seed=seed, week=week),
                    {agent: len(ids) for agent, ids in pool.items()})
    if dry_run:
        return result
    with archive.vault.write() as tx:
        queued = [i for ids in result.picked.values() for i in ids
                  if queue.add(tx.conn, archive, i, queue.Source.SAMPLE) is not None]
        for agent in result.picked:
            plan = qt.plans
            done = tx.conn.execute(plan.update().where(plan.c.agent == agent,
                                                       plan.c.week == week)
                                   .values(planned=per_agent))
            if not done.rowcount:
                tx.conn.execute(plan.insert().values(agent=agent, week=week,
                                                     planned=per_agent))
        tx.event(actor=actor, role=role, action="quality_sample", item_ids=queued,
                 detail={"week": week.isoformat(), "per_agent": per_agent, "seed": seed})
    return result
