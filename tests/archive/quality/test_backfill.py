"""A monitoring backfill is a stored request run as a ``backfill_monitor`` job: asked for
(audited), run in batches that each record their progress with their queue entries, so a
worker that dies mid-run leaves a request the next worker resumes where it stopped,
never evaluating an item twice and never queueing it twice (``tests/commarchive/
test_backfill_worker.py``); finished, it says how many items it read and how many
entries it queued (audited). Lifting a restriction queues the check it skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from archive import quality_tables as qt
from archive import rights
from archive.errors import ContentIntegrityError, ErrorCode, InvalidRequest, TemporaryFailure
from archive.jobs import JobQueue
from archive.quality import backfill, monitoring, queue
from archive.service import Archive
from tests.archive.quality.conftest import QUALITY
from tests.conftest import email_item

POLICY = {"lists": {"*": ["cancel my contract"]}}
FLAGGED = "Please cancel my contract at the end of the month."


def _archive_mail(archive: Archive, n: int, *, flagged: set[int],
                  day: datetime | None = None) -> list[str]:
    start = day or datetime.now(UTC) - timedelta(days=3)
    return [archive.ingest(email_item(body=FLAGGED if i in flagged else "Where is my invoice?",
                                      started_at=start + timedelta(minutes=i))).item_id
            for i in range(n)]


def _entries(archive: Archive) -> list[str]:
    with archive.catalog.read() as conn:
        return sorted(str(r.item_id) for r in conn.execute(sa.select(qt.queue.c.item_id)))


def _evaluated(archive: Archive, item_id: str) -> int:
    return len(archive.audit.events(action="quality_monitor", item_id=item_id))


def test_a_request_is_stored_audited_and_run_by_its_job_to_a_result(
    archive: Archive,
) -> None:
    ids = _archive_mail(archive, 7, flagged={1, 4, 6})
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    asked = backfill.request(archive, actor="rita", role="quality")
    got = backfill.get(archive, asked.id)
    assert (got.status, got.items_done, got.items_total, got.queued) == (
        backfill.Status.QUEUED, 0, None, 0)
    assert (got.requested_by, got.policies, got.all_enabled) == ("rita", ["churn"], True)
    [event] = archive.audit.events(action="quality_backfill_request")
    assert event.actor == "rita" and event.detail["request_id"] == asked.id
    depth = {d.kind: d.queued for d in JobQueue(archive.catalog).depth()}
    assert depth[backfill.JOB_KIND] == 1

    assert backfill.run_queued(archive, worker="test", batch_items=2) == 1
    got = backfill.get(archive, asked.id)
    assert (got.status, got.items_done, got.items_total, got.queued, got.error) == (
        backfill.Status.DONE, 7, 7, 3, None)
    assert got.finished_at is not None
    assert _entries(archive) == sorted(ids[i] for i in (1, 4, 6))
    [done] = archive.audit.events(action="quality_backfill_done")
    assert done.detail["request_id"] == asked.id
    assert (done.detail["items"], done.detail["queued"]) == (7, 3)
    assert [r.id for r in backfill.recent(archive)] == [asked.id]


def test_a_range_and_a_named_disabled_policy(archive: Archive) -> None:
    day = datetime(2026, 3, 2, 9, tzinfo=UTC)
    inside = _archive_mail(archive, 2, flagged={0, 1}, day=day)
    _archive_mail(archive, 2, flagged={0, 1}, day=day + timedelta(days=40))
    monitoring.save(archive, "trial", POLICY, enabled=False, actor="rita", role="quality")
    asked = backfill.request(archive, since=day - timedelta(days=1),
                             until=day + timedelta(days=1), names=["trial"], actor="rita",
                             role="quality")
    backfill.run_queued(archive, worker="test")
    got = backfill.get(archive, asked.id)
    assert (got.status, got.items_total, got.queued, got.all_enabled) == (
        backfill.Status.DONE, 2, 2, False)
    assert _entries(archive) == sorted(inside)


def test_bad_requests_are_refused_naming_the_reason(archive: Archive) -> None:
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    with pytest.raises(InvalidRequest, match="policy 'nope' does not exist") as missing:
        backfill.request(archive, names=["churn", "nope"], actor="rita", role="quality")
    assert missing.value.code is ErrorCode.NOT_FOUND
    day = datetime(2026, 3, 2, tzinfo=UTC)
    with pytest.raises(InvalidRequest, match=r"'since' \(2026-03-02\) must be before 'until'"):
        backfill.request(archive, since=day, until=day, actor="rita", role="quality")
    monitoring.save(archive, "churn", POLICY, enabled=False, actor="rita", role="quality")
    with pytest.raises(InvalidRequest, match="no policy is enabled"):
        backfill.request(archive, actor="rita", role="quality")
    with pytest.raises(InvalidRequest, match="backfill request 999 does not exist"):
        backfill.get(archive, 999)
    assert backfill.recent(archive) == []


def test_a_restricted_item_is_skipped_and_checked_again_once_the_restriction_is_lifted(
    archive: Archive,
) -> None:
    """Art. 18: a restricted item is stored, not processed. Lifting the restriction
    queues its monitor job in the lift's own transaction, so the check it missed runs."""
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    monitoring.install(archive)
    archive.start_indexing()  # a serving node: a worker runs the jobs
    item_id = archive.ingest(email_item(body=FLAGGED, customer="kees@klant.nl")).item_id
    rights.restrict_subject(archive, "kees@klant.nl", actor="pia", reason="contested")
    assert monitoring.run_queued(archive, worker="test") == 1
    assert queue.listing(archive, QUALITY) == [] and _evaluated(archive, item_id) == 0

    rights.lift_restriction(archive, "kees@klant.nl", actor="pia", note="told by mail")
    depth = {d.kind: d.queued for d in JobQueue(archive.catalog).depth()}
    assert depth.get(monitoring.JOB_KIND) == 1
    assert monitoring.run_queued(archive, worker="test") == 1
    assert [e["item_id"] for e in queue.listing(archive, QUALITY)] == [item_id]


