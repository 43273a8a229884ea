"""SDP offers/answers and RFC 7865 metadata (ingest.sip.sdp, ingest.sip.metadata)."""

from __future__ import annotations

import pytest

from ingest.sip.metadata import MetadataError, parse_metadata
from ingest.sip.sdp import AnswerStream, Codec, build_answer, parse_sdp
from tests.ingest.sip.client import JAN_AND_AGENT, metadata_xml

OFFER = (
    b"v=0\r\no=src 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 0 96 101\r\na=rtpmap:96 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\n"
    b"a=label:10\r\na=sendonly\r\n"
    b"m=audio 4002 RTP/AVP 18\r\na=label:11\r\n"
    b"m=video 4004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
)


def test_offer_streams_labels_and_recordable_payloads() -> None:
    sdp = parse_sdp(OFFER)
    first, g729, video = sdp.media
    assert first.label == "10" and first.direction == "sendonly"
    assert first.accepted_payloads() == {0: Codec.PCMU, 96: Codec.PCMA, 101: Codec.TELEPHONE_EVENT}
    assert first.recordable and not g729.recordable and not video.recordable


def test_answer_keeps_every_m_line_in_order_recvonly_or_declined() -> None:
    sdp = parse_sdp(OFFER)
    answers = [
        AnswerStream(20000, sdp.media[0].accepted_payloads()),
        AnswerStream(0, {}),
        AnswerStream(0, {}),
    ]
    text = build_answer(sdp, answers, address="127.0.0.1", session_id=1, version=1).decode()
    lines = [line for line in text.splitlines() if line.startswith("m=")]
    assert lines == [
        "m=audio 20000 RTP/AVP 0 96 101",
        "m=audio 0 RTP/AVP 18",
        "m=video 0 RTP/AVP 96",
    ]
    assert "a=recvonly" in text and "a=label:10" in text and "a=rtpmap:96 PCMA/8000" in text


def test_metadata_maps_streams_to_participants() -> None:
    meta = parse_metadata(metadata_xml("sess-1", JAN_AND_AGENT).encode())
    assert meta.session_ids == ["sess-1"] and meta.group_id == "grp-1"
    jan = meta.participant_for_label("1")
    agent = meta.participant_for_label("2")
    assert jan is not None and (jan.aor, jan.name) == (
        "sip:+31201234567@carrier.example.net",
        "Jan Jansen",
    )
    assert agent is not None and agent.name == "Agent Seven"
    assert meta.participant_for_label("3") is None


def test_partial_update_merges_into_what_we_know() -> None:
    meta = parse_metadata(metadata_xml("sess-1", JAN_AND_AGENT).encode())
    update = parse_metadata(
        b'<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>partial</datamode>'
        b'<participant participant_id="p9"><nameID aor="tel:+31205550999">'
        b"<name>Lead</name></nameID></participant>"
        b'<stream stream_id="s9"><label>9</label></stream>'
        b'<participantstreamassoc participant_id="p9"><send>s9</send></participantstreamassoc>'
        b"</recording>"
    )
    meta.merge(update)
    lead = meta.participant_for_label("9")
    assert lead is not None and lead.name == "Lead" and len(meta.participants) == 3


@pytest.mark.parametrize(
    "xml",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "x">]><recording>&a;</recording>',
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><recording>&e;</recording>',
        b"<recording><unclosed></recording>",
        b"<other/>",
        b"<recording>" + b"x" * 70000 + b"</recording>",
    ],
)
def test_unsafe_or_invalid_metadata_is_refused(xml: bytes) -> None:
    with pytest.raises(MetadataError):
        parse_metadata(xml)
