"""The index is derived: erasure removes an item from it, and reindex rebuilds it exactly.

Run against both real backends (SQLite FTS5 and Elasticsearch) through the archive.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive import rights
from archive.config import ArchiveConfig, Role, TaggingRule
from archive.index import SearchIndex, SearchQuery
from archive.index.sqlite import SqliteIndex
from archive.model import Section
from archive.service import Archive
from archive.users import User
from tests.conftest import email_item, make_archive

QUERIES = ["modem", "router kapot", '"fibre line"', "", "+31612345678", "klant"]


@pytest.fixture(params=["sqlite", "elasticsearch"])
def arc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Archive]:
    index: SearchIndex
    if request.param == "sqlite":
        index = SqliteIndex(tmp_path / "index.sqlite")
    else:
        from archive.index.elastic import ElasticIndex
        from tests.services import elasticsearch_url

        index = ElasticIndex(elasticsearch_url(), prefix=f"r{uuid.uuid4().hex[:10]}")
    # No legal-obligation purpose here, so erasure really purges (Art. 17(3) aside).
    config = ArchiveConfig(internal_domains=("example.com",),
                           rules=(TaggingRule(purposes=("quality", "training")),))
    archive = make_archive(tmp_path / "data", index=index, config=config)
    yield archive
    if request.param == "elasticsearch":
        from archive.index.elastic import ElasticIndex

        assert isinstance(index, ElasticIndex)
        index.drop()
    archive.close()


def _snapshot(archive: Archive, user: User) -> dict[str, list[tuple[str, str, str | None]]]:
    out = {}
    for q in QUERIES:
        page = archive.search(user, SearchQuery(text=q, limit=50))
        out[q] = sorted((h.item_id, h.snippet, h.speaker) for h in page.result.hits)
    return out


def test_erasure_leaves_the_index_and_reindex_restores_identical_results(arc: Archive) -> None:
    privacy_user = User("dpo", Role.PRIVACY)
    erased_customer = "anna@klant.nl"
    for n, (customer, body) in enumerate([
        (erased_customer, "Mijn modem is kapot, de fibre line valt weg"),
        ("bob@klant.nl", "De router is kapot sinds gisteren"),
        ("carla@klant.nl", "Modem knippert oranje, klant belt terug"),
    ]):
        arc.ingest(email_item(subject=f"Storing {n}", body=body, customer=customer))
    call = email_item(subject="Gesprek", body="klant belt over modem", customer="dirk@klant.nl")
    call_id = arc.ingest(call).item_id
    arc.attach_transcript(call_id, {"speakers": []},
                          [Section("transcript", "de router is kapot", "customer", 12.5)], "x")

    before = arc.search(privacy_user, SearchQuery(text="fibre")).result.total
    assert before == 1
    rights.erase_subject(arc, erased_customer, actor="dpo")
    assert arc.search(privacy_user, SearchQuery(text="fibre")).result.total == 0
    assert arc.search(privacy_user, SearchQuery(subject=erased_customer)).result.total == 0

    expected = _snapshot(arc, privacy_user)
    assert expected["router kapot"]  # the snapshot is not empty
    arc.index.clear()
    assert arc.search(privacy_user, SearchQuery(text="modem")).result.total == 0
    assert arc.reindex() == 3
    assert _snapshot(arc, privacy_user) == expected
    hit = next(h for h in arc.search(privacy_user, SearchQuery(text="router kapot")).result.hits
               if h.item_id == call_id)
    assert (hit.speaker, hit.start_s) == ("customer", 12.5)


def test_the_builder_extracts_mentions_from_text_not_from_the_parties(archive: Archive) -> None:
    item = email_item(body="Bel Piet op 06 1234 5678 of PIET@Elders.NL", customer="jan@klant.nl")
    item.sections.append(Section("parties", "jan@klant.nl +31201234567"))
    doc = archive.build_index_doc(archive.ingest(item).item_id)
    assert set(doc.mentions) == {"+31612345678", "piet@elders.nl"}


def test_only_items_with_an_anonymised_purpose_get_a_redacted_copy(tmp_path: Path) -> None:
    config = ArchiveConfig(internal_domains=("example.com",),
                           rules=(TaggingRule(purposes=("quality",)),))
    quality_only = make_archive(tmp_path / "q", config=config)
    try:
        doc = quality_only.build_index_doc(quality_only.ingest(email_item()).item_id)
        assert doc.redacted == ()
    finally:
        quality_only.close()
    trained = make_archive(tmp_path / "t")
    try:
        item = email_item(body="Jan asks about 06 1234 5678")
        doc = trained.build_index_doc(trained.ingest(item).item_id)
        assert [s.kind for s in doc.redacted] == ["subject", "body"]
        assert doc.redacted[1].text == "[CUSTOMER-1] asks about [PHONE]"
    finally:
        trained.close()
