"""Group commit: many items, one transaction, each with its own outcome."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from archive import catalog as cat
from archive.config import Role, TaggingRule
from archive.errors import InvalidRequest, TemporaryFailure
from archive.group_commit import GroupCommitter
from archive.holds import place_hold
from archive.index import SearchQuery
from archive.model import AddressKind, IngestResult, NewItem, Party, PartyRole, Side
from archive.rights import restrict_subject
from archive.retention import purge_items
from archive.intake import CommittedGroup, PreparedItem
from archive.service import Archive
from tests.conftest import TEST_CONFIG, email_item, make_archive

NewEmail = Callable[..., NewItem]


def ingest_events(archive: Archive) -> list[Any]:
    with archive.catalog.read() as conn:
        return list(conn.execute(sa.select(cat.audit_events.c.at, cat.audit_events.c.item_ids)
                                 .where(cat.audit_events.c.action == "ingest")))


def test_one_group_each_item_its_own_outcome(archive: Archive, new_email: NewEmail) -> None:
    place_hold(archive, actor="l", reason="dispute", case_ref="C-1", subject="held@customer.nl")
    restrict_subject(archive, "quiet@customer.nl", actor="p", reason="Art. 18 request")
    old = archive.ingest(new_email(message_id="<old@customer.nl>"))
    first = new_email(message_id="<a@customer.nl>", body="walrus")
    bad = dataclasses.replace(new_email(), extra_parts={"original": b"x"})
    news = [
        first,
        new_email(message_id="<old@customer.nl>"),          # archived before
        dataclasses.replace(first, parties=[*first.parties[:1]]),  # same message twice
        bad,
        new_email(customer="held@customer.nl", body="walrus"),
        new_email(customer="quiet@customer.nl", body="walrus"),
    ]
    results = archive.ingest_many(news)
    a, again_old, again_a, refused, held, quiet = results
    assert isinstance(a, IngestResult) and a.created
    assert again_old == IngestResult(old.item_id, False, 0)
    assert isinstance(again_a, IngestResult) and (again_a.item_id, again_a.created) == (
        a.item_id, False)
    assert isinstance(refused, InvalidRequest) and "reserved part name" in str(refused)
    assert isinstance(held, IngestResult) and isinstance(quiet, IngestResult)
    assert archive.record(held.item_id).held
    assert archive.record(quiet.item_id).restricted
    # The three new items were one transaction: one audit timestamp, chained in order.
    events = [e for e in ingest_events(archive) if old.item_id not in e.item_ids]
    assert len(events) == 3 and len({e.at for e in events}) == 1
    assert archive.audit.verify().ok
    legal = archive.users.authenticate(archive.users.add("legal", Role.LEGAL))
    # Durable and searchable when ingest_many returns (the restricted one is not found).
    found = archive.search(legal, SearchQuery(text="walrus")).result
    assert {h.item_id for h in found.hits} == {a.item_id, held.item_id}


def test_a_store_failure_fails_only_that_item(
    archive: Archive, new_email: NewEmail, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = archive.intake.prepare
    calls = 0

    def flaky(new: NewItem) -> PreparedItem:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise TemporaryFailure("object store", reason="ConnectionError")
        return real(new)

    monkeypatch.setattr(archive.intake, "prepare", flaky)
    results = archive.ingest_many([new_email(), new_email(), new_email()])
    assert [type(r).__name__ for r in results] == ["IngestResult", "TemporaryFailure",
                                                    "IngestResult"]
    assert len(archive.item_ids()) == 2


def test_a_failed_transaction_fails_the_group_and_leaves_no_blobs(
    archive: Archive, new_email: NewEmail, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*args: Any, **kwargs: Any) -> None:
        raise TemporaryFailure("catalog write", reason="OperationalError")

    prepared = [archive.prepare(new_email()) for _ in range(3)]
    blobs = [k for p in prepared for k in p.blobs]
    monkeypatch.setattr(archive.intake, "_insert_items", locked)
    results = archive.finish_group(archive.commit_group(prepared))
    assert all(isinstance(r, TemporaryFailure) for r in results)
    assert archive.item_ids() == []
    assert not any(archive.store.exists(k) for k in blobs)


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


def test_a_redelivery_merges_even_when_no_rule_would_tag_this_copy(tmp_path: Path) -> None:
    # Journaling MTAs split one message per recipient: the copy to boss@ matches no rule,
    # but it is the archived message, so boss@ must be merged in, not refused.
    config = TEST_CONFIG.model_copy(update={"rules": (
        TaggingRule(purposes=("legal",), mailbox="compliance@example.com"),)})
    archive = make_archive(tmp_path / "data", config=config)
    try:
        base = email_item(message_id="<split@customer.nl>")

        def to(bcc: str) -> NewItem:
            extra = Party(PartyRole.BCC, bcc, AddressKind.EMAIL, None, Side.AGENT)
            return dataclasses.replace(base, parties=[*base.parties, extra])

        first = archive.ingest(to("compliance@example.com"))
        (again,) = archive.ingest_many([to("boss@example.com")])
        assert again == IngestResult(first.item_id, False, 1)
        parties = {p.address for p in archive.record(first.item_id).parties}
        assert {"compliance@example.com", "boss@example.com"} <= parties
        with pytest.raises(InvalidRequest):  # a new message nobody may keep is still refused
            archive.ingest(email_item())
    finally:
        archive.close()


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


def test_erasure_or_restriction_between_commit_and_index_wins(
    archive: Archive, new_email: NewEmail
) -> None:
    # The finisher indexes a group a moment after its commit; a privacy request in
    # that moment must not be undone by the document built at commit time.
    legal = archive.users.authenticate(archive.users.add("legal", Role.LEGAL))
    erased = archive.prepare(new_email(customer="gone@customer.nl", body="aardvark"))
    quiet = archive.prepare(new_email(customer="quiet@customer.nl", body="aardvark"))
    kept = archive.prepare(new_email(customer="stays@customer.nl", body="aardvark"))
    done = archive.commit_group([erased, quiet, kept])
    purge_items(archive, [erased.item_id], reason="erasure", actor="p", role="privacy")
    restrict_subject(archive, "quiet@customer.nl", actor="p", reason="Art. 18 request")
    assert all(isinstance(r, IngestResult) for r in archive.finish_group(done))
    archive.recheck_group(done)  # what the committer does right after the answers
    hits = archive.search(legal, SearchQuery(text="aardvark")).result.hits
    assert [h.item_id for h in hits] == [kept.item_id]
    raw = archive.index.search(SearchQuery(text="aardvark", include_restricted=True))
    assert raw.total == 2  # the erased one is out of the index, the restricted one flagged
    assert erased.item_id not in archive.item_ids()


def test_a_redelivery_naming_a_restricted_subject_restricts_the_item(
    archive: Archive, new_email: NewEmail
) -> None:
    restrict_subject(archive, "late@customer.nl", actor="p", reason="Art. 18 request")
    first = new_email(message_id="<cc@customer.nl>", body="platypus")
    item = archive.ingest(first)
    assert not archive.record(item.item_id).restricted
    cc = Party(PartyRole.CC, "late@customer.nl", AddressKind.EMAIL, None, Side.CUSTOMER)
    again = archive.ingest(dataclasses.replace(first, parties=[*first.parties, cc]))
    assert again == IngestResult(item.item_id, False, 1)
    assert archive.record(item.item_id).restricted
    legal = archive.users.authenticate(archive.users.add("legal", Role.LEGAL))
    assert archive.search(legal, SearchQuery(text="platypus")).result.total == 0
