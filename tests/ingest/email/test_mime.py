"""ingest.email.mime and .item: real MIME parsing, strict addresses, limits, never losing bytes."""

from __future__ import annotations

import socket
import time
import weakref
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.policy import SMTPUTF8
from typing import Any

import pytest

from archive.model import AddressKind, Channel, Direction, ItemStatus, NewItem, PartyRole, Side
from archive.parties import domain_matcher
from ingest.email import mime, parts
from ingest.email.item import Envelope, build_item
from ingest.email.mime import parse_message, parse_with_timeout
from ingest.email.parsed import DEFAULT_LIMITS, MimeLimits, ParsedMessage, UnparsedReason

IS_INTERNAL = domain_matcher(["example.com"])
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def envelope(mail_from: str = "jan@customer.nl", *rcpts: str) -> Envelope:
    return Envelope(mail_from, rcpts or ("support@example.com",), NOW)


def build(raw: bytes, env: Envelope | None = None, **limits: Any) -> NewItem:
    return build_item(
        raw, env or envelope(), is_internal=IS_INTERNAL, limits=MimeLimits(**limits)
    )


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


SIMPLE = crlf(
    "From: Jan Jansen <Jan@Customer.NL>\n"
    "To: Support <support@example.com>, sales@example.com\n"
    "Cc: =?utf-8?q?Z=C3=BCrich_Office?= <zurich@example.com>\n"
    "Reply-To: jan.private@mail.nl\n"
    "Subject: =?utf-8?b?RmFjdHV1ciBjYWbDqQ==?=\n"
    "Date: Mon, 2 Mar 2026 10:59:00 +0100\n"
    "Message-ID: <m1@customer.nl>\n"
    "\n"
    "My invoice 2026-17 is wrong.\n"
)


def roles(item: NewItem) -> set[tuple[str, str, str]]:
    return {(p.role.value, p.address, p.side.value) for p in item.parties}


def section_text(item: NewItem, kind: str) -> str:
    return "\n".join(s.text for s in item.sections if s.kind == kind)


def test_simple_message_becomes_an_item_with_parties_sections_and_details() -> None:
    item = build(SIMPLE, envelope("jan@customer.nl", "support@example.com", "audit@example.com"))

    assert item.channel is Channel.EMAIL and item.content_type == "message/rfc822"
    assert item.original == SIMPLE
    assert item.status is ItemStatus.OK and item.status_reason is None
    assert item.direction is Direction.INBOUND
    assert roles(item) == {
        ("envelope_from", "jan@customer.nl", "customer"),
        ("envelope_to", "support@example.com", "agent"),
        ("envelope_to", "audit@example.com", "agent"),
        ("from", "jan@customer.nl", "customer"),
        ("to", "support@example.com", "agent"),
        ("to", "sales@example.com", "agent"),
        ("cc", "zurich@example.com", "agent"),
        ("reply_to", "jan.private@mail.nl", "customer"),
    }
    assert all(p.kind is AddressKind.EMAIL for p in item.parties)
    names = {p.address: p.name for p in item.parties if p.name}
    assert names == {"jan@customer.nl": "Jan Jansen", "support@example.com": "Support",
                     "zurich@example.com": "Zürich Office"}
    assert section_text(item, "subject") == "Factuur café"
    assert "invoice 2026-17" in section_text(item, "body")
    assert "Zürich Office" in section_text(item, "parties")
    assert item.details["subject"] == "Factuur café"
    assert item.details["message_id"] == "m1@customer.nl"
    assert item.details["date"] == "2026-03-02T09:59:00+00:00"
    assert item.started_at == datetime(2026, 3, 2, 9, 59, tzinfo=UTC)
    assert item.details["envelope"]["rcpt_to"] == ["support@example.com", "audit@example.com"]
    assert ["Message-ID", "<m1@customer.nl>"] in item.details["headers"]
    assert item.dedupe_key is not None and item.dedupe_key.endswith(":" + item.details["sha256"])
    assert "m1@customer.nl" not in item.dedupe_key  # the catalog gets a hash, not the id
    assert item.thread_key is not None and "customer.nl" not in item.thread_key


