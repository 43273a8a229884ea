"""Items: catalog metadata, parties, the item view, transcripts, the admin listing."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from archive.config import Role
from archive.model import (
    AddressKind,
    Channel,
    Direction,
    ItemRecord,
    ItemStatus,
    PartyRole,
    Side,
    TranscriptStatus,
)
from archive.reading import ItemView
from search_api.schemas.common import PublicModel, Timestamp


class PartyPublic(PublicModel):
    role: PartyRole
    kind: AddressKind
    address: str = Field(description="pseudonymised ([CUSTOMER-1]) when read anonymised")
    name: str | None
    side: Side
    channel_index: int | None = Field(description="audio channel of a call party")

    @classmethod
    def of_dicts(cls, parties: list[dict[str, Any]]) -> list[PartyPublic]:
        """The parties as the reader gave them (pseudonymised by its anonymised view)."""
        return [cls.model_validate(p) for p in parties]


class PurposeTagPublic(PublicModel):
    purpose: str
    retain_until: Timestamp


class AnnotationPublic(PublicModel):
    """A rectification (Art. 16) shown beside the intact original."""

    id: int
    author: str
    created_at: Timestamp
    text: str


class ItemDisclosurePublic(PublicModel):
    """A disclosure of this item to a recipient."""

    recipient: str
    legal_basis: str
    disclosed_at: Timestamp
    reference: str | None


class ItemPublic(PublicModel):
    """An item's metadata and details, as the purpose it was read through allows."""

    id: str
    channel: Channel
    direction: Direction
    source: str
    started_at: Timestamp
    ended_at: Timestamp | None
    duration_s: float | None
    ingested_at: Timestamp
    status: ItemStatus
    status_reason: str | None
    transcript_status: TranscriptStatus
    language: str | None = Field(
        default=None, description="language code from a rule, the e-mail detector or the "
        "transcriber; null: not known (a call then has no transcript)")
    content_type: str
    size_bytes: int
    sha256: str
    restricted: bool
    held: bool
    thread_key: str | None = Field(description="null when read anonymised")
    parties: list[PartyPublic]
    purposes: list[PurposeTagPublic]
    details: dict[str, Any] = Field(
        description="what the channel extracted (subject, headers, call ids...); free-form")
    read_through: str | None = Field(description="the purpose the item was read through")
    channels: list[dict[str, Any]] = Field(
        description="a call's audio channels (index, label, participant, aor, side)")
    annotations: list[AnnotationPublic]
    disclosures: list[ItemDisclosurePublic] = Field(description="empty when read anonymised")

    @classmethod
    def of_view(cls, view: ItemView) -> ItemPublic:
        anonymised = view.anonymised  # as the details were: by the purpose read through
        record = view.record
        return cls(
            id=record.id,
            channel=record.channel,
            direction=record.direction,
            source=record.source,
            started_at=record.started_at.isoformat(),
            ended_at=record.ended_at.isoformat() if record.ended_at else None,
            duration_s=record.duration_s,
            ingested_at=record.ingested_at.isoformat(),
            status=record.status,
            status_reason=record.status_reason,
            transcript_status=record.transcript_status,
            language=record.language,
            content_type=record.content_type,
            size_bytes=record.size_bytes,
            sha256=record.sha256,
            restricted=record.restricted,
            held=record.held,
            thread_key=None if anonymised else record.thread_key,
            parties=PartyPublic.of_dicts(view.parties),
            purposes=[PurposeTagPublic(purpose=t.purpose, retain_until=t.retain_until.isoformat())
                      for t in record.purposes],
            details=view.details,
            read_through=view.purpose,
            channels=view.details.get("channels", []),
            annotations=[AnnotationPublic.model_validate(a) for a in view.annotations],
            disclosures=[ItemDisclosurePublic.model_validate(d) for d in view.disclosures],
        )


class TranscriptPublic(PublicModel):
    item_id: str
    read_through: str
    transcript: dict[str, Any] = Field(
        description="per speaker (channel): words with start, end and confidence, utterances")


class PartyAddressPublic(PublicModel):
    role: PartyRole
    address: str


class ItemSummaryPublic(PublicModel):
    """An item in the admin listing: catalog state, never content."""

    id: str
    channel: Channel
    source: str
    status: ItemStatus
    status_reason: str | None
    ingested_at: Timestamp
    size_bytes: int
    restricted: bool
    held: bool
    purposes: list[str]
    parties: list[PartyAddressPublic] | None = Field(
        default=None, description="privacy staff only; the key is absent for admins")

    @classmethod
    def of_record(cls, r: ItemRecord, *, role: Role) -> ItemSummaryPublic:
        """Admins see no parties (personal data); privacy staff do."""
        summary = cls(id=r.id, channel=r.channel, source=r.source, status=r.status,
                      status_reason=r.status_reason, ingested_at=r.ingested_at.isoformat(),
                      size_bytes=r.size_bytes, restricted=r.restricted, held=r.held,
                      purposes=sorted(r.purpose_names))
        if role is Role.PRIVACY:  # assigning marks the key set: it is sent
            summary.parties = [PartyAddressPublic(role=p.role, address=p.address)
                               for p in r.parties]
        return summary


class ItemSummariesPublic(PublicModel):
    items: list[ItemSummaryPublic]
