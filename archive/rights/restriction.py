"""Restriction (Art. 18), objection (Art. 21) and consent withdrawal (Art. 7(3)).

A restriction keeps the items stored but out of search, review and training
samples. An objection or withdrawal drops the purposes that rest on
legitimate interest or consent, destroying their keys; an item left with no
purpose is purged. Both also cover the subject's items archived later
(``archive.standing``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from archive import catalog as cat
from archive.catalog import held_item_ids
from archive.errors import ErrorCode, InvalidRequest
from archive.model import now_utc
from archive.retention import PurgeReason, purge_items
from archive.rights.subjects import (
    OTHER_SUBJECTS,
    PRIVACY,
    Identifiers,
    belongs_to_others,
    find_subject,
    recipients_to_notify,
)
from archive.service import Archive
from archive.standing import record_objection, refresh_subject_holds


def restrict_subject(
    archive: Archive, identifier: Identifiers, *, actor: str, reason: str, role: str = PRIVACY,
    request_id: int | None = None, now: datetime | None = None,
) -> dict[str, Any]:
    """Art. 18: items stay stored but leave search, review and training samples."""
    if not reason.strip():
        raise InvalidRequest("a restriction needs a reason")
    now = now or now_utc()
    match = find_subject(archive, identifier)
    ids = match.item_ids
    with archive.vault.write() as tx:
        conn = tx.conn
        conn.execute(cat.subject_restrictions.insert(), [
            {"identifier": ident, "reason": reason, "created_by": actor, "created_at": now}
            for ident in (match.identifiers or (match.identifier,))])
        if ids:
            conn.execute(cat.restrictions.insert(), [
                {"item_id": i, "reason": reason, "request_id": request_id,
                 "created_by": actor, "created_at": now} for i in ids])
            conn.execute(cat.items.update().where(cat.items.c.id.in_(ids))
                         .values(restricted=True))
            archive.indexer.mark_dirty(conn, ids)
        event = tx.event(
            actor=actor, role=role, action="restrict", item_ids=ids,
            subject=match.identifier, detail={"reason": reason, "request_id": request_id})
    if ids:
        archive.indexer.index_items(ids)
    return {"subject": match.identifier, "restricted": ids,
            "recipients_to_notify": recipients_to_notify(archive, ids), "audit_seq": event.seq}


def lift_restriction(
    archive: Archive, identifier: Identifiers, *, actor: str, note: str, role: str = PRIVACY,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Lift the subject's restrictions; ``note`` records that the subject was informed."""
    if not note.strip():
        raise InvalidRequest("lifting a restriction needs a note that the subject was informed "
                             "(Art. 18(3))")
    now = now or now_utc()
    match = find_subject(archive, identifier)
    ids = match.item_ids
    with archive.vault.write() as tx:
        conn = tx.conn
        conn.execute(cat.subject_restrictions.update().where(
            cat.subject_restrictions.c.identifier.in_(match.identifiers or (match.identifier,)),
            cat.subject_restrictions.c.lifted_at.is_(None)).values(lifted_at=now))
        active = [str(r[0]) for r in conn.execute(
            sa.select(cat.restrictions.c.item_id).distinct().where(
                cat.restrictions.c.item_id.in_(ids), cat.restrictions.c.lifted_at.is_(None)))]
        if active:
            conn.execute(cat.restrictions.update().where(
                cat.restrictions.c.item_id.in_(active), cat.restrictions.c.lifted_at.is_(None))
                .values(lifted_by=actor, lifted_at=now, lift_note=note))
            conn.execute(cat.items.update().where(cat.items.c.id.in_(active))
                         .values(restricted=False))
            archive.indexer.mark_dirty(conn, active)
            for hook in archive.restriction_lifted:
                hook(conn, active)
        event = tx.event(
            actor=actor, role=role, action="restrict_lift", item_ids=active,
            subject=match.identifier, detail={"note": note})
    if active:
        archive.indexer.index_items(active)
    return {"subject": match.identifier, "lifted": active,
            "recipients_to_notify": recipients_to_notify(archive, active),
            "audit_seq": event.seq}