def test_same_bytes_same_dedupe_key_and_different_content_different_key() -> None:
    a = build(SIMPLE)
    b = build(SIMPLE, envelope("jan@customer.nl", "other@example.com"))
    c = build(SIMPLE.replace(b"wrong", b"right"))
    assert a.dedupe_key == b.dedupe_key
    assert a.dedupe_key != c.dedupe_key
    no_id = build(SIMPLE.replace(b"Message-ID: <m1@customer.nl>\r\n", b""))
    assert no_id.dedupe_key == f"email-sha256:{no_id.details['sha256']}"


def test_bcc_recipients_are_kept_from_the_envelope() -> None:
    item = build(SIMPLE, envelope("jan@customer.nl", "support@example.com", "Hidden@Example.com"))
    assert ("envelope_to", "hidden@example.com", "agent") in roles(item)
    assert "hidden@example.com" in section_text(item, "parties")


def test_bcc_header_and_null_sender_are_handled() -> None:
    raw = crlf("From: a@example.com\nBcc: secret@customer.nl\nSubject: x\n\nbody\n")
    item = build(raw, envelope("", "secret@customer.nl"))
    assert ("bcc", "secret@customer.nl", "customer") in roles(item)
    assert not [p for p in item.parties if p.role is PartyRole.ENVELOPE_FROM]
    assert item.direction is Direction.OUTBOUND


@pytest.mark.parametrize(
    ("sender", "rcpts", "expected"),
    [
        ("agent@example.com", ("jan@customer.nl",), Direction.OUTBOUND),
        ("agent@example.com", ("boss@sub.example.com",), Direction.INTERNAL),
        ("jan@customer.nl", ("agent@example.com",), Direction.INBOUND),
        ("jan@customer.nl", ("piet@other.nl",), Direction.UNKNOWN),
    ],
)
def test_direction_from_internal_domains(
    sender: str, rcpts: tuple[str, ...], expected: Direction
) -> None:
    raw = crlf(f"From: {sender}\nTo: {', '.join(rcpts)}\nSubject: d\n\nx\n")
    assert build(raw, envelope(sender, *rcpts)).direction is expected


@pytest.mark.parametrize(
    "value",
    [
        "alice@example.org)<bob@example.org>",  # CVE-2023-27043 shape
        "alice@example.com@evil.com",  # CVE-2019-16056 shape
        "just-a-name",
        "<>",
    ],
)
def test_strict_addresses_reject_the_whole_header_but_keep_its_text(value: str) -> None:
    raw = crlf(f"From: jan@customer.nl\nTo: {value}\nSubject: s\n\nbody\n")
    item = build(raw, envelope("jan@customer.nl", "support@example.com"))
    assert not [p for p in item.parties if p.role is PartyRole.TO]
    assert item.details["address_errors"] == ["to"]
    assert item.status is ItemStatus.OK
    assert value.strip("<>") in section_text(item, "parties") or value == "<>"


def test_quoted_at_in_display_name_is_not_an_address() -> None:
    raw = crlf('From: "alice@example.com" <bob@evil.com>\nSubject: s\n\nx\n')
    froms = [p for p in build(raw).parties if p.role is PartyRole.FROM]
    assert [(p.address, p.name) for p in froms] == [("bob@evil.com", "alice@example.com")]


