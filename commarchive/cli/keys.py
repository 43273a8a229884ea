"""``keys``: purpose-key rotation and retirement, master-key rotation, retirement
and moving an old archive's master key out of its data directory."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from archive import keyadmin
from archive.config import Role
from commarchive import runtime
from commarchive.cli.breakglass import break_glass
from commarchive.cli.common import Ctx, pass_ctx, user_errors
from commarchive.settings import KeyProviderKind


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


@keys_group.command("retire")
@click.argument("purpose")
@click.argument("version", type=int)
@pass_ctx
@user_errors
def keys_retire(ctx: Ctx, purpose: str, version: int) -> None:
    """Destroy KEK VERSION of PURPOSE (refused while a data key is still wrapped by it).

    Break-glass: runs without a second admin's approval, audited as ``break_glass``."""
    with ctx.archive() as arc:
        break_glass(arc, "keys retire", actor="cli", role=Role.ADMIN.value, purpose=purpose,
                    version=version)
        keyadmin.retire_key(arc.vault, purpose, version, actor="cli")
    click.echo(json.dumps({"purpose": purpose, "retired": version}))


@keys_group.command("rotate-master")
@click.option("--new-key-file", type=click.Path(path_type=Path, dir_okay=False),
              help="file provider: the new key file (created; default: beside the old one, "
                   "named ARCHIVE-ID.vN.key).")
@click.option("--new-provider", type=click.Choice([k.value for k in KeyProviderKind]),
              help="Provider of the new master key (default: the current one).")
@click.option("--new-pkcs11-key-label", help="pkcs11 provider: label of the new HSM key.")
@pass_ctx
@user_errors
def keys_rotate_master(ctx: Ctx, new_key_file: Path | None, new_provider: str | None,
                       new_pkcs11_key_label: str | None) -> None:
    """Re-wrap the keyring under a new master key; the old one keeps opening it
    (running servers go on) until `keys retire-master`."""
    with ctx.archive() as arc:
        version, where = runtime.rotate_master(
            ctx.settings(), arc, new_key_file=new_key_file,
            new_provider=KeyProviderKind(new_provider) if new_provider else None,
            new_pkcs11_key_label=new_pkcs11_key_label)
    click.echo(json.dumps({"master_version": version, "key": where}))
    click.echo("point COMMARCHIVE_MASTER_KEY_FILE (or the pkcs11 label) at the new key, "
               "restart, then run `keys retire-master`", err=True)


@keys_group.command("retire-master")
@click.argument("version", type=int)
@pass_ctx
@user_errors
def keys_retire_master(ctx: Ctx, version: int) -> None:
    """Retire master key VERSION: the keyring is re-sealed so that key opens nothing.

    Break-glass: there is no second-person path for master keys (the CLI only), and it
    is audited as ``break_glass`` like the others."""
    with ctx.archive() as arc:
        break_glass(arc, "keys retire-master", actor="cli", role=Role.ADMIN.value,
                    master_version=version)
        keyadmin.retire_master(arc.vault, version, actor="cli")
    click.echo(json.dumps({"retired_master": version}))


@keys_group.command("masters")
@pass_ctx
@user_errors
def keys_masters(ctx: Ctx) -> None:
    """The master keys that open the keyring (JSON lines; never the keys themselves)."""
    with ctx.archive() as arc:
        for m in arc.keyring.masters():
            click.echo(json.dumps({"version": m.version, "kind": m.kind,
                                   "current": m.current, **m.detail}))


@keys_group.command("move-master")
@click.option("--old-key-file", type=click.Path(path_type=Path, dir_okay=False),
              help="The old master key (default: DATA_DIR/master.key).")
@pass_ctx
@user_errors
def keys_move_master(ctx: Ctx, old_key_file: Path | None) -> None:
    """Move an old archive's master key out of the data directory (one-time upgrade)."""
    where = runtime.move_master(ctx.settings(), old_key_file)
    if where is not None:
        click.echo(f"new master key file: {where}; the old key was deleted from the data "
                   "directory (copies of it still open old backups: destroy them)", err=True)
    click.echo(json.dumps({"moved": True, "key_file": str(where) if where else None}))


@keys_group.command("move-keyring")
@pass_ctx
@user_errors
def keys_move_keyring(ctx: Ctx) -> None:
    """Move the keyring file into the shared catalog (COMMARCHIVE_KEYRING_STORE=catalog)."""
    archive_id = runtime.move_keyring(ctx.settings())
    click.echo(json.dumps({"moved": True, "archive_id": archive_id}))
