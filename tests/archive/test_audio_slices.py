"""A range of a bleeped call is those bytes of the whole bleeped call, however it is cut.

A player streams a trainer's call in ranges; each range is redacted on its own
(``bleep_slice``) instead of decrypting and bleeping the whole call per request,
so it must agree byte for byte with the whole-file redaction (``bleep_wav``),
including frames cut in half by a range's ends, extra chunks before the samples,
and both modes.
"""

from __future__ import annotations

import random
import struct

import pytest

from archive.anonymise import (
    WAV_HEAD_BYTES,
    AudioRedaction,
    bleep_slice,
    bleep_wav,
    pcm_layout,
)

RATE = 8000
SPANS = [(0.25, 0.5), (1.0, 1.0), (1.2, 1.9), (2.9, 4.0)]


def _wav(seconds: float = 3.0, channels: int = 2, *, extra: bytes = b"") -> bytes:
    frames = int(RATE * seconds)
    rng = random.Random(7)
    pcm = b"".join(struct.pack("<h", rng.randint(-9000, 9000))
                   for _ in range(frames * channels))
    fmt = struct.pack("<HHIIHH", 1, channels, RATE, RATE * 2 * channels, 2 * channels, 16)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra
    chunks += b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


#: A LIST chunk of odd size (padded) before the samples, as some recorders write.
LIST = b"LIST" + struct.pack("<I", 13) + b"INFOISFT\x05\x00\x00\x00x" + b"\x00"


@pytest.mark.parametrize("mode", ["bleep", "silence"])
@pytest.mark.parametrize("extra", [b"", LIST], ids=["plain", "list-chunk"])
@pytest.mark.parametrize("channels", [1, 2])
def test_any_range_is_the_same_bytes_of_the_whole_bleeped_call(
        mode: str, extra: bytes, channels: int) -> None:
    wav = _wav(channels=channels, extra=extra)
    redaction = AudioRedaction(mode, 0.05)  # type: ignore[arg-type]
    whole = bleep_wav(wav, SPANS, redaction)
    assert len(whole) == len(wav) and whole[:60] == wav[:60]  # in place: header kept
    assert whole != wav
    layout = pcm_layout(wav[:WAV_HEAD_BYTES], len(wav))
    rng = random.Random(11)
    cuts = [(0, len(wav)), (0, 1), (1, 3), (len(wav) - 3, len(wav))]
    cuts += [tuple(sorted(rng.sample(range(len(wav) + 1), 2))) for _ in range(200)]
    for start, end in cuts:
        got = bleep_slice(wav[start:end], start, layout, SPANS, redaction)
        assert got == whole[start:end], (start, end)


def test_outside_the_spans_every_byte_is_the_recording() -> None:
    wav = _wav()
    whole = bleep_wav(wav, [(1.0, 2.0)], AudioRedaction("silence", 0.0))
    layout = pcm_layout(wav, len(wav))
    lo = layout.data_offset + RATE * layout.frame_bytes
    hi = layout.data_offset + 2 * RATE * layout.frame_bytes
    assert whole[:lo] == wav[:lo] and whole[hi:] == wav[hi:]
    assert whole[lo:hi] == bytes(hi - lo)


@pytest.mark.parametrize(("data", "reason"), [
    (b"ID3\x03" + bytes(100), "not a WAV file"),
    (_wav()[:12] + b"fmt " + struct.pack("<I", 16)
     + struct.pack("<HHIIHH", 1, 1, RATE, RATE, 1, 8) + b"data" + bytes(8), "16-bit PCM"),
    (_wav()[:12] + b"data" + bytes(12), "before its format"),
    (_wav()[:12] + b"JUNK" + struct.pack("<I", 10 ** 6), "no WAV data chunk"),
])
def test_what_cannot_be_bleeped_is_named(data: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        bleep_wav(data, SPANS)


def test_a_recorder_that_never_wrote_the_data_size_is_read_to_the_end() -> None:
    wav = bytearray(_wav(channels=1))
    at = wav.index(b"data") + 4
    wav[at:at + 4] = b"\xff\xff\xff\xff"
    layout = pcm_layout(bytes(wav[:WAV_HEAD_BYTES]), len(wav))
    assert layout.frames == 3 * RATE