def test_smtputf8_headers_and_addresses_are_read_as_utf8() -> None:
    msg = EmailMessage(policy=SMTPUTF8)
    msg["From"] = "Jösé Müller <jösé@exämple.nl>"
    msg["To"] = "support@example.com"
    msg["Subject"] = "Grüße aus Köln ✓"
    msg.set_content("Straße und Ärger — 8-bit body ✓", cte="8bit")
    raw = msg.as_bytes()
    assert b"\xc3" in raw.split(b"\n\n")[0]  # raw UTF-8 in the headers
    item = build(raw, Envelope("jösé@exämple.nl", ("support@example.com",), NOW, smtputf8=True))
    assert ("from", "jösé@exämple.nl", "customer") in roles(item)
    assert ("envelope_from", "jösé@exämple.nl", "customer") in roles(item)
    assert {p.name for p in item.parties if p.role is PartyRole.FROM} == {"Jösé Müller"}
    assert section_text(item, "subject") == "Grüße aus Köln ✓"
    assert "Straße und Ärger" in section_text(item, "body")
    assert item.details["envelope"]["smtputf8"] is True


@pytest.mark.parametrize(
    ("charset", "text"),
    [("iso-8859-1", "café crème"), ("koi8-r", "Привет мир"), ("shift_jis", "請求書"),
     ("windows-1252", "€ price"), ("utf-16", "ütf sixteen")],
)
def test_any_charset_body_and_encoded_word_subject(charset: str, text: str) -> None:
    msg = EmailMessage(policy=SMTP_POLICY)
    msg["From"] = "jan@customer.nl"
    msg["Subject"] = text
    msg.set_content(text, charset=charset)
    item = build(msg.as_bytes())
    assert section_text(item, "subject") == text
    assert text in section_text(item, "body")


def test_unknown_charset_and_8bit_without_charset_do_not_fail() -> None:
    raw = crlf("From: jan@customer.nl\nContent-Type: text/plain; charset=x-klingon\n\n") + (
        "unknown charset café\r\n".encode()
    )
    item = build(raw)
    assert item.status is ItemStatus.OK
    assert "unknown charset café" in section_text(item, "body")
    raw8 = b"From: jan@customer.nl\r\nSubject: s\r\n\r\nraw 8-bit \xc3\xa9t\xc3\xa9 \xff\r\n"
    assert "raw 8-bit été" in section_text(build(raw8), "body")


HTML_ONLY = crlf(
    "From: shop@customer.nl\nTo: support@example.com\nSubject: html\n"
    "Content-Type: text/html; charset=utf-8\n\n"
    "<html><head><title>T</title><style>p{color:red}</style>"
    "<script>track()</script></head><body><p>Dear&nbsp;agent,</p>"
    "<img src=\"http://tracker.invalid/pixel.gif\" alt=\"logo\">"
    "<ul><li>one</li><li>two &amp; three</li></ul></body></html>\n"
)


def test_html_is_reduced_to_text_without_fetching_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the parser tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    body = section_text(build(HTML_ONLY), "body")
    assert "Dear agent," in body and "two & three" in body and "logo" in body
    assert "track" not in body and "color" not in body and "tracker.invalid" not in body


NESTED = crlf(
    "From: jan@customer.nl\nTo: support@example.com\nSubject: nested\n"
    "Message-ID: <n1@customer.nl>\n"
    "Content-Type: multipart/mixed; boundary=outer\n\n"
    "--outer\n"
    "Content-Type: multipart/alternative; boundary=alt\n\n"
    "--alt\nContent-Type: text/plain; charset=utf-8\n\nplain version wins\n"
    "--alt\nContent-Type: multipart/related; boundary=rel\n\n"
    "--rel\nContent-Type: text/html\n\n<p>html version</p>\n"
    "--rel\nContent-Type: image/png\nContent-ID: <logo>\n\nPNGDATA\n"
    "--rel--\n"
    "--alt--\n"
    "--outer\n"
    "Content-Type: text/csv; charset=utf-8\n"
    "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.csv\n\n"
    "name,amount\nzebrafish,12\n"
    "--outer\n"
    "Content-Type: application/pdf; name=contract.pdf\n"
    "Content-Disposition: attachment; filename=contract.pdf\n"
    "Content-Transfer-Encoding: base64\n\n"
    "JVBERi0xLjQKc2VjcmV0cGRm\n"
    "--outer\n"
    "Content-Type: message/rfc822\n\n"
    "From: old@customer.nl\nSubject: forwarded\n\nforwarded body okapi\n"
    "--outer--\n"
)


