"""Search per language (issue 14): a word finds the other forms of its stem in the item's
language, on every backend (memory, SQLite FTS5, Elasticsearch), while phrases stay exact."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from archive.config import Role
from archive.index import IndexDoc, SearchIndex, SearchQuery
from archive.model import Section
from archive.users import User
from tests.conftest import email_item, index_doc, make_archive


def _doc(item_id: str, language: str | None, **kw: Any) -> IndexDoc:
    doc = index_doc(item_id, **kw)
    assert isinstance(doc, IndexDoc)
    return dataclasses.replace(doc, language=language)


def _ids(index: SearchIndex, text: str, **kw: Any) -> list[str]:
    return sorted(h.item_id for h in index.search(SearchQuery(text=text, **kw)).hits)


def test_dutch_singular_and_plural_find_each_other(index: SearchIndex) -> None:
    index.upsert([_doc("plural", "nl", text="De facturen van maart zijn nog niet betaald"),
                  _doc("singular", "nl", text="Ik heb een vraag over mijn factuur"),
                  _doc("other", "nl", text="Mijn internet valt steeds weg")])
    assert _ids(index, "factuur") == ["plural", "singular"]
    assert _ids(index, "FACTUREN") == ["plural", "singular"]
    assert _ids(index, "facturen maart") == ["plural"]  # still every word, in one item


def test_french_singular_and_plural_find_each_other(index: SearchIndex) -> None:
    index.upsert([_doc("plural", "fr", text="Les factures d'électricité sont arrivées"),
                  _doc("singular", "fr", text="Je conteste cette facture"),
                  _doc("other", "fr", text="Ma connexion internet est coupée")])
    assert _ids(index, "facture") == ["plural", "singular"]
    assert _ids(index, "factures") == ["plural", "singular"]
    assert _ids(index, "électricité") == ["plural"]
    assert _ids(index, "electricite facture") == ["plural"]


def test_english_plurals_match_in_a_call_transcript(index: SearchIndex) -> None:
    index.upsert([_doc("call", "en", channel="call", transcript=(
        ("agent", 2.0, "good morning how can I help"),
        ("customer", 5.5, "two of my invoices were charged twice"),
    ))])
    hit = index.search(SearchQuery(text="invoice")).hits[0]
    assert (hit.item_id, hit.speaker, hit.start_s) == ("call", "customer", 5.5)
    assert "<mark>invoices</mark>" in hit.snippet  # the form in the text is the one marked


def test_a_phrase_matches_exactly_not_by_stem(index: SearchIndex) -> None:
    index.upsert([_doc("plural", "nl", text="de facturen van maart"),
                  _doc("singular", "nl", text="de factuur van maart")])
    assert _ids(index, '"facturen van maart"') == ["plural"]
    assert _ids(index, '"factuur van maart"') == ["singular"]
    assert _ids(index, '"factuur"') == ["singular"]
    hit = index.search(SearchQuery(text='"facturen van maart"')).hits[0]
    assert "<mark>facturen" in hit.snippet


def test_an_item_of_unknown_language_matches_its_words_as_written(index: SearchIndex) -> None:
    index.upsert([_doc("unknown", None, text="de facturen van maart")])
    assert _ids(index, "facturen") == ["unknown"]
    assert _ids(index, "factuur") == []  # no stemmer was chosen for it: no other forms


def test_an_item_in_a_language_queries_are_not_stemmed_in_matches_as_written(
    index: SearchIndex,
) -> None:
    index.upsert([_doc("es", "es", text="hablamos de las llamadas que cobraron")])
    assert _ids(index, "llamadas") == ["es"]  # never lost to a stem no query makes
    assert _ids(index, "cobraron hablamos") == ["es"]


def test_the_anonymised_copy_is_searched_by_stem_too(index: SearchIndex) -> None:
    doc = _doc("mail", "nl", text="de facturen van Jan", purposes=("training",))
    index.upsert([dataclasses.replace(doc, redacted=(Section("body", "de facturen van [naam]"),))])
    assert _ids(index, "factuur", anonymised=True) == ["mail"]
    assert _ids(index, "jan", anonymised=True) == []


def test_an_ingested_mail_is_found_by_stem_in_its_detected_language_and_after_reindex(
    tmp_path: Path,
) -> None:
    """The item's language (here lingua's, from the text) reaches the index at ingest and
    from the catalog on reindex."""
    arc = make_archive(tmp_path / "data")
    try:
        quality = User("q", Role.QUALITY)
        item_id = arc.ingest(email_item(
            subject="Vraag over de facturen",
            body="Goedemorgen, de facturen van maart en april zijn nog steeds niet betaald. "
                 "Kunt u mij laten weten wanneer dat gebeurt?")).item_id
        arc.flush_index()
        assert arc.record(item_id).language == "nl"

        def found(text: str) -> list[str]:
            return [h.item_id for h in arc.search(quality, SearchQuery(text=text)).result.hits]

        assert found("factuur maart") == [item_id]
        arc.reindex(clear=True)
        assert found("factuur maart") == [item_id]
        assert found('"factuur"') == []
    finally:
        arc.close()


def test_elasticsearch_documents_written_before_stems_match_words_as_written() -> None:
    """An index from an older version (sections without ``stems``) keeps answering plain
    words as written until a reindex, and gains the new fields on ``ensure``."""
    import uuid

    from archive.index.elastic import MAPPINGS, ElasticIndex, _source
    from tests.services import elasticsearch_url

    index = ElasticIndex(elasticsearch_url(), prefix=f"t-{uuid.uuid4().hex[:12]}")
    old_properties = {k: v for k, v in MAPPINGS["properties"].items() if k != "language"}
    old_sections = {k: v for k, v in old_properties["sections"]["properties"].items()
                    if k != "stems"}
    old_properties["sections"] = {**old_properties["sections"], "properties": old_sections}
    es = index._es  # writing as the older version did
    es.indices.create(index=index.index_name, mappings={**MAPPINGS,
                                                         "properties": old_properties})
    try:
        source = _source(_doc("old", None, text="de facturen van maart"))
        source.pop("language")
        for section in source["sections"]:
            section.pop("stems")
        es.index(index=index.index_name, id="old", document=source, refresh=True)
        index.ensure()  # adds the stems and language fields to the existing index
        index.upsert([_doc("new", "nl", text="een factuur")])
        assert _ids(index, "facturen") == ["new", "old"]
        assert _ids(index, "factuur") == ["new"]
        assert _ids(index, '"facturen van maart"') == ["old"]
    finally:
        index.drop()
        index.close()
