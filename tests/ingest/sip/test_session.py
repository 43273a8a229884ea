"""One recording session and its state machine (ingest.sip.session)."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest

import keys
from ingest.errors import IngestError
from ingest.sip.config import SipConfig
from ingest.sip.media import MediaStream
from ingest.sip.message import SipMessage, SipParseError, parse_message
from ingest.sip.metadata import RecordingMetadata
from ingest.sip.rtp import StreamTimeline, build_rtp
from ingest.sip.sdp import AnswerStream, Codec
from ingest.sip.session import (
    TRANSITIONS,
    CallSession,
    CallState,
    InvalidTransition,
    RtpOutcome,
    negotiate_session_expires,
    parse_offer,
)
from ingest.sip.spool import SpoolWriter, read_spool
from ingest.sip.transport import Transport

INVITE = (
    "INVITE sip:srs@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-1\r\n"
    "From: <sip:src@10.0.0.1>;tag=src-tag\r\n"
    "To: <sip:srs@127.0.0.1>\r\n"
    "Call-ID: call-1\r\n"
    "CSeq: 1 INVITE\r\n"
    "Contact: <sip:src@10.0.0.1:5070;transport=udp>\r\n"
    "{extra}"
    "Content-Type: application/sdp\r\n"
    "Content-Length: {length}\r\n\r\n{body}"
)
SDP = (
    "v=0\r\no=src 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=label:1\r\n"
)


def invite(extra: str = "", body: str = SDP) -> SipMessage:
    raw = INVITE.format(extra=extra, length=len(body.encode()), body=body)
    return parse_message(raw.encode())


@pytest.fixture
def keyring(tmp_path: Path) -> keys.Keyring:
    return keys.Keyring.create(tmp_path / "keyring", keys.new_dek())


@pytest.fixture
def session(tmp_path: Path, keyring: keys.Keyring) -> Iterator[CallSession]:
    sent: list[bytes] = []
    call = CallSession(
        call_id="call-1",
        remote_tag="src-tag",
        local_tag="our-tag",
        invite=invite(),
        reply=sent.append,
        transport=Transport.UDP,
        remote_addr=("10.0.0.1", 5060),
        spool=SpoolWriter(tmp_path / "spool", keyring),
        metadata=RecordingMetadata(),
        metadata_xml=None,
    )
    yield call
    call.spool.release()


def stream(index: int = 0, label: str = "1") -> MediaStream:
    payloads = {0: Codec.PCMU, 101: Codec.TELEPHONE_EVENT}
    return MediaStream(index, label, 20000, payloads, StreamTimeline(payloads))


# -- the state machine ------------------------------------------------------------------


def test_a_session_answered_then_ended_walks_pending_confirmed_ending_done(
    session: CallSession,
) -> None:
    assert session.state is CallState.PENDING and session.state.live and session.cancellable
    session.confirm()
    assert session.state is CallState.CONFIRMED and session.state.live
    assert not session.cancellable  # answered: a CANCEL no longer ends it
    assert session.start_ending()
    assert session.state is CallState.ENDING and not session.state.live
    session.close()
    assert session.state is CallState.DONE


def test_ending_happens_once_even_when_bye_and_a_timeout_race(session: CallSession) -> None:
    session.confirm()
    assert session.start_ending()
    assert not session.start_ending()  # the second ender backs off
    session.close()
    assert not session.start_ending()
    assert session.state is CallState.DONE


def test_a_bye_before_the_answer_ends_a_pending_session(session: CallSession) -> None:
    assert session.start_ending() and session.state is CallState.ENDING


def test_close_is_repeatable_but_a_closed_session_cannot_be_answered(
    session: CallSession,
) -> None:
    session.close()
    session.close()
    assert session.state is CallState.DONE
    with pytest.raises(InvalidTransition) as caught:
        session.confirm()
    assert (caught.value.current, caught.value.wanted) == (CallState.DONE, CallState.CONFIRMED)
    assert isinstance(caught.value, IngestError)


def test_an_ending_session_cannot_go_back_to_recording(session: CallSession) -> None:
    session.confirm()
    session.start_ending()
    with pytest.raises(InvalidTransition):
        session.confirm()
    assert session.state is CallState.ENDING


def test_the_transition_table_only_moves_forward() -> None:
    order = list(CallState)
    assert set(TRANSITIONS) == set(CallState)
    for current, targets in TRANSITIONS.items():
        assert all(order.index(t) > order.index(current) for t in targets)
    assert TRANSITIONS[CallState.DONE] == frozenset()
    assert [s for s in CallState if s.live] == [CallState.PENDING, CallState.CONFIRMED]


def test_invalid_transition_survives_pickling() -> None:
    exc = InvalidTransition("c-1", CallState.ENDING, CallState.CONFIRMED)
    again = pickle.loads(pickle.dumps(exc))
    assert (again.call_id, again.current, again.wanted) == ("c-1", "ending", "confirmed")
    assert str(again) == str(exc)


def test_only_the_latest_unacked_200_of_a_confirmed_session_is_retransmitted(
    session: CallSession,
) -> None:
    raw = b"SIP/2.0 200 OK\r\n\r\n"
    session.ok_response, session.ok_acked = raw, False
    assert not session.awaits_ack(raw)  # not confirmed yet
    session.confirm()
    assert session.awaits_ack(raw)
    newer = b"SIP/2.0 200 OK\r\nCSeq: 2 INVITE\r\n\r\n"  # a re-INVITE's answer replaced it
    session.ok_response = newer
    assert not session.awaits_ack(raw) and session.awaits_ack(newer)
    raw = newer
    session.ok_acked = True
    assert not session.awaits_ack(raw)
    session.ok_acked = False
    session.start_ending()
    assert not session.awaits_ack(raw)


# -- RTP --------------------------------------------------------------------------------


def test_rtp_is_stored_while_live_and_dropped_once_ending(
    session: CallSession, keyring: keys.Keyring
) -> None:
    st = stream()
    session.streams.append(st)
    assert session.receive_rtp(st, build_rtp(0, 1, 160, 7, b"\xff" * 160)) is RtpOutcome.STORED
    assert session.first_rtp is not None and session.media_started_at is not None
    assert session.receive_rtp(st, build_rtp(0, 1, 160, 7, b"\xff" * 160)) is RtpOutcome.SKIPPED
    assert session.receive_rtp(st, build_rtp(101, 2, 320, 7, b"\x01\x00")) is RtpOutcome.SKIPPED
    assert session.receive_rtp(st, b"\x00" * 20) is RtpOutcome.DROPPED  # not RTP
    session.start_ending()
    assert session.receive_rtp(st, build_rtp(0, 3, 480, 7, b"\xff" * 160)) is RtpOutcome.DROPPED
    session.spool.flush()
    contents = read_spool(session.spool.path, keyring)
    assert contents.info["media_started_at"] is not None and len(contents.audio[0]) == 320


def test_rtp_on_a_closed_stream_is_dropped(session: CallSession) -> None:
    st = stream()
    st.active = False
    assert session.receive_rtp(st, build_rtp(0, 1, 160, 7, b"\xff" * 160)) is RtpOutcome.DROPPED


def test_a_session_is_on_hold_when_no_active_stream_sends(session: CallSession) -> None:
    assert session.on_hold  # no streams yet
    held, sending = stream(0, "1"), stream(1, "2")
    held.sending = False
    session.streams.extend([held, sending])
    assert not session.on_hold
    sending.active = False
    assert session.on_hold


# -- what it says -----------------------------------------------------------------------


def test_info_names_transport_streams_and_codecs(session: CallSession) -> None:
    session.streams.append(stream())
    info = session.info()
    assert info["transport"] == "udp" and info["call_id"] == "call-1"
    assert info["streams"] == [{"index": 0, "label": "1", "codecs": ["PCMU", "telephone-event"],
                                "srtp": None}]


def test_ok_headers_over_tcp_carry_the_transport_and_the_session_timer(
    session: CallSession,
) -> None:
    plain = dict(session.ok_headers(contact_host="192.0.2.1", port=5060))
    assert plain["Contact"] == "<sip:srs@192.0.2.1:5060>;+sip.srs"
    assert "Session-Expires" not in plain
    session.transport = Transport.TCP
    session.session_expires_s = 600
    timed = dict(session.ok_headers(contact_host="192.0.2.1", port=5061))
    assert timed["Contact"] == "<sip:srs@192.0.2.1:5061;transport=tcp>;+sip.srs"
    assert timed["Session-Expires"] == "600;refresher=uac" and timed["Require"] == "timer"


def test_our_bye_goes_to_the_contact_with_from_and_to_swapped(session: CallSession) -> None:
    first = session.bye_request(contact_host="192.0.2.1", port=5060)
    assert first.method == "BYE" and first.uri == "sip:src@10.0.0.1:5070;transport=udp"
    assert first.get("from") == "<sip:srs@127.0.0.1>;tag=our-tag"
    assert first.get("to") == "<sip:src@10.0.0.1>;tag=src-tag"
    assert first.get("cseq") == "2 BYE" and first.get("call-id") == "call-1"
    assert (first.get("via") or "").startswith("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK")
    second = session.bye_request(contact_host="192.0.2.1", port=5060)
    assert second.get("cseq") == "3 BYE"


def test_without_a_contact_our_bye_goes_to_where_the_invite_came_from(
    session: CallSession,
) -> None:
    session.invite.headers = [(n, v) for n, v in session.invite.headers if n != "Contact"]
    assert session.bye_request(contact_host="h", port=1).uri == "sip:10.0.0.1:5060"


def test_new_answer_versions_the_sdp(session: CallSession) -> None:
    sdp, _, _ = parse_offer(invite())
    assert sdp is not None
    first = session.new_answer(sdp, [AnswerStream(20000, {0: Codec.PCMU})], address="192.0.2.1")
    second = session.new_answer(sdp, [AnswerStream(20000, {0: Codec.PCMU})], address="192.0.2.1")
    assert session.sdp_version == 2 and session.last_answer == second and first != second


# -- offers and session timers ----------------------------------------------------------


def test_parse_offer_turns_bad_sdp_into_a_400_reason() -> None:
    sdp, meta, xml = parse_offer(invite())
    assert sdp is not None and meta is None and xml is None
    with pytest.raises(SipParseError, match=r"^Malformed SDP"):
        parse_offer(invite(body="v=0\r\nm=audio x\r\n"))


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ("", None),  # no timer asked for
        ("Supported: timer\r\n", 1800),  # our default
        ("Session-Expires: 600;refresher=uac\r\n", 600),
        ("Session-Expires: 99999\r\n", 1800),  # capped at ours
    ],
)
def test_session_interval_is_negotiated(extra: str, expected: int | None) -> None:
    assert negotiate_session_expires(invite(extra), SipConfig()) == expected


def test_a_too_small_or_bad_session_interval_is_answered() -> None:
    small = negotiate_session_expires(invite("Session-Expires: 30\r\n"), SipConfig())
    assert isinstance(small, SipMessage) and small.status == 422
    assert small.get("min-se") == "90"
    bad = negotiate_session_expires(invite("Session-Expires: soon\r\n"), SipConfig())
    assert isinstance(bad, SipMessage) and bad.status == 400