def test_nested_multiparts_attachments_and_forwarded_messages() -> None:
    item = build(NESTED)
    assert item.status is ItemStatus.OK
    body = section_text(item, "body")
    assert "plain version wins" in body and "html version" not in body
    attachments = {a["name"]: a for a in item.details["attachments"]}
    assert set(attachments) == {"résumé.csv", "contract.pdf", None}
    pdf = attachments["contract.pdf"]
    assert pdf["type"] == "application/pdf" and pdf["size"] == len(b"%PDF-1.4\nsecretpdf")
    import hashlib

    assert pdf["sha256"] == hashlib.sha256(b"%PDF-1.4\nsecretpdf").hexdigest()
    assert attachments[None]["type"] == "message/rfc822"
    texts = section_text(item, "attachment")
    assert "résumé.csv" in texts and "zebrafish,12" in texts  # text/* attachment indexed
    assert "contract.pdf" in texts and "secretpdf" not in texts  # binary: only its name
    assert "forwarded body okapi" in texts
    assert "okapi" not in body


def test_threads_link_through_references_and_in_reply_to() -> None:
    root = build(crlf("From: a@customer.nl\nMessage-ID: <root@x>\nSubject: q\n\nq\n"))
    reply = build(crlf(
        "From: s@example.com\nMessage-ID: <r1@example.com>\nIn-Reply-To: <root@x>\n"
        "References: <root@x>\nSubject: Re: q\n\na\n"
    ))
    reply2 = build(crlf(
        "From: a@customer.nl\nMessage-ID: <r2@x>\nIn-Reply-To: <r1@example.com>\n"
        "References: <root@x>\n <r1@example.com>\nSubject: Re: q\n\nb\n"
    ))
    only_irt = build(crlf("From: a@customer.nl\nIn-Reply-To: <root@x>\nSubject: Re\n\nc\n"))
    other = build(crlf("From: a@customer.nl\nMessage-ID: <other@x>\nSubject: n\n\nd\n"))
    assert root.thread_key == reply.thread_key == reply2.thread_key == only_irt.thread_key
    assert other.thread_key != root.thread_key
    assert reply2.details["references"] == ["root@x", "r1@example.com"]
    assert reply2.details["in_reply_to"] == "r1@example.com"


def test_untrusted_date_falls_back_to_arrival_time() -> None:
    raw = crlf("From: a@customer.nl\nDate: Thu, 1 Jan 1970 00:00:00 +0000\nSubject: s\n\nx\n")
    item = build(raw)
    assert item.started_at == NOW
    assert item.details["date"] == "1970-01-01T00:00:00+00:00"
    garbage = build(crlf("From: a@customer.nl\nDate: not a date at all\n\nx\n"))
    assert garbage.started_at == NOW and garbage.details["date"] is None


def test_control_characters_never_reach_party_fields() -> None:
    raw = b"From: =?utf-8?q?Evil=00Name=0A?= <evil@customer.nl>\r\nSubject: a\x00b\r\n\r\nx\r\n"
    item = build(raw)
    for party in item.parties:
        assert not any(ord(c) < 32 for c in (party.name or "") + party.address)
    assert "\x00" not in item.details["subject"]


# ------------------------------------------------------------------ unparsed, never dropped


