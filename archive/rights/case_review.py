"""A case's lookup, its item-by-item review, and the export built from that review.

The lookup (``archive.rights.subjects.find_subject``, after the person's
identity is verified) lists the items found; the officer decides for each:
include it, exclude it (with a reason), or redact a third party in it (with a
reason and the third party's names, addresses or numbers). The export for the
person then holds the reviewed items only, the excluded left out and the
third parties redacted (``archive.rights.export``, with ``review``), and is
noted in the case as an action taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from archive.errors import ErrorCode, InvalidRequest
from archive.model import now_utc
from archive.rights.case_tables import case_items, cases
from archive.rights.cases import (
    CaseStep,
    get_case,
    identifiers_of,
    open_row,
    record_case_action,
    seal_json,
    step,
)
from archive.rights.export import ExportPlan, start_export
from archive.rights.subjects import PRIVACY, find_subject, item_summary
from archive.service import Archive


class Decision(StrEnum):
    INCLUDE = "include"
    EXCLUDE = "exclude"
    REDACT = "redact"


def lookup_case(archive: Archive, case_id: int, *, actor: str, role: str = PRIVACY,
                now: datetime | None = None) -> dict[str, Any]:
    """Find the person's items by the case's identifiers; new ones join the review.

    Refused before the identity is verified: an unverified requester could be
    anyone asking for someone else's communications (Art. 12(6)).
    """
    now = now or now_utc()
    with archive.catalog.read() as conn:
        row = open_row(conn, case_id)
    if row.verified_at is None:
        raise InvalidRequest(f"case {case_id}: verify the person's identity before the lookup",
                             code=ErrorCode.CONFLICT)
    match = find_subject(archive, identifiers_of(row))
    with archive.vault.write() as tx:
        row = open_row(tx.conn, case_id)
        known = {str(r[0]) for r in tx.conn.execute(
            sa.select(case_items.c.item_id).where(case_items.c.case_id == case_id))}
        new = [i for i in match.item_ids if i not in known]
        if new:
            tx.conn.execute(case_items.insert(), [
                {"case_id": case_id, "item_id": i, "match": ",".join(match.match_of(i))}
                for i in new])
        tx.conn.execute(cases.update().where(cases.c.id == case_id).values(looked_up_at=now))
        step(tx, row, CaseStep.LOOKED_UP, actor=actor, role=role, at=now,
             item_ids=match.item_ids, detail={"found": len(match.item_ids), "new": len(new)})
    return case_view(archive, case_id, now=now)


def review_item(
    archive: Archive, case_id: int, item_id: str, *, decision: str, actor: str,
    role: str = PRIVACY, reason: str | None = None, redact: Sequence[str] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """One item's decision; excluding or redacting needs a reason, redacting whom."""
    now = now or now_utc()
    try:
        decision_ = Decision(decision)
    except ValueError:
        raise InvalidRequest(f"item {item_id}: unknown decision {decision!r}; one of "
                             f"{', '.join(d.value for d in Decision)}") from None
    terms = [t.strip() for t in redact if t and t.strip()]
    reason = (reason or "").strip()
    if decision_ is not Decision.INCLUDE and not reason:
        raise InvalidRequest(f"item {item_id}: to {decision_.value} it, give a reason")
    if decision_ is Decision.REDACT and not terms:
        raise InvalidRequest(f"item {item_id}: name the third party to redact (a name, "
                             "address or number as written)")
    if decision_ is not Decision.REDACT and terms:
        raise InvalidRequest(f"item {item_id}: only a 'redact' decision names third parties")
    with archive.vault.write() as tx:
        row = open_row(tx.conn, case_id)
        where = sa.and_(case_items.c.case_id == case_id, case_items.c.item_id == item_id)
        if tx.conn.execute(sa.select(case_items.c.item_id).where(where)).first() is None:
            raise InvalidRequest(f"item {item_id} is not among case {case_id}'s lookup "
                                 "results", code=ErrorCode.NOT_FOUND)
        tx.conn.execute(case_items.update().where(where).values(
            decision=decision_.value, reviewed_by=actor, reviewed_at=now,
            sealed=seal_json(archive, case_id, f"item/{item_id}",
                             {"reason": reason or None, "redact": terms})))
        step(tx, row, CaseStep.REVIEWED, actor=actor, role=role, at=now, item_ids=[item_id],
             detail={"item_id": item_id, "decision": decision_.value})
    return case_view(archive, case_id, now=now)


def case_view(archive: Archive, case_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """The case with each reviewed item's metadata (channel, date, parties; no content)."""
    case = get_case(archive, case_id, now=now)
    records = archive.vault.records_of([i["item_id"] for i in case["items"]])
    for item in case["items"]:
        record = records.get(item["item_id"])
        item["gone"] = record is None
        if record is not None:
            item.update(item_summary(record), direction=record.direction.value,
                        parties=[p.as_dict() for p in record.parties])
    return case


def export_case(archive: Archive, case_id: int, *, actor: str, role: str = PRIVACY,
                now: datetime | None = None) -> ExportPlan:
    """The person's export from the review; refused while any item awaits a decision."""
    now = now or now_utc()
    with archive.catalog.read() as conn:
        row = open_row(conn, case_id)
        reviewed = conn.execute(sa.select(case_items).where(case_items.c.case_id == case_id)
                                ).all()
    if row.looked_up_at is None:
        raise InvalidRequest(f"case {case_id}: look the person's items up and review them "
                             "before the export", code=ErrorCode.CONFLICT)
    pending = [r.item_id for r in reviewed if r.decision is None]
    if pending:
        raise InvalidRequest(f"case {case_id}: {len(pending)} item(s) await a decision "
                             f"(first {pending[0]})", code=ErrorCode.CONFLICT)
    case = get_case(archive, case_id, now=now)
    review = {i["item_id"]: tuple(i.get("redact") or ())
              for i in case["items"] if i["decision"] != Decision.EXCLUDE.value}
    plan = start_export(archive, identifiers_of(row), actor=actor, role=role,
                        case_id=case_id, review=review, now=now)
    counts = {d.value: sum(1 for i in case["items"] if i["decision"] == d.value)
              for d in Decision}
    record_case_action(archive, case_id, action="export", actor=actor, role=role, now=now,
                       item_ids=sorted(review),
                       detail={"export_audit_seq": plan.audit_seq, **counts})
    return plan
