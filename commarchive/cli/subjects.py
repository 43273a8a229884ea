"""``subjects``: data-subject rights (find, export, erase, restrict, object)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from archive import rights
from archive.config import Role
from commarchive.cli.breakglass import break_glass
from commarchive.cli.common import (
    Ctx,
    actor_option,
    also_option,
    echo_json,
    pass_ctx,
    request_option,
    user_errors,
)

PRIVACY = Role.PRIVACY.value


@click.group("subjects")
def subjects_group() -> None:
    """Data-subject rights (role privacy)."""


dry_run_option = click.option(
    "--dry-run", is_flag=True,
    help="Show what would be destroyed and what kept, and why; change nothing (audited).")


def _ids(identifier: str, also: tuple[str, ...]) -> list[str]:
    return [identifier, *also]


@subjects_group.command("find")
@click.argument("identifier")
@also_option
@actor_option
@pass_ctx
@user_errors
def subjects_find(ctx: Ctx, identifier: str, also: tuple[str, ...], actor: str) -> None:
    """Items of a data subject: where they are a party, or mentioned."""
    with ctx.archive() as arc:
        echo_json(rights.subject_overview(arc, _ids(identifier, also), actor=actor))


@subjects_group.command("export")
@click.argument("identifier")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="ZIP file to create (refuses to overwrite).")
@also_option
@request_option
@actor_option
@pass_ctx
@user_errors
def subjects_export(ctx: Ctx, identifier: str, out: Path, also: tuple[str, ...],
                    request_id: int | None, actor: str) -> None:
    """Access and portability (Art. 15, 20): one ZIP with index.json, originals,
    transcripts, vCon files and a readable summary."""
    with ctx.archive() as arc:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                plan = rights.export_subject(arc, _ids(identifier, also), fh, actor=actor,
                                              request_id=request_id)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
    echo_json({"subject": plan.match.identifier, "items": len(plan.match.item_ids),
                "file": str(out), "bytes": out.stat().st_size, "audit_seq": plan.audit_seq})


@subjects_group.command("erase")
@click.argument("identifier")
@click.option("--parties-only", is_flag=True,
              help="Leave items that only mention the subject.")
@click.option("--erase-others", is_flag=True,
              help="Also erase items that mention the subject but belong to other data "
                   "subjects (by default they are kept and listed for review).")
@dry_run_option
@also_option
@request_option
@actor_option
@pass_ctx
@user_errors
def subjects_erase(ctx: Ctx, identifier: str, parties_only: bool, erase_others: bool,
                   dry_run: bool, also: tuple[str, ...], request_id: int | None,
                   actor: str) -> None:
    """Erasure (Art. 17): crypto-shred and purge; prints the certificate as JSON.

    Break-glass: runs without a second officer's approval, audited as ``break_glass``."""
    with ctx.archive() as arc:
        if not dry_run:
            break_glass(arc, "subjects erase", actor=actor, role=PRIVACY,
                        identifiers=_ids(identifier, also), request_id=request_id)
        cert = rights.erase_subject(arc, _ids(identifier, also), actor=actor,
                                     request_id=request_id, mentions=not parties_only,
                                     erase_others=erase_others, dry_run=dry_run)
    echo_json(cert.public())


@subjects_group.command("restrict")
@click.argument("identifier")
@click.option("--reason", required=True)
@also_option
@request_option
@actor_option
@pass_ctx
@user_errors
def subjects_restrict(ctx: Ctx, identifier: str, reason: str, also: tuple[str, ...],
                      request_id: int | None, actor: str) -> None:
    """Restriction (Art. 18): items stay stored but only privacy and legal see them."""
    with ctx.archive() as arc:
        echo_json(rights.restrict_subject(arc, _ids(identifier, also), actor=actor,
                                            reason=reason, request_id=request_id))


@subjects_group.command("unrestrict")
@click.argument("identifier")
@click.option("--note", required=True, help="How and when the subject was informed.")
@also_option
@actor_option
@pass_ctx
@user_errors
def subjects_unrestrict(ctx: Ctx, identifier: str, note: str, also: tuple[str, ...],
                        actor: str) -> None:
    """Lift a restriction; needs a note that the subject was informed.

    Break-glass: runs without a second officer's approval, audited as ``break_glass``."""
    with ctx.archive() as arc:
        break_glass(arc, "subjects unrestrict", actor=actor, role=PRIVACY,
                    identifiers=_ids(identifier, also))
        echo_json(rights.lift_restriction(arc, _ids(identifier, also), actor=actor,
                                            note=note))


@subjects_group.command("object")
@click.argument("identifier")
@click.option("--purpose", "purposes", multiple=True,
              help="Purpose to end (default: every legitimate-interest/consent purpose).")
@click.option("--withdraw-consent", is_flag=True, help="Record it as consent withdrawal.")
@click.option("--include-others", is_flag=True,
              help="Also end purposes of items that mention the subject but belong to other "
                   "data subjects (by default they are kept and listed for review).")
@dry_run_option
@also_option
@request_option
@actor_option
@pass_ctx
@user_errors
def subjects_object(ctx: Ctx, identifier: str, purposes: tuple[str, ...],
                    withdraw_consent: bool, include_others: bool, dry_run: bool,
                    also: tuple[str, ...], request_id: int | None, actor: str) -> None:
    """Objection / consent withdrawal (Art. 21, 7(3)): end purposes, keys destroyed.

    Break-glass: runs without a second officer's approval, audited as ``break_glass``."""
    with ctx.archive() as arc:
        if not dry_run:
            break_glass(arc, "subjects object", actor=actor, role=PRIVACY,
                        identifiers=_ids(identifier, also), request_id=request_id)
        echo_json(rights.object_subject(
            arc, _ids(identifier, also), actor=actor, purposes=list(purposes) or None,
            withdrawal=withdraw_consent, request_id=request_id, include_others=include_others,
            dry_run=dry_run))