def assert_unparsed(item: NewItem, raw: bytes, reason: UnparsedReason) -> None:
    assert item.status is ItemStatus.UNPARSED
    assert item.status_reason is not None and item.status_reason.startswith(reason.value)
    assert item.original == raw  # byte-exact, to be sealed and stored
    assert item.dedupe_key == f"email-sha256:{item.details['sha256']}"
    assert ("envelope_to", "support@example.com", "agent") in roles(item)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", UnparsedReason.EMPTY),
        (b"\r\n\r\n", UnparsedReason.EMPTY),
        (b"\x00\x01\xff\xfe binary garbage\r\nmore\r\n", UnparsedReason.NO_HEADERS),
        (b"this is not a header line\r\n\r\nbody\r\n", UnparsedReason.NO_HEADERS),
        (b"".join(b"X-H%d: v\r\n" % i for i in range(1001)) + b"\r\nb\r\n",
         UnparsedReason.TOO_MANY_HEADERS),
        (b"Subject: " + b"a" * 70_000 + b"\r\n\r\nb\r\n", UnparsedReason.HEADER_TOO_LONG),
        (b"Subject: x\r\n" + b" folded\r\n" * 10_000 + b"\r\nb\r\n",
         UnparsedReason.HEADER_TOO_LONG),
    ],
)
def test_prescan_rejections_are_stored_unparsed(raw: bytes, reason: UnparsedReason) -> None:
    assert_unparsed(build(raw), raw, reason)


def nested(depth: int) -> bytes:
    raw = b"From: a@customer.nl\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    for i in range(1, depth):
        raw += b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i - 1, i)
    return raw + b"--b%d\r\nContent-Type: text/plain\r\n\r\ndeep\r\n" % (depth - 1)


def test_nesting_depth_and_part_count_limits() -> None:
    assert build(nested(10)).status is ItemStatus.OK
    deep = nested(40)
    item = build(deep)
    assert_unparsed(item, deep, UnparsedReason.TOO_DEEP)
    # headers were read before the limit hit: the sender is still a party
    assert ("from", "a@customer.nl", "customer") in roles(item)
    very_deep = nested(3000)  # the stdlib parser itself gives up (RecursionError)
    assert build(very_deep).status is ItemStatus.UNPARSED

    many = b"From: a@customer.nl\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n"
    many += b"--z\r\nContent-Type: text/plain\r\n\r\np\r\n" * 50 + b"--z--\r\n"
    assert_unparsed(build(many, max_parts=20), many, UnparsedReason.TOO_MANY_PARTS)


def test_index_text_is_capped_not_the_stored_message() -> None:
    raw = b"From: a@customer.nl\r\nSubject: big\r\n\r\n" + b"word " * 100_000 + b"\r\n"
    item = build(raw, max_index_chars=1000)
    assert item.status is ItemStatus.OK
    assert sum(len(s.text) for s in item.sections if s.kind == "body") <= 1000
    assert item.details["text_truncated"] is True
    assert item.original == raw


def test_parse_timeout_stores_unparsed_and_stops_the_parse_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = mime.parse_message

    def endless(raw: bytes, limits: MimeLimits = DEFAULT_LIMITS) -> ParsedMessage:
        while True:  # a pure-Python parser loop gone wrong (bpo-37461 style)
            time.sleep(0.001)

    monkeypatch.setattr(mime, "parse_message", endless)
    started = time.monotonic()
    item = build(SIMPLE, parse_timeout_s=0.3)
    assert time.monotonic() - started < 2.0
    assert_unparsed(item, SIMPLE, UnparsedReason.PARSE_TIMEOUT)
    deadline = time.monotonic() + 5
    while mime.runaway_parse_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mime.runaway_parse_threads() == 0
    monkeypatch.setattr(mime, "parse_message", real)
    assert parse_with_timeout(SIMPLE, MimeLimits(parse_timeout_s=5)).status is ItemStatus.OK


class _Garbage:
    pass


