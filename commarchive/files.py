"""Archive a file given on the command line (``commarchive ingest``).

A file is archived only as what it is: an RFC 5322 message (a header section
of well-formed fields naming at least a sender, recipient, subject, date or
message id) or a call recording in a format :mod:`ingest.audio` recognises.
Anything else (a PDF, an image, notes) is refused with the file's name and
what it looks like, since archiving it as an e-mail would store it
``unparsed`` and restricted, findable by nobody but privacy and legal staff.
``force=True`` archives it that way anyway, and the result says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from archive.errors import InvalidRequest
from archive.model import IngestResult, ItemStatus
from archive.service import Archive

#: A header field line (RFC 5322 section 2.2: printable ASCII but colon, then a colon).
_FIELD: Final = re.compile(rb"^[\x21-\x39\x3b-\x7e]+[ \t]*:")
#: Fields of which a message has at least one (RFC 5322 requires From and Date).
_MAIL_FIELDS: Final = frozenset({b"from", b"sender", b"to", b"cc", b"subject", b"date",
                                 b"message-id", b"received", b"return-path"})
_MAX_HEADER_BYTES: Final = 1024 * 1024
#: What a refused file looks like, by its first bytes (for the error message).
_LOOKS_LIKE: Final = (
    (b"From ", "an mbox mailbox (give one message per file, without its 'From ' line)"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive or office document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"{\\rtf", "an RTF document"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
)


@dataclass(frozen=True, slots=True)
class FileIngested:
    """What became of a file: the archive's answer, and whether it is stored unparsed."""

    result: IngestResult
    channel: str
    #: The reason code when the file was stored as an ``unparsed`` message, else None.
    unparsed_reason: str | None = None


def not_a_message(data: bytes) -> str | None:
    """Why ``data`` is not an RFC 5322 message, or None when it is one."""
    head = data[:_MAX_HEADER_BYTES]
    end = re.search(rb"\r?\n\r?\n", head)
    lines = (head[: end.start()] if end else head).splitlines()
    names: set[bytes] = set()
    for line in lines:
        if line[:1] in (b" ", b"\t") and names:
            continue
        field = _FIELD.match(line)
        if field is None:
            break
        names.add(field.group().rstrip(b": \t").lower())
    else:
        if names & _MAIL_FIELDS:
            return None
    return f"neither an RFC 5322 message nor a recording; it looks like {_looks_like(data)}"


def _looks_like(data: bytes) -> str:
    for magic, what in _LOOKS_LIKE:
        if data.startswith(magic):
            return what
    if not data.strip():
        return "an empty file"
    sample = data[:4096]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 4:  # not just a character cut at the sample's end
            return "binary data"
    if b"\x00" in sample:
        return "binary data"
    return "text without mail headers"


def ingest_file(
    archive: Archive,
    name: str,
    data: bytes,
    *,
    channel: str | None,
    sidecar: bytes | None,
    actor: str,
    force: bool = False,
) -> FileIngested:
    """An RFC 5322 message or a call recording (with an optional JSON sidecar), archived
    durably; anything else is refused (``InvalidRequest`` naming the file) unless ``force``.
    """
    from ingest.audio import ACCEPTED, sniff_format

    if channel is None:
        channel = "call" if sniff_format(data) is not None else "email"
    if channel == "email":
        if sidecar is not None:
            raise InvalidRequest("--meta is for calls; an e-mail carries its own headers")
        reason = not_a_message(data)
        if reason is not None and not force:
            raise InvalidRequest(
                f"{name}: {reason}; accepted are e-mails (RFC 5322) and recordings "
                f"({ACCEPTED}). --force archives it as an unparsed message, readable by "
                "privacy and legal staff only")
        from ingest.email.item import Envelope, build_item

        envelope = Envelope(mail_from="", rcpt_tos=(), received_at=datetime.now(UTC))
        item = build_item(data, envelope, is_internal=archive.is_internal_address, source="cli")
        unparsed = item.status is ItemStatus.UNPARSED
        return FileIngested(archive.ingest(item, actor=actor), channel,
                            (item.status_reason or "unparsed") if unparsed else None)
    from ingest.calls import CallInputError, ingest_call_file

    try:
        result = ingest_call_file(archive, data, sidecar, source="cli", actor=actor).ingest
    except CallInputError as exc:
        raise InvalidRequest(f"{name}: {exc.reason}") from None
    return FileIngested(result, channel)
