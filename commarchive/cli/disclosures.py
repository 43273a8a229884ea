"""``disclosures``: what was given to which recipient, on what basis."""

from __future__ import annotations

import json

import click

from archive import rights
from archive.config import Role
from commarchive.cli.common import (
    Ctx,
    actor_option,
    echo_json,
    pass_ctx,
    user_errors,
    when_option,
)

PRIVACY = Role.PRIVACY.value
LEGAL = Role.LEGAL.value


@click.group("disclosures")
def disclosures_group() -> None:
    """Disclosures to recipients (policy section 5)."""


@disclosures_group.command("add")
@click.option("--item", "items", multiple=True, required=True, help="Item id (repeatable).")
@click.option("--recipient", required=True, help="Authority or processor.")
@click.option("--basis", "legal_basis", required=True, help="Legal basis of the disclosure.")
@click.option("--date", "date", metavar="ISO-8601", help="When (default: now).")
@click.option("--reference", help="Case or order reference.")
@click.option("--role", "role", type=click.Choice([PRIVACY, LEGAL]), default=LEGAL,
              show_default=True)
@actor_option
@pass_ctx
@user_errors
def disclosures_add(ctx: Ctx, items: tuple[str, ...], recipient: str, legal_basis: str,
                    date: str | None, reference: str | None, role: str, actor: str) -> None:
    """Record that items were given to a recipient."""
    with ctx.archive() as arc:
        echo_json(rights.record_disclosure(
            arc, list(items), recipient=recipient, legal_basis=legal_basis, actor=actor,
            role=role, disclosed_at=when_option(date), reference=reference))


@disclosures_group.command("list")
@click.option("--subject", help="Disclosures of this subject's items.")
@click.option("--item", "item_id")
@pass_ctx
@user_errors
def disclosures_list(ctx: Ctx, subject: str | None, item_id: str | None) -> None:
    """List disclosures (JSON lines)."""
    with ctx.archive() as arc:
        for row in rights.list_disclosures(arc, subject=subject, item_id=item_id):
            click.echo(json.dumps(row, ensure_ascii=False))
