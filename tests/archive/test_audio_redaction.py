"""A call spoken by espeak-ng, with a name and a phone number at known times: the trainer
hears exactly those spans bleeped (or silenced) and every other sample unchanged.

The call is built from espeak-ng phrases laid end to end, so where each phrase
starts and ends is known to the sample; the transcript's word times come from
those boundaries (a Dutch transcriber is not installed in the tests, and the word
times of the Korean test model would not be Dutch words). What is checked is the
audio the trainer gets through the archive, as ``read_content`` serves it.
"""

from __future__ import annotations

import io
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from archive.anonymise import BLEEP_AMPLITUDE, BLEEP_HZ, configure_audio
from archive.config import Role
from archive.model import Section
from archive.service import Archive
from ingest.audio import write_wav
from ingest.calls import build_call_item, parse_sidecar, recording_from_file
from tests.ingest.formats import tool

RATE = 8000
MARGIN = 0.1
#: (words, personal data?) in the order spoken by the customer.
PHRASES = [("goedemorgen ik bel over mijn factuur", False),
           ("mijn naam is", False),
           ("kees jansen", True),
           ("en mijn nummer is", False),
           ("nul zes een twee drie vier", True),
           ("dank u wel", False)]


def _espeak(text: str, directory: Path, index: int) -> np.ndarray:
    spoken, target = directory / f"p{index}.wav", directory / f"p{index}-8k.wav"
    subprocess.run([tool("espeak-ng"), "-v", "nl", "-w", str(spoken), text],
                   check=True, capture_output=True, timeout=60)
    subprocess.run([tool("sox"), str(spoken), "-r", str(RATE), "-c", "1", "-b", "16",
                    str(target)], check=True, capture_output=True, timeout=60)
    with wave.open(str(target)) as reader:
        return np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2")


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.ndarray, list[dict[str, float]]]:
    """The customer's channel and each phrase's (start, end) in seconds."""
    directory = tmp_path_factory.mktemp("espeak")
    pause = np.zeros(int(0.4 * RATE), dtype="<i2")
    parts: list[np.ndarray] = [pause]
    times: list[dict[str, float]] = []
    at = len(pause)
    for i, (text, _) in enumerate(PHRASES):
        audio = _espeak(text, directory, i)
        times.append({"start": at / RATE, "end": (at + len(audio)) / RATE})
        parts += [audio, pause]
        at += len(audio) + len(pause)
    return np.concatenate(parts), times


@pytest.fixture
def audio_mode() -> Iterator[None]:
    yield
    configure_audio()  # back to the default: bleep, 0.08 s


def _ingest(archive: Archive, channel: np.ndarray, times: list[dict[str, float]]) -> str:
    sidecar = parse_sidecar({"call_id": "espeak-1", "from": "+31612345678",
                             "from_name": "Kees Jansen", "to": "+31205550100",
                             "agent": "+31205550100", "direction": "inbound",
                             "start": "2026-11-02T09:00:00Z"})
    silence = np.zeros_like(channel)
    rec = recording_from_file(write_wav(RATE, [channel.tobytes(), silence.tobytes()]),
                              sidecar, source="t", config=archive.config)
    item_id = archive.ingest(build_call_item(rec, archive.config)).item_id
    words = []
    for (text, _), span in zip(PHRASES, times, strict=True):
        spoken_words = text.split()
        step = (span["end"] - span["start"]) / len(spoken_words)
        words += [{"word": w, "start": span["start"] + k * step,
                   "end": span["start"] + (k + 1) * step, "conf": 0.95}
                  for k, w in enumerate(spoken_words)]
    transcript = {"speakers": [{"label": "customer", "channel": 0, "words": words,
                                "utterances": []}]}
    archive.attach_transcript(item_id, transcript,
                              [Section("transcript", " ".join(p for p, _ in PHRASES),
                                       "customer", 0.0)], "nl")
    return item_id


def _heard(archive: Archive, item_id: str, role: Role) -> np.ndarray:
    user = archive.users.authenticate(archive.users.add(f"u-{role.value}-{item_id[:6]}", role))
    with wave.open(io.BytesIO(archive.read_content(user, item_id).data)) as reader:
        frames = reader.readframes(reader.getnframes())
        return np.frombuffer(frames, dtype="<i2").reshape(-1, reader.getnchannels())[:, 0]


def _redacted(times: list[dict[str, float]]) -> list[tuple[int, int]]:
    return [(max(0, int((t["start"] - MARGIN) * RATE)), int((t["end"] + MARGIN) * RATE))
            for (_, secret), t in zip(PHRASES, times, strict=True) if secret]


def _outside(length: int, spans: list[tuple[int, int]]) -> np.ndarray:
    keep = np.ones(length, dtype=bool)
    for lo, hi in spans:
        keep[lo:hi] = False
    return keep


@pytest.mark.parametrize("mode", ["bleep", "silence"])
def test_the_spoken_name_and_number_are_bleeped_and_the_rest_is_untouched(
        archive: Archive, spoken: tuple[np.ndarray, list[dict[str, float]]], mode: str,
        audio_mode: None) -> None:
    channel, times = spoken
    configure_audio("bleep" if mode == "bleep" else "silence", MARGIN)
    item_id = _ingest(archive, channel, times)
    original = _heard(archive, item_id, Role.QUALITY)
    heard = _heard(archive, item_id, Role.TRAINER)
    assert heard.shape == original.shape
    spans = _redacted(times)
    for lo, hi in spans:
        assert np.sqrt(np.mean(original[lo:hi].astype(float) ** 2)) > 300  # speech was there
        part = heard[lo:hi].astype(float)
        if mode == "silence":
            assert not part.any()
        else:
            # all of the energy is the tone: its RMS, and its frequency
            assert np.sqrt(np.mean(part ** 2)) == pytest.approx(BLEEP_AMPLITUDE / np.sqrt(2),
                                                               rel=0.02)
            spectrum = np.abs(np.fft.rfft(part))
            assert np.fft.rfftfreq(len(part), 1 / RATE)[spectrum.argmax()] == pytest.approx(
                BLEEP_HZ, abs=10)
    keep = _outside(len(original), spans)
    assert np.array_equal(heard[keep], original[keep])  # sample for sample
    # the ordinary words around them were spoken, and are heard as they were
    assert np.sqrt(np.mean(original[keep].astype(float) ** 2)) > 300
