"""Two-person control (``archive.approvals``): the proposals of destructive or widening
actions, and their approval or rejection by a second person of the same role.

The destructive routes themselves (erase, object, unrestrict, lift a hold, retire a
key) answer ``202`` with the proposal (:func:`proposed`); this router lists and
decides them. Each role sees and decides only its own actions: the admin's are key
retirements, which show counts, never content.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse

from archive import approvals
from archive.approvals import ApprovalAction, ApprovalStatus
from archive.config import Role
from archive.errors import ErrorCode, InvalidRequest
from archive.users import User
from search_api.deps import AdminUser, ArchiveDep, require_roles
from search_api.errors import AUTHENTICATED_ERRORS, error_responses
from search_api.schemas.approvals import (
    ApprovalDecision,
    ApprovalProposedPublic,
    ApprovalPublic,
    KeyRetireCreate,
)

router = APIRouter(prefix="/api/v1", tags=["approvals"], responses=AUTHENTICATED_ERRORS)

DeciderUser = Annotated[User, Depends(require_roles(Role.PRIVACY, Role.LEGAL, Role.ADMIN))]
#: The ``202`` a destructive route answers, for its ``responses=``.
PROPOSED: dict[int | str, dict[str, Any]] = {
    202: {"model": ApprovalProposedPublic,
          "description": "Proposed: a second person must approve (POST /approvals/{id}/approve)"},
}


def proposed(request: Request, action: ApprovalAction, params: dict[str, Any], user: User,
             *, case_id: int | None) -> JSONResponse:
    """Store the proposal with its dry run and answer ``202`` (a route whose ``200`` is the
    action's own answer, e.g. a dry run's certificate, documents this one in ``PROPOSED``)."""
    archive = request.app.state.archive
    approval = approvals.propose(
        archive, action, params, actor=user.name, role=user.role, case_id=case_id,
        expiry_hours=request.app.state.approval_expiry_hours)
    body = ApprovalProposedPublic(
        approval_id=approval.id, action=approval.action, status=approval.status,
        expires_at=approval.expires_at.isoformat(),
        required_role=approval.required_role.value, dry_run=approval.dry_run)
    return JSONResponse(body.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)


def _visible(approval: approvals.Approval, user: User) -> approvals.Approval:
    if approval.required_role != user.role:  # as if absent: not this role's business
        raise InvalidRequest(f"no approval {approval.id}", code=ErrorCode.NOT_FOUND)
    return approval


@router.get("/approvals", responses=error_responses(422))
def list_approvals(
    archive: ArchiveDep, user: DeciderUser,
    status_filter: Annotated[ApprovalStatus | None, Query(alias="status")] = None,
    action: ApprovalAction | None = None, case_id: int | None = None,
) -> list[ApprovalPublic]:
    """The proposals of the caller's role, newest first (expired ones closed on the way)."""
    found = approvals.list_approvals(archive, role=user.role, status=status_filter,
                                     action=action, case_id=case_id)
    archive.audit.record(actor=user.name, role=user.role.value, action="list_approvals",
                         detail={"count": len(found), "ids": [a.id for a in found]})
    return [ApprovalPublic.model_validate(a.public()) for a in found]


@router.get("/approvals/{approval_id}", responses=error_responses(404, 422))
def get_approval(approval_id: int, archive: ArchiveDep, user: DeciderUser) -> ApprovalPublic:
    approval = _visible(approvals.get_approval(archive, approval_id), user)
    archive.audit.record(actor=user.name, role=user.role.value, action="read_approval",
                         detail={"approval_id": approval_id})
    return ApprovalPublic.model_validate(approval.public())


@router.post("/approvals/{approval_id}/approve",
             responses=error_responses(400, 404, 409, 410, 422))
def approve(approval_id: int, archive: ArchiveDep, user: DeciderUser,
            body: ApprovalDecision | None = None) -> ApprovalPublic:
    """Approve another user's proposal: the action runs now; the answer carries its result."""
    done = approvals.approve(archive, approval_id, actor=user.name, role=user.role,
                             note=body.note if body else None)
    return ApprovalPublic.model_validate(done.public())


@router.post("/approvals/{approval_id}/reject", responses=error_responses(404, 409, 410, 422))
def reject(approval_id: int, archive: ArchiveDep, user: DeciderUser,
           body: ApprovalDecision | None = None) -> ApprovalPublic:
    """Close a proposal without running it (its proposer may withdraw it too)."""
    done = approvals.reject(archive, approval_id, actor=user.name, role=user.role,
                            note=body.note if body else None)
    return ApprovalPublic.model_validate(done.public())


@router.post("/admin/keys/{purpose}/versions/{version}/retire", status_code=202,
             response_model=ApprovalProposedPublic, responses=error_responses(400, 422))
def retire_key(purpose: str, version: int, request: Request, user: AdminUser,
               body: KeyRetireCreate | None = None) -> JSONResponse:
    """Propose destroying an old purpose-key version (a second admin approves)."""
    return proposed(request, ApprovalAction.RETIRE_KEY,
                    {"purpose": purpose, "version": version}, user,
                    case_id=body.case_id if body else None)
