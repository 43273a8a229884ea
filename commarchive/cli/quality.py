"""``quality``: the quality team's batch jobs, audited under the quality role."""

from __future__ import annotations

import os
import sys
import threading
from datetime import UTC, date, datetime, time
from typing import Any, Final

import click

from archive.config import Role
from archive.quality import backfill, sampling
from archive.service import Archive
from commarchive.cli.common import Ctx, actor_option, echo_json, pass_ctx, user_errors

QUALITY = Role.QUALITY.value
#: How often the CLI looks at a backfill a worker runs.
WAIT_POLL_SECONDS: Final = 1.0


@click.group("quality")
def quality_group() -> None:
    """Review queues: monitoring-policy backfill and weekly sampling (role quality)."""


@quality_group.command("backfill")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Items started on or after.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Items started before.")
@click.option("--policy", "names", multiple=True, help="Policy name (repeatable; default: "
              "every enabled one).")
@click.option("--no-wait", is_flag=True, help="Only ask: a worker runs it (see "
              "`quality backfills`).")
@actor_option
@pass_ctx
@user_errors
def quality_backfill(ctx: Ctx, since: datetime | None, until: datetime | None,
                     names: tuple[str, ...], no_wait: bool, actor: str) -> None:
    """Run monitoring policies over items already archived; hits join the queue.

    Stored as a backfill request (audited) and run here to the end with a progress bar,
    resuming where a worker or an earlier run stopped; with --no-wait a worker runs it.
    """
    def at(day: datetime | None) -> datetime | None:
        return None if day is None else datetime.combine(day.date(), time(), tzinfo=UTC)

    with ctx.archive() as arc:
        asked = backfill.request(arc, since=at(since), until=at(until), names=names,
                                 actor=actor, role=QUALITY)
        if not no_wait:
            _run_to_end(arc, asked.id)
        got = backfill.get(arc, asked.id)
    echo_json(_plain(got.public()))
    if got.status is backfill.Status.FAILED:
        raise click.ClickException(f"backfill {got.id} failed: {got.error}")


def _run_to_end(arc: Archive, request_id: int) -> None:
    """Run the request's job in this process, or wait for the worker that has it."""
    with click.progressbar(length=1, label="items", file=sys.stderr) as bar:
        def show(got: backfill.Backfill) -> None:
            bar.length = max(got.items_total or 0, got.items_done, 1)
            bar.update(got.items_done - bar.pos)

        backfill.run_queued(arc, worker=f"cli:{os.getpid()}", keys=[str(request_id)],
                            progress=show)
        while (got := backfill.get(arc, request_id)).status not in (
                backfill.Status.DONE, backfill.Status.FAILED):
            show(got)  # a worker took it first: follow its progress
            threading.Event().wait(WAIT_POLL_SECONDS)


@quality_group.command("backfills")
@pass_ctx
@user_errors
def quality_backfills(ctx: Ctx) -> None:
    """The newest backfill requests with their progress and results."""
    with ctx.archive() as arc:
        echo_json([_plain(b.public()) for b in backfill.recent(arc)])


def _plain(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in value.items()}


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
