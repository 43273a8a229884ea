"""``audit``: verify and list the hash-chained audit log."""

from __future__ import annotations

import json
import sys

import click

from commarchive.cli.common import Ctx, pass_ctx, user_errors


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@pass_ctx
@user_errors
def audit_verify(ctx: Ctx) -> None:
    """Check the audit chain; exit 1 and name the position when it was tampered with."""
    with ctx.archive() as arc:
        report = arc.audit.verify()
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if not report.ok:
        click.echo(f"audit log FAILED verification at event {report.position}: "
                   f"{report.problem}")
        sys.exit(1)
    click.echo(f"audit log OK: {report.events} events, chain intact")


@audit_group.command("list")
@click.option("--actor")
@click.option("--subject")
@click.option("--item")
@click.option("--limit", type=click.IntRange(min=1), default=100)
@pass_ctx
@user_errors
def audit_list(ctx: Ctx, actor: str | None, subject: str | None, item: str | None,
               limit: int) -> None:
    """List audit events (JSON lines), per actor, subject or item."""
    with ctx.archive() as arc:
        if subject:
            subject = arc.normalise_subject(subject)
        for event in arc.audit.events(actor=actor, subject=subject, item_id=item, limit=limit):
            click.echo(json.dumps(event.public(), ensure_ascii=False))
