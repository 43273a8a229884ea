"""The privacy office's request cases: one data-subject request from intake to closing.

A case carries everything done for the request (GDPR Art. 12, 15-22): intake
(kind, the person's identifiers, channel, date received), identity
verification (who, how, when), the lookup reviewed item by item
(``archive.rights.case_review``), the actions taken (an export, an erasure, a
restriction: ``record_case_action``, which two-person approvals also append
to), the reply sent, and closing. Every step is an audited write
(``Vault.write``) whose event names the case id, and a row in ``case_events``.

Deadline (Art. 12(3)): one calendar month from receipt, extendable once by two
further months with a recorded reason, while the first month runs (the person
must be told within it).
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive.audit import AuditedWrite
from archive.catalog import inserted_id
from archive.errors import ErrorCode, InvalidRequest
from archive.model import now_utc
from archive.rights.case_tables import case_events, case_items, cases
from archive.rights.subjects import PRIVACY, parse_identifier
from archive.service import Archive

#: The keyring purpose whose KEK wraps the keys of sealed case notes.
CASE_PURPOSE: Final = "_cases"
DEADLINE_MONTHS: Final = 1
EXTENSION_MONTHS: Final = 2
#: What the digest lists besides the overdue: cases due within this many days.
DIGEST_DAYS: Final = 7

E = TypeVar("E", bound=StrEnum)


class CaseKind(StrEnum):
    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    PORTABILITY = "portability"
    OBJECTION = "objection"
    CONSENT_WITHDRAWAL = "consent_withdrawal"


class IntakeChannel(StrEnum):
    EMAIL = "email"
    WEB_FORM = "web_form"
    LETTER = "letter"
    PHONE = "phone"
    IN_PERSON = "in_person"


class VerificationMethod(StrEnum):
    #: A reply from the e-mail address or a call back to the number on record.
    KNOWN_CONTACT = "known_contact"
    #: The customer number and account details matched.
    ACCOUNT_DETAILS = "account_details"
    ID_DOCUMENT = "id_document"
    IN_PERSON = "in_person"


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CaseOutcome(StrEnum):
    DONE = "done"
    REFUSED = "refused"


class CaseStep(StrEnum):
    OPENED = "opened"
    VERIFIED = "verified"
    LOOKED_UP = "looked_up"
    REVIEWED = "reviewed"
    EXTENDED = "extended"
    ACTION = "action"
    REPLIED = "replied"
    CLOSED = "closed"


def add_months(when: datetime, months: int) -> datetime:
    """The same day ``months`` later, or that month's last day (31 Jan + 1 = 28/29 Feb)."""
    month0 = when.month - 1 + months
    year, month = when.year + month0 // 12, month0 % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


def _choice(enum: type[E], value: str, what: str) -> E:
    try:
        return enum(value)
    except ValueError:
        raise InvalidRequest(f"unknown {what} {value!r}; one of "
                             f"{', '.join(e.value for e in enum)}") from None


def _context(case_id: int, part: str) -> str:
    return f"case/{case_id}/{part}"


def seal_json(archive: Archive, case_id: int, part: str, value: dict[str, Any]) -> bytes:
    return archive.vault.seal_record(CASE_PURPOSE, _context(case_id, part),
                                     json.dumps(value, ensure_ascii=False).encode())


def unseal_json(archive: Archive, case_id: int, part: str, sealed: bytes | None
                ) -> dict[str, Any]:
    if not sealed:
        return {}
    value = json.loads(archive.vault.unseal_record(_context(case_id, part), bytes(sealed)))
    assert isinstance(value, dict)
    return value


def case_row(conn: Connection, case_id: int) -> sa.Row[Any]:
    row = conn.execute(sa.select(cases).where(cases.c.id == case_id)).first()
    if row is None:
        raise InvalidRequest(f"no case {case_id}", code=ErrorCode.NOT_FOUND)
    return row


def open_row(conn: Connection, case_id: int) -> sa.Row[Any]:
    """The case's row, refused (409) once the case is closed: a closed case is a record."""
    row = case_row(conn, case_id)
    if row.status != CaseStatus.OPEN.value:
        raise InvalidRequest(f"case {case_id} is closed", code=ErrorCode.CONFLICT)
    return row


def identifiers_of(row: sa.Row[Any]) -> list[str]:
    return [str(i) for i in json.loads(row.identifiers)]


