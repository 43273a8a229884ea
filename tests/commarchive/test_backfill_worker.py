"""A worker killed in the middle of a monitoring backfill: the next worker resumes the
stored request where the last batch ended; the counts come out right and no item is
read or queued twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from archive.jobs import JobQueue
from archive.quality import backfill, monitoring
from archive.service import Archive
from commarchive.settings import Settings
from commarchive.worker import JobKind, JobWorker
from tests.archive.quality.test_backfill import POLICY, _archive_mail, _entries, _evaluated

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
