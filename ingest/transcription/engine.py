"""Offline speech-to-text for call recordings with vosk, one recognizer per channel.

Speakers are attributed by channel (agent and customer each on their own stream),
so no diarization model is needed. Nothing is downloaded at run time: the model
is a directory from settings or an installed ``vosk-model-*`` package
(``ingest.transcription.discovery``).

Exceptions (``ingest.errors``)::

    TranscriptionError        base; carries a short ``reason``
     ├── ModelUnavailable     no usable model at the configured path (also a ValueError)
     ├── AudioUnusable        the recording cannot be decoded: the item is marked ``failed``
     └── TranscriptionCancelled  stop requested mid-recording: the item stays ``pending``
"""

from __future__ import annotations

import atexit
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ingest.errors import AudioUnusable, ModelUnavailable, TranscriptionCancelled
from ingest.transcription.discovery import find_model, model_in, model_label, model_sample_rate
from ingest.transcription.pcm import read_wav_channels, resample_pcm16
from ingest.transcription.transcript import (
    SpeakerTranscript,
    Transcript,
    Word,
    default_labels,
    phrases,
)

if TYPE_CHECKING:
    import vosk

#: Audio handed to the recognizer per call; vosk's own examples use 4000 frames.
FEED_CHUNK_SECONDS: Final = 0.25


class Transcriber:
    """Holds one loaded vosk model, shared by every thread; recognizers are per channel."""

    def __init__(self, model_dir: Path) -> None:
        import vosk as _vosk

        _vosk.SetLogLevel(-1)
        found = model_in(model_dir)
        if found is None:
            raise ModelUnavailable(model_dir, reason="is not a vosk model directory")
        self.model_dir = found
        self.sample_rate = model_sample_rate(self.model_dir)
        self.model_name = model_label(self.model_dir)
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
