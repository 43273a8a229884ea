"""The privacy office's request cases (``/api/v1/cases``): bodies and answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from archive import rights
from search_api.schemas.common import BodyModel, PublicModel, Timestamp
from search_api.schemas.items import PartyPublic

# -- request bodies -----------------------------------------------------------------------------


class CaseCreate(BodyModel):
    kind: rights.CaseKind
    identifiers: list[str] = Field(min_length=1, max_length=20,
                                   description="e-mail, phone, SIP URI or customer number")
    channel: rights.IntakeChannel
    requester: str = Field(min_length=1, max_length=300,
                           description="the person's name as given (sealed)")
    received_at: datetime | None = Field(default=None, description="default: now")
    note: str | None = Field(default=None, max_length=4000)


class CaseVerify(BodyModel):
    method: rights.VerificationMethod
    note: str | None = Field(default=None, max_length=4000)
    verified_at: datetime | None = None


class CaseExtend(BodyModel):
    reason: str = Field(min_length=1, max_length=4000)


class CaseReview(BodyModel):
    decision: rights.Decision
    reason: str | None = Field(default=None, max_length=4000)
    redact: list[str] = Field(default_factory=list, max_length=20,
                              description="the third party's names, addresses, numbers")


class CaseActionCreate(BodyModel):
    action: str = Field(min_length=1, max_length=40,
                        description="erasure, restriction, objection, rectification...")
    detail: dict[str, Any] = Field(default_factory=dict,
                                   description="counts and references only, no personal data")
    item_ids: list[str] = Field(default_factory=list)


class CaseReply(BodyModel):
    text: str = Field(min_length=1, max_length=20_000)


class CaseClose(BodyModel):
    outcome: rights.CaseOutcome
    note: str | None = Field(default=None, max_length=4000)


# -- answers --------------------------------------------------------------------------------------


class CaseSummaryPublic(PublicModel):
    """A case as the dashboard lists it (no sealed notes)."""

    id: int
    kind: str
    status: str = Field(description="open or closed")
    outcome: str | None = Field(description="done or refused, once closed")
    identifiers: list[str]
    channel: str
    received_at: Timestamp
    due_at: Timestamp
    original_due_at: Timestamp
    extended: bool
    overdue: bool
    days_left: int | None
    stage: str = Field(description="the next step: verify identity, look up, reply, close")
    opened_by: str
    closed_at: Timestamp | None
    expired_at: Timestamp | None = Field(
        description="when the closed case's retention ran out and its identifiers, notes "
                    "and item list were removed ([privacy_office] closed_case_retention_days)")


class CaseVerificationPublic(PublicModel):
    by: str
    at: Timestamp
    method: str
    note: str | None


class CaseExtensionPublic(PublicModel):
    by: str
    at: Timestamp
    reason: str | None


class CaseReplyPublic(PublicModel):
    by: str
    at: Timestamp
    text: str | None


class CaseItemPublic(PublicModel):
    """One lookup result and the officer's decision on it (metadata, never content)."""

    item_id: str
    match: list[str] = Field(description="party and/or mention")
    decision: str | None = Field(description="include, exclude, redact; null: not reviewed")
    reviewed_by: str | None
    reviewed_at: Timestamp | None
    reason: str | None = None
    redact: list[str] = Field(default_factory=list)
    gone: bool = Field(description="erased since the lookup")
    channel: str | None = None
    started_at: Timestamp | None = None
    direction: str | None = None
    parties: list[PartyPublic] = Field(default_factory=list)


class CaseEventPublic(PublicModel):
    at: Timestamp
    actor: str
    step: str
    action: str | None
    audit_seq: int | None
    detail: dict[str, Any]


class CasePublic(CaseSummaryPublic):
    """The whole case: intake, verification, deadline, review, timeline."""

    requester: str
    note: str | None
    verification: CaseVerificationPublic | None
    extension: CaseExtensionPublic | None
    looked_up_at: Timestamp | None
    items_reviewed: int = Field(description="items the lookup reviewed (kept after expiry)")
    reply: CaseReplyPublic | None
    close_note: str | None
    closed_by: str | None
    items: list[CaseItemPublic]
    events: list[CaseEventPublic]


class CaseDigestPublic(PublicModel):
    generated_at: Timestamp
    days: int
    overdue: list[CaseSummaryPublic]
    due_soon: list[CaseSummaryPublic]
    open: int


class CaseActionPublic(PublicModel):
    case_id: int
    audit_seq: int