def object_subject(
    archive: Archive, identifier: Identifiers, *, actor: str, role: str = PRIVACY,
    purposes: Sequence[str] | None = None, withdrawal: bool = False,
    request_id: int | None = None, now: datetime | None = None, include_others: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Art. 21 / 7(3): drop the objected purposes from the subject's items, keys destroyed.

    By default every purpose based on legitimate interest or consent. Legal
    purposes stay; an item left with no purpose is purged. A held item keeps
    its keys unless another purpose remains to carry it. As with erasure, an
    item that only mentions the subject while another data subject is a party
    is someone else's communication: kept and listed (``other_subjects``)
    unless ``include_others``. A ``dry_run`` answers what would be dropped,
    purged and kept without changing anything, audited as such.
    """
    now = now or now_utc()
    if purposes is None:
        chosen = [p.name for p in archive.config.purposes if p.stops_on_objection]
    else:
        chosen = list(dict.fromkeys(purposes))
        for name in chosen:
            try:
                p = archive.config.purpose(name)
            except KeyError:
                raise InvalidRequest(f"unknown purpose {name!r}") from None
            if not p.stops_on_objection:
                raise InvalidRequest(
                    f"purpose {name!r} rests on {p.lawful_basis.value}; objection and "
                    "consent withdrawal do not end it", code=ErrorCode.LEGAL_OBLIGATION)
    match = find_subject(archive, identifier)
    ids = match.item_ids
    records = archive.vault.records_of(ids)
    dropped: list[dict[str, str]] = []
    kept: list[dict[str, Any]] = []
    to_purge: list[str] = []
    reindex: list[str] = []
    action = "consent_withdrawal" if withdrawal else "objection"
    if dry_run:
        action += "_dry_run"
    with archive.vault.write() as tx:
        conn = tx.conn
        if not dry_run:
            refresh_subject_holds(conn, archive.config)
        held = held_item_ids(conn, ids)
        for item_id in ids:
            record = records.get(item_id)
            if record is None:
                continue
            drop = sorted(record.purpose_names & set(chosen))
            left = record.purpose_names - set(drop)
            if not drop:
                continue
            if not include_others and belongs_to_others(archive, match, record):
                kept.append({"item_id": item_id, "reason": OTHER_SUBJECTS})
                continue
            if not left and item_id in held:
                kept.append({"item_id": item_id, "reason": ErrorCode.LEGAL_HOLD.value,
                             "purposes": drop})
                continue
            if not dry_run:
                archive.vault.shred(conn, item_id, purposes=drop)
            dropped.extend({"item_id": item_id, "purpose": p} for p in drop)
            (reindex if left else to_purge).append(item_id)
        if not dry_run:
            record_objection(conn, match.identifiers or (match.identifier,), chosen,
                             withdrawal=withdrawal, actor=actor, now=now,
                             request_id=request_id)
        if reindex and not dry_run:
            archive.indexer.mark_dirty(conn, reindex)
        event = tx.event(
            actor=actor, role=role, action=action, subject=match.identifier,
            item_ids=sorted({d["item_id"] for d in dropped}),
            detail={"purposes": chosen, "request_id": request_id, "dry_run": dry_run,
                    "dropped": len(dropped), "kept": kept})
    failed: list[tuple[str, str]] = []
    if dry_run:
        purged = to_purge
    else:
        if reindex:
            archive.indexer.index_items(reindex)
        purged, failed, _ = purge_items(
            archive, to_purge, reason=PurgeReason.OBJECTION, actor=actor, role=role,
            subject=match.identifier, reference=str(request_id) if request_id else None,
            now=now)
        archive.catalog.checkpoint()
    return {"subject": match.identifier, "purposes": chosen, "dry_run": dry_run,
            "dropped": dropped, "purged": purged,
            "kept": kept + [{"item_id": i, "reason": r} for i, r in failed],
            "audit_seq": event.seq}
