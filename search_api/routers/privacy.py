"""Privacy operations (role privacy): purposes on record, retention sweep, data-subject
rights, rectification, disclosures, requests, and the audit trail.

Identifiers go in the path (URL-encode ``+`` as ``%2B``); further identifiers
of the same person as repeated ``also`` parameters or body fields.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse, StreamingResponse

from archive import retention, rights
from archive.approvals import ApprovalAction
from archive.config import Role
from archive.errors import InvalidRequest
from archive.model import now_utc
from archive.users import User
from search_api.deps import ArchiveDep, PrivacyUser, require_roles
from search_api.errors import AUTHENTICATED_ERRORS, error_responses
from search_api.routers.approvals import PROPOSED, proposed
from search_api.schemas.approvals import ApprovalProposedPublic
from search_api.schemas.audit import AuditEventPublic, AuditVerifyPublic
from search_api.schemas.privacy import (
    AnnotationCreate,
    AnnotationCreatedPublic,
    DisclosureCreate,
    DisclosureCreatedPublic,
    DisclosurePublic,
    ErasureCertificatePublic,
    ErasureCreate,
    ObjectionCreate,
    ObjectionPublic,
    PurposeReportPublic,
    RestrictionCreate,
    RestrictionLift,
    RestrictionPublic,
    SubjectOverviewPublic,
    SubjectRequestClose,
    SubjectRequestCreate,
    SubjectRequestPublic,
    SweepReportPublic,
    SweepRun,
    VConPublic,
)

router = APIRouter(prefix="/api/v1", tags=["privacy"], responses=AUTHENTICATED_ERRORS)

DisclosureUser = Annotated[User, Depends(require_roles(Role.PRIVACY, Role.LEGAL))]
SweepUser = Annotated[User, Depends(require_roles(Role.PRIVACY, Role.ADMIN))]
AlsoQuery = Annotated[list[str] | None, Query(description="further identifiers of the person")]


def _ids(identifier: str, also: list[str] | None) -> list[str]:
    return [identifier, *(also or [])]



# -- purposes and retention ------------------------------------------------------------------


@router.get("/purposes/report")
def purposes_report(archive: ArchiveDep, user: PrivacyUser) -> list[PurposeReportPublic]:
    """Each purpose with lawful basis, retention, roles and item counts (Art. 30)."""
    return [PurposeReportPublic.model_validate(r) for r in rights.purposes_report(archive)]


@router.post("/sweep", responses=error_responses(400, 422))
def sweep(body: SweepRun, archive: ArchiveDep, user: SweepUser) -> SweepReportPublic:
    """Run the retention sweep now (or a dry run, optionally as of another time)."""
    if body.now is not None and not body.dry_run:
        raise InvalidRequest("'now' may only be moved for a dry run")
    when = body.now if body.now is not None else now_utc()
    report = retention.sweep(archive, now=when, dry_run=body.dry_run, actor=user.name)
    if body.dry_run:  # a preview lists items too: audited like any read
        archive.audit.record(actor=user.name, role=user.role.value, action="sweep_preview",
                             item_ids=sorted({i for i, _ in report.dropped} | set(report.purged)
                                             | set(report.held)), detail={"now": str(when)})
    return SweepReportPublic.model_validate(report.public())


# -- subjects ---------------------------------------------------------------------------------


@router.get("/subjects/{identifier}", responses=error_responses(400, 422))
def find_subject(identifier: str, archive: ArchiveDep, user: PrivacyUser,
                 also: AlsoQuery = None) -> SubjectOverviewPublic:
    """Items where the subject is a party or is mentioned (metadata only)."""
    return SubjectOverviewPublic.model_validate(rights.subject_overview(
        archive, _ids(identifier, also), actor=user.name, role=user.role.value))


@router.get("/subjects/{identifier}/export", response_class=StreamingResponse, responses={
    200: {"description": "The ZIP: index.json, originals, transcripts, vCon files, summary",
          "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
    **error_responses(400, 422, 500),
})
def export_subject(identifier: str, archive: ArchiveDep, user: PrivacyUser,
                   also: AlsoQuery = None, request_id: int | None = None) -> StreamingResponse:
    """Access and portability (Art. 15, 20): the ZIP, streamed (never spooled to disk)."""
    plan = rights.start_export(archive, _ids(identifier, also), actor=user.name,
                                role=user.role.value, request_id=request_id)
    safe = "".join(c if c.isalnum() else "_" for c in plan.match.identifier)[:60]
    return StreamingResponse(
        plan.chunks, media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="subject-{safe}.zip"',
                 "Cache-Control": "no-store", "X-Audit-Seq": str(plan.audit_seq)},
    )


@router.get("/subjects/{identifier}/vcon", responses=error_responses(400, 422, 500))
def subject_vcon(identifier: str, archive: ArchiveDep, user: PrivacyUser,
                 also: AlsoQuery = None) -> list[VConPublic]:
    """The subject's conversations in the IETF vCon JSON format."""
    return [VConPublic.model_validate(v) for v in rights.vcons_of(
        archive, _ids(identifier, also), actor=user.name, role=user.role.value)]


