"""The register: rectification notes, disclosures, data-subject requests, purposes.

Rectification (Art. 16) seals a note beside the untouched original;
disclosures record who received which items on what basis (policy section 5,
Art. 15(1)(c)); requests carry their one-month deadline (Art. 12(3)); the
purposes report is the Art. 30 record for recorded communications.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from archive import catalog as cat
from archive.catalog import inserted_id
from archive.errors import ErrorCode, InvalidRequest, ItemNotFound
from archive.model import now_utc
from archive.rights.subjects import (
    PRIVACY,
    Identifiers,
    find_subject,
    parse_identifier,
    recipients_to_notify,
)
from archive.service import Archive


class RequestKind(StrEnum):
    ACCESS = "access"
    PORTABILITY = "portability"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    WITHDRAWAL = "withdrawal"
    RECTIFICATION = "rectification"


class RequestStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    REFUSED = "refused"


def annotate_item(
    archive: Archive, item_id: str, text: str, *, actor: str, role: str = PRIVACY,
    request_id: int | None = None, subject: str | None = None, now: datetime | None = None,
) -> dict[str, Any]:
    """Art. 16: a sealed annotation beside the untouched original; shown and exported with it."""
    if not text.strip():
        raise InvalidRequest("an annotation needs text")
    now = now or now_utc()
    norm = parse_identifier(archive.config, subject)[1] if subject else None
    archive.record(item_id)
    dek = archive.vault.dek(item_id)
    with archive.catalog.read() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(cat.item_annotations)
                             .where(cat.item_annotations.c.item_id == item_id)).scalar_one()

    part = f"annotation-{count + 1}-{int(now.timestamp())}"
    row = archive.vault.seal_part(item_id, part, text.encode(), "text/plain; charset=utf-8", dek)
    with archive.vault.write() as tx:
        conn = tx.conn
        conn.execute(cat.parts.insert().values(**row))
        ann_id = inserted_id(conn.execute(cat.item_annotations.insert().values(
            item_id=item_id, part=part, author=actor, created_at=now, request_id=request_id,
        )))
        event = tx.event(
            actor=actor, role=role, action="rectify", item_ids=[item_id], subject=norm,
            detail={"annotation_id": ann_id, "request_id": request_id})
    return {"item_id": item_id, "annotation_id": ann_id, "created_at": now.isoformat(),
            "recipients_to_notify": recipients_to_notify(archive, [item_id]),
            "audit_seq": event.seq}


def record_disclosure(
    archive: Archive, item_ids: Sequence[str], *, recipient: str, legal_basis: str,
    actor: str, role: str = PRIVACY, disclosed_at: datetime | None = None,
    reference: str | None = None,
) -> dict[str, Any]:
    """Policy section 5: record that items were given to a recipient, and on what basis."""
    if not item_ids:
        raise InvalidRequest("a disclosure names at least one item")
    if not recipient.strip() or not legal_basis.strip():
        raise InvalidRequest("a disclosure needs a recipient and a legal basis")
    when = disclosed_at or now_utc()
    ids = sorted(set(item_ids))
    records = archive.vault.records_of(ids)
    missing = [i for i in ids if i not in records]
    if missing:
        raise ItemNotFound(missing[0])
    subjects: set[str] = set()
    with archive.vault.write() as tx:
        conn = tx.conn
        for r in conn.execute(sa.select(cat.subjects.c.identifier)
                              .where(cat.subjects.c.item_id.in_(ids))):
            subjects.add(str(r[0]))
        conn.execute(cat.disclosures.insert(), [
            {"item_id": i, "recipient": recipient, "legal_basis": legal_basis,
             "disclosed_at": when, "recorded_by": actor, "reference": reference} for i in ids])
        event = tx.event(
            actor=actor, role=role, action="disclosure", item_ids=ids,
            subject=sorted(subjects)[0] if len(subjects) == 1 else None,
            detail={"recipient": recipient, "legal_basis": legal_basis,
                    "disclosed_at": when.isoformat(), "reference": reference,
                    "subjects": sorted(subjects)})
    return {"item_ids": ids, "recipient": recipient, "legal_basis": legal_basis,
            "disclosed_at": when.isoformat(), "reference": reference, "audit_seq": event.seq}


def list_disclosures(archive: Archive, *, subject: Identifiers | None = None,
                     item_id: str | None = None) -> list[dict[str, Any]]:
    stmt = sa.select(cat.disclosures).order_by(cat.disclosures.c.id)
    if item_id:
        stmt = stmt.where(cat.disclosures.c.item_id == item_id)
    if subject:
        ids = find_subject(archive, subject).item_ids
        stmt = stmt.where(cat.disclosures.c.item_id.in_(ids))
    with archive.catalog.read() as conn:
        return [{"id": r.id, "item_id": r.item_id, "recipient": r.recipient,
                 "legal_basis": r.legal_basis, "disclosed_at": r.disclosed_at.isoformat(),
                 "reference": r.reference, "recorded_by": r.recorded_by}
                for r in conn.execute(stmt)]


def _request_json(r: sa.Row[Any], now: datetime) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "subject": r.subject, "requested_by": r.requested_by,
            "verified_by": r.verified_by, "received_at": r.received_at.isoformat(),
            "due_at": r.due_at.isoformat(), "status": r.status,
            "closed_at": r.closed_at.isoformat() if r.closed_at else None, "note": r.note,
            "overdue": r.status == RequestStatus.OPEN.value and r.due_at < now}


def add_request(
    archive: Archive, *, kind: str, subject: str, requested_by: str, verified_by: str | None,
    actor: str, role: str = PRIVACY, received_at: datetime | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Track a data-subject request; due one month after receipt (Art. 12(3))."""
    try:
        kind = RequestKind(kind).value
    except ValueError:
        raise InvalidRequest(f"unknown request kind {kind!r}; one of "
                             f"{', '.join(k.value for k in RequestKind)}") from None
    if not requested_by.strip():
        raise InvalidRequest("a request needs who asked")
    norm = parse_identifier(archive.config, subject)[1]
    received = received_at or now_utc()
    due = received + timedelta(days=archive.config.request_deadline_days)
    with archive.vault.write() as tx:
        conn = tx.conn
        req_id = inserted_id(conn.execute(cat.requests.insert().values(
            kind=kind, subject=norm, requested_by=requested_by, verified_by=verified_by,
            received_at=received, due_at=due, status=RequestStatus.OPEN.value, note=note,
        )))
        tx.event(
            actor=actor, role=role, action="request_add", subject=norm,
            detail={"request_id": req_id, "kind": kind, "verified_by": verified_by,
                    "due_at": due.isoformat()})
        row = conn.execute(sa.select(cat.requests).where(cat.requests.c.id == req_id)).one()
    return _request_json(row, now_utc())


