"""Audio redaction: the recognised spans of a call replaced by a tone or by silence.

The spans are the times of exactly the words the anonymised transcript redacts
(``AnonymisedView.bleep_spans``), widened by a margin on both sides because word
times are a recogniser's estimate. Bleep or silence and the margin are the
operator's choice (``settings.anonymise.audio`` and ``audio_margin_seconds``),
set once by the composition root with ``configure_audio``. Outside the spans every
sample is left exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

BLEEP_HZ: Final = 1000.0
BLEEP_AMPLITUDE: Final = 3000
BLEEP_PAD_S: Final = 0.08
AudioMode = Literal["bleep", "silence"]


@dataclass(frozen=True)
class AudioRedaction:
    mode: AudioMode = "bleep"
    #: Seconds added before and after each redacted word.
    margin_s: float = BLEEP_PAD_S


_audio = AudioRedaction()


def configure_audio(mode: AudioMode = "bleep", margin_s: float = BLEEP_PAD_S) -> None:
    """Bleep or silence, and the margin, for every call redacted from now on."""
    global _audio
    if mode not in ("bleep", "silence"):
        raise ValueError(f"audio redaction {mode!r} is neither 'bleep' nor 'silence'")
    if not 0 <= margin_s <= 2:
        raise ValueError(f"audio redaction margin {margin_s} s is not between 0 and 2 seconds")
    _audio = AudioRedaction(mode, margin_s)


def audio_redaction() -> AudioRedaction:
    return _audio


def bleep_wav(wav: bytes, spans: list[tuple[float, float]],
              redaction: AudioRedaction | None = None) -> bytes:
    """Replace every channel in each span (widened by the margin) with a tone, or with
    silence (``configure_audio``); 16-bit PCM WAV only."""
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
    chosen = redaction or _audio
    for start, end in spans:
        lo = max(0, int((start - chosen.margin_s) * rate))
        hi = min(total, int((end + chosen.margin_s) * rate))
        if hi <= lo:
            continue
        if chosen.mode == "silence":
            samples[lo:hi, :] = 0
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
