"""The answer to a call recording upload."""

from __future__ import annotations

from pydantic import Field

from search_api.schemas.common import PublicModel


class RecordingPublic(PublicModel):
    item_id: str
    created: bool = Field(description="false when the recording was already archived")
    duration_s: float
    channels: int = Field(description="audio channels in the recording")
