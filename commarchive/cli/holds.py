"""``holds``: legal holds, audited under the legal role."""

from __future__ import annotations

import json

import click

from archive import holds
from archive.config import Role
from commarchive.cli.breakglass import break_glass
from commarchive.cli.common import Ctx, actor_option, echo_json, pass_ctx, user_errors

LEGAL = Role.LEGAL.value


@click.group("holds")
def holds_group() -> None:
    """Legal holds (role legal)."""


@holds_group.command("place")
@click.option("--item", "items", multiple=True, help="Item id (repeatable).")
@click.option("--subject", help="Every item of this data subject (also later ones).")
@click.option("--query", help="Every item this search matches.")
@click.option("--reason", required=True)
@click.option("--case", "case_ref", required=True, help="Case reference.")
@actor_option
@pass_ctx
@user_errors
def holds_place(ctx: Ctx, items: tuple[str, ...], subject: str | None, query: str | None,
                reason: str, case_ref: str, actor: str) -> None:
    """Place a legal hold on items, a subject, or a search."""
    with ctx.archive() as arc:
        hold = holds.place_hold(arc, actor=actor, role=LEGAL, reason=reason, case_ref=case_ref,
                                item_ids=list(items) or None, subject=subject, query=query)
    echo_json(hold.public())


@holds_group.command("lift")
@click.argument("hold_id", type=int)
@click.option("--note", required=True, help="Why the hold ends.")
@actor_option
@pass_ctx
@user_errors
def holds_lift(ctx: Ctx, hold_id: int, note: str, actor: str) -> None:
    """Lift a legal hold (audited). Break-glass: runs without a second legal user's
    approval, audited as ``break_glass``."""
    with ctx.archive() as arc:
        break_glass(arc, "holds lift", actor=actor, role=LEGAL, hold_id=hold_id)
        hold = holds.lift_hold(arc, hold_id, actor=actor, role=LEGAL, note=note)
    echo_json(hold.public())


@holds_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include lifted holds.")
@pass_ctx
@user_errors
def holds_list(ctx: Ctx, show_all: bool) -> None:
    """List legal holds (JSON lines)."""
    with ctx.archive() as arc:
        for hold in holds.list_holds(arc, active_only=not show_all):
            data = hold.public()
            data["items"] = len(data.pop("item_ids"))
            click.echo(json.dumps(data, ensure_ascii=False))
