"""``quality``: the quality team's batch jobs, audited under the quality role."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import click

from archive.config import Role
from archive.quality import monitoring, sampling
from commarchive.cli.common import Ctx, actor_option, echo_json, pass_ctx, user_errors

QUALITY = Role.QUALITY.value


@click.group("quality")
def quality_group() -> None:
    """Review queues: monitoring-policy backfill and weekly sampling (role quality)."""


@quality_group.command("backfill")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Items started on or after.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Items started before.")
@click.option("--policy", "names", multiple=True, help="Policy name (repeatable; default: "
              "every enabled one).")
@actor_option
@pass_ctx
@user_errors
def quality_backfill(ctx: Ctx, since: datetime | None, until: datetime | None,
                     names: tuple[str, ...], actor: str) -> None:
    """Run monitoring policies over items already archived; hits join the queue."""
    def at(day: datetime | None) -> datetime | None:
        return None if day is None else datetime.combine(day.date(), time(), tzinfo=UTC)

    with ctx.archive() as arc:
        echo_json(monitoring.backfill(arc, since=at(since), until=at(until), names=names,
                                      actor=actor, role=QUALITY))


@quality_group.command("sample")
@click.option("--week", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="The Monday of the ISO week.")
@click.option("--per-agent", type=int, required=True, help="Calls to draw per agent.")
@click.option("--seed", required=True, help="Any text; the same seed draws the same calls.")
@click.option("--dry-run", is_flag=True, help="Show the draw, queue nothing.")
@actor_option
@pass_ctx
@user_errors
def quality_sample(ctx: Ctx, week: datetime, per_agent: int, seed: str, dry_run: bool,
                   actor: str) -> None:
    """Draw N calls per agent for a week into the review queue (seeded, fair)."""
    day: date = week.date()
    with ctx.archive() as arc:
        echo_json(sampling.sample_week(arc, week=day, per_agent=per_agent, seed=seed,
                                       actor=actor, role=QUALITY, dry_run=dry_run).public())
