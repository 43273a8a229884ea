"""Liveness; readiness, and for operators the state of each component."""

from __future__ import annotations

from pydantic import Field

from search_api.schemas.common import PublicModel


class HealthPublic(PublicModel):
    """``ok`` for anyone; the components only for admin and privacy (absent otherwise)."""

    ok: bool = Field(description="every component is ok: the archive is ready")
    catalog: str | None = Field(default=None, description='"ok", or what is wrong')
    store: str | None = Field(default=None, description='"ok", or what is wrong')
    index: str | None = Field(default=None, description='"ok", or what is wrong')
    outbox_depth: int | None = Field(
        default=None, description="items acknowledged (durable) but not yet searchable")
    outbox_oldest_age_seconds: float | None = Field(
        default=None, description="how long the oldest of those has waited")
    outbox_backlog: str | None = Field(
        default=None, description="why ingest is refused for now (backlog over its limit)")


class LivePublic(PublicModel):
    """Liveness: the process answers."""

    ok: bool = Field(description="always true: an answer at all is the signal")
