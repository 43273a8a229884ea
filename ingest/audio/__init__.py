"""Call audio: recognise and decode recordings, read and write WAV, G.711.

``decode`` recognises a recording's format from its bytes (PCM, G.711, GSM 6.10
and IMA ADPCM WAV, MP3, FLAC, Ogg/Opus) and decodes it to one 16-bit PCM buffer
per channel; ``wav`` holds the WAV reader and writer and the G.711 codecs the
SIPREC server uses. Imports nothing of the project beyond ``ingest.errors``.

Exceptions::

    AudioError        not audio in a recognised format, or audio that cannot be
                      decoded (also ValueError); the message names the format
"""

from __future__ import annotations

from ingest.audio.decode import ACCEPTED, AudioFormat, Decoded, decode_audio, sniff_format
from ingest.audio.wav import (
    ALAW_TABLE,
    MAX_CHANNELS,
    ULAW_TABLE,
    WAVE_FORMAT_ALAW,
    WAVE_FORMAT_EXTENSIBLE,
    WAVE_FORMAT_IEEE_FLOAT,
    WAVE_FORMAT_MULAW,
    WAVE_FORMAT_PCM,
    Audio,
    AudioError,
    alaw_decode,
    alaw_encode,
    interleave,
    read_wav,
    ulaw_decode,
    ulaw_encode,
    write_wav,
)

__all__ = [
    "ACCEPTED",
    "ALAW_TABLE",
    "MAX_CHANNELS",
    "ULAW_TABLE",
    "WAVE_FORMAT_ALAW",
    "WAVE_FORMAT_EXTENSIBLE",
    "WAVE_FORMAT_IEEE_FLOAT",
    "WAVE_FORMAT_MULAW",
    "WAVE_FORMAT_PCM",
    "Audio",
    "AudioError",
    "AudioFormat",
    "Decoded",
    "alaw_decode",
    "alaw_encode",
    "decode_audio",
    "interleave",
    "read_wav",
    "sniff_format",
    "ulaw_decode",
    "ulaw_encode",
    "write_wav",
]
