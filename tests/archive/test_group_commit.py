"""Group commit: many items, one transaction, each with its own outcome."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from archive import catalog as cat
from archive.errors import InvalidRequest, TemporaryFailure
from archive.group_commit import GroupCommitter
from archive.intake import CommittedGroup, PreparedItem
from archive.model import IngestResult, NewItem
from archive.service import Archive

NewEmail = Callable[..., NewItem]


def ingest_events(archive: Archive) -> list[Any]:
    with archive.catalog.read() as conn:
        return list(conn.execute(sa.select(cat.audit_events.c.at, cat.audit_events.c.item_ids)
                                 .where(cat.audit_events.c.action == "ingest")))


def test_committer_groups_concurrent_callers_and_answers_each(
    archive: Archive, new_email: NewEmail, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    real = archive.commit_group

    def first_waits(items: list[PreparedItem], **kwargs: Any) -> CommittedGroup:
        gate.wait(10)  # the first group holds the committer while the others queue up
        return real(items)

    monkeypatch.setattr(archive, "commit_group", first_waits)
    committer = GroupCommitter(archive, max_group=32)
    results: list[IngestResult | Exception] = []

    def call(new: NewItem) -> None:
        try:
            results.append(committer.ingest(new))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=call, args=(new_email(),)) for _ in range(12)]
    refused = dataclasses.replace(new_email(), extra_parts={"index": b"x"})
    threads.append(threading.Thread(target=call, args=(refused,)))
    for t in threads:
        t.start()
    threading.Event().wait(0.5)  # all prepared and queued behind the first group
    gate.set()
    for t in threads:
        t.join(30)
    committer.close()
    created = [r for r in results if isinstance(r, IngestResult)]
    assert len(created) == 12 and len({r.item_id for r in created}) == 12
    assert sum(isinstance(r, InvalidRequest) for r in results) == 1
    assert committer.items == 12 and committer.groups < 12
    assert sorted(archive.item_ids()) == sorted(r.item_id for r in created)


def test_closed_committer_refuses_and_drops_the_prepared_blobs(
    archive: Archive, new_email: NewEmail
) -> None:
    committer = GroupCommitter(archive)
    committer.close()
    prepared = archive.prepare(new_email())
    blobs = list(prepared.blobs)
    assert blobs and all(archive.store.exists(k) for k in blobs)
    with pytest.raises(TemporaryFailure):
        committer.submit(prepared)
    assert not any(archive.store.exists(k) for k in blobs)
    with pytest.raises(TemporaryFailure):
        committer.ingest(new_email())


def test_callers_that_give_up_never_stop_the_committer(
    archive: Archive, new_email: NewEmail, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()
    real = archive.commit_group

    def held(items: list[PreparedItem], **kwargs: Any) -> CommittedGroup:
        gate.wait(10)
        return real(items)

    monkeypatch.setattr(archive, "commit_group", held)
    committer = GroupCommitter(archive)
    try:
        committing = committer.submit(archive.prepare(new_email(body="first")))
        threading.Event().wait(0.2)  # the committer holds the first group at the gate
        queued_item = archive.prepare(new_email(body="second"))
        queued_blobs = list(queued_item.blobs)
        queued = committer.submit(queued_item)
        assert not committing.cancel()  # being committed: too late to take back
        assert queued.cancel()  # still queued: it is dropped, never committed
        gate.set()
        first = committing.result(10)
        assert first.created and archive.item_ids() == [first.item_id]
        assert not any(archive.store.exists(k) for k in queued_blobs)
        later = committer.ingest(new_email(body="third"))  # still serving
        assert sorted(archive.item_ids()) == sorted([first.item_id, later.item_id])
    finally:
        gate.set()
        committer.close()


def test_a_group_costs_the_same_catalog_statements_whatever_its_size(
    archive: Archive, new_email: NewEmail
) -> None:
    # The catalog's cost per group is statements, not rows: one insert per table for
    # the whole group (executemany), so 16 items cost what one does.
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(archive.catalog.write_engine, "before_cursor_execute", count)
    try:
        per_group = []
        for size in (1, 16):
            prepared = [archive.prepare(new_email()) for _ in range(size)]
            statements.clear()
            done = archive.commit_group(prepared)
            per_group.append(len(statements))
            assert len(done.fresh) == size
    finally:
        sa.event.remove(archive.catalog.write_engine, "before_cursor_execute", count)
    assert per_group[0] == per_group[1], per_group
    assert per_group[1] <= 16, per_group
