"""An archived e-mail as a reader sees it: a header card, the text, a safe HTML body and
the list of attachments, instead of the raw RFC 5322 source.

The message was parsed at ingest (``ingest.email``) and kept byte-exact; here it is
parsed again from the sealed original, in memory, for one reader. HTML bodies are
reduced by the ``nh3`` (ammonia) sanitiser to text, structure and links: no scripts,
styles, images, forms or frames, so nothing is ever fetched from elsewhere when a mail
is shown and the page's strict CSP has nothing to block. Attachments are numbered in
the order the parts appear, the number :func:`attachment` takes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import AddressHeader
from email.message import EmailMessage, Message
from email.parser import BytesParser
from typing import Final

import nh3

#: Elements an HTML body keeps: text structure and links, nothing that loads or runs.
SAFE_TAGS: Final = frozenset({
    "a", "p", "br", "div", "span", "ul", "ol", "li", "blockquote", "pre", "code", "hr",
    "b", "strong", "i", "em", "u", "s", "sub", "sup", "small",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
})
SAFE_URL_SCHEMES: Final = frozenset({"http", "https", "mailto"})
#: HTML longer than this is cut before sanitising (the text part stays whole).
MAX_HTML_CHARS: Final = 2_000_000
MAX_PARTS: Final = 1000
MAX_DEPTH: Final = 32


@dataclass(frozen=True, slots=True)
class Mailbox:
    name: str | None
    address: str


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    index: int
    filename: str | None
    content_type: str
    size: int


@dataclass(slots=True)
class MessageView:
    subject: str | None = None
    date: str | None = None
    sender: list[Mailbox] = field(default_factory=list)
    to: list[Mailbox] = field(default_factory=list)
    cc: list[Mailbox] = field(default_factory=list)
    reply_to: list[Mailbox] = field(default_factory=list)
    text: str | None = None
    html: str | None = None
    attachments: list[AttachmentInfo] = field(default_factory=list)


def sanitise_html(markup: str) -> str:
    """HTML reduced to text, structure and links that open elsewhere, never here."""
    return nh3.clean(
        markup[:MAX_HTML_CHARS], tags=set(SAFE_TAGS), clean_content_tags={"script", "style"},
        attributes={"a": {"href"}}, url_schemes=set(SAFE_URL_SCHEMES), strip_comments=True,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )


def _parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def _mailboxes(message: Message, name: str) -> list[Mailbox]:
    try:
        header = message[name]
    except Exception:  # a malformed header is shown as missing, not as a failure
        return []
    if not isinstance(header, AddressHeader):
        return []
    return [Mailbox(a.display_name or None, a.addr_spec) for a in header.addresses]


def _header(message: Message, name: str) -> str | None:
    try:
        value = message[name]
    except Exception:
        return None
    return str(value) if value is not None else None


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # malformed RFC 2231 parameters: listed without a name
        return None
    return name if isinstance(name, str) else None


def _leaves(part: Message, depth: int = 0) -> Iterator[tuple[Message, bool]]:
    """Each leaf part and whether it is a file (an attachment), in document order."""
    if depth > MAX_DEPTH:
        return
    if part.is_multipart():
        for child in part.get_payload():
            if isinstance(child, Message):
                yield from _leaves(child, depth + 1)
        return
    disposition = part.get_content_disposition()
    is_text = part.get_content_maintype() == "text"
    yield part, disposition == "attachment" or _filename(part) is not None or not is_text


def _files(message: Message) -> Iterator[Message]:
    for count, (part, is_file) in enumerate(_leaves(message)):
        if count >= MAX_PARTS:
            return
        if is_file:
            yield part


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return payload.decode("utf-8", errors="replace")


def message_view(raw: bytes) -> MessageView:
    """The reader's view of one message (headers, bodies, attachments)."""
    message = _parse(raw)
    view = MessageView(
        subject=_header(message, "subject"), date=_header(message, "date"),
        sender=_mailboxes(message, "from"), to=_mailboxes(message, "to"),
        cc=_mailboxes(message, "cc"), reply_to=_mailboxes(message, "reply-to"),
    )
    texts: list[str] = []
    htmls: list[str] = []
    files = 0
    for count, (part, is_file) in enumerate(_leaves(message)):
        if count >= MAX_PARTS:
            break
        if is_file:
            data = part.get_payload(decode=True)
            view.attachments.append(AttachmentInfo(
                files, _filename(part), part.get_content_type(),
                len(data) if isinstance(data, bytes) else 0))
            files += 1
        elif part.get_content_type() == "text/html":
            htmls.append(_text(part))
        else:
            texts.append(_text(part))
    view.text = "\n\n".join(texts) if texts else None
    view.html = sanitise_html("\n".join(htmls)) if htmls else None
    return view


def attachment(raw: bytes, index: int) -> tuple[AttachmentInfo, bytes] | None:
    """Attachment number ``index`` of a message and its decoded bytes, or None."""
    for n, part in enumerate(_files(_parse(raw))):
        if n == index:
            data = part.get_payload(decode=True)
            body = data if isinstance(data, bytes) else b""
            return AttachmentInfo(n, _filename(part), part.get_content_type(),
                                  len(body)), body
    return None
