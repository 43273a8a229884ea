"""The index outbox: acknowledged at durability, searchable soon after, never stale."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from archive import catalog as cat
from archive.config import Role
from archive.errors import IndexUnavailable, TemporaryFailure
from archive.index import IndexDoc, SearchQuery
from archive.model import NewItem
from archive.outbox import OutboxLimits
from archive.retention import purge_items
from archive.rights import restrict_subject
from archive.service import Archive
from commarchive import runtime
from commarchive.settings import Settings
from tests.conftest import email_item

NewEmail = Callable[..., NewItem]


class HeldIndex:
    """Holds the first ``upsert`` (the outbox's) until released; later calls go through."""

    def __init__(self, archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        real = archive.index.upsert

        def upsert(docs: Sequence[IndexDoc]) -> None:
            self.calls += 1
            if self.calls == 1:
                self.entered.set()
                self.release.wait(20)
            real(docs)

        monkeypatch.setattr(archive.index, "upsert", upsert)


def dirty(archive: Archive, item_id: str) -> bool:
    with archive.catalog.read() as conn:
        return bool(conn.execute(sa.select(cat.items.c.index_dirty)
                                 .where(cat.items.c.id == item_id)).scalar_one())


def indexed(archive: Archive, text: str) -> list[str]:
    """Item ids whose text matches, restricted ones included (what the index holds)."""
    hits = archive.index.search(SearchQuery(text=text, include_restricted=True)).hits
    return [h.item_id for h in hits]


def test_ingest_answers_at_durability_and_the_item_is_searchable_after_the_outbox(
    archive: Archive, new_email: NewEmail, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldIndex(archive, monkeypatch)
    archive.start_indexing()
    result = archive.ingest(new_email(body="an okapi in the invoice"))  # returns while held
    assert held.entered.wait(10)
    assert result.item_id in archive.item_ids() and dirty(archive, result.item_id)
    assert indexed(archive, "okapi") == []
    status = archive.index_status()
    assert status.running and status.depth == 1 and status.backlogged is None
    held.release.set()
    assert archive.flush_index(10)
    assert indexed(archive, "okapi") == [result.item_id]
    assert archive.index_status().depth == 0
    archive.indexer.flush_flags()  # the mark is cleared in the next write
    assert not dirty(archive, result.item_id)


@pytest.mark.parametrize("when", ["while indexed", "before indexed"])
@pytest.mark.parametrize("change", ["erase", "restrict"])
def test_a_privacy_request_racing_the_outbox_leaves_no_stale_entry(
    archive: Archive, new_email: NewEmail, monkeypatch: pytest.MonkeyPatch,
    change: str, when: str,
) -> None:
    held = HeldIndex(archive, monkeypatch)
    archive.start_indexing()
    if when == "before indexed":  # the outbox is busy with another item; ours waits
        archive.ingest(new_email(body="unrelated"))
        assert held.entered.wait(10)
    target = archive.ingest(new_email(customer="gone@customer.nl", body="aardvark"))
    if when == "while indexed":  # its document is built, the write is held
        assert held.entered.wait(10)
    if change == "erase":
        purge_items(archive, [target.item_id], reason="erasure", actor="p", role="privacy")
    else:
        restrict_subject(archive, "gone@customer.nl", actor="p", reason="Art. 18 request")
    held.release.set()
    assert archive.flush_index(10)
    legal = archive.authenticate(archive.users.add("legal", Role.LEGAL))
    assert archive.search(legal, SearchQuery(text="aardvark")).result.total == 0
    if change == "erase":
        assert indexed(archive, "aardvark") == []
    else:  # still in the index, flagged restricted, as a restriction leaves it
        assert indexed(archive, "aardvark") == [target.item_id]


def test_a_backlog_over_the_limit_refuses_ingest_until_it_drains(
    archive: Archive, new_email: NewEmail, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldIndex(archive, monkeypatch)
    archive.start_indexing(OutboxLimits(max_depth=2, max_age_s=60))
    for _ in range(3):
        archive.ingest(new_email())
    assert held.entered.wait(10)
    reason = archive.index_backlog()
    assert reason is not None and "3 items" in reason
    with pytest.raises(TemporaryFailure, match="index backlog"):
        archive.ingest(new_email(body="refused for now"))
    held.release.set()
    assert archive.flush_index(10)
    assert archive.index_backlog() is None
    assert archive.ingest(new_email(body="accepted again")).created
    assert len(archive.item_ids()) == 4


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "archive")
    runtime.init_archive(settings).close()
    return settings


@pytest.fixture
def crashed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Three items acknowledged by an archive whose index writes all failed, left as a
    SIGKILL leaves it (never closed): only the catalog's marks remember them."""
    first = runtime.open_archive(settings)
    calls: list[int] = []

    def down(docs: Sequence[IndexDoc]) -> None:
        calls.append(len(docs))
        raise IndexUnavailable(reason="down")

    monkeypatch.setattr(first.index, "upsert", down)
    first.start_indexing()
    ids = [first.ingest(email_item(body=f"quokka number {n}")).item_id for n in range(3)]
    assert not first.flush_index(0.5)
    assert calls  # it tried, and failed
    yield ids
    monkeypatch.undo()
    first.close()


def test_items_a_crash_left_unindexed_are_indexed_on_the_next_start(
    settings: Settings, crashed: list[str]
) -> None:
    again = runtime.open_archive(settings)
    try:
        assert indexed(again, "quokka") == []
        again.start_indexing()
        assert again.flush_index(10)
        assert sorted(indexed(again, "quokka")) == sorted(crashed)
    finally:
        again.close()


def test_an_item_the_indexer_cannot_handle_holds_up_no_other(
    settings: Settings, crashed: list[str], monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One document that makes the index raise (a bug, not the index being down) used to
    fail its whole batch again and again: nothing after it became searchable."""
    poison = crashed[1]
    again = runtime.open_archive(settings)
    try:
        real = again.index.upsert

        def upsert(docs: Sequence[IndexDoc]) -> None:
            if any(d.item_id == poison for d in docs):
                raise KeyError("a bug in building one document")
            real(docs)

        monkeypatch.setattr(again.index, "upsert", upsert)
        again.start_indexing()  # the three marked items, in one batch
        assert again.flush_index(10)
        assert sorted(indexed(again, "quokka")) == sorted(set(crashed) - {poison})
        assert f"item {poison} cannot be indexed" in caplog.text
        assert "KeyError at " in caplog.text  # where it failed, never the message:
        assert "a bug in building one document" not in caplog.text  # it may quote content
        assert again.index_status().set_aside == 1  # /metrics: ..._outbox_set_aside_total
        again.indexer.flush_flags()
        assert dirty(again, poison)  # still marked: the catch-up or reindex tries again
        assert not dirty(again, crashed[0]) and not dirty(again, crashed[2])
        monkeypatch.setattr(again.index, "upsert", real)  # the bug fixed
        assert again.reindex_dirty() == 1 and again.flush_index(10)
        assert sorted(indexed(again, "quokka")) == sorted(crashed)
    finally:
        again.close()
