"""Liveness and readiness of the archive's components."""

from __future__ import annotations

from pydantic import Field

from search_api.schemas.common import PublicModel


class HealthPublic(PublicModel):
    catalog: str = Field(description='"ok", or what is wrong')
    store: str = Field(description='"ok", or what is wrong')
    index: str = Field(description='"ok", or what is wrong')
    ok: bool
