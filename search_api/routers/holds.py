"""Legal holds (role legal): on items, on a data subject, or on a search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from archive import holds
from archive.approvals import ApprovalAction
from search_api.deps import ArchiveDep, LegalUser
from search_api.errors import AUTHENTICATED_ERRORS, error_responses
from search_api.routers.approvals import proposed
from search_api.schemas.approvals import ApprovalProposedPublic
from search_api.schemas.holds import HoldCreate, HoldLift, HoldPublic

router = APIRouter(prefix="/api/v1/holds", tags=["holds"], responses=AUTHENTICATED_ERRORS)


@router.post("", status_code=status.HTTP_201_CREATED, responses=error_responses(400, 404, 422))
def place_hold(body: HoldCreate, archive: ArchiveDep, user: LegalUser) -> HoldPublic:
    """Place a hold: exactly one of item_ids, subject, query."""
    hold = holds.place_hold(archive, actor=user.name, role=user.role.value, reason=body.reason,
                            case_ref=body.case_ref, item_ids=body.item_ids,
                            subject=body.subject, query=body.query)
    return HoldPublic.model_validate(hold.public())


@router.get("", responses=error_responses(422))
def list_holds(
    archive: ArchiveDep, user: LegalUser,
    show_all: Annotated[bool, Query(alias="all", description="include lifted holds")] = False,
) -> list[HoldPublic]:
    found = [h.public() for h in holds.list_holds(archive, active_only=not show_all)]
    archive.audit.record(actor=user.name, role=user.role.value, action="list_holds",
                         item_ids=sorted({i for h in found for i in h["item_ids"]}))
    return [HoldPublic.model_validate(h) for h in found]


@router.get("/{hold_id}", responses=error_responses(404, 422))
def get_hold(hold_id: int, archive: ArchiveDep, user: LegalUser) -> HoldPublic:
    hold = holds.get_hold(archive, hold_id).public()
    archive.audit.record(actor=user.name, role=user.role.value, action="read_hold",
                         item_ids=list(hold["item_ids"]), detail={"hold_id": hold_id})
    return HoldPublic.model_validate(hold)


@router.post("/{hold_id}/lift", status_code=status.HTTP_202_ACCEPTED,
             response_model=ApprovalProposedPublic, responses=error_responses(404, 409, 422))
def lift_hold(hold_id: int, body: HoldLift, request: Request, user: LegalUser) -> JSONResponse:
    """Propose lifting a hold (``202``): a second legal user approves; the dry run lists
    the items it would release."""
    return proposed(request, ApprovalAction.LIFT_HOLD,
                    {"hold_id": hold_id, "note": body.note}, user, case_id=body.case_id)
