"""Monitoring off the acknowledgement path: an e-mail's evaluation is a ``monitor`` job
queued in the e-mail's own commit, run after the acknowledgement when a background
indexer runs (``serve``, the SMTP server), right after the commit otherwise (CLI);
a call's job is queued in its transcript's commit. A job survives a crash and running
it twice never queues the item twice."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from archive import rights
from archive.errors import ContentIntegrityError
from archive.jobs import JobQueue
from archive.model import Section
from archive.quality import monitoring, queue
from archive.service import Archive
from tests.archive.quality.conftest import QUALITY
from tests.conftest import email_item
from tests.subjects import B, call_item

POLICY = {"lists": {"*": ["cancel my contract"]},
          "near": [{"a": "lawyer", "b": "court", "within": 5}]}
FLAGGED_BODY = "Hello, I want to cancel my contract today."


def _monitor_events(archive: Archive, item_id: str) -> int:
    return len(archive.audit.events(action="quality_monitor", item_id=item_id))


def _queued_monitor_jobs(archive: Archive) -> int:
    return sum(d.queued for d in JobQueue(archive.catalog).depth()
               if d.kind == monitoring.JOB_KIND)


def _with_policy(archive: Archive) -> None:
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    monitoring.install(archive)


def test_with_background_indexing_an_email_is_evaluated_by_a_job_after_its_commit(
    archive: Archive,
) -> None:
    """GIVEN an enabled policy and the outbox running (as in serve and the SMTP server)
    WHEN an e-mail is archived THEN nothing is evaluated on the way to the acknowledgement,
    a monitor job waits in the catalog, and running it flags the item."""
    _with_policy(archive)
    archive.start_indexing()
    item_id = archive.ingest(email_item(body=FLAGGED_BODY)).item_id
    assert _monitor_events(archive, item_id) == 0
    assert queue.listing(archive, QUALITY) == []
    assert _queued_monitor_jobs(archive) == 1

    assert monitoring.run_queued(archive, worker="test") == 1
    [entry] = queue.listing(archive, QUALITY)
    assert (entry["item_id"], entry["policy"]) == (item_id, "churn")
    assert _monitor_events(archive, item_id) == 1
    assert _queued_monitor_jobs(archive) == 0


def test_without_background_indexing_an_email_is_flagged_at_once_and_its_job_is_done(
    archive: Archive,
) -> None:
    """The CLI's ingest: nothing is acknowledged, so the job runs right after the commit."""
    _with_policy(archive)
    item_id = archive.ingest(email_item(body=FLAGGED_BODY)).item_id
    [entry] = queue.listing(archive, QUALITY)
    assert entry["item_id"] == item_id
    assert _queued_monitor_jobs(archive) == 0
    assert monitoring.run_queued(archive, worker="test") == 0
    assert _monitor_events(archive, item_id) == 1


def test_no_enabled_policy_queues_no_job(archive: Archive) -> None:
    monitoring.save(archive, "off", POLICY, enabled=False, actor="rita", role="quality")
    monitoring.install(archive)
    archive.start_indexing()
    item_id = archive.ingest(email_item(body=FLAGGED_BODY)).item_id
    assert _queued_monitor_jobs(archive) == 0
    assert _monitor_events(archive, item_id) == 0


def test_evaluating_twice_never_queues_the_item_twice(archive: Archive) -> None:
    _with_policy(archive)
    archive.start_indexing()
    item_id = archive.ingest(email_item(body=FLAGGED_BODY)).item_id
    first = monitoring.check_item(archive, item_id)
    again = monitoring.check_item(archive, item_id)
    assert len(first) == 1 and again == []
    assert monitoring.run_queued(archive, worker="test") == 1  # the queued job: no new entry
    assert len(queue.listing(archive, QUALITY)) == 1


def test_a_job_left_by_a_crash_is_run_by_the_next_process(archive: Archive) -> None:
    """GIVEN an e-mail committed (acknowledged) and the process gone before evaluating it
    THEN the job is still in the catalog and another process flags the item once."""
    _with_policy(archive)
    archive.start_indexing()
    item_id = archive.ingest(email_item(body=FLAGGED_BODY)).item_id
    jobs = JobQueue(archive.catalog, lease_s=0.01)
    crashed = jobs.claim("crashed", [monitoring.JOB_KIND])
    assert crashed is not None and crashed.key == item_id  # ... and never finishes
    time.sleep(0.05)  # its lease runs out; the next process takes the job over
    assert monitoring.run_queued(archive, worker="next", queue=jobs) == 1
    assert [e["item_id"] for e in queue.listing(archive, QUALITY)] == [item_id]
    assert not jobs.complete(crashed, "crashed")


def test_a_calls_job_is_queued_in_its_transcripts_commit(archive: Archive) -> None:
    """A transcription that dies after attaching the transcript still gets the call
    evaluated: the job was committed with the transcript."""
    _with_policy(archive)
    archive.transcripts.listeners.clear()  # the process "dies" before its listeners run
    item_id = archive.ingest(call_item(B, started_at=datetime.now(UTC))).item_id
    assert _queued_monitor_jobs(archive) == 0
    words = [{"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4, "conf": 1.0}
             for i, w in enumerate(["my", "lawyer", "will", "see", "you", "in", "court"])]
    archive.attach_transcript(item_id, {"language": "en", "speakers": [
        {"label": "customer", "channel": 1, "words": words, "utterances": []}]},
        [Section("transcript", "x")], "x")
    assert queue.listing(archive, QUALITY) == []
    assert _queued_monitor_jobs(archive) == 1
    assert monitoring.run_queued(archive, worker="test") == 1
    [entry] = queue.listing(archive, QUALITY)
    assert entry["item_id"] == item_id and entry["hits"][0]["rule"] == "lawyer ~5 court"


def test_an_unreadable_item_is_retried_without_holding_up_the_rest_of_its_batch(
    archive: Archive, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _with_policy(archive)
    archive.start_indexing()
    broken, fine = (archive.ingest(email_item(body=FLAGGED_BODY)).item_id for _ in range(2))
    real_unseal = archive.vault.unseal

    def unseal(item_id: str, part: str, *args: Any, **kwargs: Any) -> bytes:
        if item_id == broken:
            raise ContentIntegrityError(item_id, part=part, reason="tag mismatch")
        return real_unseal(item_id, part, *args, **kwargs)

    monkeypatch.setattr(archive.vault, "unseal", unseal)
    assert monitoring.run_queued(archive, worker="test") == 2
    assert [e["item_id"] for e in queue.listing(archive, QUALITY)] == [fine]
    [depth] = [d for d in JobQueue(archive.catalog).depth() if d.kind == monitoring.JOB_KIND]
    assert depth.queued == 1  # the broken one, for a later try
    [job] = JobQueue(archive.catalog).claim_many(
        "later", [monitoring.JOB_KIND], limit=5, now=datetime.now(UTC) + timedelta(hours=1))
    assert job.key == broken and job.attempts == 2


def test_an_email_erased_before_its_job_runs_is_not_queued_and_its_job_ends(
    archive: Archive,
) -> None:
    _with_policy(archive)
    archive.start_indexing()
    item_id = archive.ingest(email_item(body=FLAGGED_BODY, customer="jan@customer.nl")).item_id
    rights.erase_subject(archive, "jan@customer.nl", actor="dpo")
    assert monitoring.run_queued(archive, worker="test") == 1
    assert queue.listing(archive, QUALITY) == []
    assert _monitor_events(archive, item_id) == 0
    assert _queued_monitor_jobs(archive) == 0