def test_lifting_with_no_policy_enabled_queues_nothing(archive: Archive) -> None:
    monitoring.install(archive)
    archive.ingest(email_item(body=FLAGGED, customer="kees@klant.nl"))
    rights.restrict_subject(archive, "kees@klant.nl", actor="pia", reason="contested")
    rights.lift_restriction(archive, "kees@klant.nl", actor="pia", note="told by mail")
    assert {d.kind for d in JobQueue(archive.catalog).depth()} == set()


def test_an_unreadable_item_is_counted_and_named_and_the_rest_go_on(
    archive: Archive, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = _archive_mail(archive, 4, flagged={0, 3})
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    asked = backfill.request(archive, actor="rita", role="quality")
    real_find = monitoring.find_hits
    broken = sorted(ids)[1]

    def find(arc: Archive, item_id: str, *args: Any, **kwargs: Any) -> Any:
        if item_id == broken:
            raise ContentIntegrityError(item_id, part="index", reason="the tag does not match")
        return real_find(arc, item_id, *args, **kwargs)

    monkeypatch.setattr(monitoring, "find_hits", find)
    backfill.run_queued(archive, worker="test", batch_items=2)
    got = backfill.get(archive, asked.id)
    assert (got.status, got.items_done, got.items_failed, got.queued) == (
        backfill.Status.DONE, 4, 1, 2)
    assert got.error is not None and got.error.startswith(f"item {broken}: ")
    assert "failed its integrity check: the tag does not match" in got.error


def test_a_request_whose_policy_is_gone_fails_with_the_reason(archive: Archive) -> None:
    _archive_mail(archive, 2, flagged={0})
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    asked = backfill.request(archive, actor="rita", role="quality")
    with archive.catalog.write() as conn:
        conn.execute(qt.policies.delete())
    backfill.run_queued(archive, worker="test")
    got = backfill.get(archive, asked.id)
    assert (got.status, got.error) == (backfill.Status.FAILED,
                                       "policy 'churn' no longer exists")
    [done] = archive.audit.events(action="quality_backfill_done")
    assert done.detail["status"] == "failed"
    assert {d.kind: d.queued + d.running for d in JobQueue(archive.catalog).depth()
            }.get(backfill.JOB_KIND, 0) == 0  # its job ended


def test_a_request_whose_job_failed_for_good_reads_failed_with_the_jobs_error(
    archive: Archive, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    asked = backfill.request(archive, actor="rita", role="quality")

    def down(*args: Any, **kwargs: Any) -> Any:
        raise TemporaryFailure("catalog", reason="disk full")

    monkeypatch.setattr(backfill, "run_batch", down)
    jobs = JobQueue(archive.catalog, max_attempts=1)
    backfill.run_queued(archive, worker="test", queue=jobs)
    got = backfill.get(archive, asked.id)
    assert got.status is backfill.Status.FAILED
    assert got.error == "TemporaryFailure: catalog failed temporarily: disk full"
