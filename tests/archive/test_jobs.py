"""The shared job queue's contract, on SQLite and on a real PostgreSQL server: each job is
claimed by one worker at a time however many nodes claim at once, a crashed worker's job is
taken over when its lease runs out (and the crashed one can no longer finish it), failures
are retried and then given up with the reason, and the queue's depth and age are reported."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.catalog import Catalog, sqlite_url
from archive.jobs import JobQueue
from tests.services import postgres_database

T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.fixture(params=("sqlite", "postgresql"))
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "catalog.sqlite")
    return postgres_database()


@pytest.fixture
def nodes(catalog_url: str) -> Iterator[list[JobQueue]]:
    """Two nodes' queues: each its own engine on the one catalog."""
    catalogs = [Catalog(catalog_url) for _ in range(2)]
    catalogs[0].create_schema()
    yield [JobQueue(c, lease_s=60) for c in catalogs]
    for catalog in catalogs:
        catalog.dispose()


def test_asking_twice_for_the_same_job_queues_it_once(nodes: list[JobQueue]) -> None:
    a, b = nodes
    assert a.enqueue("transcribe", ["i1", "i1", "i2"], now=T0) == 2
    assert b.enqueue("transcribe", ["i1", "i3"], now=T0) == 1
    assert a.enqueue("sweep", now=T0) == 1
    [depth_sweep, depth_transcribe] = a.depth(now=T0 + timedelta(seconds=5))
    assert (depth_transcribe.kind, depth_transcribe.queued) == ("transcribe", 3)
    assert depth_transcribe.oldest_queued_age_s == 5
    assert (depth_sweep.kind, depth_sweep.queued) == ("sweep", 1)


def test_workers_on_two_nodes_claiming_at_once_never_get_the_same_job(
    nodes: list[JobQueue]
) -> None:
    keys = [f"item-{i}" for i in range(30)]
    nodes[0].enqueue("transcribe", keys)
    claimed: list[str] = []
    lock = threading.Lock()

    def work(queue: JobQueue, worker: str) -> None:
        while (job := queue.claim(worker, ["transcribe"])) is not None:
            with lock:
                claimed.append(job.key)
            assert queue.complete(job, worker)

    threads = [threading.Thread(target=work, args=(nodes[i % 2], f"w{i}")) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(keys)
    assert all(d.queued == d.running == 0 for d in nodes[0].depth())


def test_a_crashed_workers_job_is_taken_over_when_its_lease_runs_out(
    nodes: list[JobQueue]
) -> None:
    a, b = nodes
    a.enqueue("transcribe", ["i1"], now=T0)
    crashed = a.claim("node-a", ["transcribe"], now=T0)
    assert crashed is not None
    assert b.claim("node-b", ["transcribe"], now=T0 + timedelta(seconds=30)) is None
    assert a.heartbeat(crashed, "node-a", now=T0 + timedelta(seconds=30))
    # node-a dies: no more heartbeats; its lease (renewed at +30s) ends at +90s.
    assert b.claim("node-b", ["transcribe"], now=T0 + timedelta(seconds=89)) is None
    taken = b.claim("node-b", ["transcribe"], now=T0 + timedelta(seconds=91))
    assert taken is not None and (taken.key, taken.attempts) == ("i1", 2)
    assert not a.complete(crashed, "node-a")  # a late finish of the old claim counts for nothing
    assert not a.heartbeat(crashed, "node-a")
    assert b.complete(taken, "node-b")
    assert b.claim("node-b", ["transcribe"], now=T0 + timedelta(days=1)) is None


def test_a_failing_job_is_retried_then_given_up_with_its_reason(catalog_url: str) -> None:
    catalog = Catalog(catalog_url)
    catalog.create_schema()
    queue = JobQueue(catalog, max_attempts=2)
    queue.enqueue("reindex", now=T0)
    first = queue.claim("w", ["reindex"], now=T0)
    assert first is not None
    queue.fail(first, "w", "index unavailable", retry_in_s=30, now=T0)
    assert queue.claim("w", ["reindex"], now=T0 + timedelta(seconds=10)) is None
    second = queue.claim("w", ["reindex"], now=T0 + timedelta(seconds=31))
    assert second is not None and second.attempts == 2
    queue.fail(second, "w", "index unavailable", now=T0 + timedelta(seconds=31))
    assert queue.claim("w", ["reindex"], now=T0 + timedelta(days=1)) is None
    [depth] = queue.depth()
    assert (depth.queued, depth.running, depth.failed) == (0, 0, 1)
    # Only kinds asked for are claimed.
    queue.enqueue("sweep", now=T0)
    assert queue.claim("w", ["transcribe"], now=T0) is None
    catalog.dispose()
