"""What only the Elasticsearch index does: the shared behaviour is in test_index_contract.py."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import elasticsearch
import pytest
from elasticsearch import Elasticsearch

from archive.errors import IndexUnavailable
from archive.index import IndexDoc, SearchQuery
from archive.index.elastic import ElasticIndex
from archive.model import Section
from tests.services import ES_VERSION, REPO_ROOT, elasticsearch_secure, elasticsearch_url, free_port

pytestmark = pytest.mark.service


@pytest.fixture
def es_index() -> Iterator[ElasticIndex]:
    index = ElasticIndex(elasticsearch_url(), prefix=f"t-{uuid.uuid4().hex[:12]}")
    index.ensure()
    yield index
    index.drop()
    index.close()


def _doc(item_id: str, text: str, **overrides: object) -> IndexDoc:
    fields: dict[str, object] = {
        "item_id": item_id,
        "channel": "call",
        "direction": "inbound",
        "started_at": datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
        "parties": ("+31201234567", "Alice Example <alice@example.com>"),
        "subjects": ("+31201234567",),
        "purposes": ("quality",),
        "restricted": False,
        "held": False,
        "sections": (Section("transcript", text, speaker="customer", start_s=2.5),),
        "title": f"Call {item_id}",
    }
    fields.update(overrides)
    return IndexDoc(**fields)  # type: ignore[arg-type]


def _raw(index: ElasticIndex) -> Elasticsearch:
    return Elasticsearch(index.url)


@pytest.mark.slow
def test_deleted_item_text_is_merged_out_of_the_segments(es_index: ElasticIndex) -> None:
    # GIVEN two items, one of which is erased
    es_index.upsert([_doc("keep", "the weather is fine"), _doc("erase", "my secret pin 4711")])
    es_index.delete("erase")
    assert es_index.search(SearchQuery("4711")).total == 0
    # THEN once the shard's retention lease moves on (about 30 s), the erased
    # documents leave the segments instead of lingering as soft-deletes
    deadline = time.monotonic() + 120
    while es_index.expunge_deleted() and time.monotonic() < deadline:
        time.sleep(2)
    assert es_index.expunge_deleted() == 0
    assert es_index.count() == 1


def test_folded_tokens_are_indexed_but_not_stored(es_index: ElasticIndex) -> None:
    es_index.upsert([_doc("a", "Café au lait")])
    with _raw(es_index) as es:
        source = es.get(index=es_index.index_name, id="a")["_source"]
    assert source["sections"][0]["text"] == "Café au lait"
    assert "tokens" not in source["sections"][0]
    assert "parties_tokens" not in source
    assert es_index.search(SearchQuery("CAFE")).total == 1


def test_ensure_is_idempotent_and_keeps_documents(es_index: ElasticIndex) -> None:
    es_index.upsert([_doc("a", "hello there")])
    es_index.ensure()
    assert es_index.count() == 1
    assert es_index.health()["status"] in {"green", "yellow"}


def test_health_of_a_missing_index_is_unavailable(es_index: ElasticIndex) -> None:
    es_index.drop()
    with pytest.raises(IndexUnavailable, match="does not exist"):
        es_index.health()
    es_index.ensure()
    assert es_index.health()["documents"] == 0


def test_clear_removes_every_document_and_keeps_the_index_usable(es_index: ElasticIndex) -> None:
    es_index.upsert([_doc(f"i{n}", f"call number {n}") for n in range(5)])
    es_index.clear()
    assert es_index.count() == 0
    es_index.upsert([_doc("after", "call number six")])
    assert es_index.search(SearchQuery("six")).total == 1


def test_transcript_hit_reports_speaker_and_offset_of_best_section(
    es_index: ElasticIndex,
) -> None:
    sections = (
        Section("transcript", "good morning how can I help", speaker="agent", start_s=0.0),
        Section("transcript", "I want to cancel my contract", speaker="customer", start_s=3.2),
        Section("transcript", "why do you want to cancel", speaker="agent", start_s=7.9),
    )
    es_index.upsert([_doc("call", "", sections=sections)])
    hit = es_index.search(SearchQuery('"cancel my contract"')).hits[0]
    assert (hit.speaker, hit.start_s) == ("customer", 3.2)
    assert "<mark>cancel</mark>" in hit.snippet


def test_snippet_escapes_html(es_index: ElasticIndex) -> None:
    es_index.upsert([_doc("x", "<script>alert(1)</script> refund please")])
    snippet = es_index.search(SearchQuery("refund")).hits[0].snippet
    assert "<script>" not in snippet
    assert "&lt;script&gt;" in snippet
    assert "<mark>refund</mark>" in snippet


def test_unreachable_cluster_raises_index_unavailable() -> None:
    index = ElasticIndex(f"http://127.0.0.1:{free_port()}", prefix="down", timeout_s=1.0)
    with pytest.raises(IndexUnavailable):
        index.health()
    with pytest.raises(IndexUnavailable):
        index.search(SearchQuery("anything"))
    with pytest.raises(IndexUnavailable):
        index.upsert([_doc("a", "text")])
    index.close()


def test_bulk_upsert_of_many_items_counts_items_not_sections(es_index: ElasticIndex) -> None:
    sections = tuple(
        Section("transcript", f"utterance {n} about billing", speaker="agent", start_s=float(n))
        for n in range(20)
    )
    es_index.upsert([_doc(f"c{n}", "", sections=sections) for n in range(1200)])
    assert es_index.count() == 1200
    result = es_index.search(SearchQuery("billing", limit=5))
    assert result.total == 1200
    assert len(result.hits) == 5


def test_secured_cluster_needs_credentials_and_the_ca() -> None:
    # GIVEN a node with TLS on HTTP and basic auth, as COMMARCHIVE_ES_* configure it
    node = elasticsearch_secure()
    prefix = f"t-{uuid.uuid4().hex[:12]}"
    index = ElasticIndex(node["url"], prefix=prefix, username=node["username"],
                         password=node["password"], ca_certs=node["ca_certs"])
    index.ensure()
    index.upsert([_doc("a", "over tls")])
    assert index.search(SearchQuery("tls")).total == 1
    # THEN a wrong password or an untrusted certificate is IndexUnavailable
    wrong_password = ElasticIndex(node["url"], prefix=prefix, username=node["username"],
                                  password="not-the-password", ca_certs=node["ca_certs"])
    untrusted = ElasticIndex(node["url"], prefix=prefix, username=node["username"],
                             password=node["password"], timeout_s=3.0)
    for bad in (wrong_password, untrusted):
        with pytest.raises(IndexUnavailable):
            bad.search(SearchQuery("tls"))
        bad.close()
    index.drop()
    index.close()


def test_compose_tests_and_client_agree_on_the_elasticsearch_version() -> None:
    compose = (REPO_ROOT / "docker-compose.yml").read_text()
    images = re.findall(r"image:\s*\S*elasticsearch/elasticsearch:(\S+)", compose)
    assert images == [ES_VERSION]
    # The client sends compatible-with=<its major>; the server accepts only its own (or -1).
    assert elasticsearch.__versionstr__.split(".")[0] == ES_VERSION.split(".")[0]
