"""RTP (RFC 3550) packets and their placement on a per-call sample timeline.

Each received audio packet is placed at a sample offset on the call's common
timeline, so all channels stay aligned:

* the first packet of an SSRC is placed by wall-clock arrival relative to the
  first packet of the whole call (so streams that start later start later);
* later packets of that SSRC are placed by RTP timestamp, so loss, reordering and
  silence suppression leave gaps that become silence, and duplicates overwrite
  the same samples;
* a new SSRC, or a timestamp jump that disagrees with the wall clock by more
  than :data:`RESYNC_THRESHOLD_S`, re-anchors by wall clock again (which also
  bounds how far ahead a hostile timestamp can push the recording).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

from ingest.sip.sdp import Codec

RTP_HEADER: Final = struct.Struct(">BBHII")
MAX_RTP_BYTES: Final = 1500
SAMPLE_RATE: Final = 8000
#: A timestamp that disagrees with the wall clock by more than this re-anchors the SSRC.
RESYNC_THRESHOLD_S: Final = 5.0
#: A new SSRC starting within this distance of the stream's end continues it seamlessly.
SNAP_S: Final = 0.08


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    marker: bool
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket | None:
    """The packet, or None if it is not a plausible RTP packet (RTCP, garbage, oversized)."""
    size = len(data)
    if size < 12 or size > MAX_RTP_BYTES:
        return None
    b0, b1, seq, ts, ssrc = RTP_HEADER.unpack_from(data)
    if b0 >> 6 != 2:
        return None
    pt = b1 & 0x7F
    if 72 <= pt <= 76:  # RTCP sharing the port (RFC 5761)
        return None
    offset = 12 + 4 * (b0 & 0x0F)
    if b0 & 0x10:
        if size < offset + 4:
            return None
        (ext_words,) = struct.unpack_from(">H", data, offset + 2)
        offset += 4 + 4 * ext_words
    end = size
    if b0 & 0x20:
        pad = data[-1]
        if pad == 0 or pad > size - offset:
            return None
        end -= pad
    if offset > end:
        return None
    return RtpPacket(pt, seq, ts, ssrc, bool(b1 & 0x80), data[offset:end])


def build_rtp(
    pt: int, seq: int, ts: int, ssrc: int, payload: bytes, *, marker: bool = False
) -> bytes:
    return (
        RTP_HEADER.pack(0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
        + payload
    )


@dataclass(slots=True)
class _SsrcState:
    ts_base: int
    offset_base: int
    last_ts_ext: int
    recent: set[int] = field(default_factory=set)
    recent_order: list[int] = field(default_factory=list)


@dataclass(slots=True)
class StreamStats:
    packets: int = 0
    duplicates: int = 0
    events: int = 0
    ignored: int = 0
    ssrc_changes: int = 0
    resyncs: int = 0


class StreamTimeline:
    """Places one stream's packets on the call timeline (see the module docstring)."""

    def __init__(self, payloads: dict[int, Codec]) -> None:
        self.payloads = dict(payloads)
        self.stats = StreamStats()
        self.end_offset = 0
        self._ssrcs: dict[int, _SsrcState] = {}
        self._current: int | None = None

    def place(self, packet: RtpPacket, elapsed_s: float) -> tuple[int, Codec] | None:
        """Sample offset and codec for an audio packet; None for events, duplicates, junk.

        ``elapsed_s`` is the arrival time relative to the call's first RTP packet.
        """
        codec = self.payloads.get(packet.payload_type)
        if codec is None or codec is Codec.COMFORT_NOISE:
            self.stats.ignored += 1
            return None
        if codec is Codec.TELEPHONE_EVENT:
            self.stats.events += 1
            return None
        if not packet.payload:
            self.stats.ignored += 1
            return None
        wall = round(elapsed_s * SAMPLE_RATE)
        state = self._ssrcs.get(packet.ssrc)
        if state is None:
            if self._current is not None:
                self.stats.ssrc_changes += 1
            start = wall
            if self.end_offset and abs(wall - self.end_offset) <= SNAP_S * SAMPLE_RATE:
                start = self.end_offset
            state = _SsrcState(packet.timestamp, start, 0)
            self._ssrcs[packet.ssrc] = state
            self._current = packet.ssrc
        # Extend the 32-bit timestamp relative to the last one seen (wrap-around safe).
        delta = (packet.timestamp - (state.ts_base + state.last_ts_ext)) & 0xFFFFFFFF
        if delta >= 0x80000000:
            delta -= 0x100000000
        ts_ext = state.last_ts_ext + delta
        offset = state.offset_base + ts_ext
        if abs(offset - wall) > RESYNC_THRESHOLD_S * SAMPLE_RATE or offset < 0:
            self.stats.resyncs += 1
            start = max(wall, 0)
            state.ts_base, state.offset_base, state.last_ts_ext = packet.timestamp, start, 0
            state.recent.clear()
            state.recent_order.clear()
            ts_ext, offset = 0, start
        if ts_ext > state.last_ts_ext:
            state.last_ts_ext = ts_ext
        key = (packet.sequence << 40) ^ (ts_ext & 0xFFFFFFFFFF)
        if key in state.recent:
            self.stats.duplicates += 1
            return None
        state.recent.add(key)
        state.recent_order.append(key)
        if len(state.recent_order) > 256:
            state.recent.discard(state.recent_order.pop(0))
        self.stats.packets += 1
        end = offset + len(packet.payload)
        if end > self.end_offset:
            self.end_offset = end
        return offset, codec
