"""Legal's workspace: hold previews, disclosures under a hold, evidence bundles."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from archive.model import Channel
from search_api.schemas.common import BodyModel, PublicModel, Timestamp


class HoldPreviewCreate(BodyModel):
    """Exactly one of ``item_ids``, ``subject``, ``query`` (as for placing a hold)."""

    item_ids: list[str] | None = Field(default=None, max_length=100_000)
    subject: str | None = Field(default=None, max_length=600)
    query: str | None = Field(default=None, max_length=1000)


class HoldPreviewItemPublic(PublicModel):
    item_id: str
    channel: Channel
    started_at: Timestamp
    held: bool = Field(description="already under another hold")


class HoldPreviewPublic(PublicModel):
    """What placing the hold now would cover: nothing is placed."""

    scope: str
    target: str
    count: int
    items: list[HoldPreviewItemPublic]


class HoldDisclosureCreate(BodyModel):
    recipient: str = Field(min_length=1, max_length=300)
    legal_basis: str = Field(min_length=1, max_length=2000)
    reference: str | None = Field(default=None, max_length=300,
                                  description="default: the hold's case reference")
    item_ids: list[str] | None = Field(default=None,
                                       description="default: every item under the hold")
    disclosed_at: datetime | None = None


class HoldDisclosurePublic(PublicModel):
    hold_id: int
    recipient: str
    legal_basis: str
    reference: str | None
    disclosed_at: Timestamp
    item_ids: list[str]
    audit_seq: int
    recorded_by: str | None = None


class EvidenceCreate(BodyModel):
    """Items to bundle: with a ``hold_id``, default all its items and only its items."""

    item_ids: list[str] = Field(default_factory=list, max_length=10_000)
    hold_id: int | None = None
    note: str | None = Field(default=None, max_length=2000)
