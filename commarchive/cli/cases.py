"""``cases``: the privacy office's request cases; ``digest`` is for cron or a systemd timer."""

from __future__ import annotations

import json

import click

from archive import rights
from commarchive.cli.common import Ctx, pass_ctx, user_errors, when_option


@click.group("cases")
def cases_group() -> None:
    """Data-subject request cases and what falls due."""


@cases_group.command("digest")
@click.option("--days", type=click.IntRange(0, 366), default=7, show_default=True,
              help="Also list open cases due within this many days.")
@click.option("--now", "now", metavar="ISO-8601", help="As of this time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
@pass_ctx
@user_errors
def cases_digest(ctx: Ctx, days: int, now: str | None, as_json: bool) -> None:
    """What falls due: overdue open cases, then those due soon (daily, from a timer).

    Exits 0 either way; a timer that mails its output tells the office each morning.
    """
    with ctx.archive() as arc:
        report = rights.digest(arc, now=when_option(now), days=days)
    click.echo(json.dumps(report, ensure_ascii=False) if as_json
               else rights.digest_text(report), nl=as_json)


@cases_group.command("list")
@click.option("--status", type=click.Choice([s.value for s in rights.CaseStatus]),
              default="open", show_default=True)
@click.option("--now", "now", metavar="ISO-8601")
@pass_ctx
@user_errors
def cases_list(ctx: Ctx, status: str, now: str | None) -> None:
    """Cases (JSON lines), soonest due first."""
    with ctx.archive() as arc:
        for row in rights.list_cases(arc, status=status, now=when_option(now)):
            click.echo(json.dumps(row, ensure_ascii=False))
