"""The archive's domain model: items (one e-mail or one call), parties, purposes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


def now_utc() -> datetime:
    """The archive's clock: timezone-aware UTC."""
    return datetime.now(UTC)


class Channel(StrEnum):
    EMAIL = "email"
    CALL = "call"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    INTERNAL = "internal"
    UNKNOWN = "unknown"


class PartyRole(StrEnum):
    FROM = "from"
    TO = "to"
    CC = "cc"
    BCC = "bcc"
    REPLY_TO = "reply_to"
    ENVELOPE_FROM = "envelope_from"
    ENVELOPE_TO = "envelope_to"
    CALLER = "caller"
    CALLEE = "callee"
    PARTICIPANT = "participant"


class AddressKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    SIP = "sip"
    CUSTOMER_NUMBER = "customer_number"
    NAME = "name"


class ItemStatus(StrEnum):
    OK = "ok"
    UNPARSED = "unparsed"
    TRUNCATED = "truncated"


class TranscriptStatus(StrEnum):
    NONE = "none"  # nothing to transcribe (e-mail)
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    #: The item's language is known but no model for it is configured (fail closed).
    NO_MODEL = "no_model"
    #: No rule decided the language and the models could not tell it apart.
    LANGUAGE_UNKNOWN = "language_unknown"


class Side(StrEnum):
    """Which side of the company a party is on."""

    AGENT = "agent"
    CUSTOMER = "customer"
    UNKNOWN = "unknown"


class HoldScope(StrEnum):
    """What a legal hold was placed on; a subject hold also covers later items."""

    ITEM = "item"
    SUBJECT = "subject"
    SEARCH = "search"


@dataclass(frozen=True, slots=True)
class Party:
    role: PartyRole
    address: str
    kind: AddressKind
    name: str | None = None
    side: Side = Side.UNKNOWN
    #: For calls: the audio channel (0-based) on which this party speaks.
    channel_index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The party as plain JSON values: catalog rows, exports and API responses."""
        return {"role": self.role.value, "kind": self.kind.value, "address": self.address,
                "name": self.name, "side": self.side.value, "channel_index": self.channel_index}

    @classmethod
    def from_row(cls, row: Any) -> Party:
        """A party from its catalog row (or any object with the same attributes)."""
        return cls(PartyRole(row.role), row.address, AddressKind(row.kind), row.name,
                   Side(row.side), row.channel_index)


@dataclass(frozen=True, slots=True)
class Section:
    """A piece of searchable text derived from an item, for the index only."""

    kind: str  # "subject" | "body" | "attachment" | "transcript" | "parties"
    text: str
    speaker: str | None = None
    start_s: float | None = None


@dataclass(slots=True)
class NewItem:
    """What an ingester hands to the archive. ``original`` is sealed, never stored plain."""

    channel: Channel
    original: bytes
    content_type: str
    source: str
    started_at: datetime
    direction: Direction = Direction.UNKNOWN
    ended_at: datetime | None = None
    parties: list[Party] = field(default_factory=list)
    status: ItemStatus = ItemStatus.OK
    status_reason: str | None = None
    #: Deduplication key: Message-ID + content hash, SIPREC session id, file hash.
    dedupe_key: str | None = None
    #: Non-searchable structured details, sealed with the item (subject, headers,
    #: attachments, SIP metadata, channel map ...).
    details: dict[str, Any] = field(default_factory=dict)
    #: Plaintext for the index only.
    sections: list[Section] = field(default_factory=list)
    #: Further sealed parts by name (e.g. "metadata.xml").
    extra_parts: dict[str, bytes] = field(default_factory=dict)
    #: For calls: transcription needed.
    transcribe: bool = False
    #: Thread/conversation id (e-mail threading via Message-ID/References).
    thread_key: str | None = None
    #: Extra data-subject identifiers beyond the external parties (e.g. customer number).
    subject_ids: list[tuple[AddressKind, str]] = field(default_factory=list)
    #: Language code (``nl``) detected by the ingester; a language rule overrides it.
    language: str | None = None


@dataclass(frozen=True, slots=True)
class PurposeTag:
    purpose: str
    retain_until: datetime


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """An item's catalog state (no communication content)."""

    id: str
    channel: Channel
    direction: Direction
    source: str
    started_at: datetime
    ended_at: datetime | None
    ingested_at: datetime
    status: ItemStatus
    status_reason: str | None
    transcript_status: TranscriptStatus
    content_type: str
    size_bytes: int
    sha256: str
    restricted: bool
    held: bool
    thread_key: str | None
    parties: tuple[Party, ...]
    purposes: tuple[PurposeTag, ...]
    #: Language code from a rule, the e-mail detector or the transcriber; None: unknown.
    language: str | None = None

    @property
    def purpose_names(self) -> frozenset[str]:
        return frozenset(t.purpose for t in self.purposes)

    @property
    def duration_s(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class IngestResult:
    item_id: str
    created: bool
    #: Envelope recipients merged into an existing item on a duplicate delivery.
    merged_parties: int = 0
