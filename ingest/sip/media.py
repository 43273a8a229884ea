"""The media side of a recording session: RTP ports, one stream per offered m= line.

Each recordable audio stream gets its own even-numbered UDP port from
``SipConfig.rtp_port_range`` (taken in turn, wrapping around, skipping ports in
use) and a :class:`MediaStream` that places its packets on the call's timeline
(:mod:`ingest.sip.rtp`). A stream latches onto the first source that sends to
it: nobody else can inject audio into the recording. Streams are matched
across re-offers by their ``a=label``, so a re-INVITE keeps its channel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from ingest.sip.config import SipConfig
from ingest.sip.rtp import StreamTimeline
from ingest.sip.sdp import AnswerStream, Codec, SessionDescription
from ingest.sip.transport import Peer, set_receive_buffer

__all__ = [
    "MAX_PORT_TRIES",
    "MediaStream",
    "RtpPorts",
    "RtpProtocol",
    "apply_offer",
    "close_stream",
]

#: Ports tried per stream before the offer is answered without it.
MAX_PORT_TRIES: Final = 64


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
    #: Where its RTP comes from (latched on the first packet).
    source: Peer | None = None


class RtpProtocol(asyncio.DatagramProtocol):
    """Receives one stream's RTP: packets from its latched source, nothing from others."""

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
            self.stream.source = source
        elif source != self.stream.source:
            self.on_foreign()
            return
        self.on_packet(data)

    def error_received(self, exc: Exception) -> None:
        pass


class RtpPorts:
    """Hands out RTP ports from the configured range, in turn."""

    def __init__(self, config: SipConfig) -> None:
        self.config = config
        self._next_port = config.rtp_port_range[0] & ~1

    async def open(
        self,
        stream: MediaStream,
        on_packet: Callable[[bytes], None],
        on_foreign: Callable[[], None],
    ) -> bool:
        """Bind a port for ``stream`` (sets its port and transport); False if none is free."""
        loop = asyncio.get_running_loop()
        low, high = self.config.rtp_port_range
        span = max(2, high - low)
        for _ in range(min(MAX_PORT_TRIES, span // 2)):
            port = self._next_port
            self._next_port += 2
            if self._next_port >= high:
                self._next_port = low & ~1
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


async def apply_offer(
    streams: list[MediaStream],
    sdp: SessionDescription,
    open_stream: Callable[[MediaStream], Awaitable[bool]],
) -> list[AnswerStream]:
    """Map offered m= lines to ``streams`` (by a=label), opening ports for new ones.

    New streams are appended to ``streams``; the answer has one entry per m=
    line, port 0 for a stream refused, removed or without a free port.
    """
    answers: list[AnswerStream] = []
    used: set[int] = set()
    for position, media in enumerate(sdp.media):
        label = media.label if media.label is not None else str(position)
        stream = next((s for s in streams if s.label == label and s.index not in used), None)
        if not media.recordable:
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
        used.add(stream.index)
        answers.append(AnswerStream(stream.port, payloads))
    return answers
