"""Walk a parsed message's MIME tree: body text, attachments and their text.

A text part becomes body text unless it is a file (a name, an ``attachment``
disposition) or inside an attached message; ``multipart/alternative`` keeps
one version. Text handed to the index is bounded per part and per message
(``MimeLimits``), and a part that fails to decode costs only its own text.
"""

from __future__ import annotations

import codecs
from email import policy
from email.message import Message
from typing import Final

from archive.parties import clean_line, clean_text
from ingest.email.htmltext import html_to_text
from ingest.email.parsed import (
    Attachment,
    MimeLimits,
    ParsedMessage,
    UnparsedReason,
    sha256_hex,
)
from ingest.errors import MimeLimitExceeded

#: Pure-Python codecs with super-linear decoders (punycode inserts into a list):
#: a hostile "charset" must not turn a body into a parse timeout.
_SLOW_CODECS: Final = frozenset({"punycode", "idna"})


def _decode_part_text(
    part: Message, limits: MimeLimits, payload: object = None
) -> str | None:
    """A text part's text for the index (``payload``: its decoded bytes, if at hand)."""
    if payload is None:
        payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return None
    payload = payload[: limits.max_part_text_bytes]
    charset = (part.get_content_charset() or "utf-8").strip().lower()
    if charset in ("us-ascii", "ascii", "unknown-8bit", "x-unknown", "7bit", "8bit"):
        charset = "utf-8"
    try:
        codec = codecs.lookup(charset)
        if not codec._is_text_encoding or codec.name in _SLOW_CODECS:
            charset = "utf-8"
    except LookupError:
        charset = "utf-8"
    try:
        text = payload.decode(charset, errors="replace")
    except Exception:  # codecs may raise their own errors on hostile input
        text = payload.decode("utf-8", errors="replace")
    if part.get_content_subtype() == "html":
        text = html_to_text(text, max_chars=limits.max_index_chars)
    return clean_text(text)


class PartWalker:
    """Fills a ``ParsedMessage``'s text and attachments; raises ``MimeLimitExceeded``."""

    def __init__(self, parsed: ParsedMessage, limits: MimeLimits) -> None:
        self.parsed = parsed
        self.limits = limits
        self.parts = 0
        self.chars = 0

    def _budget(self, text: str) -> str | None:
        remaining = self.limits.max_index_chars - self.chars
        if remaining <= 0:
            self.parsed.text_truncated = True
            return None
        if len(text) > remaining:
            self.parsed.text_truncated = True
            text = text[:remaining]
        self.chars += len(text)
        return text

    def _filename(self, part: Message) -> str | None:
        try:
            name = part.get_filename()
        except Exception:
            return None
        if not isinstance(name, str):
            return None
        return clean_line(name, 512) or None

    def walk(self, part: Message, depth: int, in_attachment: bool) -> None:
        if depth > self.limits.max_depth:
            raise MimeLimitExceeded(UnparsedReason.TOO_DEEP)
        self.parts += 1
        if self.parts > self.limits.max_parts:
            raise MimeLimitExceeded(UnparsedReason.TOO_MANY_PARTS)
        ctype = part.get_content_type()
        if part.is_multipart():
            children = [c for c in part.get_payload() if isinstance(c, Message)]
            if part.get_content_maintype() == "message":
                self._record_message(part, children)
                for child in children:
                    self.walk(child, depth + 1, True)
                return
            if ctype == "multipart/alternative" and children:
                self.walk(self._choose_alternative(children), depth + 1, in_attachment)
                return
            for child in children:
                self.walk(child, depth + 1, in_attachment)
            return
        try:
            self._leaf(part, in_attachment)
        except Exception as exc:  # one bad part must not cost the others their text
            self.parsed.part_errors.append(type(exc).__name__)

    @staticmethod
    def _choose_alternative(children: list[Message]) -> Message:
        for child in children:
            if child.get_content_type() == "text/plain":
                return child
        return children[-1]  # RFC 2046: the last alternative is the richest

    def _record_message(self, part: Message, children: list[Message]) -> None:
        size: int | None = None
        digest: str | None = None
        if children:
            try:
                data = children[0].as_bytes(policy=policy.compat32)
                size, digest = len(data), sha256_hex(data)
            except Exception:
                pass
        self.parsed.attachments.append(
            Attachment(
                self._filename(part),
                part.get_content_type(),
                size,
                digest,
                part.get_content_disposition(),
            )
        )

    def _leaf(self, part: Message, in_attachment: bool) -> None:
        maintype = part.get_content_maintype()
        disposition = part.get_content_disposition()
        name = self._filename(part)
        is_text = maintype == "text"
        is_file = disposition == "attachment" or name is not None or not is_text
        is_attachment = is_file or in_attachment
        payload = None
        if is_file:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            self.parsed.attachments.append(
                Attachment(name, part.get_content_type(), len(data), sha256_hex(data), disposition)
            )
            if name:
                self.parsed.attachment_text.append((name, ""))
        if not is_text:
            return
        text = _decode_part_text(part, self.limits, payload)
        if not text:
            return
        kept = self._budget(text)
        if kept is None:
            return
        if is_attachment:
            if name:
                self.parsed.attachment_text[-1] = (name, kept)
            else:
                self.parsed.attachment_text.append((None, kept))
        else:
            self.parsed.body_text.append(kept)
