"""``keys``: key management (KEK rotation)."""

from __future__ import annotations

import json
import sys

import click

from commarchive.cli.common import Ctx, pass_ctx, user_errors


@click.group("keys")
def keys_group() -> None:
    """Key management."""


@keys_group.command("rotate")
@click.argument("purpose")
@pass_ctx
@user_errors
def keys_rotate(ctx: Ctx, purpose: str) -> None:
    """New KEK version for PURPOSE; re-wraps DEKs without re-encrypting content."""
    label = f"re-wrapping {purpose} keys"
    with ctx.archive() as arc, click.progressbar(length=1, label=label, file=sys.stderr) as bar:
        version, count = arc.rotate_key(purpose, actor="cli", progress=bar.update)
    click.echo(json.dumps({"purpose": purpose, "version": version, "rewrapped": count}))
