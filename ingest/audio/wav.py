"""WAV read/write and G.711 for call recordings (the formats the SIPREC server handles).

Other recording formats are recognised and decoded by :mod:`ingest.audio.decode`;
resampling for the recogniser lives with it (``ingest.transcription.pcm.resample_pcm16``).

Everything works on 16-bit signed little-endian PCM held in ``bytes``, one
buffer per channel, so callers never deal with interleaving. Pure Python
(no numpy): the heavy loops are done with ``bytes.translate`` and extended
slice assignment, which run in C.

Exceptions::

    AudioError        the bytes are not a WAV file this module can read (also the
                      error of ``ingest.audio.decode``)
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ingest.errors import IngestError

WAVE_FORMAT_PCM: Final = 0x0001
WAVE_FORMAT_IEEE_FLOAT: Final = 0x0003
WAVE_FORMAT_ALAW: Final = 0x0006
WAVE_FORMAT_MULAW: Final = 0x0007
WAVE_FORMAT_EXTENSIBLE: Final = 0xFFFE
MAX_CHANNELS: Final = 16

_LITTLE: Final = sys.byteorder == "little"


class AudioError(IngestError, ValueError):
    """The input is not audio this module understands (with the reason)."""


@dataclass(frozen=True, slots=True)
class Audio:
    """Decoded audio: one 16-bit little-endian PCM buffer per channel."""

    sample_rate: int
    channels: list[bytes]

    @property
    def frames(self) -> int:
        return max((len(c) // 2 for c in self.channels), default=0)

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


# -- G.711 ------------------------------------------------------------------


def _ulaw_to_linear(code: int) -> int:
    u = ~code & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    sample = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -sample if u & 0x80 else sample


def _alaw_to_linear(code: int) -> int:
    a = code ^ 0x55
    exponent = (a >> 4) & 0x07
    mantissa = a & 0x0F
    sample = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return sample if a & 0x80 else -sample


def _tables(decode: list[int]) -> tuple[bytes, bytes]:
    return bytes(v & 0xFF for v in decode), bytes((v >> 8) & 0xFF for v in decode)


ULAW_TABLE: Final = [_ulaw_to_linear(i) for i in range(256)]
ALAW_TABLE: Final = [_alaw_to_linear(i) for i in range(256)]
_ULAW_LO, _ULAW_HI = _tables(ULAW_TABLE)
_ALAW_LO, _ALAW_HI = _tables(ALAW_TABLE)


def _expand(data: bytes | bytearray | memoryview, lo: bytes, hi: bytes) -> bytes:
    raw = bytes(data)
    out = bytearray(2 * len(raw))
    out[0::2] = raw.translate(lo)
    out[1::2] = raw.translate(hi)
    return bytes(out)


def ulaw_decode(data: bytes | bytearray | memoryview) -> bytes:
    """G.711 µ-law codes -> 16-bit little-endian PCM."""
    return _expand(data, _ULAW_LO, _ULAW_HI)


def alaw_decode(data: bytes | bytearray | memoryview) -> bytes:
    """G.711 A-law codes -> 16-bit little-endian PCM."""
    return _expand(data, _ALAW_LO, _ALAW_HI)


def _ulaw_encode_one(sample: int) -> int:
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, clip) + bias
    exponent = 7
    for exp in range(7, -1, -1):
        if magnitude & (0x4000 >> (7 - exp)):
            exponent = exp
            break
    else:
        exponent = 0
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def _alaw_encode_one(sample: int) -> int:
    sign = 0x80 if sample >= 0 else 0
    magnitude = min(sample if sample >= 0 else -sample - 1, 32767) >> 3
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = magnitude.bit_length() - 5
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (code | sign) ^ 0x55


def ulaw_encode(pcm: bytes) -> bytes:
    """16-bit little-endian PCM -> G.711 µ-law (test fixtures, PBX-style files)."""
    return bytes(_ulaw_encode_one(s) for s in _samples(pcm))


def alaw_encode(pcm: bytes) -> bytes:
    """16-bit little-endian PCM -> G.711 A-law."""
    return bytes(_alaw_encode_one(s) for s in _samples(pcm))


def _samples(pcm: bytes | bytearray | memoryview) -> array[int]:
    samples = array("h")
    samples.frombytes(bytes(pcm)[: len(pcm) - len(pcm) % 2])
    if not _LITTLE:
        samples.byteswap()
    return samples


def _to_bytes(samples: array[int]) -> bytes:
    if not _LITTLE:
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


# -- WAV ----------------------------------------------------------------------


def _chunks(data: bytes) -> dict[bytes, bytes]:
    if len(data) < 12 or data[:4] not in (b"RIFF", b"RF64") or data[8:12] != b"WAVE":
        raise AudioError("not a RIFF/WAVE file")
    found: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body_start = pos + 8
        # A streaming writer may leave the data size unset (0 or 0xFFFFFFFF): take the rest.
        if cid == b"data" and (size in (0, 0xFFFFFFFF) or body_start + size > len(data)):
            size = len(data) - body_start
        found.setdefault(cid, data[body_start : body_start + size])
        pos = body_start + size + (size & 1)
    if b"fmt " not in found:
        raise AudioError("WAV without a fmt chunk")
    if b"data" not in found:
        raise AudioError("WAV without a data chunk")
    return found


def _split(data: bytes, width: int, nch: int) -> list[bytes]:
    """De-interleave frames of ``nch`` samples of ``width`` bytes each."""
    frame = width * nch
    usable = len(data) - len(data) % frame
    data = data[:usable]
    if nch == 1:
        return [data]
    out = []
    for ch in range(nch):
        mono = bytearray(usable // nch)
        for b in range(width):
            mono[b::width] = data[ch * width + b :: frame]
        out.append(bytes(mono))
    return out


def _to_int16(raw: bytes, fmt: int, bits: int) -> bytes:
    if fmt == WAVE_FORMAT_MULAW:
        return ulaw_decode(raw)
    if fmt == WAVE_FORMAT_ALAW:
        return alaw_decode(raw)
    if fmt == WAVE_FORMAT_PCM:
        if bits == 16:
            return raw
        if bits == 8:
            # unsigned 8-bit: shift into the high byte, flipping the sign bit
            out = bytearray(2 * len(raw))
            out[1::2] = raw.translate(bytes((i ^ 0x80) for i in range(256)))
            return bytes(out)
        if bits in (24, 32):
            width = bits // 8
            out = bytearray(2 * (len(raw) // width))
            out[0::2] = raw[width - 2 :: width]
            out[1::2] = raw[width - 1 :: width]
            return bytes(out)
    if fmt == WAVE_FORMAT_IEEE_FLOAT and bits == 32:
        floats = array("f")
        floats.frombytes(raw[: len(raw) - len(raw) % 4])
        if not _LITTLE:
            floats.byteswap()
        ints = array("h", (max(-32768, min(32767, int(f * 32767.0))) for f in floats))
        return _to_bytes(ints)
    raise AudioError(f"unsupported WAV encoding (format {fmt:#06x}, {bits} bits)")


def read_wav(data: bytes) -> Audio:
    """Decode a WAV file (PCM 8/16/24/32-bit, float32, µ-law, A-law; any rate; 1..16 channels)."""
    chunks = _chunks(data)
    fmt_chunk = chunks[b"fmt "]
    if len(fmt_chunk) < 16:
        raise AudioError("fmt chunk too short")
    fmt, nch, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt_chunk)
    if fmt == WAVE_FORMAT_EXTENSIBLE:
        if len(fmt_chunk) < 40:
            raise AudioError("extensible fmt chunk too short")
        (fmt,) = struct.unpack_from("<H", fmt_chunk, 24)
    if not 1 <= nch <= MAX_CHANNELS:
        raise AudioError(f"unsupported channel count {nch}")
    if not 1000 <= rate <= 192000:
        raise AudioError(f"implausible sample rate {rate}")
    width = max(1, bits // 8)
    if block_align and block_align != width * nch:
        raise AudioError("block alignment does not match channels and sample size")
    return Audio(rate, [_to_int16(c, fmt, bits) for c in _split(chunks[b"data"], width, nch)])


def interleave(channels: Sequence[bytes]) -> bytes:
    """Interleave mono 16-bit buffers into frames; shorter channels are padded with silence."""
    if not channels:
        return b""
    frames = max(len(c) // 2 for c in channels)
    nch = len(channels)
    if nch == 1:
        return bytes(channels[0][: 2 * frames])
    out = bytearray(2 * frames * nch)
    for index, ch in enumerate(channels):
        padded = bytes(ch[: 2 * frames]) + bytes(2 * frames - min(len(ch), 2 * frames))
        out[2 * index :: 2 * nch] = padded[0::2]
        out[2 * index + 1 :: 2 * nch] = padded[1::2]
    return bytes(out)


def write_wav(sample_rate: int, channels: Sequence[bytes]) -> bytes:
    """A 16-bit PCM WAV with one channel per input buffer."""
    nch = max(1, len(channels))
    body = interleave(channels)
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(body),
        b"WAVE",
        b"fmt ",
        16,
        WAVE_FORMAT_PCM,
        nch,
        sample_rate,
        sample_rate * 2 * nch,
        2 * nch,
        16,
        b"data",
        len(body),
    )
    return header + body
