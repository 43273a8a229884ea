"""Proposals and their decisions: propose, approve (and run), reject, expire.

Rules, each enforced here rather than in the API so the CLI and the web UI
cannot differ: only the action's role proposes and decides; the proposer never
approves their own proposal (``own_proposal``); a proposal past its expiry is
closed as ``expired`` when next touched, and deciding it answers
``approval_expired``; a decided proposal cannot be decided again
(``approval_closed``). The status moves from ``pending`` to ``approved`` in one
audited write (so two approvers racing cannot both run it), then to
``executed`` with the result, or ``failed`` with the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from archive.approvals.actions import ACTIONS, ApprovalAction, Params
from archive.approvals.tables import approvals
from archive.catalog import inserted_id
from archive.config import Role
from archive.errors import AccessDenied, ArchiveError, ErrorCode, InvalidRequest
from archive.model import now_utc
from archive.rights import cases as request_cases
from archive.service import Archive

#: How long a proposal waits for its second person by default.
DEFAULT_EXPIRY_HOURS: Final = 72


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    EXECUTED = "executed"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Approval:
    id: int
    action: ApprovalAction
    params: Params
    required_role: Role
    dry_run: dict[str, Any]
    case_id: int | None
    status: ApprovalStatus
    proposed_by: str
    proposed_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str | None
    result: dict[str, Any] | None
    drift: dict[str, Any] | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id, "action": self.action.value, "params": self.params,
            "required_role": self.required_role.value, "dry_run": self.dry_run,
            "case_id": self.case_id, "status": self.status.value,
            "proposed_by": self.proposed_by, "proposed_at": self.proposed_at.isoformat(),
            "expires_at": self.expires_at.isoformat(), "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "note": self.note, "result": self.result, "drift": self.drift,
        }


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def _load(row: sa.Row[Any]) -> Approval:
    return Approval(
        int(row.id), ApprovalAction(row.action), json.loads(row.params),
        Role(row.required_role), json.loads(row.dry_run), row.case_id,
        ApprovalStatus(row.status), row.proposed_by, row.proposed_at, row.expires_at,
        row.decided_by, row.decided_at, row.note,
        json.loads(row.result) if row.result else None,
        json.loads(row.drift) if row.drift else None)


def _subject(approval_dry_run: dict[str, Any]) -> str | None:
    subject = approval_dry_run.get("subject")
    return str(subject) if subject else None


def _event(approval: Approval, **detail: Any) -> dict[str, Any]:
    return {"subject": _subject(approval.dry_run),
            "detail": {"approval_id": approval.id, "action": approval.action.value,
                       "case_id": approval.case_id, **detail}}


def propose(
    archive: Archive, action: ApprovalAction, params: Params, *, actor: str, role: Role,
    case_id: int | None = None, expiry_hours: float = DEFAULT_EXPIRY_HOURS,
    now: datetime | None = None,
) -> Approval:
    """Take the dry run and store the proposal; nothing of the action happens yet."""
    spec = ACTIONS[action]
    _check_role(spec.role, role)
    now = now or now_utc()
    dry = spec.preview(archive, params, actor)
    if case_id is not None:  # the request case it answers: it must exist and be open
        with archive.catalog.read() as conn:
            request_cases.open_row(conn, case_id)
    with archive.vault.write() as tx:
        approval_id = inserted_id(tx.conn.execute(approvals.insert().values(
            action=action.value, params=_dumps(params), required_role=spec.role.value,
            dry_run=_dumps(dry), case_id=case_id, status=ApprovalStatus.PENDING.value,
            proposed_by=actor, proposed_at=now,
            expires_at=now + timedelta(hours=expiry_hours))))
        approval = _get(tx.conn, approval_id)
        tx.event(actor=actor, role=role.value, action="approval_propose",
                 item_ids=_item_ids(dry), **_event(approval, scope=spec.scope(dry)))
    return approval


def approve(archive: Archive, approval_id: int, *, actor: str, role: Role,
            note: str | None = None, now: datetime | None = None) -> Approval:
    """A second person of the action's role approves: the action runs now, as them."""
    now = now or now_utc()
    approval = _decide(archive, approval_id, actor=actor, role=role, now=now, note=note,
                       status=ApprovalStatus.APPROVED)
    spec = ACTIONS[approval.action]
    try:
        fresh = spec.preview(archive, approval.params, actor)
        approved_scope, now_scope = spec.scope(approval.dry_run), spec.scope(fresh)
        drift = None if approved_scope == now_scope else {
            "approved": approved_scope, "at_execution": now_scope}
        result = spec.run(archive, approval.params, actor)
    except ArchiveError as exc:
        _finish(archive, approval, actor=actor, role=role, status=ApprovalStatus.FAILED,
                result={"error": {"code": exc.code.value, "message": str(exc)}}, drift=None)
        raise
    done = _finish(archive, approval, actor=actor, role=role, status=ApprovalStatus.EXECUTED,
                   result=result, drift=drift)
    if done.case_id is not None:  # the case lists what was done for it, and by whom
        request_cases.record_case_action(
            archive, done.case_id, action=done.action.value, actor=actor, role=role.value,
            detail={"approval_id": done.id, "proposed_by": done.proposed_by,
                    "approved_by": actor, "result_audit_seq": result.get("audit_seq")},
            item_ids=_item_ids(result))
    return done


