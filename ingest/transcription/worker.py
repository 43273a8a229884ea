"""Transcription off the ingest path: a bounded worker pool and a synchronous backfill.

Ingest only marks calls ``pending``; this module picks them up, reads the audio
through the archive (a system read the archive audits), transcribes each channel
and hands the sealed transcript and its index sections back. A recording that
cannot be decoded is marked ``failed`` with the reason; an archive that is
temporarily unavailable leaves the item ``pending`` for a later pass. The model
is chosen per call by ``routing``; a call it finds no model for is marked
``no_model`` or ``language_unknown`` and gets no transcript. No error escapes a
worker thread, and nothing is written to disk here.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Protocol, runtime_checkable

from archive import metrics
from archive.errors import ContentIntegrityError, ItemNotFound
from archive.model import ItemRecord, Section, TranscriptStatus
from ingest.errors import AudioUnusable, ModelUnavailable, TranscriptionCancelled
from ingest.transcription.engine import Transcriber
from ingest.transcription.pcm import read_wav_channels
from ingest.transcription.routing import LanguageRouter
from ingest.transcription.transcript import default_labels, speaker_labels

log = logging.getLogger(__name__)

#: Recordings transcribed at once (each keeps one core busy).
DEFAULT_WORKERS: Final = 1
POLL_INTERVAL_SECONDS: Final = 2.0
#: After a temporary failure an item is not retried for this long.
RETRY_BACKOFF_SECONDS: Final = 60.0
BACKFILL_BATCH: Final = 1000
STOP_TIMEOUT_SECONDS: Final = 30.0
#: Without a model, how often a running worker looks for one (a package installed later).
REDISCOVER_INTERVAL_SECONDS: Final = 60.0


class TranscriptSink(Protocol):
    """What the worker needs from the archive (``archive.service.Archive`` provides it)."""

    def pending_transcripts(self, limit: int) -> list[str]: ...

    def load_audio_for_transcription(self, item_id: str) -> bytes: ...

    def attach_transcript(
        self, item_id: str, transcript: dict[str, Any], sections: list[Section], text: str
    ) -> None: ...

    def mark_transcript_failed(self, item_id: str, reason: str) -> None: ...


@runtime_checkable
class LanguageSink(Protocol):
    """An archive that knows items' languages and can record 'no transcript, on purpose'."""

    def transcript_language(self, item_id: str) -> str | None: ...

    def mark_transcript_unavailable(
        self, item_id: str, status: TranscriptStatus, reason: str, *, language: str | None = None,
    ) -> None: ...


#: What transcribes: a router over the configured models, or one model the caller
#: vouches for (``LanguageRouter.fixed``).
Models = LanguageRouter | Transcriber


def as_router(models: Models) -> LanguageRouter:
    return models if isinstance(models, LanguageRouter) else LanguageRouter.fixed(models)


#: Labels for an item's channels, given its id and channel count (e.g. from its
#: parties' channel map via ``transcript.speaker_labels``).
Labeler = Callable[[str, int], Sequence[str]]


@runtime_checkable
class PartyDirectory(Protocol):
    """An archive that can say who is on which channel (``Archive.record``)."""

    def record(self, item_id: str) -> ItemRecord: ...


def default_labeler(sink: object) -> Labeler | None:
    """``agent`` / ``customer`` from the item's channel map when the sink knows its parties."""
    if not isinstance(sink, PartyDirectory):
        return None
    directory = sink

    def labels(item_id: str, n_channels: int) -> list[str]:
        return speaker_labels(directory.record(item_id).parties, n_channels)

    return labels


class Outcome(StrEnum):
    DONE = "done"
    FAILED = "failed"
    #: Left pending: archive temporarily unavailable or the worker is stopping.
    RETRY = "retry"
    #: The item vanished (erased) or is no longer pending.
    GONE = "gone"
    #: Its language has no model: no transcript, on purpose.
    NO_MODEL = "no_model"
    #: No rule decided its language and the models could not tell it.
    LANGUAGE_UNKNOWN = "language_unknown"


@dataclass(slots=True)
class BackfillCounts:
    done: int = 0
    failed: int = 0
    retry: int = 0
    gone: int = 0
    no_model: int = 0
    language_unknown: int = 0

    @property
    def total(self) -> int:
        return (self.done + self.failed + self.retry + self.gone + self.no_model
                + self.language_unknown)

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)


def transcribe_item(
    sink: TranscriptSink,
    models: Models,
    item_id: str,
    *,
    labeler: Labeler | None = None,
    cancel: threading.Event | None = None,
) -> Outcome:
    """Transcribe one pending item and record the result; never raises."""
    outcome = _transcribe_item(sink, models, item_id, labeler=labeler, cancel=cancel)
    metrics.TRANSCRIPTIONS.labels(outcome.value).inc()
    return outcome


