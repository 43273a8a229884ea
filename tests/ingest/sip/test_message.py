"""SIP message parsing and serialising (ingest.sip.message)."""

from __future__ import annotations

import pytest

from ingest.sip.message import (
    SipParseError,
    body_parts,
    frame_length,
    make_response,
    parse_message,
    parse_name_addr,
    split_commas,
)

BODY = (
    b"--b1\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n"
    b"--b1\r\nContent-Type: application/rs-metadata+xml\r\n\r\n<x/>\r\n--b1--\r\n"
)
INVITE = (
    b"INVITE sip:srs@example.com SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK0\r\n"
    b'f: "Doe, John" <sip:src@example.com>;tag=abc\r\n'
    b"t: <sip:srs@example.com>\r\n"
    b"i: call-1\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Subject: folded\r\n continuation\r\n"
    b'c: multipart/mixed;boundary="b1"\r\n'
    b"l: %d\r\n\r\n" % len(BODY)
) + BODY


def test_compact_headers_folding_and_multipart_body() -> None:
    msg = parse_message(INVITE)
    assert msg.method == "INVITE" and msg.call_id == "call-1" and msg.cseq == (7, "INVITE")
    assert msg.branch == "z9hG4bK1"
    assert msg.get("subject") == "folded continuation"
    parts = body_parts(msg)
    assert [p.content_type for p in parts] == ["application/sdp", "application/rs-metadata+xml"]
    assert parts[0].body == b"v=0\r\n" and parts[1].body == b"<x/>"


def test_response_copies_transaction_headers_and_adds_our_tag() -> None:
    msg = parse_message(INVITE)
    raw = make_response(msg, 200, "OK", to_tag="srs1", body=b"v=0\r\n").to_bytes()
    resp = parse_message(raw)
    assert resp.status == 200 and resp.get("to") == "<sip:srs@example.com>;tag=srs1"
    assert resp.get("via") == msg.get("via") and resp.get("content-length") == "5"


def test_name_addr_with_quoted_comma_and_params() -> None:
    addr = parse_name_addr('"Doe, John" <sip:src@example.com;transport=tcp>;tag=abc')
    assert (addr.display, addr.uri, addr.params["tag"]) == (
        "Doe, John",
        "sip:src@example.com;transport=tcp",
        "abc",
    )
    assert split_commas('"a, b" <sip:x>, <sip:y>') == ['"a, b" <sip:x>', "<sip:y>"]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"HELLO\r\n\r\n", "Bad Request Line"),
        (b"\xff\xfe INVITE", "Missing end of headers"),
        (INVITE.replace(b"i: call-1\r\n", b""), "Missing Call-Id Header"),
        (INVITE.replace(b"l: %d" % len(BODY), b"l: 999"), "Truncated Body"),
        (INVITE.replace(b"l: %d" % len(BODY), b"l: -1"), "Bad Content-Length"),
        (INVITE.replace(b"CSeq: 7 INVITE", b"CSeq: 7 ACK"), "CSeq Method Mismatch"),
        (INVITE.replace(b"Subject", b"Sub ject"), "Bad Header Syntax"),
        (b"INVITE sip:x SIP/2.0\r\n" + b"X: " + b"a" * 70000 + b"\r\n\r\n", "Message Too Large"),
    ],
)
def test_malformed_messages_raise_with_a_reason_phrase(raw: bytes, reason: str) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(raw)
    assert info.value.reason == reason


def test_stream_framing_by_content_length() -> None:
    assert frame_length(INVITE[:50]) is None
    assert frame_length(INVITE + b"INVITE next") == len(INVITE)
    with pytest.raises(SipParseError):
        frame_length(b"INVITE x SIP/2.0\r\nContent-Length: abc\r\n\r\n")
