"""Call audio for the recogniser: per-channel 16-bit PCM, resampled to the model's rate."""

from __future__ import annotations

import math
import struct
from typing import Final

import numpy as np

from ingest.audio import AudioError, decode_audio
from ingest.errors import AudioUnusable

#: Zero crossings of the windowed-sinc resampling filter on each side (Kaldi uses 6).
RESAMPLE_NUM_ZEROS: Final = 6
#: Output samples per phase computed at a time (fits in L2 with its input).
RESAMPLE_BLOCK_SAMPLES: Final = 16384


def read_wav_channels(data: bytes) -> tuple[list[bytes], int]:
    """Per-channel 16-bit PCM and the sample rate, with the decoder ingest uses.

    Any recording ``ingest.audio.decode_audio`` accepted at ingest (a call's
    original, in whatever format the PBX wrote it) can be transcribed; anything it
    cannot read is ``AudioUnusable`` (the item is marked ``failed``).
    """
    try:
        audio = decode_audio(data).audio
    except (AudioError, ValueError, struct.error) as exc:
        raise AudioUnusable(f"undecodable recording: {exc}") from exc
    return list(audio.channels), audio.sample_rate


def resample_pcm16(pcm: bytes, from_hz: int, to_hz: int) -> bytes:
    """Resample mono 16-bit PCM with a Hann-windowed sinc filter (as Kaldi's LinearResample).

    Works for any rational ratio, e.g. 8 kHz telephony up to a 16 kHz model. The
    filter is evaluated per output phase and applied with strided slices, so cost
    is linear in the audio and no per-sample Python runs.
    """
    if from_hz == to_hz:
        return pcm
    x = np.frombuffer(pcm, dtype="<i2", count=len(pcm) // 2).astype(np.float32)
    n_in = len(x)
    g = math.gcd(from_hz, to_hz)
    out_per_period, in_per_period = to_hz // g, from_hz // g
    n_out = (n_in * out_per_period) // in_per_period
    if n_out == 0:
        return b""
    cutoff_hz = 0.99 * 0.5 * min(from_hz, to_hz)
    half_width_s = RESAMPLE_NUM_ZEROS / (2.0 * cutoff_hz)
    phase_times = np.arange(out_per_period, dtype=np.float64) / to_hz
    first = np.ceil((phase_times - half_width_s) * from_hz).astype(np.int64)
    last = np.floor((phase_times + half_width_s) * from_hz).astype(np.int64)
    taps = int((last - first).max()) + 1
    j = first[:, None] + np.arange(taps)[None, :]
    delta = j / from_hz - phase_times[:, None]
    inside = (np.abs(delta) < half_width_s) & (j <= last[:, None])
    window = 0.5 * (1.0 + np.cos(2.0 * np.pi * cutoff_hz / RESAMPLE_NUM_ZEROS * delta))
    safe = np.where(delta == 0.0, 1.0, delta)
    sinc = np.where(
        delta == 0.0, 2.0 * cutoff_hz, np.sin(2.0 * np.pi * cutoff_hz * safe) / (np.pi * safe)
    )
    weights = np.where(inside, window * sinc / from_hz, 0.0).astype(np.float32)

    pad_left = max(0, -int(first.min()))
    per_phase = [len(range(p, n_out, out_per_period)) for p in range(out_per_period)]
    needed = int(max(first[p] + (per_phase[p] - 1) * in_per_period for p in range(out_per_period)))
    pad_right = max(0, needed + taps - n_in)
    padded = np.concatenate([np.zeros(pad_left, np.float32), x, np.zeros(pad_right, np.float32)])
    out = np.empty(n_out, dtype=np.float32)
    acc = np.empty(RESAMPLE_BLOCK_SAMPLES, dtype=np.float32)
    tmp = np.empty(RESAMPLE_BLOCK_SAMPLES, dtype=np.float32)
    for p in range(out_per_period):
        base = int(first[p]) + pad_left
        phase_out = out[p::out_per_period]
        # Blocks keep the working set in cache; in-place ops avoid a fresh array per
        # tap (large fresh allocations page-fault on a VM and cost more than the maths).
        for k0 in range(0, per_phase[p], RESAMPLE_BLOCK_SAMPLES):
            n = min(RESAMPLE_BLOCK_SAMPLES, per_phase[p] - k0)
            a, t = acc[:n], tmp[:n]
            a.fill(0.0)
            for k in range(taps):
                w = weights[p, k]
                if w != 0.0:
                    start = base + k + k0 * in_per_period
                    np.multiply(
                        padded[start : start + (n - 1) * in_per_period + 1 : in_per_period],
                        w,
                        out=t,
                    )
                    a += t
            phase_out[k0 : k0 + n] = a
    return np.clip(np.rint(out), -32768, 32767).astype("<i2").tobytes()
