"""What each action under two-person control previews and runs.

Each action names the role that proposes and approves it, a preview (the dry
run the approver decides on, built from the operation's own dry-run path where
it has one), the run itself, and the *scope*: the part of a preview that must
still hold when the action runs. At execution the preview is taken again and
its scope compared with the approved one; a difference is recorded with the
outcome (``drift``), so an approval never silently covered more than was shown.

Retention and tagging rules change only in ``archive.toml`` (read at start), so
they have no action here: the file is the operator's, outside the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from archive import catalog as cat
from archive import holds, keyadmin, rights
from archive.config import Role
from archive.errors import ErrorCode, InvalidRequest
from archive.rights.subjects import find_subject, recipients_to_notify
from archive.service import Archive

Params = dict[str, Any]


class ApprovalAction(StrEnum):
    """Destructive or widening actions that need a second person."""

    ERASE = "erase"
    OBJECT = "object"
    UNRESTRICT = "unrestrict"
    LIFT_HOLD = "lift_hold"
    RETIRE_KEY = "retire_key"


@dataclass(frozen=True, slots=True)
class ActionSpec:
    role: Role
    preview: Callable[[Archive, Params, str], dict[str, Any]]
    run: Callable[[Archive, Params, str], dict[str, Any]]
    scope: Callable[[dict[str, Any]], dict[str, Any]]


def _ids(params: Params) -> list[str]:
    return [str(i) for i in params["identifiers"]]


# -- erasure ------------------------------------------------------------------------------------


def _erase(archive: Archive, params: Params, actor: str, *, dry_run: bool) -> dict[str, Any]:
    return rights.erase_subject(
        archive, _ids(params), actor=actor, request_id=params.get("request_id"),
        mentions=not params.get("parties_only", False),
        erase_others=bool(params.get("erase_others", False)), dry_run=dry_run).public()


def _erase_scope(dry: dict[str, Any]) -> dict[str, Any]:
    return {"erased": sorted(e["item_id"] for e in dry["erased"]),
            "kept": sorted(f"{k['item_id']}:{k['reason']}" for k in dry["kept"])}


# -- objection and consent withdrawal -------------------------------------------------------------


def _object(archive: Archive, params: Params, actor: str, *, dry_run: bool) -> dict[str, Any]:
    return rights.object_subject(
        archive, _ids(params), actor=actor, purposes=params.get("purposes"),
        withdrawal=bool(params.get("withdrawal", False)), request_id=params.get("request_id"),
        include_others=bool(params.get("include_others", False)), dry_run=dry_run)


def _object_scope(dry: dict[str, Any]) -> dict[str, Any]:
    return {"purposes": sorted(dry["purposes"]),
            "dropped": sorted(f"{d['item_id']}:{d['purpose']}" for d in dry["dropped"]),
            "purged": sorted(dry["purged"])}


# -- lifting a restriction ------------------------------------------------------------------------


def _unrestrict_preview(archive: Archive, params: Params, actor: str) -> dict[str, Any]:
    """What ``lift_restriction`` would lift: the subject's items still restricted."""
    match = find_subject(archive, _ids(params))
    with archive.catalog.read() as conn:
        active = sorted({str(r[0]) for r in conn.execute(
            sa.select(cat.restrictions.c.item_id).where(
                cat.restrictions.c.item_id.in_(match.item_ids),
                cat.restrictions.c.lifted_at.is_(None)))})
        standing = [str(r[0]) for r in conn.execute(
            sa.select(cat.subject_restrictions.c.identifier).where(
                cat.subject_restrictions.c.identifier.in_(
                    match.identifiers or (match.identifier,)),
                cat.subject_restrictions.c.lifted_at.is_(None)))]
    archive.vault.record_event(actor=actor, role=Role.PRIVACY.value,
                               action="restrict_lift_dry_run", subject=match.identifier,
                               item_ids=active)
    return {"subject": match.identifier, "dry_run": True, "lifted": active,
            "standing_restrictions": sorted(standing), "note": params["note"],
            "recipients_to_notify": recipients_to_notify(archive, active)}


