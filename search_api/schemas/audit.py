"""The hash-chained audit log: events and the chain check."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from search_api.schemas.common import PublicModel, Timestamp


class AuditEventPublic(PublicModel):
    seq: int
    at: Timestamp
    actor: str
    role: str
    action: str
    purpose: str | None
    item_ids: list[str]
    subject: str | None
    detail: dict[str, Any] = Field(description="what the action recorded; free-form")
    hash: str


class AuditVerifyPublic(PublicModel):
    ok: bool
    events: int
    position: int | None = Field(description="sequence position of the first bad event")
    problem: str | None
    notes: list[str]
