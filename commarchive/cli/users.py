"""``users``: the people who may read, and their bearer tokens."""

from __future__ import annotations

from datetime import timedelta

import click

from archive.config import Role
from commarchive.cli.common import Ctx, pass_ctx, user_errors


@click.group("users")
def users_group() -> None:
    """Manage users and their bearer tokens."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--expires-days", type=click.IntRange(min=1), default=None,
              help="Token expires after this many days (default: never).")
@pass_ctx
@user_errors
def users_add(ctx: Ctx, name: str, role: str, expires_days: int | None) -> None:
    """Add a user; prints only the new bearer token."""
    with ctx.archive() as arc:
        token = arc.users.add(name, Role(role),
                              expires_in=timedelta(days=expires_days) if expires_days else None)
        arc.audit.record(actor="cli", role=Role.ADMIN.value, action="user_add",
                         detail={"user": name, "role": role})
    click.echo(token)


@users_group.command("list")
@pass_ctx
@user_errors
def users_list(ctx: Ctx) -> None:
    """List active users and roles."""
    with ctx.archive() as arc:
        for user in arc.users.list():
            expires = user.expires_at.isoformat() if user.expires_at else "never"
            click.echo(f"{user.name}\t{user.role.value}\texpires {expires}")


@users_group.command("revoke")
@click.argument("name")
@pass_ctx
@user_errors
def users_revoke(ctx: Ctx, name: str) -> None:
    """Revoke a user's token."""
    with ctx.archive() as arc:
        arc.users.disable(name)
        arc.audit.record(actor="cli", role=Role.ADMIN.value, action="user_revoke",
                         detail={"user": name})
