"""The privacy office's request cases (role privacy): intake to closing, the review,
the export for the person, deadlines and the daily digest.

Every step is audited by ``archive.rights.cases`` with the case id; reading a
case (its notes are personal data) is audited here. The older ``/api/v1/requests``
register keeps working for scripts; new work goes through cases.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import StreamingResponse

from archive import rights
from search_api.deps import ArchiveDep, PrivacyUser
from search_api.errors import AUTHENTICATED_ERRORS, error_responses
from search_api.schemas.cases import (
    CaseActionCreate,
    CaseActionPublic,
    CaseClose,
    CaseCreate,
    CaseDigestPublic,
    CaseExtend,
    CasePublic,
    CaseReply,
    CaseReview,
    CaseSummaryPublic,
    CaseVerify,
)

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], responses=AUTHENTICATED_ERRORS)

CASE_ERRORS = error_responses(400, 404, 409, 422)


def _view(archive: ArchiveDep, case_id: int) -> CasePublic:
    return CasePublic.model_validate(rights.case_view(archive, case_id))


@router.get("", responses=error_responses(400, 422))
def list_cases(archive: ArchiveDep, user: PrivacyUser,
               status_filter: Annotated[str | None, Query(
                   alias="status", description="open (default), closed, or all")] = "open",
               ) -> list[CaseSummaryPublic]:
    """Cases by due date, soonest (so every overdue one) first."""
    found = rights.list_cases(archive, status=None if status_filter == "all" else status_filter)
    archive.audit.record(actor=user.name, role=user.role.value, action="list_cases",
                         detail={"count": len(found)})
    return [CaseSummaryPublic.model_validate(c) for c in found]


@router.get("/digest", responses=error_responses(422))
def case_digest(archive: ArchiveDep, user: PrivacyUser,
                days: Annotated[int, Query(ge=0, le=366)] = rights.cases.DIGEST_DAYS,
                ) -> CaseDigestPublic:
    """What falls due: overdue open cases and those due within ``days`` days."""
    report = rights.digest(archive, days=days)
    archive.audit.record(actor=user.name, role=user.role.value, action="list_cases",
                         detail={"count": len(report["overdue"]) + len(report["due_soon"]),
                                 "digest": True})
    return CaseDigestPublic.model_validate(report)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400, 422))
def open_case(body: CaseCreate, archive: ArchiveDep, user: PrivacyUser) -> CasePublic:
    """Intake: due one calendar month after receipt (Art. 12(3))."""
    case = rights.open_case(
        archive, kind=body.kind.value, identifiers=body.identifiers,
        channel=body.channel.value, requester=body.requester, actor=user.name,
        role=user.role.value, received_at=body.received_at, note=body.note)
    return _view(archive, int(case["id"]))


@router.get("/{case_id}", responses=error_responses(404, 422))
def get_case(case_id: int, archive: ArchiveDep, user: PrivacyUser) -> CasePublic:
    """The whole case; the read is audited (its notes name the person)."""
    view = _view(archive, case_id)
    archive.audit.record(actor=user.name, role=user.role.value, action="case_read",
                         # An expired case names nobody any more.
                         subject=view.identifiers[0] if view.identifiers else None,
                         detail={"case_id": case_id},
                         item_ids=[i.item_id for i in view.items])
    return view


@router.post("/{case_id}/verify", responses=CASE_ERRORS)
def verify_identity(case_id: int, body: CaseVerify, archive: ArchiveDep,
                    user: PrivacyUser) -> CasePublic:
    """Identity verification: who checked (the caller), how, when."""
    rights.verify_identity(archive, case_id, method=body.method.value, note=body.note,
                           verified_at=body.verified_at, actor=user.name, role=user.role.value)
    return _view(archive, case_id)


@router.post("/{case_id}/lookup", responses=CASE_ERRORS)
def lookup(case_id: int, archive: ArchiveDep, user: PrivacyUser) -> CasePublic:
    """Find the person's items; new ones join the review undecided."""
    return CasePublic.model_validate(rights.lookup_case(archive, case_id, actor=user.name,
                                                        role=user.role.value))


@router.post("/{case_id}/items/{item_id}/review", responses=CASE_ERRORS)
def review_item(case_id: int, item_id: str, body: CaseReview, archive: ArchiveDep,
                user: PrivacyUser) -> CasePublic:
    """Include, exclude (with a reason) or redact a third party (reason and whom)."""
    return CasePublic.model_validate(rights.review_item(
        archive, case_id, item_id, decision=body.decision.value, reason=body.reason,
        redact=body.redact, actor=user.name, role=user.role.value))


@router.post("/{case_id}/extend", responses=CASE_ERRORS)
def extend(case_id: int, body: CaseExtend, archive: ArchiveDep,
           user: PrivacyUser) -> CasePublic:
    """Two further months, once, with the reason (Art. 12(3))."""
    rights.extend_deadline(archive, case_id, reason=body.reason, actor=user.name,
                           role=user.role.value)
    return _view(archive, case_id)


@router.post("/{case_id}/actions", status_code=status.HTTP_201_CREATED, responses=CASE_ERRORS)
def record_action(case_id: int, body: CaseActionCreate, archive: ArchiveDep,
                  user: PrivacyUser) -> CaseActionPublic:
    """Note an action taken for the case elsewhere (an erasure, a restriction...)."""
    seq = rights.record_case_action(archive, case_id, action=body.action, detail=body.detail,
                                    item_ids=body.item_ids, actor=user.name,
                                    role=user.role.value)
    return CaseActionPublic(case_id=case_id, audit_seq=seq)


@router.get("/{case_id}/export", response_class=StreamingResponse, responses={
    200: {"description": "The ZIP of the reviewed items: index.json, originals, redacted "
                         "texts, transcripts, vCon files, summary, cover letter",
          "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
    **error_responses(400, 404, 409, 422, 500),
})
def export(case_id: int, archive: ArchiveDep, user: PrivacyUser) -> StreamingResponse:
    """The export for the person, from the review; noted in the case as an action."""
    plan = rights.export_case(archive, case_id, actor=user.name, role=user.role.value)
    return StreamingResponse(plan.chunks, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="case-{case_id}-export.zip"',
        "Cache-Control": "no-store", "X-Audit-Seq": str(plan.audit_seq)})


@router.post("/{case_id}/reply", responses=CASE_ERRORS)
def reply(case_id: int, body: CaseReply, archive: ArchiveDep, user: PrivacyUser) -> CasePublic:
    """The reply sent to the person."""
    rights.record_reply(archive, case_id, text=body.text, actor=user.name,
                        role=user.role.value)
    return _view(archive, case_id)


@router.post("/{case_id}/close", responses=CASE_ERRORS)
def close(case_id: int, body: CaseClose, archive: ArchiveDep, user: PrivacyUser) -> CasePublic:
    """Close as done (after the reply) or refused (with a note)."""
    rights.close_case(archive, case_id, outcome=body.outcome.value, note=body.note,
                      actor=user.name, role=user.role.value)
    return _view(archive, case_id)
