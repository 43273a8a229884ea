"""RTP ports and streams of a recording session (ingest.sip.media)."""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import socket

import pytest

from ingest.sip.config import SipConfig
from ingest.sip.media import (
    MAX_PORT_TRIES,
    MediaStream,
    RtpPorts,
    RtpProtocol,
    apply_offer,
    close_stream,
    media_senders,
)
from ingest.sip.rtp import StreamTimeline
from ingest.sip.sdp import Codec, parse_sdp

HEAD = "v=0\r\no=src 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"


def offer(*media: str) -> bytes:
    return (HEAD + "".join(media)).encode()


def audio(label: str | None, *, pts: str = "0", direction: str = "sendonly") -> str:
    lines = f"m=audio 4000 RTP/AVP {pts}\r\na={direction}\r\n"
    return lines + (f"a=label:{label}\r\n" if label is not None else "")


class FakePorts:
    """Hands out 30000, 30002, ... without binding; ``full`` refuses."""

    def __init__(self) -> None:
        self.next = 30000
        self.full = False
        self.opened: list[str] = []

    async def open(self, stream: MediaStream) -> bool:
        if self.full:
            return False
        stream.port, self.next = self.next, self.next + 2
        self.opened.append(stream.label)
        return True


def run_offer(streams: list[MediaStream], sdp: bytes, ports: FakePorts) -> list[int]:
    answers = asyncio.run(apply_offer(streams, parse_sdp(sdp), ports.open, src_host="10.0.0.9"))
    return [a.port for a in answers]


def test_each_recordable_stream_gets_a_port_and_others_are_declined() -> None:
    streams: list[MediaStream] = []
    ports = FakePorts()
    sdp = offer(audio("a"), audio("b", pts="8"), audio("g729", pts="18"), audio(None))
    assert run_offer(streams, sdp, ports) == [30000, 30002, 0, 30004]
    assert [(s.index, s.label) for s in streams] == [(0, "a"), (1, "b"), (2, "3")]
    assert streams[1].payloads == {8: Codec.PCMA} and all(s.active for s in streams)


def test_a_re_offer_keeps_streams_by_label_and_reopens_only_what_was_closed() -> None:
    streams: list[MediaStream] = []
    ports = FakePorts()
    run_offer(streams, offer(audio("a"), audio("b")), ports)
    # Swapped order, "b" on hold: same channels, same ports, nothing new opened.
    assert run_offer(streams, offer(audio("b", direction="inactive"), audio("a")), ports) == [
        30002,
        30000,
    ]
    assert ports.opened == ["a", "b"] and not streams[1].sending and streams[0].sending
    # "a" removed (not recordable any more): its stream closes; offered again, it reopens.
    run_offer(streams, offer(audio("a", pts="18"), audio("b")), ports)
    assert not streams[0].active and streams[1].active
    assert run_offer(streams, offer(audio("a"), audio("b")), ports) == [30004, 30002]
    assert streams[0].active and streams[0].index == 0 and len(streams) == 2


def test_a_stream_without_a_free_port_is_answered_with_port_zero() -> None:
    streams: list[MediaStream] = []
    ports = FakePorts()
    ports.full = True
    assert run_offer(streams, offer(audio("a")), ports) == [0]
    assert len(streams) == 1 and not streams[0].active


def stream() -> MediaStream:
    return MediaStream(0, "a", 0, {0: Codec.PCMU}, StreamTimeline({0: Codec.PCMU}))


def test_rtp_is_taken_only_from_negotiated_addresses_then_latched() -> None:
    got: list[bytes] = []
    foreign: list[bool] = []
    st = stream()
    st.senders = frozenset({ipaddress.ip_address("10.0.0.1"), ipaddress.ip_address("10.0.0.9")})
    protocol = RtpProtocol(st, got.append, lambda: foreign.append(True))
    # The first sender is not negotiated: it must not latch (audio injection).
    protocol.datagram_received(b"evil", ("10.0.0.66", 4000))
    protocol.datagram_received(b"one", ("10.0.0.1", 4000))
    protocol.datagram_received(b"evil", ("10.0.0.9", 4000))  # allowed, but not the latched one
    protocol.datagram_received(b"evil", ("10.0.0.1", 4002))
    protocol.datagram_received(b"two", ("::ffff:10.0.0.1", 4000))
    protocol.datagram_received(b"three", ("10.0.0.1", 4000))
    assert got == [b"one", b"three"] and len(foreign) == 4
    assert st.source == ("10.0.0.1", 4000)