def reject(archive: Archive, approval_id: int, *, actor: str, role: Role,
           note: str | None = None, now: datetime | None = None) -> Approval:
    """Close a proposal without running it (the proposer may withdraw their own)."""
    return _decide(archive, approval_id, actor=actor, role=role, now=now or now_utc(),
                   note=note, status=ApprovalStatus.REJECTED)


def get_approval(archive: Archive, approval_id: int, *, now: datetime | None = None
                 ) -> Approval:
    expire_due(archive, now=now)
    with archive.catalog.read() as conn:
        return _get(conn, approval_id)


def list_approvals(
    archive: Archive, *, role: Role | None = None, status: ApprovalStatus | None = None,
    action: ApprovalAction | None = None, case_id: int | None = None,
    now: datetime | None = None,
) -> list[Approval]:
    """Newest first; ``role`` keeps only the actions that role decides."""
    expire_due(archive, now=now)
    stmt = sa.select(approvals).order_by(approvals.c.id.desc())
    if role is not None:
        stmt = stmt.where(approvals.c.required_role == role.value)
    if status is not None:
        stmt = stmt.where(approvals.c.status == status.value)
    if action is not None:
        stmt = stmt.where(approvals.c.action == action.value)
    if case_id is not None:
        stmt = stmt.where(approvals.c.case_id == case_id)
    with archive.catalog.read() as conn:
        return [_load(r) for r in conn.execute(stmt)]


def expire_due(archive: Archive, *, now: datetime | None = None) -> list[int]:
    """Close every pending proposal past its expiry, each audited as ``approval_expire``."""
    now = now or now_utc()
    with archive.catalog.read() as conn:
        due = conn.execute(sa.select(approvals.c.id).where(
            approvals.c.status == ApprovalStatus.PENDING.value,
            approvals.c.expires_at <= now)).first()
    if due is None:
        return []
    closed: list[int] = []
    with archive.vault.write() as tx:
        rows = tx.conn.execute(sa.select(approvals).where(
            approvals.c.status == ApprovalStatus.PENDING.value,
            approvals.c.expires_at <= now)).all()
        for row in rows:
            approval = _load(row)
            tx.conn.execute(approvals.update().where(approvals.c.id == approval.id)
                            .values(status=ApprovalStatus.EXPIRED.value, decided_at=now))
            tx.event(actor="system", role="system", action="approval_expire",
                     **_event(approval, expired_at=approval.expires_at.isoformat()))
            closed.append(approval.id)
    return closed


# -- inside ---------------------------------------------------------------------------------------


def _check_role(required: Role, role: Role) -> None:
    if role != required:
        raise AccessDenied(ErrorCode.WRONG_ROLE,
                           f"role {role.value} may not do this (needs {required.value})")


def _get(conn: Connection, approval_id: int) -> Approval:
    row = conn.execute(sa.select(approvals).where(approvals.c.id == approval_id)).first()
    if row is None:
        raise InvalidRequest(f"no approval {approval_id}", code=ErrorCode.NOT_FOUND)
    return _load(row)


def _item_ids(value: dict[str, Any]) -> list[str]:
    found: set[str] = set()
    for key in ("erased", "kept", "dropped"):
        found.update(str(e["item_id"]) for e in value.get(key) or [])
    for key in ("purged", "lifted", "released"):
        found.update(str(i) for i in value.get(key) or [])
    return sorted(found)


def _decide(archive: Archive, approval_id: int, *, actor: str, role: Role, now: datetime,
            note: str | None, status: ApprovalStatus) -> Approval:
    expire_due(archive, now=now)
    with archive.vault.write() as tx:
        approval = _get(tx.conn, approval_id)
        _check_role(approval.required_role, role)
        if approval.status is ApprovalStatus.EXPIRED:
            raise InvalidRequest(
                f"approval {approval_id} expired at {approval.expires_at.isoformat()}; "
                "propose it again", code=ErrorCode.APPROVAL_EXPIRED)
        if approval.status is not ApprovalStatus.PENDING:
            raise InvalidRequest(f"approval {approval_id} is already {approval.status.value}",
                                 code=ErrorCode.APPROVAL_CLOSED)
        if status is ApprovalStatus.APPROVED and approval.proposed_by == actor:
            raise AccessDenied(ErrorCode.OWN_PROPOSAL,
                               f"{actor} proposed approval {approval_id} and may not approve "
                               "it: another person must")
        tx.conn.execute(approvals.update().where(approvals.c.id == approval_id).values(
            status=status.value, decided_by=actor, decided_at=now, note=note))
        tx.event(actor=actor, role=role.value,
                 action="approval_approve" if status is ApprovalStatus.APPROVED
                 else "approval_reject", item_ids=_item_ids(approval.dry_run),
                 **_event(approval, proposed_by=approval.proposed_by, note=note))
        return _get(tx.conn, approval_id)


def _finish(archive: Archive, approval: Approval, *, actor: str, role: Role,
            status: ApprovalStatus, result: dict[str, Any], drift: dict[str, Any] | None,
            ) -> Approval:
    with archive.vault.write() as tx:
        tx.conn.execute(approvals.update().where(approvals.c.id == approval.id).values(
            status=status.value, result=_dumps(result),
            drift=_dumps(drift) if drift else None))
        tx.event(actor=actor, role=role.value,
                 action="approval_execute" if status is ApprovalStatus.EXECUTED
                 else "approval_failed", item_ids=_item_ids(result),
                 **_event(approval, proposed_by=approval.proposed_by, drift=drift,
                          result_audit_seq=result.get("audit_seq"),
                          error=result.get("error")))
        return _get(tx.conn, approval.id)