def _transcribe_item(
    sink: TranscriptSink, models: Models, item_id: str, *, labeler: Labeler | None,
    cancel: threading.Event | None,
) -> Outcome:
    try:
        audio = sink.load_audio_for_transcription(item_id)
    except ItemNotFound:
        return Outcome.GONE
    except ContentIntegrityError as exc:
        return _fail(sink, item_id, f"sealed audio failed its integrity check: {exc.reason}")
    except Exception:
        log.warning("transcription: cannot read item %s now; will retry", item_id, exc_info=True)
        return Outcome.RETRY

    try:
        channels, rate = read_wav_channels(audio)
    except AudioUnusable as exc:
        return _fail(sink, item_id, exc.reason)
    labeler = labeler or default_labeler(sink)
    labels: list[str] = []
    if labeler is not None:
        try:
            labels = list(labeler(item_id, len(channels)))
        except ItemNotFound:
            return Outcome.GONE
        except Exception:  # labels are cosmetic: fall back rather than lose the transcript
            log.warning("transcription: no channel labels for %s", item_id, exc_info=True)
    if len(labels) != len(channels):
        labels = default_labels(len(channels))

    router = as_router(models)
    started = time.perf_counter()
    try:
        language = sink.transcript_language(item_id) if isinstance(sink, LanguageSink) else None
    except ItemNotFound:
        return Outcome.GONE
    except Exception:
        log.warning("transcription: no language for %s now; will retry", item_id, exc_info=True)
        return Outcome.RETRY
    try:
        try:
            route = router.route(language, channels, rate, cancel=cancel)
        except ModelUnavailable as exc:  # e.g. a registered model's files were removed
            return _unavailable(sink, item_id, TranscriptStatus.NO_MODEL, str(exc), language)
        if route.transcriber is None:
            return _unavailable(sink, item_id, route.status, route.reason, route.language)
        transcript = route.transcriber.transcribe_channels(channels, rate, labels, cancel=cancel)
        transcript.language = route.language
        transcript.low_confidence = transcript.confidence < router.low_confidence
    except ItemNotFound:
        return Outcome.GONE
    except TranscriptionCancelled:
        return Outcome.RETRY
    except AudioUnusable as exc:
        return _fail(sink, item_id, exc.reason)
    except Exception as exc:  # vosk/Kaldi or decoder failure: record it, keep the worker alive
        log.exception("transcription of item %s failed", item_id)
        return _fail(sink, item_id, f"recogniser error: {type(exc).__name__}: {exc}")
    call_seconds = len(channels[0]) / 2 / rate if channels and rate else 0.0
    if call_seconds > 0:
        metrics.TRANSCRIPTION_RTF.observe((time.perf_counter() - started) / call_seconds)

    try:
        sink.attach_transcript(
            item_id, transcript.to_json(), transcript.to_sections(), transcript.to_text()
        )
    except ItemNotFound:
        return Outcome.GONE
    except Exception:
        log.warning(
            "transcription: cannot store transcript of %s; will retry", item_id, exc_info=True
        )
        return Outcome.RETRY
    return Outcome.DONE


def _unavailable(
    sink: TranscriptSink,
    item_id: str,
    status: TranscriptStatus | None,
    reason: str,
    language: str | None,
) -> Outcome:
    """Record 'no transcript, on purpose'; a sink that cannot leaves the item pending."""
    status = status or TranscriptStatus.LANGUAGE_UNKNOWN
    if not isinstance(sink, LanguageSink):
        log.warning("transcription: %s for %s, and the sink cannot record it", status, item_id)
        return Outcome.RETRY
    try:
        sink.mark_transcript_unavailable(item_id, status, reason, language=language)
    except ItemNotFound:
        return Outcome.GONE
    except Exception:
        log.warning("transcription: cannot mark %s %s; will retry", item_id, status,
                    exc_info=True)
        return Outcome.RETRY
    return Outcome(status.value)


def _fail(sink: TranscriptSink, item_id: str, reason: str) -> Outcome:
    try:
        sink.mark_transcript_failed(item_id, reason)
    except ItemNotFound:
        return Outcome.GONE
    except Exception:
        log.warning("transcription: cannot mark %s failed; will retry", item_id, exc_info=True)
        return Outcome.RETRY
    return Outcome.FAILED


def backfill(
    archive: TranscriptSink,
    models: Models,
    progress: Callable[[int, int], None] | None = None,
    *,
    workers: int = DEFAULT_WORKERS,
    labeler: Labeler | None = None,
    limit: int | None = None,
    candidates: Callable[[int], list[str]] | None = None,
) -> BackfillCounts:
    """Transcribe every item pending now; ``progress(completed, total)`` after each.

    ``candidates(limit)`` lists the items to try (default: the pending ones; the
    CLI also passes those waiting for a model). Each item is tried once per run,
    so an item left pending by a temporary failure cannot make the run loop forever.
    """
    listing = candidates or archive.pending_transcripts
    counts = BackfillCounts()
    attempted: set[str] = set()
    want = limit if limit is not None else BACKFILL_BATCH
    total = 0
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="backfill") as pool:
        while limit is None or len(attempted) < limit:
            batch = [
                i for i in listing(want + len(attempted)) if i not in attempted
            ]
            if limit is not None:
                batch = batch[: limit - len(attempted)]
            if not batch:
                break
            attempted.update(batch)
            total += len(batch)
            if progress is not None:
                progress(counts.total, total)
            futures = [
                pool.submit(transcribe_item, archive, models, i, labeler=labeler)
                for i in batch
            ]
            for future in as_completed(futures):
                counts.add(future.result())
                if progress is not None:
                    progress(counts.total, total)
    return counts


