"""Audio redaction: the recognised spans of a call replaced by a tone."""

from __future__ import annotations

from typing import Final

BLEEP_HZ: Final = 1000.0
BLEEP_AMPLITUDE: Final = 3000
BLEEP_PAD_S: Final = 0.08


def bleep_wav(wav: bytes, spans: list[tuple[float, float]]) -> bytes:
    """Replace every channel in each span (padded) with a tone; 16-bit PCM WAV only."""
    import io
    import wave

    import numpy as np

    with wave.open(io.BytesIO(wav)) as reader:
        if reader.getsampwidth() != 2:
            raise ValueError("only 16-bit PCM recordings can be bleeped")
        rate, nch = reader.getframerate(), reader.getnchannels()
        frames = reader.readframes(reader.getnframes())
    samples = np.frombuffer(frames, dtype="<i2").reshape(-1, nch).copy()
    total = samples.shape[0]
    for start, end in spans:
        lo = max(0, int((start - BLEEP_PAD_S) * rate))
        hi = min(total, int((end + BLEEP_PAD_S) * rate))
        if hi <= lo:
            continue
        t = np.arange(lo, hi) / rate
        tone = (BLEEP_AMPLITUDE * np.sin(2 * np.pi * BLEEP_HZ * t)).astype("<i2")
        samples[lo:hi, :] = tone[:, None]
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(nch)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.tobytes())
    return out.getvalue()
