"""Regressions for an independent review: what search and item views may show, and to whom."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from archive import holds, rights
from archive.config import ArchiveConfig, Role, TaggingRule
from archive.errors import AccessDenied, ErrorCode
from archive.errors import IndexUnavailable
from archive.index import SearchQuery
from archive.service import Archive
from archive.users import User
from tests.conftest import email_item, make_archive

QUALITY = User("q", Role.QUALITY)
TRAINER = User("t", Role.TRAINER)
LEGAL = User("l", Role.LEGAL)


def test_search_follows_the_catalog_when_the_index_lags(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    item_id = archive.ingest(email_item(body="zebra complaint", customer="zed@klant.nl")).item_id

    def index_down(*_args: object, **_kw: object) -> None:
        raise IndexUnavailable(reason="down for the test")

    monkeypatch.setattr(archive.index, "upsert", index_down)
    rights.restrict_subject(archive, "zed@klant.nl", reason="disputed", actor="dpo")
    assert archive.record(item_id).restricted
    assert archive.search(QUALITY, SearchQuery(text="zebra")).result.total == 0
    assert archive.search(TRAINER, SearchQuery(text="zebra")).result.hits == ()


def test_trainer_snippets_lose_addresses_and_numbers_split_by_highlighting(
    archive: Archive,
) -> None:
    archive.ingest(email_item(
        body="Please call piet.jansen@gmail.com or 06 1234 5678 about the modem jansen"))
    hits = archive.search(TRAINER, SearchQuery(text="modem jansen")).result.hits
    assert len(hits) == 1
    snippet = hits[0].snippet
    assert "gmail" not in snippet and "1234" not in snippet, snippet
    assert "<mark>modem</mark>" in snippet
    quality_hit = archive.search(QUALITY, SearchQuery(text="modem")).result.hits[0]
    assert "1234" in quality_hit.snippet  # only the anonymised view is redacted


@pytest.mark.parametrize("query", [
    SearchQuery(party="jan@customer.nl"),
    SearchQuery(subject="jan@customer.nl"),
    SearchQuery(text="jan@customer.nl"),
    SearchQuery(text="0612345678"),
])
def test_trainers_cannot_search_for_a_person(archive: Archive, query: SearchQuery) -> None:
    archive.ingest(email_item())
    with pytest.raises(AccessDenied) as err:
        archive.search(TRAINER, query)
    assert err.value.code is ErrorCode.WRONG_ROLE


def test_a_hold_keeps_data_for_legal_but_does_not_extend_quality_access(
    archive: Archive,
) -> None:
    started = datetime.now(UTC) - timedelta(days=100)  # past quality's 90 days
    item_id = archive.ingest(email_item(started_at=started, body="kept for court")).item_id
    holds.place_hold(archive, actor="legal-1", reason="case", case_ref="X", item_ids=[item_id])
    with pytest.raises(AccessDenied):
        archive.read_content(QUALITY, item_id)
    assert archive.read_content(LEGAL, item_id).purpose == "legal"
    assert archive.search(QUALITY, SearchQuery(text="court")).result.total == 0


def test_trainer_sees_rectifications_redacted(archive: Archive) -> None:
    item_id = archive.ingest(email_item(body="my modem")).item_id
    rights.annotate_item(archive, item_id, "Correct number is 0612345678, name Johannes",
                     actor="dpo")
    view = archive.get_item(TRAINER, item_id)
    assert "0612345678" not in str(view.annotations)
    assert archive.get_item(User("p", Role.PRIVACY), item_id).annotations[0]["text"].startswith(
        "Correct number is 0612345678")


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


def test_a_subject_restriction_covers_their_items_archived_later(archive: Archive) -> None:
    archive.ingest(email_item(customer="quiet@klant.nl", body="first"))
    rights.restrict_subject(archive, "quiet@klant.nl", reason="accuracy contested",
                             actor="dpo")
    later = archive.ingest(email_item(customer="quiet@klant.nl", body="second walrus")).item_id
    assert archive.record(later).restricted
    with pytest.raises(AccessDenied) as err:
        archive.read_content(QUALITY, later)
    assert err.value.code is ErrorCode.RESTRICTED
    assert archive.search(QUALITY, SearchQuery(text="walrus")).result.total == 0
    rights.lift_restriction(archive, "quiet@klant.nl", actor="dpo", note="subject informed")
    after = archive.ingest(email_item(customer="quiet@klant.nl", body="third")).item_id
    assert not archive.record(after).restricted
    assert not archive.record(later).restricted
