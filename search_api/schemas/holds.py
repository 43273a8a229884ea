"""Legal holds: what a legal user sends to place or lift one, and the hold as sent back."""

from __future__ import annotations

from pydantic import Field

from search_api.schemas.common import BodyModel, PublicModel, Timestamp


class HoldCreate(BodyModel):
    """Exactly one of ``item_ids``, ``subject``, ``query``."""

    item_ids: list[str] | None = Field(default=None, max_length=100_000)
    subject: str | None = Field(default=None, max_length=600)
    query: str | None = Field(default=None, max_length=1000)
    reason: str = Field(min_length=1, max_length=2000)
    case_ref: str = Field(min_length=1, max_length=200)


class HoldLift(BodyModel):
    note: str = Field(min_length=1, max_length=2000)
    #: The request or case the proposal is for.
    case_id: int | None = Field(default=None, description=(
        "the open request case this answers; the executed action is noted in it"))


class HoldPublic(PublicModel):
    id: int
    scope: str = Field(description="item, subject or search")
    target: str
    reason: str
    case_ref: str
    created_by: str
    created_at: Timestamp
    active: bool
    lifted_by: str | None
    lifted_at: Timestamp | None
    lift_note: str | None
    item_ids: list[str]
    storage_locks: int = Field(description="blobs that got a storage-level legal hold")
