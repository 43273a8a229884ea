"""Server transactions: one answer per transaction, 200 retransmitted until ACK."""

from __future__ import annotations

import asyncio
import time

import pytest

from ingest.sip import transactions
from ingest.sip.message import SipMessage, SipParseError, make_response, parse_message
from ingest.sip.transactions import ResponseCache, retransmit_until, transaction_key

BYE = (
    b"BYE sip:srs@127.0.0.1 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-7\r\n"
    b"From: <sip:src@10.0.0.1>;tag=a\r\nTo: <sip:srs@127.0.0.1>;tag=b\r\n"
    b"Call-ID: call-9\r\nCSeq: 3 BYE\r\nContent-Length: 0\r\n\r\n"
)


def test_the_transaction_key_is_call_id_branch_cseq_and_method() -> None:
    assert transaction_key(parse_message(BYE)) == ("call-9", "z9hG4bK-7", 3, "BYE")
    broken = parse_message(BYE)
    broken.set("CSeq", "three BYE")
    with pytest.raises(SipParseError):
        transaction_key(broken)


def test_a_retransmitted_request_gets_the_same_answer_bytes() -> None:
    cache = ResponseCache()
    bye = parse_message(BYE)
    key = transaction_key(bye)
    sent: list[bytes] = []
    assert not cache.replay(key, sent.append) and sent == []
    raw = cache.respond(key, sent.append, make_response(bye, 200, "OK"))
    assert sent == [raw]
    assert cache.replay(key, sent.append)
    assert sent == [raw, raw] and sent[1] is raw


def test_a_transaction_in_progress_absorbs_retransmissions_until_answered() -> None:
    cache = ResponseCache()
    bye = parse_message(BYE)
    key = transaction_key(bye)
    sent: list[bytes] = []
    cache.hold(key)
    assert cache.replay(key, sent.append) and sent == []  # known, nothing to say yet
    cache.respond(key, sent.append, make_response(bye, 500, "Server Internal Error"))
    assert cache.replay(key, sent.append) and len(sent) == 2 and b" 500 " in sent[1]


def test_transactions_are_forgotten_after_their_lifetime() -> None:
    cache = ResponseCache(ttl_s=10.0)
    bye = parse_message(BYE)
    cache.respond(transaction_key(bye), lambda raw: None, make_response(bye, 200, "OK"))
    cache.expire(time.monotonic() + 5)
    assert len(cache) == 1
    cache.expire(time.monotonic() + 11)
    assert len(cache) == 0 and not cache.replay(transaction_key(bye), lambda raw: None)


def fake_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the retransmission intervals instead of waiting them out."""
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr(transactions.asyncio, "sleep", sleep)
    return waits


def test_the_200_is_resent_at_t1_doubling_to_t2_until_timer_b(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits = fake_sleep(monkeypatch)
    sent: list[bytes] = []
    asyncio.run(retransmit_until(b"200", sent.append, done=lambda: False))
    # RFC 3261 13.3.1.4: T1, 2*T1, 4*T1, ... capped at T2, until 64*T1 (timer B) has passed.
    assert waits == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert sent == [b"200"] * len(waits)


def test_retransmission_stops_once_acked(monkeypatch: pytest.MonkeyPatch) -> None:
    waits = fake_sleep(monkeypatch)
    sent: list[bytes] = []
    asyncio.run(retransmit_until(b"200", sent.append, done=lambda: len(waits) > 3))
    assert sent == [b"200"] * 3 and waits == [0.5, 1.0, 2.0, 4.0]


def test_make_response_copies_the_transaction_headers() -> None:
    # What the cache hands back is a real answer to the request it was cached for.
    bye = parse_message(BYE)
    answer = parse_message(make_response(bye, 200, "OK").to_bytes())
    assert isinstance(answer, SipMessage) and answer.status == 200
    assert transaction_key(answer)[:3] == transaction_key(bye)[:3]
