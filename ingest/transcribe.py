"""Offline speech-to-text for call recordings with vosk, one recognizer per channel.

Speakers are attributed by channel (agent and customer each on their own stream),
so no diarization model is needed. Nothing is downloaded at run time: the model
is a directory from settings or an installed ``vosk-model-*`` package.

Exceptions::

    TranscriptionError        base; carries a short ``reason``
     ├── ModelUnavailable     no usable model at the configured path (also a ValueError)
     ├── AudioUnusable        the recording cannot be decoded: the item is marked ``failed``
     └── TranscriptionCancelled  stop requested mid-recording: the item stays ``pending``
"""

from __future__ import annotations

import atexit
import importlib.metadata
import importlib.util
import json
import math
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from archive.model import Party, Section, Side
from ingest.audio import AudioError, read_wav

if TYPE_CHECKING:
    import vosk

#: Kaldi's default when a model's ``conf/mfcc.conf`` does not name a rate.
DEFAULT_MODEL_SAMPLE_RATE_HZ: Final = 16000
#: Audio handed to the recognizer per call; vosk's own examples use 4000 frames.
FEED_CHUNK_SECONDS: Final = 0.25
#: Zero crossings of the windowed-sinc resampling filter on each side (Kaldi uses 6).
RESAMPLE_NUM_ZEROS: Final = 6
#: Output samples per phase computed at a time (fits in L2 with its input).
RESAMPLE_BLOCK_SAMPLES: Final = 16384
TRANSCRIPT_FORMAT_VERSION: Final = 1
#: A transcript section (what a search hit points at) ends at a pause this long ...
PHRASE_PAUSE_SECONDS: Final = 0.8
#: ... or once it spans this long.
PHRASE_MAX_SECONDS: Final = 10.0

_MODEL_MARKERS: Final = ("am", "conf")
_PACKAGE_MODEL_SUBDIR: Final = "model"


class TranscriptionError(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ModelUnavailable(TranscriptionError, ValueError):
    """A settings value points at no usable model (a ValueError, as CLIs report those)."""

    def __init__(self, path: Path | None, *, reason: str) -> None:
        self.path = path
        super().__init__(f"vosk model {path}: {reason}" if path else f"vosk model: {reason}")


class AudioUnusable(TranscriptionError):
    pass


class TranscriptionCancelled(TranscriptionError):
    def __init__(self) -> None:
        super().__init__("transcription cancelled")


# --------------------------------------------------------------------------- model discovery


def _is_model_dir(path: Path) -> bool:
    return path.is_dir() and all((path / marker).is_dir() for marker in _MODEL_MARKERS)


def _model_in(path: Path) -> Path | None:
    """A model directory itself, or a package/unpacked archive holding one in ``model/``."""
    if _is_model_dir(path):
        return path
    inner = path / _PACKAGE_MODEL_SUBDIR
    if _is_model_dir(inner):
        return inner
    return None


def installed_model_packages() -> list[str]:
    """Top-level import names of installed ``vosk-model-*`` distributions, sorted.

    Reads distribution metadata only: neither the packages nor vosk are imported.
    """
    names: set[str] = set()
    for dist in importlib.metadata.distributions():
        dist_name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if not dist_name.startswith("vosk-model"):
            continue
        top_level = dist.read_text("top_level.txt")
        if top_level:
            names.update(line.strip() for line in top_level.splitlines() if line.strip())
        else:
            names.add(dist_name.replace("-", "_"))
    return sorted(names)


def find_model(configured: Path | None) -> Path | None:
    """The model directory to use: the configured one, else the first installed package's.

    A configured path that holds no model is an error, not a silent fallback, so a
    typo in settings does not quietly switch languages.
    """
    if configured is not None:
        configured = configured.expanduser()
        if not configured.exists():
            raise ModelUnavailable(configured, reason="does not exist")
        found = _model_in(configured)
        if found is None:
            raise ModelUnavailable(
                configured, reason="is not a vosk model directory (no am/, conf/)"
            )
        return found
    importlib.invalidate_caches()  # a package may have been installed since the last look
    for name in installed_model_packages():
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            found = _model_in(Path(location))
            if found is not None:
                return found
    return None


def model_sample_rate(model_dir: Path) -> int:
    """The rate the model's features expect, from ``conf/mfcc.conf``."""
    conf = model_dir / "conf" / "mfcc.conf"
    try:
        lines = conf.read_text(encoding="utf-8").splitlines()
    except OSError:
        return DEFAULT_MODEL_SAMPLE_RATE_HZ
    for line in lines:
        key, _, value = line.strip().partition("=")
        if key == "--sample-frequency":
            try:
                return int(float(value))
            except ValueError:
                break
    return DEFAULT_MODEL_SAMPLE_RATE_HZ


# --------------------------------------------------------------------------- audio


def read_wav_channels(data: bytes) -> tuple[list[bytes], int]:
    """Per-channel 16-bit PCM and the sample rate, with the decoder ingest uses.

    Anything ``ingest.audio`` accepted at ingest can be transcribed; anything it
    cannot read is ``AudioUnusable`` (the item is marked ``failed``).
    """
    try:
        audio = read_wav(data)
    except (AudioError, ValueError, struct.error) as exc:
        raise AudioUnusable(f"undecodable recording: {exc}") from exc
    if audio.frames == 0:
        raise AudioUnusable("recording contains no audio")
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


# --------------------------------------------------------------------------- transcripts


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True, slots=True)
class Utterance:
    start: float
    end: float
    text: str