class TranscriptionWorker:
    """Polls the archive for pending calls and transcribes them in a bounded pool.

    With no transcriber (no model configured or installed) items remain
    ``pending``: the worker idles, or, given ``discover``, looks for a model every
    ``rediscover_interval_s`` and starts transcribing once one appears.
    """

    def __init__(
        self,
        sink: TranscriptSink,
        transcriber: Models | None,
        *,
        workers: int = DEFAULT_WORKERS,
        poll_interval_s: float = POLL_INTERVAL_SECONDS,
        retry_backoff_s: float = RETRY_BACKOFF_SECONDS,
        labeler: Labeler | None = None,
        discover: Callable[[], Models | None] | None = None,
        rediscover_interval_s: float = REDISCOVER_INTERVAL_SECONDS,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._sink = sink
        self._transcriber = _usable(transcriber)
        self._workers = workers
        self._poll_interval_s = poll_interval_s
        self._retry_backoff_s = retry_backoff_s
        self._labeler = labeler
        self._discover = discover
        self._rediscover_interval_s = rediscover_interval_s
        self._next_discovery = 0.0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()
        self._retry_after: dict[str, float] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._poller: threading.Thread | None = None
        self.counts = BackfillCounts()

    @property
    def enabled(self) -> bool:
        return self._transcriber is not None

    @property
    def running(self) -> bool:
        return self._poller is not None and self._poller.is_alive()

    def start(self) -> None:
        if self._transcriber is None and self._discover is None:
            log.info("transcription: no vosk model; calls stay pending until one is configured")
            return
        if self.running:
            return
        self._stop.clear()
        self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="transcribe")
        self._poller = threading.Thread(target=self._poll_loop, name="transcribe-poll", daemon=True)
        self._poller.start()

    def wake(self) -> None:
        """Poll now instead of at the next interval (e.g. right after an ingest)."""
        self._wake.set()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
        """Stop polling; recordings being transcribed are abandoned and stay pending."""
        self._stop.set()
        self._wake.set()
        if self._poller is not None:
            self._poller.join(timeout)
            self._poller = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> TranscriptionWorker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def idle(self) -> bool:
        with self._lock:
            return not self._in_flight

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll_once()
            except Exception:
                log.warning("transcription: polling the archive failed", exc_info=True)
            self._wake.wait(self._poll_interval_s)
            self._wake.clear()

    def _poll_once(self) -> None:
        if self._transcriber is None and not self._try_discover():
            return
        with self._lock:
            free = self._workers - len(self._in_flight)
            busy = set(self._in_flight)
        if free <= 0:
            return
        now = time.monotonic()
        with self._lock:
            self._retry_after = {k: v for k, v in self._retry_after.items() if v > now}
            deferred = set(self._retry_after)
        candidates = self._sink.pending_transcripts(free + len(busy) + len(deferred))
        todo = [i for i in candidates if i not in busy and i not in deferred][:free]
        for item_id in todo:
            if self._stop.is_set() or self._pool is None:
                return
            with self._lock:
                self._in_flight.add(item_id)
            future = self._pool.submit(self._run, item_id)
            future.add_done_callback(functools.partial(self._finished, item_id))

    def _try_discover(self) -> bool:
        now = time.monotonic()
        if self._discover is None or now < self._next_discovery:
            return False
        self._next_discovery = now + self._rediscover_interval_s
        try:
            self._transcriber = _usable(self._discover())
        except Exception:
            log.warning("transcription: the configured vosk model is unusable", exc_info=True)
            return False
        if self._transcriber is not None:
            log.info(
                "transcription: vosk models found (%s); working through pending calls",
                self._transcriber.describe(),
            )
        return self._transcriber is not None

    def _run(self, item_id: str) -> Outcome:
        assert self._transcriber is not None
        return transcribe_item(
            self._sink, self._transcriber, item_id, labeler=self._labeler, cancel=self._stop
        )

    def _finished(self, item_id: str, future: Future[Outcome]) -> None:
        outcome = Outcome.RETRY if future.cancelled() or future.exception() else future.result()
        with self._lock:
            self._in_flight.discard(item_id)
            self.counts.add(outcome)
            if outcome is Outcome.RETRY:
                self._retry_after[item_id] = time.monotonic() + self._retry_backoff_s
        if outcome is not Outcome.RETRY:
            self._wake.set()


def _usable(models: Models | None) -> LanguageRouter | None:
    """A router with at least one model, or None (calls then stay pending)."""
    if models is None:
        return None
    router = as_router(models)
    return router if router.enabled else None
