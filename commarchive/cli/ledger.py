"""``ledger``: the erasure ledger's state, its replay into a restored catalog, and its
move into the S3 Object Lock bucket (``commarchive.replay`` and ``commarchive.backup``)."""

from __future__ import annotations

import click

from commarchive import backup, runtime
from commarchive.cli.common import Ctx, actor_option, echo_json, pass_ctx, user_errors
from commarchive.replay import ledger_status, replay


@click.group("ledger")
def ledger_group() -> None:
    """The erasure ledger that keeps erased people erased across restores."""


@ledger_group.command("status")
@pass_ctx
@user_errors
def ledger_status_cmd(ctx: Ctx) -> None:
    """How far the catalog has followed the ledger, and the erasures it has not applied."""
    arc = runtime.open_archive(ctx.settings(), behind_ledger_ok=True)
    try:
        echo_json({"ledger": arc.vault.ledger.describe(), **ledger_status(arc).public()})
    finally:
        arc.close()


@ledger_group.command("replay")
@actor_option
@pass_ctx
@user_errors
def ledger_replay_cmd(ctx: Ctx, actor: str) -> None:
    """Apply every erasure of the ledger to the catalog (after restoring an older
    pg_dump, before any node serves); audited, and safe to run again."""
    arc = runtime.open_archive(ctx.settings(), behind_ledger_ok=True)
    try:
        echo_json(replay(arc, actor=actor))
    finally:
        arc.close()


@ledger_group.command("move")
@actor_option
@pass_ctx
@user_errors
def ledger_move_cmd(ctx: Ctx, actor: str) -> None:
    """Copy the ledger file into the audit anchor's S3 Object Lock bucket (every node
    stopped, COMMARCHIVE_AUDIT_ANCHOR_S3_BUCKET set); the file is renamed *.moved."""
    echo_json(backup.move_ledger(ctx.settings(), actor=actor))
