"""Privacy commands for the ``commarchive`` group: purposes, sweep, holds, subjects,
annotations, disclosures and requests. Registered by importing this module.

Every command is audited under ``--actor`` (or ``COMMARCHIVE_ACTOR``), with the
role the action belongs to (privacy, or legal for holds).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from archive import holds, retention, rights
from archive.config import Role
from archive.errors import InvalidRequest
from commarchive.cli import Ctx, _now_option, main, pass_ctx, user_errors

F = TypeVar("F", bound=Callable[..., Any])

PRIVACY = Role.PRIVACY.value
LEGAL = Role.LEGAL.value


def _group(name: str, help_text: str) -> click.Group:
    """Reuse a group of that name if the main CLI already has one."""
    existing = main.commands.get(name)
    if isinstance(existing, click.Group):
        return existing

    @main.group(name, help=help_text)
    def _g() -> None:
        pass

    return _g


def _actor(fn: F) -> F:
    return click.option("--actor", envvar="COMMARCHIVE_ACTOR", default="cli", show_default=True,
                        help="Who is acting (recorded in the audit log).")(fn)


def _also(fn: F) -> F:
    return click.option("--also", "also", multiple=True, metavar="IDENTIFIER",
                        help="Further identifiers of the same person (repeatable).")(fn)


def _request(fn: F) -> F:
    return click.option("--request", "request_id", type=int, default=None,
                        help="Data-subject request number this answers.")(fn)


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _when(value: str | None) -> datetime | None:
    try:
        return _now_option(value)
    except ValueError:
        raise InvalidRequest(f"not an ISO-8601 time: {value!r}") from None


# -- purposes / sweep ------------------------------------------------------------------------

purposes_group = _group("purposes", "Purposes on record: lawful basis, retention, roles (Art 30).")


@purposes_group.command("report")
@click.option("--now", "now", metavar="ISO-8601", help="Count items past retention at this time.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@pass_ctx
@user_errors
def purposes_report(ctx: Ctx, now: str | None, as_json: bool) -> None:
    """Each purpose with its lawful basis, retention, roles and item counts."""
    with ctx.archive() as arc:
        rows = rights.purposes_report(arc, now=_when(now))
    if as_json:
        _echo_json(rows)
        return
    click.echo(f"{'purpose':<12} {'lawful basis':<20} {'retention':>10} {'roles':<16} "
               f"{'items':>8} {'expired':>8}")
    for r in rows:
        click.echo(f"{r['purpose']:<12} {r['lawful_basis']:<20} {r['retention_days']:>9}d "
                   f"{','.join(r['roles']):<16} {r['items']:>8} {r['items_past_retention']:>8}")


@main.command("sweep")
@click.option("--dry-run", is_flag=True, help="Report what would happen; change nothing.")
@click.option("--now", "now", metavar="ISO-8601", help="Sweep as if it were this time.")
@_actor
@pass_ctx
@user_errors
def sweep_cmd(ctx: Ctx, dry_run: bool, now: str | None, actor: str) -> None:
    """Drop purposes past retention (keys destroyed) and purge items left with none."""
    when = _when(now)
    with ctx.archive() as arc:
        total = retention.count_due(arc, now=when)
        with click.progressbar(length=max(total, 1), label="sweeping", file=sys.stderr) as bar:
            report = retention.sweep(arc, now=when, dry_run=dry_run, actor=actor,
                                     progress=bar.update)
    _echo_json(report.public())


# -- holds ---------------------------------------------------------------------------------------

holds_group = _group("holds", "Legal holds (role legal).")


@holds_group.command("place")
@click.option("--item", "items", multiple=True, help="Item id (repeatable).")
@click.option("--subject", help="Every item of this data subject (also later ones).")
@click.option("--query", help="Every item this search matches.")
@click.option("--reason", required=True)
@click.option("--case", "case_ref", required=True, help="Case reference.")
@_actor
@pass_ctx
@user_errors
def holds_place(ctx: Ctx, items: tuple[str, ...], subject: str | None, query: str | None,
                reason: str, case_ref: str, actor: str) -> None:
    """Place a legal hold on items, a subject, or a search."""
    with ctx.archive() as arc:
        hold = holds.place_hold(arc, actor=actor, role=LEGAL, reason=reason, case_ref=case_ref,
                                item_ids=list(items) or None, subject=subject, query=query)
    _echo_json(hold.public())


@holds_group.command("lift")
@click.argument("hold_id", type=int)
@click.option("--note", required=True, help="Why the hold ends.")
@_actor
@pass_ctx
@user_errors
def holds_lift(ctx: Ctx, hold_id: int, note: str, actor: str) -> None:
    """Lift a legal hold (audited)."""
    with ctx.archive() as arc:
        hold = holds.lift_hold(arc, hold_id, actor=actor, role=LEGAL, note=note)
    _echo_json(hold.public())


@holds_group.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include lifted holds.")
@pass_ctx
@user_errors
def holds_list(ctx: Ctx, show_all: bool) -> None:
    """List legal holds (JSON lines)."""
    with ctx.archive() as arc:
        for hold in holds.list_holds(arc, active_only=not show_all):
            data = hold.public()
            data["items"] = len(data.pop("item_ids"))
            click.echo(json.dumps(data, ensure_ascii=False))


# -- subjects ------------------------------------------------------------------------------------

subjects_group = _group("subjects", "Data-subject rights (role privacy).")


def _ids(identifier: str, also: tuple[str, ...]) -> list[str]:
    return [identifier, *also]


@subjects_group.command("find")
@click.argument("identifier")
@_also
@_actor
@pass_ctx
@user_errors
def subjects_find(ctx: Ctx, identifier: str, also: tuple[str, ...], actor: str) -> None:
    """Items of a data subject: where they are a party, or mentioned."""
    with ctx.archive() as arc:
        _echo_json(rights.subject_overview(arc, _ids(identifier, also), actor=actor))


@subjects_group.command("export")
@click.argument("identifier")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="ZIP file to create (refuses to overwrite).")
@_also
@_request
@_actor
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
    _echo_json({"subject": plan.match.identifier, "items": len(plan.match.item_ids),
                "file": str(out), "bytes": out.stat().st_size, "audit_seq": plan.audit_seq})


@subjects_group.command("erase")
@click.argument("identifier")
@click.option("--parties-only", is_flag=True,
              help="Leave items that only mention the subject.")
@click.option("--erase-others", is_flag=True,
              help="Also erase items that mention the subject but belong to other data "
                   "subjects (by default they are kept and listed for review).")
@_also
@_request
@_actor
@pass_ctx
@user_errors
def subjects_erase(ctx: Ctx, identifier: str, parties_only: bool, erase_others: bool,
                   also: tuple[str, ...], request_id: int | None, actor: str) -> None:
    """Erasure (Art. 17): crypto-shred and purge; prints the certificate as JSON."""
    with ctx.archive() as arc:
        cert = rights.erase_subject(arc, _ids(identifier, also), actor=actor,
                                     request_id=request_id, mentions=not parties_only,
                                     erase_others=erase_others)
    _echo_json(cert.public())


@subjects_group.command("restrict")
@click.argument("identifier")
@click.option("--reason", required=True)
@_also
@_request
@_actor
@pass_ctx
@user_errors
def subjects_restrict(ctx: Ctx, identifier: str, reason: str, also: tuple[str, ...],
                      request_id: int | None, actor: str) -> None:
    """Restriction (Art. 18): items stay stored but only privacy and legal see them."""
    with ctx.archive() as arc:
        _echo_json(rights.restrict_subject(arc, _ids(identifier, also), actor=actor,
                                            reason=reason, request_id=request_id))


@subjects_group.command("unrestrict")
@click.argument("identifier")
@click.option("--note", required=True, help="How and when the subject was informed.")
@_also
@_actor
@pass_ctx
@user_errors
def subjects_unrestrict(ctx: Ctx, identifier: str, note: str, also: tuple[str, ...],
                        actor: str) -> None:
    """Lift a restriction; needs a note that the subject was informed."""
    with ctx.archive() as arc:
        _echo_json(rights.lift_restriction(arc, _ids(identifier, also), actor=actor,
                                            note=note))


@subjects_group.command("object")
@click.argument("identifier")
@click.option("--purpose", "purposes", multiple=True,
              help="Purpose to end (default: every legitimate-interest/consent purpose).")
@click.option("--withdraw-consent", is_flag=True, help="Record it as consent withdrawal.")
@_also
@_request
@_actor
@pass_ctx
@user_errors
def subjects_object(ctx: Ctx, identifier: str, purposes: tuple[str, ...],
                    withdraw_consent: bool, also: tuple[str, ...], request_id: int | None,
                    actor: str) -> None:
    """Objection / consent withdrawal (Art. 21, 7(3)): end purposes, keys destroyed."""
    with ctx.archive() as arc:
        _echo_json(rights.object_subject(
            arc, _ids(identifier, also), actor=actor, purposes=list(purposes) or None,
            withdrawal=withdraw_consent, request_id=request_id))


# -- items annotate --------------------------------------------------------------------------------

items_group = _group("items", "Items.")


@items_group.command("annotate")
@click.argument("item_id")
@click.option("--text", required=True, help="The rectification to attach.")
@click.option("--subject", help="The data subject who asked (for the audit log).")
@_request
@_actor
@pass_ctx
@user_errors
def items_annotate(ctx: Ctx, item_id: str, text: str, subject: str | None,
                   request_id: int | None, actor: str) -> None:
    """Rectification (Art. 16): a sealed annotation; the original stays intact."""
    with ctx.archive() as arc:
        _echo_json(rights.annotate_item(arc, item_id, text, actor=actor, subject=subject,
                                         request_id=request_id))


# -- disclosures ---------------------------------------------------------------------------------

disclosures_group = _group("disclosures", "Disclosures to recipients (policy section 5).")


@disclosures_group.command("add")
@click.option("--item", "items", multiple=True, required=True, help="Item id (repeatable).")
@click.option("--recipient", required=True, help="Authority or processor.")
@click.option("--basis", "legal_basis", required=True, help="Legal basis of the disclosure.")
@click.option("--date", "date", metavar="ISO-8601", help="When (default: now).")
@click.option("--reference", help="Case or order reference.")
@click.option("--role", "role", type=click.Choice([PRIVACY, LEGAL]), default=LEGAL,
              show_default=True)
@_actor
@pass_ctx
@user_errors
def disclosures_add(ctx: Ctx, items: tuple[str, ...], recipient: str, legal_basis: str,
                    date: str | None, reference: str | None, role: str, actor: str) -> None:
    """Record that items were given to a recipient."""
    with ctx.archive() as arc:
        _echo_json(rights.record_disclosure(
            arc, list(items), recipient=recipient, legal_basis=legal_basis, actor=actor,
            role=role, disclosed_at=_when(date), reference=reference))


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


# -- requests --------------------------------------------------------------------------------------

requests_group = _group("requests", "Data-subject requests and their deadlines.")


@requests_group.command("add")
@click.option("--kind", required=True, type=click.Choice([k.value for k in rights.RequestKind]))
@click.option("--subject", required=True, help="An identifier of the data subject.")
@click.option("--requested-by", required=True, help="Who asked, and how.")
@click.option("--verified-by", help="Who verified their identity.")
@click.option("--received", metavar="ISO-8601", help="When it was received (default: now).")
@click.option("--note")
@_actor
@pass_ctx
@user_errors
def requests_add(ctx: Ctx, kind: str, subject: str, requested_by: str,
                 verified_by: str | None, received: str | None, note: str | None,
                 actor: str) -> None:
    """Track a request; due one month after receipt."""
    with ctx.archive() as arc:
        _echo_json(rights.add_request(arc, kind=kind, subject=subject,
                                       requested_by=requested_by, verified_by=verified_by,
                                       actor=actor, received_at=_when(received), note=note))


@requests_group.command("list")
@click.option("--overdue", is_flag=True, help="Only open requests past their due date.")
@click.option("--status", type=click.Choice([s.value for s in rights.RequestStatus]))
@click.option("--now", "now", metavar="ISO-8601")
@pass_ctx
@user_errors
def requests_list(ctx: Ctx, overdue: bool, status: str | None, now: str | None) -> None:
    """List requests (JSON lines), soonest due first."""
    with ctx.archive() as arc:
        for row in rights.list_requests(arc, overdue=overdue, status=status, now=_when(now)):
            click.echo(json.dumps(row, ensure_ascii=False))


@requests_group.command("close")
@click.argument("request_id", type=int)
@click.option("--status", type=click.Choice(["done", "refused"]), default="done",
              show_default=True)
@click.option("--note")
@_actor
@pass_ctx
@user_errors
def requests_close(ctx: Ctx, request_id: int, status: str, note: str | None,
                   actor: str) -> None:
    """Close a request as done or refused."""
    with ctx.archive() as arc:
        _echo_json(rights.close_request(arc, request_id, actor=actor, status=status,
                                         note=note))
