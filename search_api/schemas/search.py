"""Search results: one page of hits with the catalog state of each item."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from archive.index import Hit
from archive.model import Channel, Direction, ItemRecord, ItemStatus, TranscriptStatus
from search_api.schemas.common import PublicModel, Timestamp
from search_api.schemas.items import PartyPublic


class SearchHitPublic(PublicModel):
    id: str
    channel: Channel
    direction: Direction
    started_at: Timestamp
    duration_s: float | None
    status: ItemStatus
    transcript_status: TranscriptStatus
    parties: list[PartyPublic]
    purposes: list[str]
    title: str
    snippet: str = Field(description="matched words in <mark>...</mark>")
    speaker: str | None = Field(description="for a transcript match: who said it")
    offset_s: float | None = Field(description="for a transcript match: seconds into the call")
    score: float

    @classmethod
    def of_hit(cls, hit: Hit, record: ItemRecord,
               parties: list[dict[str, Any]]) -> SearchHitPublic:
        """A hit; its snippet, title and parties as the reader's (anonymised) view gave them."""
        return cls(
            id=record.id,
            channel=record.channel,
            direction=record.direction,
            started_at=record.started_at.isoformat(),
            duration_s=record.duration_s,
            status=record.status,
            transcript_status=record.transcript_status,
            parties=PartyPublic.of_dicts(parties),
            purposes=sorted(record.purpose_names),
            title=hit.title,
            snippet=hit.snippet,
            speaker=hit.speaker,
            offset_s=hit.start_s,
            score=hit.score,
        )


class AgentChoicePublic(PublicModel):
    """An agent the agent filter can name: an ``agent`` user and what it is linked to."""

    name: str = Field(description="the value of the search's `agent` parameter")
    team: str | None
    identifiers: list[str] = Field(description="its addresses and numbers, matched in the "
                                               "parties (any one of them)")


class SearchFiltersPublic(PublicModel):
    """What the caller's role may narrow a search by (the search form's choices)."""

    purposes: list[str] = Field(description="purposes the role may search through")
    channels: list[Channel]
    directions: list[Direction]
    party: bool = Field(description="false for anonymised roles: they may not search for "
                                    "a person")
    agents: list[AgentChoicePublic] = Field(
        default_factory=list, description="agents to filter by (quality, privacy, legal); "
                                          "empty for roles that may not see parties")
    review_filters: bool = Field(
        False, description="the has-review and queue filters are offered (quality only)")
    queues: list[str] = Field(default_factory=list, description=(
        "values of the `queue` parameter: any, a source, or policy:NAME (quality only)"))
    queue_statuses: list[str] = Field(default_factory=list,
                                      description="values of `queue_status` (quality only)")


class SearchResultsPublic(PublicModel):
    total: int = Field(description="matching items, exact up to 10,000")
    total_is_lower_bound: bool = Field(
        False, description='more than `total` items match (shown as "10,000+")')
    limit: int
    offset: int
    items: list[SearchHitPublic]
