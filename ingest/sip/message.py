"""SIP messages (RFC 3261): parsing, serialising, and the header helpers a UAS needs.

Parsing is strict where a wrong guess would be dangerous (start line, Content-Length,
header syntax, sizes) and raises :class:`SipParseError` with a reason phrase fit
for a ``400`` response.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Final

from ingest.errors import IngestError

MAX_MESSAGE_BYTES: Final = 65_535
MAX_HEADERS: Final = 128
SIP_VERSION: Final = "SIP/2.0"

_COMPACT: Final = {
    "i": "call-id",
    "f": "from",
    "t": "to",
    "v": "via",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
    "k": "supported",
    "s": "subject",
    "e": "content-encoding",
    "x": "session-expires",
    "o": "event",
}
_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_REQUEST_LINE = re.compile(r"^([A-Za-z0-9.!%*_+`'~-]+) (\S+) SIP/2\.0$")
_STATUS_LINE = re.compile(r"^SIP/2\.0 ([1-6][0-9]{2}) ?(.*)$")


class SipParseError(IngestError, ValueError):
    """A message that cannot be understood; ``reason`` is the 400 reason phrase."""

    def __init__(self, reason: str, *, partial: SipMessage | None = None) -> None:
        self.reason = reason
        self.partial = partial
        super().__init__(reason)


@dataclass(slots=True)
class SipMessage:
    """One request or response; header names are kept as sent, looked up case-insensitively."""

    method: str | None = None
    uri: str | None = None
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str) -> str | None:
        key = _canonical(name)
        for n, v in self.headers:
            if _canonical(n) == key:
                return v
        return None

    def get_all(self, name: str) -> list[str]:
        key = _canonical(name)
        return [v for n, v in self.headers if _canonical(n) == key]

    def set(self, name: str, value: str) -> None:
        key = _canonical(name)
        self.headers = [(n, v) for n, v in self.headers if _canonical(n) != key]
        self.headers.append((name, value))

    def add(self, name: str, value: str) -> None:
        self.headers.append((name, value))

    @property
    def call_id(self) -> str:
        return self.get("call-id") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        return parse_cseq(self.get("cseq") or "")

    @property
    def branch(self) -> str:
        via = self.get("via") or ""
        first = split_commas(via)[0] if via else ""
        return header_params(first).get("branch", "")

    def to_bytes(self) -> bytes:
        if self.method is not None:
            start = f"{self.method} {self.uri} {SIP_VERSION}"
        else:
            start = f"{SIP_VERSION} {self.status} {self.reason}"
        lines = [start]
        for n, v in self.headers:
            if _canonical(n) != "content-length":
                lines.append(f"{n}: {v}")
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def _canonical(name: str) -> str:
    lower = name.strip().lower()
    return _COMPACT.get(lower, lower)


def parse_cseq(value: str) -> tuple[int, str]:
    parts = value.split()
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 10:
        raise SipParseError("Bad CSeq")
    return int(parts[0]), parts[1].upper()


def split_commas(value: str) -> list[str]:
    """Split a header value on commas outside quotes and angle brackets."""
    out: list[str] = []
    depth = 0
    quoted = False
    cur: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            cur.append(ch)
            escaped = False
            continue
        if ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            depth += 1
        elif ch == ">" and not quoted:
            depth = max(0, depth - 1)
        elif ch == "," and not quoted and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return [p for p in out if p]


def header_params(value: str) -> dict[str, str]:
    """The ``;name=value`` parameters after the URI part of a header value (lower-cased names)."""
    end = value.rfind(">")
    tail = value[end + 1 :] if end >= 0 else value
    params: dict[str, str] = {}
    for piece in tail.split(";")[1:]:
        name, _, val = piece.partition("=")
        if name.strip():
            params[name.strip().lower()] = val.strip().strip('"')
    return params


@dataclass(frozen=True, slots=True)
class NameAddr:
    display: str | None
    uri: str
    params: dict[str, str]


def parse_name_addr(value: str) -> NameAddr:
    """``"Alice" <sip:alice@example.com>;tag=1`` -> display name, URI, parameters."""
    value = value.strip()
    display: str | None = None
    if "<" in value:
        lt = value.index("<")
        gt = value.find(">", lt)
        if gt < 0:
            raise SipParseError("Bad name-addr")
        raw_display = value[:lt].strip()
        if raw_display.startswith('"') and raw_display.endswith('"') and len(raw_display) >= 2:
            raw_display = raw_display[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        display = raw_display or None
        uri = value[lt + 1 : gt].strip()
        params = header_params(value)
    else:
        uri, _, _ = value.partition(";")
        uri = uri.strip()
        params = header_params(">" + value[len(uri) :])
    if not uri or ":" not in uri:
        raise SipParseError("Bad URI")
    return NameAddr(display, uri, params)


def parse_message(data: bytes) -> SipMessage:
    """Parse one complete message (a datagram, or a frame cut by :func:`frame_length`)."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise SipParseError("Message Too Large")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
        if not sep:
            raise SipParseError("Missing end of headers")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise SipParseError("Headers are not UTF-8") from None
    raw_lines = text.replace("\r\n", "\n").split("\n")
    # Unfold continuation lines (RFC 3261 7.3.1).
    lines: list[str] = []
    for line in raw_lines:
        if line[:1] in (" ", "\t") and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    start = lines[0].strip()
    msg = SipMessage()
    if m := _REQUEST_LINE.match(start):
        msg.method = m.group(1).upper()
        msg.uri = m.group(2)
    elif m := _STATUS_LINE.match(start):
        msg.status = int(m.group(1))
        msg.reason = m.group(2)
    else:
        raise SipParseError("Bad Request Line")
    if len(lines) - 1 > MAX_HEADERS:
        raise SipParseError("Too Many Headers", partial=msg)
    for line in lines[1:]:
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name.strip()):
            raise SipParseError("Bad Header Syntax", partial=msg)
        msg.headers.append((name.strip(), value.strip()))
    for required in ("via", "call-id", "cseq", "from", "to"):
        if msg.get(required) is None:
            raise SipParseError(f"Missing {required.title()} Header", partial=msg)
    try:
        _, cseq_method = parse_cseq(msg.get("cseq") or "")
    except SipParseError as exc:
        raise SipParseError(exc.reason, partial=msg) from None
    if msg.method is not None and cseq_method != msg.method:
        raise SipParseError("CSeq Method Mismatch", partial=msg)
    length_header = msg.get("content-length")
    if length_header is not None:
        if not length_header.isdigit():
            raise SipParseError("Bad Content-Length", partial=msg)
        length = int(length_header)
        if length > len(body):
            raise SipParseError("Truncated Body", partial=msg)
        body = body[:length]
    msg.body = body
    return msg