def step(tx: AuditedWrite, row: sa.Row[Any], step_: CaseStep, *, actor: str, role: str,
         at: datetime, detail: dict[str, Any] | None = None, action: str | None = None,
         item_ids: Sequence[str] = ()) -> int:
    """Audit one step of a case and note it in the case's timeline; the audit seq."""
    detail = {"case_id": row.id, **(detail or {})}
    event = tx.event(actor=actor, role=role, action=f"case_{step_.value}",
                     subject=identifiers_of(row)[0], item_ids=list(item_ids),
                     detail={**detail, **({"action": action} if action else {})})
    tx.conn.execute(case_events.insert().values(
        case_id=row.id, at=at, actor=actor, step=step_.value, action=action,
        audit_seq=event.seq, detail=json.dumps(detail, sort_keys=True)))
    return event.seq


def _update_notes(archive: Archive, conn: Connection, row: sa.Row[Any], **notes: Any) -> None:
    merged = {**unseal_json(archive, row.id, "notes", row.sealed), **notes}
    conn.execute(cases.update().where(cases.c.id == row.id).values(
        sealed=seal_json(archive, row.id, "notes", merged)))


def open_case(
    archive: Archive, *, kind: str, identifiers: Sequence[str], channel: str,
    requester: str, actor: str, role: str = PRIVACY, received_at: datetime | None = None,
    note: str | None = None, now: datetime | None = None,
) -> dict[str, Any]:
    """Intake: a request received; due one calendar month after receipt (Art. 12(3))."""
    now = now or now_utc()
    kind_ = _choice(CaseKind, kind, "request kind")
    channel_ = _choice(IntakeChannel, channel, "channel")
    raw = [i.strip() for i in identifiers if i and i.strip()]
    if not raw:
        raise InvalidRequest("a case needs at least one identifier of the person")
    if not requester.strip():
        raise InvalidRequest("a case needs the requester's name as given")
    norm = list(dict.fromkeys(parse_identifier(archive.config, i)[1] for i in raw))
    received = received_at or now
    if received > now + timedelta(minutes=5):
        raise InvalidRequest(f"received date {received.isoformat()} is in the future")
    due = add_months(received, DEADLINE_MONTHS)
    with archive.vault.write() as tx:
        case_id = inserted_id(tx.conn.execute(cases.insert().values(
            kind=kind_.value, status=CaseStatus.OPEN.value, identifiers=json.dumps(norm),
            channel=channel_.value, received_at=received, original_due_at=due, due_at=due,
            opened_by=actor, opened_at=now, sealed=b"")))
        row = case_row(tx.conn, case_id)
        _update_notes(archive, tx.conn, row, requester=requester.strip(), note=note)
        step(tx, row, CaseStep.OPENED, actor=actor, role=role, at=now,
             detail={"kind": kind_.value, "channel": channel_.value,
                     "due_at": due.isoformat()})
    return get_case(archive, case_id, now=now)


def verify_identity(
    archive: Archive, case_id: int, *, method: str, actor: str, role: str = PRIVACY,
    note: str | None = None, verified_at: datetime | None = None,
) -> dict[str, Any]:
    """Identity verification: who checked, how and when (nothing is looked up before)."""
    now = now_utc()
    method_ = _choice(VerificationMethod, method, "verification method")
    when = verified_at or now
    with archive.vault.write() as tx:
        row = open_row(tx.conn, case_id)
        if row.verified_at is not None:
            raise InvalidRequest(f"case {case_id} was verified already by {row.verified_by}",
                                 code=ErrorCode.CONFLICT)
        tx.conn.execute(cases.update().where(cases.c.id == case_id).values(
            verified_by=actor, verified_at=when, verification_method=method_.value))
        _update_notes(archive, tx.conn, row, verification_note=note)
        step(tx, row, CaseStep.VERIFIED, actor=actor, role=role, at=now,
             detail={"method": method_.value, "verified_at": when.isoformat()})
    return get_case(archive, case_id)