def test_an_overrun_parse_is_stopped_even_when_the_first_abort_lands_in_a_finalizer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a parse that, when its time is up, is running a weakref callback (as the
    # garbage collector runs them in whichever thread allocates): an exception raised
    # there is swallowed as "unraisable", so a single abort is lost
    def callback_then_loop(raw: bytes, limits: MimeLimits) -> ParsedMessage:
        def slow_callback(_ref: object) -> None:
            until = time.monotonic() + 0.5
            while time.monotonic() < until:
                pass

        victim = _Garbage()
        ref = weakref.ref(victim, slow_callback)
        del victim  # the callback runs now, in this thread, past the 0.2 s limit
        assert ref() is None
        while True:
            time.sleep(0.001)

    monkeypatch.setattr(mime, "parse_message", callback_then_loop)
    # WHEN the parse overruns
    parsed = parse_with_timeout(SIMPLE, MimeLimits(parse_timeout_s=0.2))
    # THEN it is reported as a timeout, the thread is stopped by a later abort, and the
    # swallowed one is not reported as an error (pytest turns unraisable ones into failures)
    assert parsed.status is ItemStatus.UNPARSED and parsed.reason is UnparsedReason.PARSE_TIMEOUT
    deadline = time.monotonic() + 2
    while mime.runaway_parse_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mime.runaway_parse_threads() == 0


def test_pathological_headers_finish_within_the_time_limit() -> None:
    # Quadratic corners of email._header_value_parser (gh-136063 class).
    raw = (b"From: a@customer.nl\r\nContent-Type: text/plain; " + b"(a)" * 20_000
           + b"\r\nTo: " + b'"' * 60_000 + b"\r\n\r\nbody\r\n")
    started = time.monotonic()
    item = build(raw, parse_timeout_s=1.0)
    assert time.monotonic() - started < 3.0
    assert item.original == raw
    assert item.status in (ItemStatus.OK, ItemStatus.UNPARSED)


def test_parse_message_reports_exception_type_only() -> None:
    parsed = parse_message(SIMPLE)
    assert parsed.status is ItemStatus.OK and parsed.parse_seconds >= 0
    assert parsed.thread_root == "m1@customer.nl"


def test_unparsed_reason_codes_carry_no_content(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(msg: object, parsed: object) -> None:
        raise ValueError("Subject: top secret merger")

    monkeypatch.setattr(mime, "_read_headers", boom)
    item = build(SIMPLE)
    assert item.status is ItemStatus.UNPARSED
    assert item.status_reason == "parse_error:ValueError"


def test_received_at_is_utc_and_party_sides() -> None:
    env = Envelope("x@customer.nl", ("y@example.com",), NOW + timedelta(hours=1))
    item = build(crlf("From: x@customer.nl\n\nb\n"), env)
    assert item.details["envelope"]["received_at"] == "2026-03-02T11:00:00+00:00"
    assert {p.side for p in item.parties} == {Side.CUSTOMER, Side.AGENT}


def test_a_part_that_fails_to_decode_does_not_cost_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = parts._decode_part_text

    def flaky(part: Any, limits: MimeLimits, payload: object = None) -> str | None:
        if part.get_content_subtype() == "csv":
            raise LookupError("hostile charset")
        return real(part, limits, payload)

    monkeypatch.setattr(parts, "_decode_part_text", flaky)
    item = build(NESTED)
    assert item.status is ItemStatus.OK
    assert item.details["part_errors"] == ["LookupError"]
    assert "plain version wins" in section_text(item, "body")
    assert "forwarded body okapi" in section_text(item, "attachment")


def test_envelope_addresses_without_a_domain_stay_searchable() -> None:
    item = build(SIMPLE, envelope("jan@customer.nl", "support@example.com", "postmaster"))
    assert "postmaster" not in {p.address for p in item.parties}
    assert "postmaster" in section_text(item, "parties")
    assert item.details["envelope"]["rcpt_to"] == ["support@example.com", "postmaster"]


def test_slow_pure_python_codecs_are_not_used_for_bodies() -> None:
    raw = (b"From: a@customer.nl\r\nContent-Type: text/plain; charset=punycode\r\n\r\n"
           + b"abc-" + b"9" * 200_000 + b"\r\n")
    started = time.monotonic()
    item = build(raw)
    assert time.monotonic() - started < 2.0
    assert item.status is ItemStatus.OK
