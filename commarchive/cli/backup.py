"""``backup`` and ``restore`` (``commarchive.backup`` explains what each holds and does)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from commarchive import backup as backups
from commarchive.cli.common import Ctx, pass_ctx, user_errors


@click.command("backup")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The backup file to write (outside the data directory).")
@pass_ctx
@user_errors
def backup_cmd(ctx: Ctx, out: Path) -> None:
    """Consistent backup of catalog, keyring, config and local blobs, while serving.

    The master key, audit anchor and erasure ledger are not in it: keep them with the
    key provider."""
    with ctx.archive() as arc:
        manifest = backups.backup(ctx.settings(), arc, out)
    click.echo(json.dumps({"backup": str(out), **manifest}))


@click.command("restore")
@click.argument("backup_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.argument("data_dir", type=click.Path(path_type=Path, file_okay=False))
@pass_ctx
@user_errors
def restore_cmd(ctx: Ctx, backup_file: Path, data_dir: Path) -> None:
    """Restore BACKUP_FILE into the new DATA_DIR, replaying every erasure made since."""
    report = backups.restore(ctx.settings(data_dir=data_dir), backup_file, data_dir)
    click.echo(json.dumps(report, indent=2))
