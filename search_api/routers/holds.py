"""Legal holds (role legal): on items, on a data subject, or on a search."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from archive import holds
from search_api.deps import ArchiveDep, LegalUser

router = APIRouter(prefix="/api/v1/holds", tags=["holds"])


class HoldIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_ids: list[str] | None = Field(default=None, max_length=100_000)
    subject: str | None = Field(default=None, max_length=600)
    query: str | None = Field(default=None, max_length=1000)
    reason: str = Field(min_length=1, max_length=2000)
    case_ref: str = Field(min_length=1, max_length=200)


class LiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=2000)


@router.post("", status_code=status.HTTP_201_CREATED)
def place_hold(body: HoldIn, archive: ArchiveDep, user: LegalUser) -> dict[str, Any]:
    """Place a hold: exactly one of item_ids, subject, query."""
    hold = holds.place_hold(archive, actor=user.name, role=user.role.value, reason=body.reason,
                            case_ref=body.case_ref, item_ids=body.item_ids,
                            subject=body.subject, query=body.query)
    return hold.public()


@router.get("")
def list_holds(
    archive: ArchiveDep, user: LegalUser,
    show_all: Annotated[bool, Query(alias="all", description="include lifted holds")] = False,
) -> list[dict[str, Any]]:
    return [h.public() for h in holds.list_holds(archive, active_only=not show_all)]


@router.get("/{hold_id}")
def get_hold(hold_id: int, archive: ArchiveDep, user: LegalUser) -> dict[str, Any]:
    return holds.get_hold(archive, hold_id).public()


@router.post("/{hold_id}/lift")
def lift_hold(hold_id: int, body: LiftIn, archive: ArchiveDep,
              user: LegalUser) -> dict[str, Any]:
    """Lift a hold (audited, with a note)."""
    return holds.lift_hold(archive, hold_id, actor=user.name, role=user.role.value,
                           note=body.note).public()
