"""``requests``: data-subject requests and their one-month deadline."""

from __future__ import annotations

import json

import click

from archive import rights
from commarchive.cli.common import (
    Ctx,
    actor_option,
    echo_json,
    pass_ctx,
    user_errors,
    when_option,
)


@click.group("requests")
def requests_group() -> None:
    """Data-subject requests and their deadlines."""


@requests_group.command("add")
@click.option("--kind", required=True, type=click.Choice([k.value for k in rights.RequestKind]))
@click.option("--subject", required=True, help="An identifier of the data subject.")
@click.option("--requested-by", required=True, help="Who asked, and how.")
@click.option("--verified-by", help="Who verified their identity.")
@click.option("--received", metavar="ISO-8601", help="When it was received (default: now).")
@click.option("--note")
@actor_option
@pass_ctx
@user_errors
def requests_add(ctx: Ctx, kind: str, subject: str, requested_by: str,
                 verified_by: str | None, received: str | None, note: str | None,
                 actor: str) -> None:
    """Track a request; due one month after receipt."""
    with ctx.archive() as arc:
        echo_json(rights.add_request(arc, kind=kind, subject=subject,
                                       requested_by=requested_by, verified_by=verified_by,
                                       actor=actor, received_at=when_option(received), note=note))


@requests_group.command("list")
@click.option("--overdue", is_flag=True, help="Only open requests past their due date.")
@click.option("--status", type=click.Choice([s.value for s in rights.RequestStatus]))
@click.option("--now", "now", metavar="ISO-8601")
@pass_ctx
@user_errors
def requests_list(ctx: Ctx, overdue: bool, status: str | None, now: str | None) -> None:
    """List requests (JSON lines), soonest due first."""
    with ctx.archive() as arc:
        for row in rights.list_requests(arc, overdue=overdue, status=status, now=when_option(now)):
            click.echo(json.dumps(row, ensure_ascii=False))


@requests_group.command("close")
@click.argument("request_id", type=int)
@click.option("--status", type=click.Choice(["done", "refused"]), default="done",
              show_default=True)
@click.option("--note")
@actor_option
@pass_ctx
@user_errors
def requests_close(ctx: Ctx, request_id: int, status: str, note: str | None,
                   actor: str) -> None:
    """Close a request as done or refused."""
    with ctx.archive() as arc:
        echo_json(rights.close_request(arc, request_id, actor=actor, status=status,
                                         note=note))
