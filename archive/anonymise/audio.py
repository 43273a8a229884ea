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


@dataclass(frozen=True, slots=True)
class PcmLayout:
    """Where a 16-bit PCM WAV file's samples are: enough to redact any byte range of it."""
    data_offset: int
    #: Whole frames in the file (the data chunk, cut to what the file holds).
    frames: int
    rate: int
    channels: int

    @property
    def frame_bytes(self) -> int:
        return 2 * self.channels


#: How much of a WAV file's start ``pcm_layout`` needs to find its data chunk.
WAV_HEAD_BYTES: Final = 64 * 1024


def pcm_layout(head: bytes, file_size: int) -> PcmLayout:
    """The layout of a 16-bit PCM WAV file from its first bytes (``WAV_HEAD_BYTES``);
    ValueError says what else it is."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    pos, rate, channels = 12, 0, 0
    while pos + 8 <= len(head):
        chunk, size = head[pos:pos + 4], int.from_bytes(head[pos + 4:pos + 8], "little")
        body = pos + 8
        if chunk == b"fmt ":
            if size < 16 or body + 16 > len(head):
                raise ValueError("WAV format chunk is cut short")
            tag = int.from_bytes(head[body:body + 2], "little")
            channels = int.from_bytes(head[body + 2:body + 4], "little")
            rate = int.from_bytes(head[body + 4:body + 8], "little")
            bits = int.from_bytes(head[body + 14:body + 16], "little")
            if tag not in (1, 0xFFFE) or bits != 16:
                raise ValueError("only 16-bit PCM recordings can be bleeped")
        elif chunk == b"data":
            if not rate or not channels:
                raise ValueError("WAV data comes before its format")
            # A recorder that never went back to write the size leaves 0 or 0xFFFFFFFF.
            held = file_size - body
            size = held if size in (0, 0xFFFFFFFF) else min(size, held)
            return PcmLayout(body, max(0, size) // (2 * channels), rate, channels)
        pos = body + size + (size & 1)
    raise ValueError("no WAV data chunk in the file's first "
                     f"{WAV_HEAD_BYTES // 1024} KiB")


def bleep_slice(data: bytes, start: int, layout: PcmLayout, spans: list[tuple[float, float]],
                redaction: AudioRedaction | None = None) -> bytes:
    """Bytes ``start`` to ``start + len(data)`` of a WAV file, redacted: exactly those bytes
    of the whole file redacted (``bleep_wav``), so a player streaming ranges hears the same
    call. Frames cut by the range's ends are redacted whole and cut again."""
    import numpy as np

    chosen = redaction or _audio
    out = bytearray(data)
    end = start + len(data)
    fb, rate = layout.frame_bytes, layout.rate
    for span_start, span_end in spans:
        lo = max(0, int((span_start - chosen.margin_s) * rate))
        hi = min(layout.frames, int((span_end + chosen.margin_s) * rate))
        first = max(start, layout.data_offset + lo * fb)
        last = min(end, layout.data_offset + hi * fb)
        if last <= first:
            continue
        f_lo = (first - layout.data_offset) // fb
        f_hi = -(-(last - layout.data_offset) // fb)
        if chosen.mode == "silence":
            block = bytes((f_hi - f_lo) * fb)
        else:
            t = np.arange(f_lo, f_hi) / rate
            tone = (BLEEP_AMPLITUDE * np.sin(2 * np.pi * BLEEP_HZ * t)).astype("<i2")
            block = np.repeat(tone[:, None], layout.channels, axis=1).tobytes()
        at = layout.data_offset + f_lo * fb
        out[first - start:last - start] = block[first - at:last - at]
    return bytes(out)


def bleep_wav(wav: bytes, spans: list[tuple[float, float]],
              redaction: AudioRedaction | None = None) -> bytes:
    """Replace every channel in each span (widened by the margin) with a tone, or with
    silence (``configure_audio``); 16-bit PCM WAV only. In place: the header and every
    byte outside the spans stay as they were, so a range of the result is
    ``bleep_slice`` of that range."""
    return bleep_slice(wav, 0, pcm_layout(wav[:WAV_HEAD_BYTES], len(wav)), spans, redaction)
