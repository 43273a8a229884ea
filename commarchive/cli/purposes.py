"""Purposes and retention: ``purposes report`` (Art. 30) and the retention ``sweep``."""

from __future__ import annotations

import sys

import click

from archive import retention, rights
from commarchive.cli.common import (
    Ctx,
    actor_option,
    echo_json,
    pass_ctx,
    user_errors,
    when_option,
)


@click.group("purposes")
def purposes_group() -> None:
    """Purposes on record: lawful basis, retention, roles (Art 30)."""


@purposes_group.command("report")
@click.option("--now", "now", metavar="ISO-8601", help="Count items past retention at this time.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@pass_ctx
@user_errors
def purposes_report(ctx: Ctx, now: str | None, as_json: bool) -> None:
    """Each purpose with its lawful basis, retention, roles, item counts and the date of
    its oldest item (the Art. 30 record)."""
    with ctx.archive() as arc:
        rows = rights.purposes_report(arc, now=when_option(now))
    if as_json:
        echo_json(rows)
        return
    click.echo(f"{'purpose':<12} {'lawful basis':<20} {'retention':>10} {'roles':<16} "
               f"{'items':>8} {'expired':>8}  oldest item")
    for r in rows:
        click.echo(f"{r['purpose']:<12} {r['lawful_basis']:<20} {r['retention_days']:>9}d "
                   f"{','.join(r['roles']):<16} {r['items']:>8} {r['items_past_retention']:>8}"
                   f"  {(r['oldest_item'] or '-')[:10]}")


@click.command("sweep")
@click.option("--dry-run", is_flag=True, help="Report what would happen; change nothing.")
@click.option("--now", "now", metavar="ISO-8601", help="Sweep as if it were this time.")
@actor_option
@pass_ctx
@user_errors
def sweep_cmd(ctx: Ctx, dry_run: bool, now: str | None, actor: str) -> None:
    """Drop purposes past retention (keys destroyed) and purge items left with none."""
    when = when_option(now)
    with ctx.archive() as arc:
        total = retention.count_due(arc, now=when)
        with click.progressbar(length=max(total, 1), label="sweeping", file=sys.stderr) as bar:
            report = retention.sweep(arc, now=when, dry_run=dry_run, actor=actor,
                                     progress=bar.update)
    echo_json(report.public())
