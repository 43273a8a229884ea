"""Turn a journaled e-mail (raw bytes + SMTP envelope) into an archive item.

``build_item`` never raises for any input: it parses with the time limit
(``ingest.email.mime``) and builds the ``NewItem``; a message that did not parse
still becomes an item carrying the byte-exact original, with status
``unparsed`` and a reason code, so it is sealed and stored, never dropped. The
envelope (MAIL FROM, every RCPT TO, so Bcc recipients too) is always kept,
parsed or not.

Exceptions: none escape ``build_item``. Log lines never carry message content.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from archive.model import (
    AddressKind,
    Channel,
    Direction,
    ItemStatus,
    NewItem,
    Party,
    PartyRole,
    Section,
    Side,
)
from archive.parties import clean_line, clean_text, normalise_email
from ingest.email.mime import parse_with_timeout
from ingest.email.parsed import (
    DEFAULT_LIMITS,
    MAX_ADDRESS_CHARS,
    MimeLimits,
    ParsedMessage,
    UnparsedReason,
)

log = logging.getLogger(__name__)

CONTENT_TYPE: Final = "message/rfc822"
#: The Date header is trusted for ``started_at`` only within this window around arrival.
DATE_TRUST_PAST: Final = timedelta(days=7)
DATE_TRUST_FUTURE: Final = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Envelope:
    """What SMTP says about a delivery, beyond the message itself."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    received_at: datetime
    smtputf8: bool = False
    body_8bitmime: bool = False


def _side(address: str, is_internal: Callable[[str], bool]) -> Side:
    try:
        return Side.AGENT if is_internal(address) else Side.CUSTOMER
    except Exception:
        return Side.UNKNOWN


def _direction(
    sender: str | None, recipients: list[str], is_internal: Callable[[str], bool]
) -> Direction:
    if sender is None:
        return Direction.UNKNOWN
    try:
        internal_sender = is_internal(sender)
        internal_rcpts = [is_internal(r) for r in recipients]
    except Exception:
        return Direction.UNKNOWN
    if internal_sender:
        return Direction.INTERNAL if all(internal_rcpts) else Direction.OUTBOUND
    return Direction.INBOUND if any(internal_rcpts) else Direction.UNKNOWN


def _key(prefix: str, value: str) -> str:
    return f"{prefix}:{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()[:40]}"


def dedupe_key_for(parsed: ParsedMessage) -> str:
    """Message-ID (hashed: the catalog holds no content) plus the content hash."""
    if parsed.message_id:
        return f"{_key('email-mid', parsed.message_id)}:{parsed.sha256}"
    return f"email-sha256:{parsed.sha256}"


def thread_key_for(parsed: ParsedMessage) -> str | None:
    root = parsed.thread_root
    return _key("email-thread", root) if root else None