# Kept items carry ``kept_purposes`` and ``purposes_erased`` only where a legal
# obligation kept them: those keys are absent, not null, elsewhere.
@router.post("/subjects/{identifier}/erase", responses={**PROPOSED, **error_responses(400, 422)},
             response_model=ErasureCertificatePublic, response_model_exclude_unset=True)
def erase_subject(identifier: str, body: ErasureCreate, request: Request, archive: ArchiveDep,
                  user: PrivacyUser) -> ErasureCertificatePublic | JSONResponse:
    """Erasure (Art. 17). A dry run answers the certificate of what would be erased and
    kept, and why; otherwise ``202``: proposed, a second privacy officer approves."""
    if not body.dry_run:
        return proposed(request, ApprovalAction.ERASE, {
            "identifiers": _ids(identifier, body.also), "request_id": body.request_id,
            "parties_only": body.parties_only, "erase_others": body.erase_others,
        }, user, case_id=body.case_id)
    cert = rights.erase_subject(archive, _ids(identifier, body.also), actor=user.name,
                                 role=user.role.value, request_id=body.request_id,
                                 mentions=not body.parties_only,
                                 erase_others=body.erase_others, dry_run=True)
    return ErasureCertificatePublic.model_validate(cert.public())


@router.post("/subjects/{identifier}/restrict", responses=error_responses(400, 422))
def restrict_subject(identifier: str, body: RestrictionCreate, archive: ArchiveDep,
                     user: PrivacyUser) -> RestrictionPublic:
    """Restriction (Art. 18)."""
    return RestrictionPublic.model_validate(rights.restrict_subject(
        archive, _ids(identifier, body.also), actor=user.name, role=user.role.value,
        reason=body.reason, request_id=body.request_id))


@router.post("/subjects/{identifier}/unrestrict", status_code=202,
             response_model=ApprovalProposedPublic, responses=error_responses(400, 422))
def unrestrict_subject(identifier: str, body: RestrictionLift, request: Request,
                       user: PrivacyUser) -> JSONResponse:
    """Propose lifting a restriction (``202``; a second privacy officer approves); the
    note records that the subject was informed."""
    return proposed(request, ApprovalAction.UNRESTRICT, {
        "identifiers": _ids(identifier, body.also), "note": body.note,
    }, user, case_id=body.case_id)


# A kept item names its ``purposes`` only where a legal hold kept it: absent elsewhere.
@router.post("/subjects/{identifier}/object",
             responses={**PROPOSED, **error_responses(400, 409, 422)},
             response_model=ObjectionPublic, response_model_exclude_unset=True)
def object_subject(identifier: str, body: ObjectionCreate, request: Request,
                   archive: ArchiveDep, user: PrivacyUser) -> ObjectionPublic | JSONResponse:
    """Objection or consent withdrawal (Art. 21, 7(3)): purposes end, keys destroyed. A dry
    run answers what would happen; otherwise ``202``: a second privacy officer approves."""
    if not body.dry_run:
        return proposed(request, ApprovalAction.OBJECT, {
            "identifiers": _ids(identifier, body.also), "purposes": body.purposes,
            "withdrawal": body.withdrawal, "request_id": body.request_id,
            "include_others": body.include_others,
        }, user, case_id=body.case_id)
    return ObjectionPublic.model_validate(rights.object_subject(
        archive, _ids(identifier, body.also), actor=user.name, role=user.role.value,
        purposes=body.purposes, withdrawal=body.withdrawal, request_id=body.request_id,
        include_others=body.include_others, dry_run=True))


# -- rectification and disclosures ------------------------------------------------------------


