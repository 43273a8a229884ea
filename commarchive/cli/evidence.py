"""``evidence verify``: check an evidence bundle offline.

Needs nothing but the ZIP: no data directory, no keys, no running archive, so a
court, an authority or the other side's expert can run it (or ``sha256sum``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archive.evidence.verify import verify_bundle


@click.group("evidence")
def evidence_group() -> None:
    """Legal's evidence bundles."""


@evidence_group.command("verify")
@click.argument("bundle", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def evidence_verify(bundle: Path) -> None:
    """Check BUNDLE against its manifest; names every missing, changed or added file.

    Exit 0 when intact, 1 otherwise."""
    result = verify_bundle(bundle)
    if result.ok:
        click.echo(f"OK: {bundle.name}: the manifest and all {result.files} files verify")
        return
    for problem in result.problems:
        click.echo(f"FAILED: {problem}", err=True)
    click.echo(f"{bundle.name}: {len(result.problems)} problem(s); the bundle is not intact",
               err=True)
    sys.exit(1)
