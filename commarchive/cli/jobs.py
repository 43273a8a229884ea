"""The shared job queue from the command line: ``worker`` runs jobs, ``jobs add`` asks for
one (``transcribe ITEM...``, ``monitor ITEM...``, ``backfill``, ``reindex``, ``sweep``),
``jobs list`` shows the queue's depth and age per kind."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click

from commarchive.cli.common import Ctx, pass_ctx, user_errors


@click.command("worker")
@pass_ctx
@user_errors
def worker_cmd(ctx: Ctx) -> None:
    """Run jobs of the shared queue until SIGTERM or Ctrl+C (any number, on any node)."""
    from commarchive.logs import configure
    from commarchive.worker import run_worker

    settings = ctx.settings()
    configure(settings.log_format)
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    run_worker(settings, stop)


@click.group("jobs")
def jobs_group() -> None:
    """The shared job queue (transcription, backfill, reindex, sweep)."""


@jobs_group.command("add")
@click.argument("kind", type=click.Choice(["transcribe", "monitor", "backfill", "reindex",
                                           "sweep"]))
@click.argument("items", nargs=-1)
@pass_ctx
@user_errors
def jobs_add(ctx: Ctx, kind: str, items: tuple[str, ...]) -> None:
    """Queue a job (``transcribe`` and ``monitor`` take item ids); one already waiting is not
    queued twice."""
    from archive.jobs import JobQueue

    if (kind in ("transcribe", "monitor")) != bool(items):
        raise click.UsageError("transcribe and monitor take item ids; the other kinds take none")
    with ctx.archive() as arc:
        added = JobQueue(arc.catalog).enqueue(kind, items or ("",))
    click.echo(f"queued {added} {kind} job(s)")


@jobs_group.command("list")
@pass_ctx
@user_errors
def jobs_list(ctx: Ctx) -> None:
    """Jobs waiting, running and failed per kind, and how long the oldest has waited."""
    from archive.jobs import JobQueue

    with ctx.archive() as arc:
        depth = JobQueue(arc.catalog).depth()
    for d in depth:
        click.echo(f"{d.kind}: {d.queued} queued (oldest {d.oldest_queued_age_s:.0f}s), "
                   f"{d.running} running, {d.failed} failed")
