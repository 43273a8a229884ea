"""Recordings in the formats PBXs write: recognise the format, decode it to 16-bit PCM.

PBXs export PCM and G.711 WAV, GSM 6.10 WAV (Asterisk's ``wav49``), IMA ADPCM
WAV, MP3, FLAC and Ogg/Opus. The format is recognised from the bytes, never
from a file name (a PBX writes ``.WAV`` for GSM and ``.wav`` for µ-law alike),
so an error can say which format a file is and why it could not be read.

The WAV encodings :mod:`ingest.audio.wav` reads (PCM, float, µ-law, A-law) go
through it, as before; everything else goes through libsndfile (``soundfile``,
whose wheel bundles libsndfile with its MP3 and Opus decoders), a maintained
decoder rather than one of our own. Both give the same :class:`Audio`: one
16-bit PCM buffer per channel.

Exceptions::

    AudioError        not audio in a recognised format, or audio that cannot be
                      decoded; the message names the format and the reason
"""

from __future__ import annotations

import io
import re
import struct
from dataclasses import dataclass
from typing import Final

from ingest.audio.wav import (
    MAX_CHANNELS,
    WAVE_FORMAT_ALAW,
    WAVE_FORMAT_EXTENSIBLE,
    WAVE_FORMAT_IEEE_FLOAT,
    WAVE_FORMAT_MULAW,
    WAVE_FORMAT_PCM,
    Audio,
    AudioError,
    read_wav,
)

WAVE_FORMAT_MS_ADPCM: Final = 0x0002
WAVE_FORMAT_IMA_ADPCM: Final = 0x0011
WAVE_FORMAT_GSM610: Final = 0x0031
WAVE_FORMAT_MPEGLAYER3: Final = 0x0055

#: What the error for an unrecognised file lists as accepted.
ACCEPTED: Final = "WAV (PCM, G.711, GSM 6.10, IMA ADPCM), MP3, FLAC or Ogg (Opus, Vorbis)"
#: WAV encodings :func:`ingest.audio.wav.read_wav` decodes itself.
_OWN_WAV: Final = frozenset({WAVE_FORMAT_PCM, WAVE_FORMAT_IEEE_FLOAT, WAVE_FORMAT_MULAW,
                             WAVE_FORMAT_ALAW})
_WAV_NAMES: Final = {
    WAVE_FORMAT_PCM: "PCM WAV",
    WAVE_FORMAT_IEEE_FLOAT: "float WAV",
    WAVE_FORMAT_MULAW: "G.711 µ-law WAV",
    WAVE_FORMAT_ALAW: "G.711 A-law WAV",
    WAVE_FORMAT_MS_ADPCM: "MS ADPCM WAV",
    WAVE_FORMAT_IMA_ADPCM: "IMA ADPCM WAV",
    WAVE_FORMAT_GSM610: "GSM 6.10 WAV",
    WAVE_FORMAT_MPEGLAYER3: "MP3-in-WAV",
}
#: libsndfile's messages name the file object it was given; that is noise to a reader.
_OPENING: Final = re.compile(r"^Error opening <[^>]*>: ")
_BLOCK_FRAMES: Final = 1 << 16
#: Decoded 16-bit PCM a recording may come to: the drop folder's limit for a file.
#: Silence compresses to almost nothing in FLAC or Opus (a few kB per ten minutes),
#: so the input's size bounds nothing; 1 GiB is 18 hours of 8 kHz mono, 1.5 hours
#: of 48 kHz stereo.
MAX_DECODED_BYTES: Final = 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class AudioFormat:
    """A recognised recording format: a name for people and the media type to store."""

    name: str
    media_type: str
    #: The WAV format tag (``None`` for other containers) and its bits per sample.
    wav_tag: int | None = None
    bits: int = 0


def _wav_tag(data: bytes) -> tuple[int | None, int]:
    """The fmt chunk's format tag (the sub-format for WAVE_FORMAT_EXTENSIBLE) and bits."""
    pos = 12
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        if cid == b"fmt ":
            body = data[pos + 8 : pos + 8 + size]
            if len(body) < 16:
                return None, 0
            tag, bits = struct.unpack_from("<H", body)[0], struct.unpack_from("<H", body, 14)[0]
            if tag == WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                (tag,) = struct.unpack_from("<H", body, 24)
            return tag, bits
        pos += 8 + size + (size & 1)
    return None, 0


