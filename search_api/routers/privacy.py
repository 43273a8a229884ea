"""Privacy operations (role privacy): purposes on record, retention sweep, data-subject
rights, rectification, disclosures, requests, and the audit trail.

Identifiers go in the path (URL-encode ``+`` as ``%2B``); further identifiers
of the same person as repeated ``also`` parameters or body fields.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from archive import retention, rights
from archive.config import Role
from archive.errors import InvalidRequest
from archive.model import now_utc
from archive.users import User
from search_api.deps import ArchiveDep, PrivacyUser, require_roles

router = APIRouter(prefix="/api/v1", tags=["privacy"])

DisclosureUser = Annotated[User, Depends(require_roles(Role.PRIVACY, Role.LEGAL))]
SweepUser = Annotated[User, Depends(require_roles(Role.PRIVACY, Role.ADMIN))]
AlsoQuery = Annotated[list[str] | None, Query(description="further identifiers of the person")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SweepIn(_Body):
    dry_run: bool = True
    #: Only for a dry run: what a sweep at that time would do.
    now: datetime | None = None


class EraseIn(_Body):
    also: list[str] = Field(default_factory=list)
    request_id: int | None = None
    parties_only: bool = False
    #: Also erase items that mention the subject but belong to other data subjects.
    erase_others: bool = False


class RestrictIn(_Body):
    reason: str = Field(min_length=1, max_length=2000)
    also: list[str] = Field(default_factory=list)
    request_id: int | None = None


class UnrestrictIn(_Body):
    note: str = Field(min_length=1, max_length=2000,
                      description="how and when the subject was informed (Art. 18(3))")
    also: list[str] = Field(default_factory=list)


class ObjectIn(_Body):
    purposes: list[str] | None = None
    withdrawal: bool = False
    also: list[str] = Field(default_factory=list)
    request_id: int | None = None


class AnnotationIn(_Body):
    text: str = Field(min_length=1, max_length=20_000)
    subject: str | None = None
    request_id: int | None = None


class DisclosureIn(_Body):
    item_ids: list[str] = Field(min_length=1, max_length=10_000)
    recipient: str = Field(min_length=1, max_length=300)
    legal_basis: str = Field(min_length=1, max_length=2000)
    disclosed_at: datetime | None = None
    reference: str | None = Field(default=None, max_length=300)


class RequestIn(_Body):
    kind: rights.RequestKind
    subject: str = Field(min_length=1, max_length=600)
    requested_by: str = Field(min_length=1, max_length=300)
    verified_by: str | None = Field(default=None, max_length=200)
    received_at: datetime | None = None
    note: str | None = None


class RequestCloseIn(_Body):
    status: str = Field(default="done", pattern="^(done|refused)$")
    note: str | None = None


def _ids(identifier: str, also: list[str] | None) -> list[str]:
    return [identifier, *(also or [])]


# -- purposes and retention ------------------------------------------------------------------


@router.get("/purposes/report")
def purposes_report(archive: ArchiveDep, user: PrivacyUser) -> list[dict[str, Any]]:
    """Each purpose with lawful basis, retention, roles and item counts (Art. 30)."""
    return rights.purposes_report(archive)


@router.post("/sweep")
def sweep(body: SweepIn, archive: ArchiveDep, user: SweepUser) -> dict[str, Any]:
    """Run the retention sweep now (or a dry run, optionally as of another time)."""
    if body.now is not None and not body.dry_run:
        raise InvalidRequest("'now' may only be moved for a dry run")
    when = body.now if body.now is not None else now_utc()
    report = retention.sweep(archive, now=when, dry_run=body.dry_run, actor=user.name)
    return report.public()


# -- subjects ---------------------------------------------------------------------------------


@router.get("/subjects/{identifier}")
def find_subject(identifier: str, archive: ArchiveDep, user: PrivacyUser,
                 also: AlsoQuery = None) -> dict[str, Any]:
    """Items where the subject is a party or is mentioned (metadata only)."""
    return rights.subject_overview(archive, _ids(identifier, also), actor=user.name,
                                    role=user.role.value)


@router.get("/subjects/{identifier}/export", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}}}})
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


@router.get("/subjects/{identifier}/vcon")
def subject_vcon(identifier: str, archive: ArchiveDep, user: PrivacyUser,
                 also: AlsoQuery = None) -> list[dict[str, Any]]:
    """The subject's conversations in the IETF vCon JSON format."""
    return rights.vcons_of(archive, _ids(identifier, also), actor=user.name,
                            role=user.role.value)


@router.post("/subjects/{identifier}/erase")
def erase_subject(identifier: str, body: EraseIn, archive: ArchiveDep,
                  user: PrivacyUser) -> dict[str, Any]:
    """Erasure (Art. 17): the certificate of what was erased and what was kept, and why."""
    cert = rights.erase_subject(archive, _ids(identifier, body.also), actor=user.name,
                                 role=user.role.value, request_id=body.request_id,
                                 mentions=not body.parties_only,
                                 erase_others=body.erase_others)
    return cert.public()


