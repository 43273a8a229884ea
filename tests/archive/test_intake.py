"""Regressions for an independent review: what search and item views may show, and to whom."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from archive import catalog as cat
from archive import rights
from archive.config import ArchiveConfig, Role, TaggingRule
from archive.errors import (
    InvalidRequest,
    TemporaryFailure,
)
from archive.holds import place_hold
from archive.index import SearchQuery
from archive.intake import PreparedItem
from archive.model import AddressKind, IngestResult, NewItem, Party, PartyRole, Side
from archive.retention import purge_items
from archive.rights import restrict_subject
from archive.service import Archive
from archive.users import User
from tests.conftest import TEST_CONFIG, email_item, make_archive

QUALITY = User("q", Role.QUALITY)


TRAINER = User("t", Role.TRAINER)


LEGAL = User("l", Role.LEGAL)


def test_an_erased_message_delivered_again_stays_erased(tmp_path: Path) -> None:
    from archive import catalog as cat

    no_legal = ArchiveConfig(rules=(TaggingRule(purposes=("quality", "training")),))
    archive = make_archive(tmp_path / "a", config=no_legal)
    item = email_item(body="forget me", customer="gone@klant.nl")
    first = archive.ingest(item).item_id
    rights.erase_subject(archive, "gone@klant.nl", actor="dpo")
    again = archive.ingest(item)  # e.g. the MTA retried after a timeout
    assert (again.item_id, again.created) == (first, False)
    assert archive.item_ids() == []
    assert archive.audit.events(action="ingest_purged")[-1].item_ids == (first,)
    with archive.catalog.read() as conn:
        mark = conn.execute(sa.select(cat.tombstones.c.dedupe_mark)).scalar_one()
    assert item.dedupe_key and item.dedupe_key not in str(mark)  # keyed hash, not the key


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