def extend_deadline(
    archive: Archive, case_id: int, *, reason: str, actor: str, role: str = PRIVACY,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Art. 12(3): two further months, once, with a reason, told within the first month."""
    now = now or now_utc()
    if not reason.strip():
        raise InvalidRequest("an extension needs a reason (Art. 12(3): complexity or number "
                             "of requests)")
    with archive.vault.write() as tx:
        row = open_row(tx.conn, case_id)
        if row.extended_at is not None:
            raise InvalidRequest(f"case {case_id} was extended already; the law allows "
                                 "two further months once", code=ErrorCode.CONFLICT)
        if now > row.original_due_at:
            raise InvalidRequest(f"case {case_id} is past its first month: an extension must "
                                 "be told to the person within it", code=ErrorCode.CONFLICT)
        due = add_months(row.original_due_at, EXTENSION_MONTHS)
        tx.conn.execute(cases.update().where(cases.c.id == case_id).values(
            due_at=due, extended_by=actor, extended_at=now))
        _update_notes(archive, tx.conn, row, extension_reason=reason.strip())
        step(tx, row, CaseStep.EXTENDED, actor=actor, role=role, at=now,
             detail={"due_at": due.isoformat()})
    return get_case(archive, case_id, now=now)


def record_case_action(
    archive: Archive, case_id: int, *, action: str, actor: str, role: str = PRIVACY,
    detail: dict[str, Any] | None = None, item_ids: Sequence[str] = (),
    now: datetime | None = None,
) -> int:
    """Note an action taken for the case (export, erasure, restriction...); the audit seq.

    ``detail`` holds counts and references (an approval id, a certificate's audit
    seq), never personal data: it is stored readable in the case's timeline.
    """
    now = now or now_utc()
    if not action.strip():
        raise InvalidRequest("an action needs a name")
    with archive.vault.write() as tx:
        row = open_row(tx.conn, case_id)
        return step(tx, row, CaseStep.ACTION, actor=actor, role=role, at=now, action=action,
                    detail=detail, item_ids=item_ids)


def record_reply(
    archive: Archive, case_id: int, *, text: str, actor: str, role: str = PRIVACY,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The reply sent to the person (sealed: it is a letter to them about them)."""
    now = now or now_utc()
    if not text.strip():
        raise InvalidRequest("a reply needs its text")
    with archive.vault.write() as tx:
        row = open_row(tx.conn, case_id)
        tx.conn.execute(cases.update().where(cases.c.id == case_id).values(
            replied_by=actor, replied_at=now))
        _update_notes(archive, tx.conn, row, reply=text.strip())
        step(tx, row, CaseStep.REPLIED, actor=actor, role=role, at=now)
    return get_case(archive, case_id, now=now)


def close_case(
    archive: Archive, case_id: int, *, outcome: str, actor: str, role: str = PRIVACY,
    note: str | None = None, now: datetime | None = None,
) -> dict[str, Any]:
    """Close as done (a reply was sent) or refused (with a note saying why)."""
    now = now or now_utc()
    outcome_ = _choice(CaseOutcome, outcome, "outcome")
    with archive.vault.write() as tx:
        row = open_row(tx.conn, case_id)
        if outcome_ is CaseOutcome.DONE and row.replied_at is None:
            raise InvalidRequest(f"case {case_id} has no reply recorded: record the reply "
                                 "sent before closing it as done", code=ErrorCode.CONFLICT)
        if outcome_ is CaseOutcome.REFUSED and not (note and note.strip()):
            raise InvalidRequest("a refusal needs a note saying why")
        tx.conn.execute(cases.update().where(cases.c.id == case_id).values(
            status=CaseStatus.CLOSED.value, outcome=outcome_.value, closed_by=actor,
            closed_at=now))
        _update_notes(archive, tx.conn, row, close_note=note)
        step(tx, row, CaseStep.CLOSED, actor=actor, role=role, at=now,
             detail={"outcome": outcome_.value, "late": now > row.due_at})
    return get_case(archive, case_id, now=now)


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def stage(row: sa.Row[Any], pending: int = 0) -> str:
    """Where the case stands: what the dashboard shows as its next step."""
    if row.status == CaseStatus.CLOSED.value:
        return "closed"
    if row.verified_at is None:
        return "verify identity"
    if row.looked_up_at is None:
        return "look up"
    if pending:
        return "review"
    return "reply" if row.replied_at is None else "close"


def pending_reviews(conn: Connection) -> dict[int, int]:
    """Per case, how many lookup results await a decision."""
    return {int(case_id): int(n) for case_id, n in conn.execute(
        sa.select(case_items.c.case_id, sa.func.count())
        .where(case_items.c.decision.is_(None)).group_by(case_items.c.case_id))}


def summary(row: sa.Row[Any], now: datetime, pending: int = 0) -> dict[str, Any]:
    """A case without its sealed notes: what lists, the dashboard and the digest show."""
    open_ = row.status == CaseStatus.OPEN.value
    return {
        "id": row.id, "kind": row.kind, "status": row.status, "outcome": row.outcome,
        "identifiers": identifiers_of(row), "channel": row.channel,
        "received_at": row.received_at.isoformat(), "due_at": row.due_at.isoformat(),
        "original_due_at": row.original_due_at.isoformat(),
        "extended": row.extended_at is not None,
        "overdue": open_ and row.due_at < now,
        "days_left": (row.due_at - now).days if open_ else None,
        "stage": stage(row, pending), "opened_by": row.opened_by,
        "closed_at": _iso(row.closed_at),
        #: Set once the closed case's retention ran out: identifiers and notes are gone.
        "expired_at": _iso(row.expired_at),
    }


def get_case(archive: Archive, case_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """The whole case: intake, verification, deadline, review, timeline, notes unsealed."""
    now = now or now_utc()
    with archive.catalog.read() as conn:
        row = case_row(conn, case_id)
        items = conn.execute(sa.select(case_items).where(case_items.c.case_id == case_id)
                             .order_by(case_items.c.item_id)).all()
        events = conn.execute(sa.select(case_events).where(case_events.c.case_id == case_id)
                              .order_by(case_events.c.id)).all()
    notes = unseal_json(archive, case_id, "notes", row.sealed)
    return {
        **summary(row, now, sum(1 for i in items if i.decision is None)),
        "requester": notes.get("requester", ""), "note": notes.get("note"),
        "verification": None if row.verified_at is None else {
            "by": row.verified_by, "at": row.verified_at.isoformat(),
            "method": row.verification_method, "note": notes.get("verification_note")},
        "extension": None if row.extended_at is None else {
            "by": row.extended_by, "at": row.extended_at.isoformat(),
            "reason": notes.get("extension_reason")},
        "looked_up_at": _iso(row.looked_up_at),
        "items_reviewed": row.items_reviewed if row.expired_at is not None else len(items),
        "reply": None if row.replied_at is None else {
            "by": row.replied_by, "at": row.replied_at.isoformat(), "text": notes.get("reply")},
        "close_note": notes.get("close_note"), "closed_by": row.closed_by,
        "items": [{"item_id": i.item_id, "match": i.match.split(","), "decision": i.decision,
                   "reviewed_by": i.reviewed_by, "reviewed_at": _iso(i.reviewed_at),
                   **unseal_json(archive, case_id, f"item/{i.item_id}", i.sealed)}
                  for i in items],
        "events": [{"at": e.at.isoformat(), "actor": e.actor, "step": e.step,
                    "action": e.action, "audit_seq": e.audit_seq,
                    "detail": json.loads(e.detail)} for e in events],
    }


def list_cases(archive: Archive, *, status: str | None = CaseStatus.OPEN.value,
               now: datetime | None = None) -> list[dict[str, Any]]:
    """Cases by due date, soonest (and so every overdue one) first."""
    now = now or now_utc()
    stmt = sa.select(cases).order_by(cases.c.due_at, cases.c.id)
    if status:
        stmt = stmt.where(cases.c.status == _choice(CaseStatus, status, "status").value)
    with archive.catalog.read() as conn:
        pending = pending_reviews(conn)
        return [summary(r, now, pending.get(r.id, 0)) for r in conn.execute(stmt)]


def digest(archive: Archive, *, now: datetime | None = None,
           days: int = DIGEST_DAYS) -> dict[str, Any]:
    """What falls due: open cases overdue, and those due within ``days`` days."""
    now = now or now_utc()
    horizon = now + timedelta(days=days)
    open_ = list_cases(archive, now=now)
    return {"generated_at": now.isoformat(), "days": days,
            "overdue": [c for c in open_ if c["overdue"]],
            "due_soon": [c for c in open_ if not c["overdue"]
                         and datetime.fromisoformat(c["due_at"]) <= horizon],
            "open": len(open_)}


def digest_text(report: dict[str, Any]) -> str:
    """The digest as the lines a cron mail or a systemd journal shows."""
    lines = [f"Data-subject requests, {report['generated_at'][:16]} UTC: {report['open']} open, "
             f"{len(report['overdue'])} overdue, {len(report['due_soon'])} due within "
             f"{report['days']} days"]
    for label, rows in (("OVERDUE", report["overdue"]), ("due", report["due_soon"])):
        for c in rows:
            lines.append(f"  {label} case {c['id']} ({c['kind']}) due {c['due_at'][:10]}"
                         f"{' (extended)' if c['extended'] else ''}: next step {c['stage']}")
    return "\n".join(lines) + "\n"