def frame_length(buffer: bytes | bytearray) -> int | None:
    """Length of the first complete message in a stream buffer, None if more is needed.

    Raises :class:`SipParseError` when the stream cannot be framed (no usable
    Content-Length, oversized header block).
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_MESSAGE_BYTES:
            raise SipParseError("Message Too Large")
        return None
    head = bytes(buffer[:end]).decode("latin-1")
    length = 0
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if _canonical(name) == "content-length":
            value = value.strip()
            if not value.isdigit():
                raise SipParseError("Bad Content-Length")
            length = int(value)
    total = end + 4 + length
    if total > MAX_MESSAGE_BYTES:
        raise SipParseError("Message Too Large")
    return total if len(buffer) >= total else None


def make_response(
    request: SipMessage,
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> SipMessage:
    """A response copying Via, From, To (adding our tag), Call-ID and CSeq from ``request``."""
    resp = SipMessage(status=status, reason=reason)
    for n, v in request.headers:
        key = _canonical(n)
        if key == "via":
            resp.add("Via", v)
    resp.add("From", request.get("from") or "")
    to = request.get("to") or ""
    if to_tag and "tag" not in header_params(to) and status != 100:
        to = f"{to};tag={to_tag}"
    resp.add("To", to)
    resp.add("Call-ID", request.call_id)
    resp.add("CSeq", request.get("cseq") or "")
    for n, v in headers or []:
        resp.add(n, v)
    resp.body = body
    return resp


def new_tag() -> str:
    return secrets.token_hex(8)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(10)


@dataclass(frozen=True, slots=True)
class BodyPart:
    content_type: str
    headers: dict[str, str]
    body: bytes


def content_type_of(value: str | None) -> tuple[str, dict[str, str]]:
    """``multipart/mixed;boundary=x`` -> ("multipart/mixed", {"boundary": "x"})."""
    if not value:
        return "", {}
    main, *rest = value.split(";")
    params: dict[str, str] = {}
    for piece in rest:
        name, _, val = piece.partition("=")
        params[name.strip().lower()] = val.strip().strip('"')
    return main.strip().lower(), params


def body_parts(msg: SipMessage) -> list[BodyPart]:
    """The body as parts: one for a simple body, several for multipart/mixed."""
    ctype, params = content_type_of(msg.get("content-type"))
    if not msg.body:
        return []
    if not ctype.startswith("multipart/"):
        return [BodyPart(ctype, {}, msg.body)]
    boundary = params.get("boundary")
    if not boundary:
        raise SipParseError("Multipart Without Boundary")
    delimiter = b"--" + boundary.encode()
    pieces = msg.body.split(delimiter)
    parts: list[BodyPart] = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break
        piece = piece.removeprefix(b"\r\n").removeprefix(b"\n")
        head, sep, content = piece.partition(b"\r\n\r\n")
        if not sep:
            head, sep, content = piece.partition(b"\n\n")
        if not sep:
            # A part with no headers at all starts with the blank line.
            head, content = b"", piece
        # The line break before the next delimiter belongs to the delimiter.
        if content.endswith(b"\r\n"):
            content = content[:-2]
        elif content.endswith(b"\n"):
            content = content[:-1]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").splitlines():
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        part_type, _ = content_type_of(headers.get("content-type", "text/plain"))
        parts.append(BodyPart(part_type, headers, content))
        if len(parts) > 16:
            raise SipParseError("Too Many Body Parts")
    if not parts:
        raise SipParseError("Empty Multipart Body")
    return parts
