"""The media side of a recording session: RTP ports, one stream per offered m= line.

Each recordable audio stream gets its own even-numbered UDP port, drawn at
random from ``SipConfig.rtp_port_range`` (skipping ports in use: a port cannot
be guessed from the previous call's), and a :class:`MediaStream` that places
its packets on the call's timeline (:mod:`ingest.sip.rtp`).

Who may send audio into a stream: only the addresses the session negotiated,
that is the ``c=`` address of the offer for that stream and the SRC that sent
the INVITE (allowlisted); packets from anywhere else are dropped and counted.
Among those, the stream latches onto the first source (address and port) that
sends, so a second sender cannot mix into the recording either. Streams are
matched across re-offers by their ``a=label``, so a re-INVITE keeps its
channel; a re-offer that moves the media elsewhere moves the allowed senders.

An ``RTP/SAVP`` stream gets an :class:`~ingest.sip.srtp.SrtpReceiver` for the
offered SDES key (the caller has checked the offer with
:func:`~ingest.sip.srtp.offer_refusal`); a re-offer with the same key keeps it,
and its replay window, a new key replaces it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from ingest.sip.config import SipConfig
from ingest.sip.rtp import StreamTimeline
from ingest.sip.sdp import AnswerStream, Codec, Media, SessionDescription
from ingest.sip.srtp import SECURE_PROFILES, SrtpReceiver, answer_crypto, choose_crypto
from ingest.sip.transport import Peer, set_receive_buffer

__all__ = [
    "MAX_PORT_TRIES",
    "MediaStream",
    "RtpPorts",
    "RtpProtocol",
    "apply_offer",
    "close_stream",
    "media_senders",
]

#: Ports tried per stream before the offer is answered without it.
MAX_PORT_TRIES: Final = 64

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_RANDOM: Final = random.SystemRandom()


def _ip(host: str) -> IpAddress | None:
    """``host`` as an address (zone dropped, IPv4-mapped IPv6 as IPv4); None for a name."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def media_senders(src_host: str, sdp: SessionDescription, media: Media) -> frozenset[IpAddress]:
    """Who may send RTP to ``media``: its ``c=`` address (or the session's) and the SRC.

    A ``c=`` that is a name or unspecified (``0.0.0.0``, hold in old SDP) adds
    nobody: names are never trusted, and the SRC's own address still counts.
    """
    hosts: Iterable[str | None] = (src_host, media.connection or sdp.connection)
    found = {_ip(h) for h in hosts if h}
    return frozenset(a for a in found if a is not None and not a.is_unspecified)


@dataclass(slots=True)
class MediaStream:
    """One recorded audio stream: its channel on the recording and its RTP port."""

    index: int
    label: str
    port: int
    payloads: dict[int, Codec]
    timeline: StreamTimeline
    transport: asyncio.DatagramTransport | None = None
    active: bool = True
    #: The SRC offered to send on it (not on hold: a=inactive / a=recvonly).
    sending: bool = True
    #: Where its RTP comes from (latched on the first packet from an allowed sender).
    source: Peer | None = None
    #: Addresses the session negotiated for it (:func:`media_senders`); none: nobody.
    senders: frozenset[IpAddress] = frozenset()
    #: Decrypts its SRTP; None for plain RTP.
    srtp: SrtpReceiver | None = None
    #: Our ``a=crypto`` in the answer (SRTP only), kept across re-offers with the same key.
    answer_crypto: str | None = None


class RtpProtocol(asyncio.DatagramProtocol):
    """Receives one stream's RTP: from a negotiated address, then only its latched source."""

    def __init__(
        self,
        stream: MediaStream,
        on_packet: Callable[[bytes], None],
        on_foreign: Callable[[], None],
    ) -> None:
        self.stream = stream
        self.on_packet = on_packet
        self.on_foreign = on_foreign

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        source = (str(addr[0]), int(addr[1]))
        if self.stream.source is None:
            if _ip(source[0]) not in self.stream.senders:
                self.on_foreign()
                return
            self.stream.source = source
        elif source != self.stream.source:
            self.on_foreign()
            return
        self.on_packet(data)

    def error_received(self, exc: Exception) -> None:
        pass