@dataclass(slots=True)
class SpeakerTranscript:
    """What one channel (one participant) said."""

    label: str
    channel: int
    words: list[Word] = field(default_factory=list)
    utterances: list[Utterance] = field(default_factory=list)


@dataclass(slots=True)
class Transcript:
    speakers: list[SpeakerTranscript]
    duration_s: float
    sample_rate: int
    model: str

    @property
    def word_count(self) -> int:
        return sum(len(s.words) for s in self.speakers)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": TRANSCRIPT_FORMAT_VERSION,
            "model": self.model,
            "sample_rate": self.sample_rate,
            "duration_s": round(self.duration_s, 3),
            "speakers": [
                {
                    "label": s.label,
                    "channel": s.channel,
                    "words": [
                        {"word": w.word, "start": w.start, "end": w.end, "conf": w.conf}
                        for w in s.words
                    ],
                    "utterances": [
                        {"start": u.start, "end": u.end, "text": u.text} for u in s.utterances
                    ],
                }
                for s in self.speakers
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Transcript:
        return cls(
            speakers=[
                SpeakerTranscript(
                    label=str(s["label"]),
                    channel=int(s["channel"]),
                    words=[
                        Word(str(w["word"]), float(w["start"]), float(w["end"]), float(w["conf"]))
                        for w in s["words"]
                    ],
                    utterances=[
                        Utterance(float(u["start"]), float(u["end"]), str(u["text"]))
                        for u in s["utterances"]
                    ],
                )
                for s in data["speakers"]
            ],
            duration_s=float(data["duration_s"]),
            sample_rate=int(data["sample_rate"]),
            model=str(data["model"]),
        )

    def _timeline(self) -> list[tuple[Utterance, SpeakerTranscript]]:
        pairs = [(u, s) for s in self.speakers for u in s.utterances]
        pairs.sort(key=lambda pair: (pair[0].start, pair[1].channel))
        return pairs

    def to_sections(self) -> list[Section]:
        """One index section per utterance, so a hit names the speaker and the offset."""
        return [
            Section(kind="transcript", text=u.text, speaker=s.label, start_s=u.start)
            for u, s in self._timeline()
        ]

    def to_text(self) -> str:
        """The conversation in time order, one line per utterance, for exports."""
        lines = [f"[{_clock(u.start)}] {s.label}: {u.text}" for u, s in self._timeline()]
        return "\n".join(lines) + ("\n" if lines else "")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(max(seconds, 0.0), 60.0)
    hours, minutes = divmod(int(minutes), 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:04.1f}"
    return f"{minutes:02d}:{secs:04.1f}"


def speaker_labels(parties: Sequence[Party], n_channels: int) -> list[str]:
    """Channel labels from the parties' channel map: ``agent`` / ``customer``.

    Uses the side (never an address, which would put personal data in labels);
    duplicates get a number, unmapped channels are ``channel N``.
    """
    labels = [f"channel {ch}" for ch in range(n_channels)]
    for party in parties:
        ch = party.channel_index
        if ch is not None and 0 <= ch < n_channels and party.side is not Side.UNKNOWN:
            labels[ch] = party.side.value
    seen: dict[str, int] = {}
    for ch, label in enumerate(labels):
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            labels[ch] = f"{label} {seen[label]}"
    return labels


def default_labels(n_channels: int) -> list[str]:
    return ["speaker"] if n_channels == 1 else [f"channel {ch}" for ch in range(n_channels)]


# --------------------------------------------------------------------------- recognizer


class Transcriber:
    """Holds one loaded vosk model, shared by every thread; recognizers are per channel."""

    def __init__(self, model_dir: Path) -> None:
        import vosk as _vosk

        _vosk.SetLogLevel(-1)
        found = _model_in(model_dir)
        if found is None:
            raise ModelUnavailable(model_dir, reason="is not a vosk model directory")
        self.model_dir = found
        self.sample_rate = model_sample_rate(self.model_dir)
        self.model_name = _model_label(self.model_dir)
        self._vosk = _vosk
        try:
            self._model: vosk.Model = _vosk.Model(model_path=str(self.model_dir))
        except Exception as exc:  # vosk raises a bare Exception on a bad model
            raise ModelUnavailable(self.model_dir, reason=f"vosk could not load it: {exc}") from exc

    @classmethod
    def discover(cls, configured: Path | None) -> Transcriber | None:
        """The transcriber for the configured or installed model, or None without one."""
        found = find_model(configured)
        return None if found is None else cls.shared(found)

    @classmethod
    def shared(cls, model_dir: Path) -> Transcriber:
        """One loaded model per directory per process (a model takes seconds and ~100 MB)."""
        key = model_dir.resolve()
        with _SHARED_LOCK:
            transcriber = _SHARED.get(key)
            if transcriber is None:
                transcriber = _SHARED[key] = cls(key)
            return transcriber

    def transcribe_channels(
        self,
        channels: Sequence[bytes],
        sample_rate: int,
        labels: Sequence[str],
        *,
        cancel: threading.Event | None = None,
    ) -> Transcript:
        """Transcribe each channel (mono 16-bit PCM at ``sample_rate``) with its own recognizer."""
        if not channels:
            raise AudioUnusable("recording has no channels")
        if len(labels) != len(channels):
            raise ValueError(f"{len(channels)} channels but {len(labels)} labels")
        if sample_rate < 1000:
            raise AudioUnusable(f"implausible sample rate {sample_rate} Hz")
        frames = max(len(pcm) // 2 for pcm in channels)
        if frames == 0:
            raise AudioUnusable("recording contains no audio")
        speakers = [
            self._transcribe_one(pcm, sample_rate, label, ch, cancel)
            for ch, (pcm, label) in enumerate(zip(channels, labels, strict=True))
        ]
        return Transcript(
            speakers=speakers,
            duration_s=round(frames / sample_rate, 3),
            sample_rate=self.sample_rate,
            model=self.model_name,
        )

    def transcribe_wav(
        self,
        wav: bytes,
        labels: Sequence[str] | None = None,
        *,
        cancel: threading.Event | None = None,
    ) -> Transcript:
        channels, rate = read_wav_channels(wav)
        if labels is None:
            labels = default_labels(len(channels))
        if len(labels) != len(channels):
            raise AudioUnusable(f"recording has {len(channels)} channels, expected {len(labels)}")
        return self.transcribe_channels(channels, rate, labels, cancel=cancel)

    def _transcribe_one(
        self,
        pcm: bytes,
        sample_rate: int,
        label: str,
        channel: int,
        cancel: threading.Event | None,
    ) -> SpeakerTranscript:
        pcm = pcm[: len(pcm) // 2 * 2]
        if sample_rate != self.sample_rate:
            pcm = resample_pcm16(pcm, sample_rate, self.sample_rate)
        recognizer = self._vosk.KaldiRecognizer(self._model, float(self.sample_rate))
        recognizer.SetWords(True)
        speaker = SpeakerTranscript(label=label, channel=channel)
        step = int(self.sample_rate * FEED_CHUNK_SECONDS) * 2
        for offset in range(0, len(pcm), step):
            if cancel is not None and cancel.is_set():
                raise TranscriptionCancelled()
            if recognizer.AcceptWaveform(pcm[offset : offset + step]):
                _collect(speaker, recognizer.Result())
        _collect(speaker, recognizer.FinalResult())
        return speaker


_SHARED: dict[Path, Transcriber] = {}


@atexit.register
def _free_shared_models() -> None:
    """Free loaded models while vosk's module is still alive (its __del__ needs it)."""
    _SHARED.clear()
_SHARED_LOCK = threading.Lock()


def _collect(speaker: SpeakerTranscript, result_json: str) -> None:
    """Add one vosk result's words, and its phrases as utterances."""
    result = json.loads(result_json)
    words = [
        Word(
            word=str(w["word"]),
            start=round(float(w["start"]), 3),
            end=round(float(w["end"]), 3),
            conf=round(float(w.get("conf", 1.0)), 3),
        )
        for w in result.get("result") or []
    ]
    speaker.words.extend(words)
    speaker.utterances.extend(phrases(words))


def phrases(words: Sequence[Word]) -> list[Utterance]:
    """Split a recogniser result into phrases at pauses and at a maximum length.

    vosk ends a result only at its endpoint silence, so a customer talking for a
    minute is one result; a search hit should point within seconds of the words.
    """
    out: list[Utterance] = []
    group: list[Word] = []
    for word in words:
        if group and (
            word.start - group[-1].end >= PHRASE_PAUSE_SECONDS
            or word.end - group[0].start > PHRASE_MAX_SECONDS
        ):
            out.append(_utterance(group))
            group = []
        group.append(word)
    if group:
        out.append(_utterance(group))
    return out


def _utterance(words: Sequence[Word]) -> Utterance:
    return Utterance(start=words[0].start, end=words[-1].end, text=" ".join(w.word for w in words))


def _model_label(model_dir: Path) -> str:
    """A readable model name: the package or directory it came from."""
    if model_dir.name == _PACKAGE_MODEL_SUBDIR:
        return model_dir.parent.name
    return model_dir.name
