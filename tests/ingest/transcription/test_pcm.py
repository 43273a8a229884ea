"""ingest.transcription.pcm: WAV channels for the recogniser, and resampling."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest

from ingest.errors import AudioUnusable
from ingest.transcription.pcm import read_wav_channels, resample_pcm16
from tests.ingest.transcription.test_engine import tone, wav_bytes


def test_telephony_tone_upsampled_to_model_rate_keeps_its_shape() -> None:
    out = np.frombuffer(resample_pcm16(tone(1000, 1.0, 8000), 8000, 16000), dtype="<i2")
    assert len(out) == 16000
    expected = 10000 * np.sin(2 * np.pi * 1000 * np.arange(len(out)) / 16000)
    # away from the edges, where the filter sees zero padding
    assert np.max(np.abs(out[200:-200] - expected[200:-200])) < 100


def test_downsampling_removes_what_the_model_rate_cannot_hold() -> None:
    out = np.frombuffer(resample_pcm16(tone(10000, 1.0, 44100), 44100, 16000), dtype="<i2")
    assert len(out) == 16000
    assert np.max(np.abs(out[200:-200])) < 500  # 10 kHz is above 16 kHz's Nyquist
    kept = np.frombuffer(resample_pcm16(tone(1000, 1.0, 44100), 44100, 16000), dtype="<i2")
    assert np.max(np.abs(kept[200:-200])) > 9000


def test_same_rate_is_passed_through() -> None:
    pcm = tone(440, 0.1, 16000)
    assert resample_pcm16(pcm, 16000, 16000) is pcm


def test_stereo_wav_is_split_into_channels() -> None:
    left, right = tone(300, 0.05, 8000), tone(700, 0.05, 8000, amplitude=-3000)
    channels, rate = read_wav_channels(wav_bytes(8000, [left, right]))
    assert rate == 8000
    assert channels == [left, right]


def test_g711_mulaw_and_alaw_wavs_decode_to_linear_pcm() -> None:
    # 0xFF is µ-law zero, 0x80/0x00 the extremes; 0xD5 is A-law's smallest positive step.
    (mu,), _ = read_wav_channels(wav_bytes(8000, [bytes([0xFF, 0x80, 0x00])], fmt=7, bits=8))
    assert list(np.frombuffer(mu, dtype="<i2")) == [0, 32124, -32124]
    (a,), _ = read_wav_channels(wav_bytes(8000, [bytes([0xD5, 0x55, 0xAA])], fmt=6, bits=8))
    assert list(np.frombuffer(a, dtype="<i2")) == [8, -8, 32256]


def test_streamed_wav_with_unset_sizes_is_read_to_the_end() -> None:
    pcm = tone(500, 0.2, 16000)
    wav = bytearray(wav_bytes(16000, [pcm]))
    struct.pack_into("<I", wav, 4, 0xFFFFFFFF)
    struct.pack_into("<I", wav, 40, 0xFFFFFFFF)
    (channel,), _ = read_wav_channels(bytes(wav))
    assert channel == pcm


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "undecodable recording"),
        (os.urandom(4096), "undecodable recording"),
        (b"RIFF\x04\x00\x00\x00WAVE", "undecodable recording"),
        (wav_bytes(8000, [b""]), "no audio"),
        (wav_bytes(8000, [b"\x00" * 30], fmt=0x55, bits=8), "MP3-in-WAV: cannot be decoded"),
    ],
    ids=["empty", "garbage", "no-fmt", "zero-length", "mp3-in-wav"],
)
def test_undecodable_recordings_raise_audio_unusable(data: bytes, reason: str) -> None:
    with pytest.raises(AudioUnusable, match=reason):
        read_wav_channels(data)
