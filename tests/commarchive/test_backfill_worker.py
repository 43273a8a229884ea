"""A worker killed in the middle of a monitoring backfill: the next worker resumes the
stored request where the last batch ended; the counts come out right and no item is
read or queued twice. Once with a worker that stops renewing its lease (in process),
once with ``commarchive worker`` killed by SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.jobs import JobQueue
from archive.quality import backfill, monitoring
from archive.service import Archive
from commarchive import runtime
from commarchive.settings import Settings
from commarchive.worker import JobKind, JobWorker
from tests.archive.quality.test_backfill import (
    FLAGGED,
    POLICY,
    _archive_mail,
    _entries,
    _evaluated,
)
from tests.conftest import email_item

WAIT_SECONDS = 60.0


def _wait_for(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_worker_killed_mid_backfill_leaves_it_to_the_next_which_resumes(
    archive: Archive, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN a backfill of 9 items in batches of 2 and a worker that died after two
    batches (it stops renewing its lease) WHEN another worker takes the job over
    THEN it starts at item 5: every item is read once, every hit queued once, and the
    result counts 9 items and 3 entries."""
    ids = _archive_mail(archive, 9, flagged={0, 3, 8})
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    asked = backfill.request(archive, actor="rita", role="quality")
    jobs = JobQueue(archive.catalog, lease_s=1.0)
    crashed = jobs.claim("crashed", [backfill.JOB_KIND])
    assert crashed is not None and crashed.key == str(asked.id)
    for _ in range(2):
        assert backfill.run_batch(archive, crashed, jobs, "crashed", batch_items=2)
    got = backfill.get(archive, asked.id)
    assert (got.status, got.items_done, got.items_total, got.queued) == (
        backfill.Status.RUNNING, 4, 9, 2)
    # ... and here the worker died: no heartbeat, no completion.

    monkeypatch.setattr(backfill, "BATCH_ITEMS", 2)
    survivor = JobWorker(archive, Settings(), router=lambda: None, queue=jobs,
                         name="survivor", kinds=[JobKind.BACKFILL_MONITOR])
    stop = threading.Event()
    thread = threading.Thread(target=survivor.run, args=(stop,))
    thread.start()
    try:
        _wait_for(lambda: backfill.get(archive, asked.id).status is backfill.Status.DONE)
    finally:
        stop.set()
        thread.join(WAIT_SECONDS)
    got = backfill.get(archive, asked.id)
    assert (got.items_done, got.items_total, got.queued) == (9, 9, 3)
    assert _entries(archive) == sorted(ids[i] for i in (0, 3, 8))
    assert [_evaluated(archive, i) for i in ids] == [1] * 9  # nothing read twice
    assert [(k, key) for k, key, _ in survivor.done] == [
        (JobKind.BACKFILL_MONITOR, str(asked.id))]
    # The dead worker, were it to wake, can write no batch: the job is not its own.
    assert not backfill.run_batch(archive, crashed, jobs, "crashed", batch_items=2)
    assert not jobs.complete(crashed, "crashed")
    assert backfill.get(archive, asked.id).items_done == 9


def test_a_worker_asked_to_stop_hands_the_backfill_back_after_its_batch(
    archive: Archive, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN a worker in the middle of a backfill WHEN it is asked to stop (SIGTERM,
    serve shutting down) THEN it finishes the batch in hand, gives the job back to the
    queue, and the next worker resumes after that batch."""
    ids = _archive_mail(archive, 6, flagged={0, 5})
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    asked = backfill.request(archive, actor="rita", role="quality")
    monkeypatch.setattr(backfill, "BATCH_ITEMS", 2)
    stop = threading.Event()
    real_find = monitoring.find_hits
    read = [0]

    def stop_while_reading(*args: Any, **kwargs: Any) -> Any:
        read[0] += 1
        if read[0] == 3:  # in the second batch
            stop.set()
        return real_find(*args, **kwargs)

    monkeypatch.setattr(monitoring, "find_hits", stop_while_reading)
    jobs = JobQueue(archive.catalog)
    worker = JobWorker(archive, Settings(), router=lambda: None, queue=jobs, name="stopping",
                       kinds=[JobKind.BACKFILL_MONITOR])
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    thread.join(WAIT_SECONDS)
    assert not thread.is_alive()
    got = backfill.get(archive, asked.id)
    assert (got.status, got.items_done, got.queued) == (backfill.Status.RUNNING, 4, 1)
    assert worker.done == []  # not counted as done: handed back
    later = datetime.now(UTC) + timedelta(minutes=5)
    job = jobs.claim("next", [backfill.JOB_KIND], now=later)
    assert job is not None and job.key == str(asked.id)
    monkeypatch.setattr(monitoring, "find_hits", real_find)
    assert backfill.run_job(archive, job, jobs, "next").startswith("done: 6 items, queued 2")
    assert _entries(archive) == sorted([ids[0], ids[5]])
    assert [_evaluated(archive, i) for i in ids] == [1] * 6


#: Enough items for several batches of ``backfill.BATCH_ITEMS`` (200).
KILLED_ITEMS = 1000


def _worker(archive_dir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "commarchive", "--data-dir", str(archive_dir), "worker"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)


@pytest.mark.slow
def test_a_worker_process_killed_mid_backfill_is_resumed_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN a backfill of 1000 items run by ``commarchive worker`` WHEN the worker is
    killed with SIGKILL after its first batch and before its last THEN a second worker
    takes the job over once the lease runs out and the result counts every item once
    and every hit once."""
    for key in os.environ:
        if key.startswith("COMMARCHIVE_"):
            monkeypatch.delenv(key)
    archive_dir = tmp_path / "data"
    env = {**os.environ, "COMMARCHIVE_JOB_LEASE_SECONDS": "2"}
    subprocess.run([sys.executable, "-m", "commarchive", "init", str(archive_dir),
                    "--no-input"], env=env, check=True, capture_output=True, timeout=120)
    archive = runtime.open_archive(Settings(data_dir=archive_dir))
    try:
        start = datetime.now(UTC) - timedelta(days=2)
        ids = [archive.ingest(email_item(body=FLAGGED if n % 10 == 0 else "Hello.",
                                         started_at=start + timedelta(seconds=n))).item_id
               for n in range(KILLED_ITEMS)]
        flagged = sorted(ids[::10])
        monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
        asked = backfill.request(archive, actor="rita", role="quality")

        first = _worker(archive_dir, env)
        try:
            _wait_for(lambda: backfill.get(archive, asked.id).items_done > 0)
        finally:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(timeout=60)
        at_kill = backfill.get(archive, asked.id)
        assert at_kill.status is backfill.Status.RUNNING, at_kill
        assert 0 < at_kill.items_done < KILLED_ITEMS, at_kill

        second = _worker(archive_dir, env)
        try:
            _wait_for(lambda: backfill.get(archive, asked.id).status is backfill.Status.DONE)
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(timeout=60)
        got = backfill.get(archive, asked.id)
        assert (got.items_total, got.items_done, got.queued, got.error) == (
            KILLED_ITEMS, KILLED_ITEMS, len(flagged), None)
        assert _entries(archive) == flagged
        events = archive.audit.events(action="quality_monitor", limit=10 * KILLED_ITEMS)
        assert sorted(i for e in events for i in e.item_ids) == sorted(ids)  # each once
    finally:
        archive.close()