def list_requests(archive: Archive, *, overdue: bool = False, status: str | None = None,
                  now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or now_utc()
    stmt = sa.select(cat.requests).order_by(cat.requests.c.due_at, cat.requests.c.id)
    if overdue:
        stmt = stmt.where(cat.requests.c.status == RequestStatus.OPEN.value,
                          cat.requests.c.due_at < now)
    elif status:
        stmt = stmt.where(cat.requests.c.status == status)
    with archive.catalog.read() as conn:
        return [_request_json(r, now) for r in conn.execute(stmt)]


def close_request(
    archive: Archive, request_id: int, *, actor: str, role: str = PRIVACY,
    status: str = RequestStatus.DONE.value, note: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    if status not in (RequestStatus.DONE.value, RequestStatus.REFUSED.value):
        raise InvalidRequest("a request closes as 'done' or 'refused'")
    now = now or now_utc()
    with archive.vault.write() as tx:
        conn = tx.conn
        row = conn.execute(sa.select(cat.requests)
                           .where(cat.requests.c.id == request_id)).first()
        if row is None:
            raise InvalidRequest(f"no request {request_id}", code=ErrorCode.NOT_FOUND)
        if row.status != RequestStatus.OPEN.value:
            raise InvalidRequest(f"request {request_id} is already {row.status}",
                                 code=ErrorCode.CONFLICT)
        conn.execute(cat.requests.update().where(cat.requests.c.id == request_id).values(
            status=status, closed_at=now, note=note if note is not None else row.note))
        tx.event(
            actor=actor, role=role, action="request_close", subject=row.subject,
            detail={"request_id": request_id, "status": status, "note": note,
                    "late": now > row.due_at})
        row = conn.execute(sa.select(cat.requests)
                           .where(cat.requests.c.id == request_id)).one()
    return _request_json(row, now)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def purposes_report(archive: Archive, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The Art. 30 record: per purpose its lawful basis, retention and roles, how many
    items carry it, how many are past retention, and when the oldest one happened."""
    now = now or now_utc()
    with archive.catalog.read() as conn:
        counts: dict[str, int] = dict(conn.execute(
            sa.select(cat.purpose_tags.c.purpose, sa.func.count())
            .group_by(cat.purpose_tags.c.purpose)).all())
        expired: dict[str, int] = dict(conn.execute(
            sa.select(cat.purpose_tags.c.purpose, sa.func.count())
            .where(cat.purpose_tags.c.retain_until <= now)
            .group_by(cat.purpose_tags.c.purpose)).all())
        oldest: dict[str, datetime] = {
            str(purpose): started for purpose, started in conn.execute(
                sa.select(cat.purpose_tags.c.purpose, sa.func.min(cat.items.c.started_at))
                .join(cat.items, cat.items.c.id == cat.purpose_tags.c.item_id)
                .group_by(cat.purpose_tags.c.purpose))}
    return [
        {"purpose": p.name, "description": p.description,
         "lawful_basis": p.lawful_basis.value, "retention_days": p.retention_days,
         "roles": [r.value for r in p.roles], "anonymised": p.anonymised,
         "stops_on_objection": p.stops_on_objection, "blocks_erasure": p.blocks_erasure,
         "items": int(counts.get(p.name, 0)), "items_past_retention": int(expired.get(p.name, 0)),
         "oldest_item": _iso(oldest.get(p.name))}
        for p in archive.config.purposes
    ]