def item_from_parsed(
    raw: bytes,
    parsed: ParsedMessage,
    envelope: Envelope,
    *,
    is_internal: Callable[[str], bool],
    source: str = "smtp",
) -> NewItem:
    parties: list[Party] = []
    seen: set[tuple[PartyRole, str]] = set()

    def add(role: PartyRole, address: str | None, name: str | None = None) -> None:
        if address is None or (role, address) in seen:
            return
        seen.add((role, address))
        parties.append(Party(role, address, AddressKind.EMAIL, name, _side(address, is_internal)))

    envelope_from = normalise_email(envelope.mail_from) if envelope.mail_from else None
    add(PartyRole.ENVELOPE_FROM, envelope_from)
    envelope_rcpts = [normalise_email(r) for r in envelope.rcpt_tos]
    for rcpt in envelope_rcpts:
        add(PartyRole.ENVELOPE_TO, rcpt)
    for ref in parsed.addresses:
        add(ref.role, ref.address, ref.name)

    header_from = next((a.address for a in parsed.addresses if a.role is PartyRole.FROM), None)
    sender = header_from or envelope_from
    rcpt_roles = (PartyRole.TO, PartyRole.CC, PartyRole.BCC)
    recipients = sorted(
        {a.address for a in parsed.addresses if a.role in rcpt_roles}
        | {r for r in envelope_rcpts if r is not None}
    )
    direction = _direction(sender, recipients, is_internal)

    received = envelope.received_at.astimezone(UTC)
    started = received
    if parsed.date is not None and (
        received - DATE_TRUST_PAST <= parsed.date <= received + DATE_TRUST_FUTURE
    ):
        started = parsed.date

    sections: list[Section] = []
    if parsed.subject:
        sections.append(Section("subject", parsed.subject))
    if parsed.body_text:
        sections.append(Section("body", "\n\n".join(parsed.body_text)))
    for name, text in parsed.attachment_text:
        joined = "\n".join(t for t in (name, text) if t)
        if joined:
            sections.append(Section("attachment", joined))
    party_words = [p.address for p in parties] + [p.name for p in parties if p.name]
    party_words += parsed.unparsed_address_text
    # Envelope addresses that are not plausible mailboxes stay findable as text.
    if envelope.mail_from and envelope_from is None:
        party_words.append(clean_line(envelope.mail_from, MAX_ADDRESS_CHARS))
    party_words += [
        clean_line(raw_rcpt, MAX_ADDRESS_CHARS)
        for raw_rcpt, rcpt in zip(envelope.rcpt_tos, envelope_rcpts, strict=True)
        if rcpt is None
    ]
    if party_words:
        sections.append(Section("parties", "\n".join(dict.fromkeys(w for w in party_words if w))))

    details: dict[str, Any] = {
        "subject": parsed.subject,
        "message_id": parsed.message_id,
        "date": parsed.date.isoformat() if parsed.date else None,
        "in_reply_to": parsed.in_reply_to,
        "references": list(parsed.references),
        "attachments": [a.as_dict() for a in parsed.attachments],
        "headers": [list(h) for h in parsed.headers],
        "header_count": parsed.header_count,
        "defects": parsed.defects,
        "part_errors": parsed.part_errors,
        "address_errors": parsed.address_errors,
        "text_truncated": parsed.text_truncated,
        "sha256": parsed.sha256,
        "size": parsed.size,
        "envelope": {
            "mail_from": clean_text(envelope.mail_from),
            "rcpt_to": [clean_text(r) for r in envelope.rcpt_tos],
            "smtputf8": envelope.smtputf8,
            "body": "8BITMIME" if envelope.body_8bitmime else "7BIT",
            "received_at": received.isoformat(),
        },
        "parse_seconds": round(parsed.parse_seconds, 4),
    }
    return NewItem(
        channel=Channel.EMAIL,
        original=raw,
        content_type=CONTENT_TYPE,
        source=source,
        started_at=started,
        direction=direction,
        parties=parties,
        status=parsed.status,
        status_reason=parsed.status_reason,
        dedupe_key=dedupe_key_for(parsed),
        details=details,
        sections=sections,
        thread_key=thread_key_for(parsed),
    )


def build_item(
    raw: bytes,
    envelope: Envelope,
    *,
    is_internal: Callable[[str], bool],
    limits: MimeLimits = DEFAULT_LIMITS,
    source: str = "smtp",
) -> NewItem:
    """Parse (time-limited) and build the archive item; never raises for any ``raw``."""
    parsed = parse_with_timeout(raw, limits)
    try:
        return item_from_parsed(raw, parsed, envelope, is_internal=is_internal, source=source)
    except Exception as exc:  # last resort: keep the bytes, lose only the derived data
        log.error("building an item from a parsed e-mail failed (%s)", type(exc).__name__)
        fallback = ParsedMessage(sha256=parsed.sha256, size=parsed.size)
        fallback.status, fallback.reason = ItemStatus.UNPARSED, UnparsedReason.PARSE_ERROR
        fallback.error_type = type(exc).__name__
        return item_from_parsed(raw, fallback, envelope, is_internal=is_internal, source=source)
