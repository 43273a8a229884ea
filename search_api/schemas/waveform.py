"""A call's waveform: peaks per channel."""

from __future__ import annotations

from pydantic import Field

from search_api.schemas.common import PublicModel


class WaveformPublic(PublicModel):
    item_id: str
    read_through: str
    duration_s: float
    channels: list[list[float]] = Field(
        description="per audio channel (0, 1, ...), the peak of each equal slice of the "
                    "call, 0..1; from the bleeped audio for anonymised reads")