class RtpPorts:
    """Hands out even RTP ports drawn at random from the configured range."""

    def __init__(self, config: SipConfig) -> None:
        self.config = config

    def candidates(self) -> list[int]:
        """The ports to try for one stream, in random order (at most MAX_PORT_TRIES)."""
        low, high = self.config.rtp_port_range
        base = low & ~1
        count = max(1, (high - base + 1) // 2)
        picks = _RANDOM.sample(range(count), min(count, MAX_PORT_TRIES))
        return [base + 2 * i for i in picks]

    async def open(
        self,
        stream: MediaStream,
        on_packet: Callable[[bytes], None],
        on_foreign: Callable[[], None],
    ) -> bool:
        """Bind a port for ``stream`` (sets its port and transport); False if none is free."""
        loop = asyncio.get_running_loop()
        for port in self.candidates():
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: RtpProtocol(stream, on_packet, on_foreign),
                    local_addr=(self.config.host, port),
                )
            except OSError:
                continue
            set_receive_buffer(transport, self.config.rtp_socket_buffer_bytes)
            stream.port = port
            stream.transport = transport
            return True
        return False


def close_stream(stream: MediaStream) -> None:
    """Stop receiving on a stream and give its port back."""
    stream.active = False
    if stream.transport is not None:
        stream.transport.close()
        stream.transport = None


def _acceptable(media: Media) -> bool:
    """Recordable, and when SRTP, with a key we can use (never SRTP taken as plain RTP)."""
    if not media.recordable:
        return False
    return media.proto.upper() not in SECURE_PROFILES or choose_crypto(media) is not None


def _key_stream(stream: MediaStream, media: Media) -> None:
    """Give ``stream`` the SRTP receiver ``media`` offers (a new one only for a new key)."""
    key = choose_crypto(media) if media.proto.upper() in SECURE_PROFILES else None
    if key is None:
        stream.srtp = None
        stream.answer_crypto = None
    elif stream.srtp is None or stream.srtp.key != key:
        stream.srtp = SrtpReceiver(key)
        stream.answer_crypto = answer_crypto(key)


async def apply_offer(
    streams: list[MediaStream],
    sdp: SessionDescription,
    open_stream: Callable[[MediaStream], Awaitable[bool]],
    *,
    src_host: str,
) -> list[AnswerStream]:
    """Map offered m= lines to ``streams`` (by a=label), opening ports for new ones.

    New streams are appended to ``streams``; the answer has one entry per m=
    line, port 0 for a stream refused, removed or without a free port. Each
    stream's allowed senders follow the offer (``src_host`` sent the INVITE).
    """
    answers: list[AnswerStream] = []
    used: set[int] = set()
    for position, media in enumerate(sdp.media):
        label = media.label if media.label is not None else str(position)
        stream = next((s for s in streams if s.label == label and s.index not in used), None)
        if not _acceptable(media):
            if stream is not None and stream.active:
                close_stream(stream)
            answers.append(AnswerStream(0, {}))
            continue
        payloads = media.accepted_payloads()
        if stream is None or not stream.active:
            if stream is None:
                stream = MediaStream(len(streams), label, 0, payloads, StreamTimeline(payloads))
                streams.append(stream)
            else:
                stream.payloads = payloads
                stream.timeline.payloads = dict(payloads)
            if not await open_stream(stream):
                stream.active = False
                answers.append(AnswerStream(0, {}))
                continue
            stream.active = True
        else:
            stream.payloads = payloads
            stream.timeline.payloads = dict(payloads)
        stream.sending = media.direction in ("sendonly", "sendrecv")
        stream.senders = media_senders(src_host, sdp, media)
        if stream.source is not None and _ip(stream.source[0]) not in stream.senders:
            stream.source = None  # the media moved: latch again, onto the new address
        _key_stream(stream, media)
        used.add(stream.index)
        answers.append(AnswerStream(stream.port, payloads, stream.answer_crypto))
    return answers
