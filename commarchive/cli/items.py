"""``items``: rectification of an archived item (Art. 16)."""

from __future__ import annotations

import click

from archive import rights
from commarchive.cli.common import (
    Ctx,
    actor_option,
    echo_json,
    pass_ctx,
    request_option,
    user_errors,
)


@click.group("items")
def items_group() -> None:
    """Items."""


@items_group.command("annotate")
@click.argument("item_id")
@click.option("--text", required=True, help="The rectification to attach.")
@click.option("--subject", help="The data subject who asked (for the audit log).")
@request_option
@actor_option
@pass_ctx
@user_errors
def items_annotate(ctx: Ctx, item_id: str, text: str, subject: str | None,
                   request_id: int | None, actor: str) -> None:
    """Rectification (Art. 16): a sealed annotation; the original stays intact."""
    with ctx.archive() as arc:
        echo_json(rights.annotate_item(arc, item_id, text, actor=actor, subject=subject,
                                         request_id=request_id))