@router.post("/items/{item_id}/annotations", status_code=status.HTTP_201_CREATED,
             responses=error_responses(400, 404, 410, 422, 500))
def annotate_item(item_id: str, body: AnnotationCreate, archive: ArchiveDep,
                  user: PrivacyUser) -> AnnotationCreatedPublic:
    """Rectification (Art. 16): a sealed annotation beside the intact original."""
    return AnnotationCreatedPublic.model_validate(rights.annotate_item(
        archive, item_id, body.text, actor=user.name, role=user.role.value,
        request_id=body.request_id, subject=body.subject))


@router.post("/disclosures", status_code=status.HTTP_201_CREATED,
             responses=error_responses(400, 404, 422))
def add_disclosure(body: DisclosureCreate, archive: ArchiveDep,
                   user: DisclosureUser) -> DisclosureCreatedPublic:
    """Record that items were given to a recipient (privacy or legal)."""
    return DisclosureCreatedPublic.model_validate(rights.record_disclosure(
        archive, body.item_ids, recipient=body.recipient, legal_basis=body.legal_basis,
        actor=user.name, role=user.role.value, disclosed_at=body.disclosed_at,
        reference=body.reference))


@router.get("/disclosures", responses=error_responses(400, 422))
def list_disclosures(archive: ArchiveDep, user: DisclosureUser, subject: str | None = None,
                     item_id: str | None = None) -> list[DisclosurePublic]:
    found = rights.list_disclosures(archive, subject=subject, item_id=item_id)
    archive.audit.record(actor=user.name, role=user.role.value, action="list_disclosures",
                         item_ids=sorted({str(d["item_id"]) for d in found}))
    return [DisclosurePublic.model_validate(d) for d in found]


# -- requests ----------------------------------------------------------------------------------


@router.post("/requests", status_code=status.HTTP_201_CREATED,
             responses=error_responses(400, 422))
def add_request(body: SubjectRequestCreate, archive: ArchiveDep,
                user: PrivacyUser) -> SubjectRequestPublic:
    """Track a data-subject request; due one month after receipt."""
    return SubjectRequestPublic.model_validate(rights.add_request(
        archive, kind=body.kind.value, subject=body.subject, requested_by=body.requested_by,
        verified_by=body.verified_by, actor=user.name, role=user.role.value,
        received_at=body.received_at, note=body.note))


@router.get("/requests", responses=error_responses(422))
def list_requests(archive: ArchiveDep, user: PrivacyUser, overdue: bool = False,
                  status_filter: Annotated[str | None, Query(alias="status")] = None,
                  ) -> list[SubjectRequestPublic]:
    found = rights.list_requests(archive, overdue=overdue, status=status_filter)
    archive.audit.record(actor=user.name, role=user.role.value, action="list_requests",
                         detail={"count": len(found)})
    return [SubjectRequestPublic.model_validate(r) for r in found]


@router.post("/requests/{request_id}/close", responses=error_responses(400, 404, 409, 422))
def close_request(request_id: int, body: SubjectRequestClose, archive: ArchiveDep,
                  user: PrivacyUser) -> SubjectRequestPublic:
    return SubjectRequestPublic.model_validate(rights.close_request(
        archive, request_id, actor=user.name, role=user.role.value, status=body.status,
        note=body.note))


# -- audit trail ---------------------------------------------------------------------------------


@router.get("/audit/events", responses=error_responses(422))
def audit_events(
    archive: ArchiveDep, user: PrivacyUser, subject: str | None = None,
    actor: str | None = None, item_id: str | None = None, action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[AuditEventPublic]:
    """Audit events per subject, actor, item or action."""
    norm = archive.normalise_subject(subject) if subject else None
    found = archive.audit.events(actor=actor, subject=norm, item_id=item_id, action=action,
                                 limit=limit)
    archive.audit.record(actor=user.name, role=user.role.value, action="list_audit",
                         subject=norm, item_ids=[item_id] if item_id else [],
                         detail={"count": len(found)})
    return [AuditEventPublic.model_validate(e.public()) for e in found]


@router.get("/audit/verify")
def audit_verify(archive: ArchiveDep, user: PrivacyUser) -> AuditVerifyPublic:
    """Check the hash chain; names the first bad position."""
    report = archive.audit.verify()
    return AuditVerifyPublic(ok=report.ok, events=report.events, position=report.position,
                             problem=report.problem, notes=report.notes)
