"""``ledger``: the erasure ledger's move into the S3 Object Lock bucket
(``commarchive.backup``)."""

from __future__ import annotations

import click

from commarchive import backup
from commarchive.cli.common import Ctx, actor_option, echo_json, pass_ctx, user_errors


@click.group("ledger")
def ledger_group() -> None:
    """The erasure ledger that keeps erased people erased across restores."""


@ledger_group.command("move")
@actor_option
@pass_ctx
@user_errors
def ledger_move_cmd(ctx: Ctx, actor: str) -> None:
    """Copy the ledger file into the audit anchor's S3 Object Lock bucket (every node
    stopped, COMMARCHIVE_AUDIT_ANCHOR_S3_BUCKET set); the file is renamed *.moved."""
    echo_json(backup.move_ledger(ctx.settings(), actor=actor))