@router.post("/subjects/{identifier}/restrict")
def restrict_subject(identifier: str, body: RestrictIn, archive: ArchiveDep,
                     user: PrivacyUser) -> dict[str, Any]:
    """Restriction (Art. 18)."""
    return rights.restrict_subject(archive, _ids(identifier, body.also), actor=user.name,
                                    role=user.role.value, reason=body.reason,
                                    request_id=body.request_id)


@router.post("/subjects/{identifier}/unrestrict")
def unrestrict_subject(identifier: str, body: UnrestrictIn, archive: ArchiveDep,
                       user: PrivacyUser) -> dict[str, Any]:
    """Lift a restriction; the note records that the subject was informed."""
    return rights.lift_restriction(archive, _ids(identifier, body.also), actor=user.name,
                                    role=user.role.value, note=body.note)


@router.post("/subjects/{identifier}/object")
def object_subject(identifier: str, body: ObjectIn, archive: ArchiveDep,
                   user: PrivacyUser) -> dict[str, Any]:
    """Objection or consent withdrawal (Art. 21, 7(3)): purposes end, keys destroyed."""
    return rights.object_subject(archive, _ids(identifier, body.also), actor=user.name,
                                  role=user.role.value, purposes=body.purposes,
                                  withdrawal=body.withdrawal, request_id=body.request_id)


# -- rectification and disclosures ------------------------------------------------------------


@router.post("/items/{item_id}/annotations", status_code=status.HTTP_201_CREATED)
def annotate_item(item_id: str, body: AnnotationIn, archive: ArchiveDep,
                  user: PrivacyUser) -> dict[str, Any]:
    """Rectification (Art. 16): a sealed annotation beside the intact original."""
    return rights.annotate_item(archive, item_id, body.text, actor=user.name,
                                 role=user.role.value, request_id=body.request_id,
                                 subject=body.subject)


@router.post("/disclosures", status_code=status.HTTP_201_CREATED)
def add_disclosure(body: DisclosureIn, archive: ArchiveDep,
                   user: DisclosureUser) -> dict[str, Any]:
    """Record that items were given to a recipient (privacy or legal)."""
    return rights.record_disclosure(archive, body.item_ids, recipient=body.recipient,
                                     legal_basis=body.legal_basis, actor=user.name,
                                     role=user.role.value, disclosed_at=body.disclosed_at,
                                     reference=body.reference)


@router.get("/disclosures")
def list_disclosures(archive: ArchiveDep, user: DisclosureUser, subject: str | None = None,
                     item_id: str | None = None) -> list[dict[str, Any]]:
    return rights.list_disclosures(archive, subject=subject, item_id=item_id)


# -- requests ----------------------------------------------------------------------------------


@router.post("/requests", status_code=status.HTTP_201_CREATED)
def add_request(body: RequestIn, archive: ArchiveDep, user: PrivacyUser) -> dict[str, Any]:
    """Track a data-subject request; due one month after receipt."""
    return rights.add_request(archive, kind=body.kind.value, subject=body.subject,
                               requested_by=body.requested_by, verified_by=body.verified_by,
                               actor=user.name, role=user.role.value,
                               received_at=body.received_at, note=body.note)


@router.get("/requests")
def list_requests(archive: ArchiveDep, user: PrivacyUser, overdue: bool = False,
                  status_filter: Annotated[str | None, Query(alias="status")] = None,
                  ) -> list[dict[str, Any]]:
    return rights.list_requests(archive, overdue=overdue, status=status_filter)


@router.post("/requests/{request_id}/close")
def close_request(request_id: int, body: RequestCloseIn, archive: ArchiveDep,
                  user: PrivacyUser) -> dict[str, Any]:
    return rights.close_request(archive, request_id, actor=user.name, role=user.role.value,
                                 status=body.status, note=body.note)


# -- audit trail ---------------------------------------------------------------------------------


@router.get("/audit/events")
def audit_events(
    archive: ArchiveDep, user: PrivacyUser, subject: str | None = None,
    actor: str | None = None, item_id: str | None = None, action: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    """Audit events per subject, actor, item or action."""
    norm = archive.normalise_subject(subject) if subject else None
    return [e.public() for e in archive.audit.events(actor=actor, subject=norm,
                                                     item_id=item_id, action=action,
                                                     limit=limit)]


@router.get("/audit/verify")
def audit_verify(archive: ArchiveDep, user: PrivacyUser) -> dict[str, Any]:
    """Check the hash chain; names the first bad position."""
    report = archive.audit.verify()
    return {"ok": report.ok, "events": report.events, "position": report.position,
            "problem": report.problem, "notes": report.notes}