def _unrestrict(archive: Archive, params: Params, actor: str) -> dict[str, Any]:
    return rights.lift_restriction(archive, _ids(params), actor=actor, note=params["note"])


# -- lifting a legal hold -------------------------------------------------------------------------


def _lift_hold_preview(archive: Archive, params: Params, actor: str) -> dict[str, Any]:
    """The hold, and which of its items no other active hold keeps (they become deletable)."""
    hold_id = int(params["hold_id"])
    hold = holds.get_hold(archive, hold_id)
    if not hold.active:
        raise InvalidRequest(f"hold {hold_id} was already lifted", code=ErrorCode.CONFLICT)
    with archive.catalog.read() as conn:
        other = {str(r[0]) for r in conn.execute(
            sa.select(cat.hold_items.c.item_id)
            .join(cat.holds, cat.holds.c.id == cat.hold_items.c.hold_id)
            .where(cat.holds.c.lifted_at.is_(None), cat.holds.c.id != hold_id,
                   cat.hold_items.c.item_id.in_(list(hold.item_ids))))}
    released = sorted(i for i in hold.item_ids if i not in other)
    archive.vault.record_event(actor=actor, role=Role.LEGAL.value, action="hold_lift_dry_run",
                               item_ids=list(hold.item_ids), detail={"hold_id": hold_id})
    return {"dry_run": True, "hold": hold.public(), "note": params["note"],
            "released": released, "still_held": sorted(other)}


def _lift_hold(archive: Archive, params: Params, actor: str) -> dict[str, Any]:
    return holds.lift_hold(archive, int(params["hold_id"]), actor=actor,
                           note=params["note"]).public()


# -- retiring a purpose key -----------------------------------------------------------------------


def _retire_key_preview(archive: Archive, params: Params, actor: str) -> dict[str, Any]:
    """Refused now if the retirement would be refused then (``keyadmin.retire_key``'s checks)."""
    purpose, version = str(params["purpose"]), int(params["version"])
    if purpose not in {p.name for p in archive.config.purposes}:
        raise InvalidRequest(f"unknown purpose {purpose!r}")
    keyadmin.check_retirement(archive.vault, purpose, version)  # retire_key's own checks
    keyring, left = archive.keyring, 0
    return {"dry_run": True, "purpose": purpose, "version": version,
            "current_version": keyring.current_version(purpose), "wrapped_keys_left": left,
            "effect": f"key version {version} of {purpose!r} is destroyed for good; "
                      "backups made while it existed can no longer be opened with it"}


def _retire_key(archive: Archive, params: Params, actor: str) -> dict[str, Any]:
    purpose, version = str(params["purpose"]), int(params["version"])
    keyadmin.retire_key(archive.vault, purpose, version, actor=actor)
    return {"purpose": purpose, "retired": version}


ACTIONS: dict[ApprovalAction, ActionSpec] = {
    ApprovalAction.ERASE: ActionSpec(
        Role.PRIVACY, lambda a, p, u: _erase(a, p, u, dry_run=True),
        lambda a, p, u: _erase(a, p, u, dry_run=False), _erase_scope),
    ApprovalAction.OBJECT: ActionSpec(
        Role.PRIVACY, lambda a, p, u: _object(a, p, u, dry_run=True),
        lambda a, p, u: _object(a, p, u, dry_run=False), _object_scope),
    ApprovalAction.UNRESTRICT: ActionSpec(
        Role.PRIVACY, _unrestrict_preview, _unrestrict, lambda d: {"lifted": d["lifted"]}),
    ApprovalAction.LIFT_HOLD: ActionSpec(
        Role.LEGAL, _lift_hold_preview, _lift_hold, lambda d: {"released": d["released"]}),
    ApprovalAction.RETIRE_KEY: ActionSpec(
        Role.ADMIN, _retire_key_preview, _retire_key,
        lambda d: {"purpose": d["purpose"], "version": d["version"]}),
}