def _mpeg_frame_at(data: bytes, pos: int) -> bool:
    """An MPEG audio frame header (sync, layer set, bitrate and rate not reserved)."""
    if pos + 4 > len(data) or data[pos] != 0xFF or data[pos + 1] & 0xE0 != 0xE0:
        return False
    layer, bitrate, rate = (data[pos + 1] >> 1) & 3, data[pos + 2] >> 4, (data[pos + 2] >> 2) & 3
    return layer != 0 and bitrate != 0xF and rate != 3


def sniff_format(data: bytes) -> AudioFormat | None:
    """The recording format of ``data`` from its first bytes, or None if not audio we take."""
    head = bytes(data[:64])
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        tag, bits = _wav_tag(bytes(data[:4096]))
        if tag is None:
            return AudioFormat("WAV", "audio/wav")
        name = _WAV_NAMES.get(tag, f"WAV (format {tag:#06x})")
        if tag == WAVE_FORMAT_PCM and bits != 16:
            name = f"{bits}-bit {name}"
        return AudioFormat(name, "audio/wav", wav_tag=tag, bits=bits)
    if head[:4] == b"fLaC":
        return AudioFormat("FLAC", "audio/flac")
    if head[:4] == b"OggS":
        page = bytes(data[:512])
        if b"OpusHead" in page:
            return AudioFormat("Ogg/Opus", "audio/ogg")
        if b"\x01vorbis" in page:
            return AudioFormat("Ogg/Vorbis", "audio/ogg")
        return AudioFormat("Ogg", "audio/ogg")
    if head[:3] == b"ID3" or _mpeg_frame_at(head, 0):
        return AudioFormat("MP3", "audio/mpeg")
    return None


@dataclass(frozen=True, slots=True)
class Decoded:
    """A recording's format and its audio."""

    format: AudioFormat
    audio: Audio


def decode_audio(data: bytes, *, max_decoded_bytes: int = MAX_DECODED_BYTES) -> Decoded:
    """Recognise and decode a recording; :class:`AudioError` names the format and reason.

    Decoding stops as soon as the audio passes ``max_decoded_bytes`` of 16-bit
    PCM (a small file of compressed silence must not fill the memory).
    """
    fmt = sniff_format(data)
    if fmt is None:
        raise AudioError(f"not a recognised recording format (expected {ACCEPTED})")
    try:
        if fmt.wav_tag in _OWN_WAV:
            audio = read_wav(data)
            _check_size(sum(len(c) for c in audio.channels), max_decoded_bytes)
        else:
            audio = _libsndfile(data, max_decoded_bytes)
    except (AudioError, struct.error) as exc:
        raise AudioError(f"{fmt.name}: {exc}") from None
    if audio.frames == 0:
        raise AudioError(f"{fmt.name}: no audio samples (empty or cut short)")
    return Decoded(fmt, audio)


def _check_size(decoded_bytes: int, limit: int) -> None:
    if decoded_bytes > limit:
        unit, size = next((u, limit / s) for u, s in (("GiB", 1 << 30), ("MiB", 1 << 20),
                                                      ("KiB", 1 << 10), ("bytes", 1))
                          if limit >= s)
        raise AudioError(f"decodes to more than {size:g} {unit} of audio; refused")


def _libsndfile(data: bytes, max_decoded_bytes: int) -> Audio:
    import numpy as np
    import soundfile

    try:
        with soundfile.SoundFile(io.BytesIO(data)) as reader:
            rate, nch = int(reader.samplerate), int(reader.channels)
            if not 1 <= nch <= MAX_CHANNELS:
                raise AudioError(f"unsupported channel count {nch}")
            if not 1000 <= rate <= 192000:
                raise AudioError(f"implausible sample rate {rate}")
            if reader.seekable() and reader.frames > 0:
                _check_size(reader.frames * nch * 2, max_decoded_bytes)  # before any work
            # In blocks: a stream libsndfile cannot seek in has no frame count up front.
            blocks = []
            decoded = 0
            while len(block := reader.read(_BLOCK_FRAMES, dtype="int16", always_2d=True)):
                decoded += block.nbytes
                _check_size(decoded, max_decoded_bytes)
                blocks.append(block)
    except AudioError:
        raise  # (a ValueError too) our own reason, already plain
    except (soundfile.LibsndfileError, RuntimeError, EOFError, OSError, ValueError) as exc:
        message = _OPENING.sub("", str(exc)).strip() or type(exc).__name__
        if "does not exist" in message or "not a regular file" in message:
            message = "no decodable audio frames"  # libsndfile's word for an unreadable stream
        raise AudioError(f"cannot be decoded ({message})") from None
    if not blocks:
        return Audio(rate, [b""] * nch)
    samples = np.ascontiguousarray(np.concatenate(blocks), dtype="<i2")
    return Audio(rate, [samples[:, ch].tobytes() for ch in range(nch)])