def test_a_stream_with_no_negotiated_sender_takes_nothing() -> None:
    got: list[bytes] = []
    protocol = RtpProtocol(stream(), got.append, lambda: None)
    protocol.datagram_received(b"one", ("127.0.0.1", 4000))
    assert got == []


@pytest.mark.parametrize(
    ("session_c", "media_c", "expected"),
    [
        ("10.0.0.1", None, {"10.0.0.1", "10.0.0.9"}),
        ("10.0.0.1", "10.0.0.5", {"10.0.0.5", "10.0.0.9"}),  # the m= line's own c= wins
        ("0.0.0.0", None, {"10.0.0.9"}),  # old-style hold: nobody new
        ("media.example.net", None, {"10.0.0.9"}),  # names are never trusted
    ],
)
def test_senders_are_the_offers_c_address_and_the_src(
    session_c: str, media_c: str | None, expected: set[str]
) -> None:
    text = HEAD.replace("c=IN IP4 10.0.0.1", f"c=IN IP4 {session_c}") + audio("a")
    if media_c:
        text += f"c=IN IP4 {media_c}\r\n"
    sdp = parse_sdp(text.encode())
    senders = media_senders("10.0.0.9", sdp, sdp.media[0])
    assert {str(a) for a in senders} == expected


def test_a_re_offer_moving_the_media_moves_the_allowed_senders() -> None:
    streams: list[MediaStream] = []
    ports = FakePorts()
    run_offer(streams, offer(audio("a")), ports)
    streams[0].source = ("10.0.0.1", 4000)
    moved = (HEAD.replace("10.0.0.1", "10.0.0.7") + audio("a")).encode()
    run_offer(streams, moved, ports)
    assert {str(a) for a in streams[0].senders} == {"10.0.0.7", "10.0.0.9"}
    assert streams[0].source is None  # latches again, onto the new address


def test_ports_are_drawn_at_random_even_and_in_range_skipping_busy_ones() -> None:
    config = SipConfig(host="127.0.0.1", rtp_port_range=(39001, 39006))

    async def main() -> set[int]:
        ports = RtpPorts(config)
        busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        busy.bind(("127.0.0.1", 39002))
        seen: set[int] = set()
        try:
            for _ in range(30):
                st = stream()
                assert await ports.open(st, lambda data: None, lambda: None)
                seen.add(st.port)
                close_stream(st)
                assert st.transport is None and not st.active
        finally:
            busy.close()
        return seen

    # Even ports from the (rounded down) start: 39000, 39004 (39002 is busy).
    assert asyncio.run(main()) == {39000, 39004}


def test_the_next_port_cannot_be_told_from_the_last() -> None:
    ports = RtpPorts(SipConfig(rtp_port_range=(20000, 40000)))
    draws = [ports.candidates()[0] for _ in range(20)]
    assert all(20000 <= p < 40000 and p % 2 == 0 for p in draws)
    steps = {b - a for a, b in itertools.pairwise(draws)}
    assert len(steps) > 1 and steps != {2}
    assert len(ports.candidates()) == MAX_PORT_TRIES


def test_no_free_port_means_the_stream_is_not_opened() -> None:
    config = SipConfig(host="127.0.0.1", rtp_port_range=(39010, 39012))

    async def main() -> bool:
        busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        busy.bind(("127.0.0.1", 39010))
        try:
            return await RtpPorts(config).open(stream(), lambda data: None, lambda: None)
        finally:
            busy.close()

    assert asyncio.run(main()) is False
