"""Which model transcribes a call, or none: never a transcript in the wrong language.

1. The item's language from a rule (``archive.language``) picks its model; a
   language with no model is ``no_model``. With ``verify``, the rule is checked
   against the other models too, and a call another model clearly hears better
   is a mismatch: ``language_unknown``.
2. Without a rule, and with two or more models, each model hears the first
   ``probe_seconds`` of every channel; the one with clearly higher mean word
   confidence (by ``margin``) wins.
3. Otherwise the call is ``language_unknown``. One model alone cannot be
   checked against anything (a Korean model reports confident Korean words for
   English speech), so it is never used without a rule that names its language.

Models are loaded on first use and shared (``Transcriber.shared``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from archive.model import TranscriptStatus
from ingest.transcription.engine import Transcriber

#: Audio each model hears when they are compared.
DEFAULT_PROBE_SECONDS: Final = 10.0
#: How much higher the winner's mean word confidence must be than the runner-up's.
DEFAULT_LANGUAGE_MARGIN: Final = 0.1
#: A transcript whose mean word confidence is below this is marked ``low_confidence``.
DEFAULT_LOW_CONFIDENCE: Final = 0.6
#: A probe that recognises fewer words than this decides nothing.
MIN_PROBE_WORDS: Final = 3


@dataclass(frozen=True, slots=True)
class Route:
    """The decision for one call: a transcriber and its language, or a status and why."""

    language: str | None
    transcriber: Transcriber | None
    status: TranscriptStatus | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ProbeScore:
    language: str
    confidence: float
    words: int


class LanguageRouter:
    """Language -> model directory, and the rules above for choosing between them."""

    def __init__(
        self,
        models: Mapping[str, Path],
        *,
        probe_seconds: float = DEFAULT_PROBE_SECONDS,
        margin: float = DEFAULT_LANGUAGE_MARGIN,
        low_confidence: float = DEFAULT_LOW_CONFIDENCE,
        load: Callable[[Path], Transcriber] = Transcriber.shared,
        verify: bool = False,
    ) -> None:
        self.models = dict(models)
        self.probe_seconds = probe_seconds
        self.margin = margin
        self.low_confidence = low_confidence
        self._load = load
        self.verify = verify
        self._loaded: dict[str, Transcriber] = {}
        self._lock = threading.Lock()
        self._fixed: Transcriber | None = None

    @classmethod
    def fixed(cls, transcriber: Transcriber) -> LanguageRouter:
        """Every call goes to ``transcriber``: the caller vouches for the language of
        every item (tests and single-language embedders; ``serve`` never does this)."""
        router = cls({})
        router._fixed = transcriber
        return router

    @property
    def enabled(self) -> bool:
        return self._fixed is not None or bool(self.models)

    def describe(self) -> str:
        if self._fixed is not None:
            return self._fixed.model_name
        return ", ".join(f"{lang}: {path}" for lang, path in sorted(self.models.items()))

    def transcriber(self, language: str) -> Transcriber:
        with self._lock:
            loaded = self._loaded.get(language)
            if loaded is None:
                loaded = self._loaded[language] = self._load(self.models[language])
            return loaded

    def route(
        self,
        language: str | None,
        channels: Sequence[bytes],
        sample_rate: int,
        *,
        cancel: threading.Event | None = None,
    ) -> Route:
        if self._fixed is not None:
            return Route(language, self._fixed)
        if language is not None:
            if language not in self.models:
                return Route(language, None, TranscriptStatus.NO_MODEL,
                             f"no transcription model for language {language!r}")
            if self.verify and len(self.models) > 1:
                heard = self.choose(self.probe(channels, sample_rate, cancel=cancel))
                if heard.language is not None and heard.language != language:
                    return Route(None, None, TranscriptStatus.LANGUAGE_UNKNOWN,
                                 f"the rules say {language!r} but the {heard.language!r} model "
                                 f"was clearly more confident: {heard.reason}")
            return Route(language, self.transcriber(language))
        if len(self.models) < 2:
            return Route(None, None, TranscriptStatus.LANGUAGE_UNKNOWN,
                         "no language rule matched and one model alone cannot tell the "
                         "language")
        scores = self.probe(channels, sample_rate, cancel=cancel)
        return self.choose(scores)

    def probe(
        self,
        channels: Sequence[bytes],
        sample_rate: int,
        *,
        cancel: threading.Event | None = None,
    ) -> list[ProbeScore]:
        """Every model's mean word confidence on the first seconds of each channel."""
        head = int(self.probe_seconds * sample_rate) * 2
        clips = [pcm[:head] for pcm in channels]
        labels = [f"channel {i}" for i in range(len(clips))]
        scores = []
        for language in sorted(self.models):
            transcript = self.transcriber(language).transcribe_channels(
                clips, sample_rate, labels, cancel=cancel)
            scores.append(ProbeScore(language, transcript.confidence, transcript.word_count))
        return scores

    def choose(self, scores: Sequence[ProbeScore]) -> Route:
        """The clearly best-scoring language, or ``language_unknown`` with the figures."""
        ranked = sorted(scores, key=lambda s: s.confidence, reverse=True)
        figures = ", ".join(f"{s.language} {s.confidence:.2f} ({s.words} words)" for s in ranked)
        if not ranked or ranked[0].words < MIN_PROBE_WORDS:
            return Route(None, None, TranscriptStatus.LANGUAGE_UNKNOWN,
                         f"too little speech recognised to tell the language: {figures}")
        best = ranked[0]
        runner_up = ranked[1].confidence if len(ranked) > 1 else 0.0
        if best.confidence - runner_up < self.margin:
            return Route(None, None, TranscriptStatus.LANGUAGE_UNKNOWN,
                         f"no model was clearly more confident (margin {self.margin}): {figures}")
        return Route(best.language, self.transcriber(best.language), reason=figures)
