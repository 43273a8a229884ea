"""What parsing an e-mail yields: the parsed message, its limits and reason codes.

Plain data and the text cleaning every e-mail module shares; no parsing here
(``ingest.email.mime``) and no archive item (``ingest.email.item``), so the
parser, the part walker and the item builder all depend on this and not on
each other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from archive.model import ItemStatus, PartyRole

MAX_ADDRESS_CHARS: Final = 320
MAX_NAME_CHARS: Final = 256



class UnparsedReason(StrEnum):
    """Why a message was stored ``unparsed`` (stable codes; never message content)."""

    EMPTY = "empty"
    NO_HEADERS = "no_headers"
    TOO_MANY_HEADERS = "too_many_headers"
    HEADER_SECTION_TOO_LARGE = "header_section_too_large"
    HEADER_TOO_LONG = "header_too_long"
    TOO_DEEP = "nesting_too_deep"
    TOO_MANY_PARTS = "too_many_parts"
    PARSE_TIMEOUT = "parse_timeout"
    PARSE_ERROR = "parse_error"


@dataclass(frozen=True, slots=True)
class MimeLimits:
    """Bounds that keep one hostile message from costing unbounded time or memory."""

    max_header_count: int = 1000
    max_header_section_bytes: int = 1024 * 1024
    max_header_value_bytes: int = 64 * 1024
    max_depth: int = 32
    max_parts: int = 1000
    #: Total text handed to the index per message (subject, body, attachment text).
    max_index_chars: int = 2_000_000
    #: Text extracted from any single part before reduction (HTML is reduced after).
    max_part_text_bytes: int = 8 * 1024 * 1024
    parse_timeout_s: float = 10.0


DEFAULT_LIMITS: Final = MimeLimits()


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str | None
    content_type: str
    size: int | None
    sha256: str | None
    disposition: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
            "disposition": self.disposition,
        }


@dataclass(frozen=True, slots=True)
class AddressRef:
    role: PartyRole
    address: str
    name: str | None


@dataclass(slots=True)
class ParsedMessage:
    """Everything derived from the bytes alone (no envelope, no configuration)."""

    sha256: str
    size: int
    status: ItemStatus = ItemStatus.OK
    reason: UnparsedReason | None = None
    #: Exception class name for PARSE_ERROR (never its message: it may quote content).
    error_type: str | None = None
    subject: str | None = None
    message_id: str | None = None
    date: datetime | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    addresses: list[AddressRef] = field(default_factory=list)
    #: Names of address headers rejected by strict parsing.
    address_errors: list[str] = field(default_factory=list)
    #: Raw text of rejected address headers (for the index only).
    unparsed_address_text: list[str] = field(default_factory=list)
    body_text: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    attachment_text: list[tuple[str | None, str]] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    header_count: int = 0
    defects: list[str] = field(default_factory=list)
    #: Exception types of leaf parts whose content could not be decoded (kept going).
    part_errors: list[str] = field(default_factory=list)
    text_truncated: bool = False
    parse_seconds: float = 0.0

    @property
    def status_reason(self) -> str | None:
        if self.reason is None:
            return None
        if self.error_type:
            return f"{self.reason.value}:{self.error_type}"
        return self.reason.value

    @property
    def thread_root(self) -> str | None:
        if self.references:
            return self.references[0]
        return self.in_reply_to or self.message_id


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data`` (how originals and attachments are identified)."""
    return hashlib.sha256(data).hexdigest()
