"""Peaks of a call's audio per channel: what the reader draws as its waveform.

A few hundred numbers per channel instead of the recording, so the page can draw
both sides of the call before (and without) downloading the audio it streams.
"""

from __future__ import annotations

import io
import itertools
import wave
from dataclasses import dataclass
from typing import Final

import numpy as np

MAX_POINTS: Final = 2000


@dataclass(frozen=True, slots=True)
class Peaks:
    duration_s: float
    #: Per channel, the largest absolute sample of each of ``points`` equal slices, 0..1.
    channels: list[list[float]]


def wav_peaks(data: bytes, points: int) -> Peaks:
    """Peaks of a 16-bit PCM WAV; raises ValueError for anything else."""
    try:
        with wave.open(io.BytesIO(data)) as wav:
            width, rate, count = wav.getsampwidth(), wav.getframerate(), wav.getnchannels()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a PCM WAV: {exc}") from None
    if width != 2:
        raise ValueError(f"{8 * width}-bit samples (expected 16-bit)")
    samples = np.frombuffer(frames[:len(frames) // (2 * count) * 2 * count], dtype="<i2")
    samples = samples.reshape(-1, count).astype(np.float32) / 32768.0
    n = len(samples)
    points = max(1, min(points, MAX_POINTS, n or 1))
    edges = np.linspace(0, n, points + 1).astype(int)
    channels = []
    for ch in range(count):
        column = np.abs(samples[:, ch])
        channels.append([round(float(column[a:b].max()) if b > a else 0.0, 3)
                         for a, b in itertools.pairwise(edges)])
    return Peaks(n / rate if rate else 0.0, channels)
