"""WAV reading/writing, G.711 decoding and resampling (ingest.audio)."""

from __future__ import annotations

import math
import struct
from array import array
from collections.abc import Callable

import pytest

from ingest.audio import (
    AudioError,
    alaw_decode,
    alaw_encode,
    read_wav,
    ulaw_decode,
    ulaw_encode,
    write_wav,
)


def sine(freq: float, seconds: float, rate: int = 8000, amp: int = 8000) -> bytes:
    n = int(seconds * rate)
    return array(
        "h", (int(amp * math.sin(2 * math.pi * freq * i / rate)) for i in range(n))
    ).tobytes()


def samples(pcm: bytes) -> array[int]:
    out = array("h")
    out.frombytes(pcm)
    return out


def wav_with(fmt: int, channels: int, rate: int, bits: int, data: bytes) -> bytes:
    block = channels * bits // 8
    return (
        struct.pack("<4sI4s", b"RIFF", 36 + len(data), b"WAVE")
        + struct.pack("<4sIHHIIHH", b"fmt ", 16, fmt, channels, rate, rate * block, block, bits)
        + struct.pack("<4sI", b"data", len(data))
        + data
    )


def test_g711_reference_values() -> None:
    # ITU-T G.711: µ-law 0xFF/0x7F are +-0, 0x80 is the largest positive; A-law 0xD5 is +8.
    assert samples(ulaw_decode(b"\xff\x7f\x80\x00")).tolist() == [0, 0, 32124, -32124]
    assert samples(alaw_decode(b"\xd5\x55\xaa\x2a")).tolist() == [8, -8, 32256, -32256]


@pytest.mark.parametrize(
    ("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)]
)
def test_g711_round_trip_stays_within_quantisation_error(
    encode: Callable[[bytes], bytes], decode: Callable[[bytes], bytes]
) -> None:
    pcm = sine(440, 0.1)
    back = samples(decode(encode(pcm)))
    for a, b in zip(samples(pcm), back, strict=True):
        assert abs(a - b) <= max(16, abs(a) // 16)


def test_stereo_wav_round_trip_keeps_channels_apart() -> None:
    left, right = sine(300, 0.5), sine(700, 0.25)
    audio = read_wav(write_wav(8000, [left, right]))
    assert audio.sample_rate == 8000 and audio.frames == 4000
    assert audio.channels[0] == left
    assert audio.channels[1] == right + bytes(len(left) - len(right))  # padded with silence


@pytest.mark.parametrize("fmt", [6, 7])
def test_g711_wav_files_are_decoded(fmt: int) -> None:
    pcm = sine(500, 0.2)
    coded = alaw_encode(pcm) if fmt == 6 else ulaw_encode(pcm)
    audio = read_wav(wav_with(fmt, 1, 8000, 8, coded))
    assert audio.channels[0] == (alaw_decode(coded) if fmt == 6 else ulaw_decode(coded))


def test_8bit_and_16khz_pcm_wavs() -> None:
    audio = read_wav(wav_with(1, 1, 16000, 8, bytes([128, 255, 0])))
    assert audio.sample_rate == 16000 and samples(audio.channels[0]).tolist() == [0, 32512, -32768]


@pytest.mark.parametrize(
    "data", [b"", b"RIFF\x00\x00\x00\x00WAVE", b"not a wav at all", wav_with(1, 0, 8000, 16, b"")]
)
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(AudioError):
        read_wav(data)


