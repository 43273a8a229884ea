"""Totals and ranking that every index backend must agree on.

Totals are exact up to ``EXACT_TOTAL_LIMIT`` items and "10,000+" beyond, on every
backend; below the limit the embedded index and Elasticsearch give the same totals
and, for one word or one phrase, the same items in the same order.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from archive.index import (
    EXACT_TOTAL_LIMIT,
    IndexDoc,
    SearchIndex,
    SearchQuery,
    hit_pages,
)
from archive.index.memory import MemoryIndex
from archive.index.sqlite import SqliteIndex
from archive.model import Section

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
WORDS = [f"w{n}" for n in range(60)]


def _doc(n: int, text: str, **kw: Any) -> IndexDoc:
    fields: dict[str, Any] = {
        "item_id": f"i{n:06d}", "channel": "email", "direction": "inbound",
        "started_at": EPOCH + timedelta(hours=n), "parties": (), "subjects": (),
        "purposes": ("quality",), "restricted": False, "held": False,
        "sections": (Section("body", text),), "title": f"t{n}",
    }
    fields.update(kw)
    return IndexDoc(**fields)


def test_more_matches_than_the_limit_report_the_limit_as_a_lower_bound(
    index: SearchIndex,
) -> None:
    docs = [_doc(n, "common words here" if n % 2 else "common") for n in range(
        EXACT_TOTAL_LIMIT + 3)]
    for start in range(0, len(docs), 2000):
        index.upsert(docs[start : start + 2000])

    many = index.search(SearchQuery(text="common", limit=5))
    assert (many.total, many.total_is_lower_bound) == (EXACT_TOTAL_LIMIT, True)
    assert len(many.hits) == 5
    listing = index.search(SearchQuery(limit=5))
    assert (listing.total, listing.total_is_lower_bound) == (EXACT_TOTAL_LIMIT, True)
    assert [h.item_id for h in listing.hits] == [d.item_id for d in docs[::-1][:5]]
    half = index.search(SearchQuery(text="common words"))
    assert (half.total, half.total_is_lower_bound) == ((EXACT_TOTAL_LIMIT + 3) // 2, False)
    # A page past the window ranked for "10,000+" still comes back full.
    deep = index.search(SearchQuery(text="common", limit=10, offset=EXACT_TOTAL_LIMIT - 5))
    assert len(deep.hits) == 8
    # Paging through every hit does not stop at the estimate (holds, subject look-ups).
    seen = [i for ids in hit_pages(index, SearchQuery(text="common"), 2500) for i in ids]
    assert sorted(seen) == sorted(d.item_id for d in docs)


def test_a_date_window_is_exact_to_the_microsecond(index: SearchIndex) -> None:
    second = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    index.upsert([_doc(n, "fibre", started_at=second + timedelta(microseconds=us))
                  for n, us in enumerate((0, 250_000, 500_000, 999_999))]
                 + [_doc(9, "fibre", started_at=second + timedelta(seconds=1))])
    half = second + timedelta(microseconds=500_000)
    for text in ("fibre", ""):
        found = {h.item_id for h in index.search(
            SearchQuery(text=text, since=half, until=second + timedelta(seconds=1))).hits}
        assert found == {"i000002", "i000003"}, text
        found = {h.item_id for h in index.search(SearchQuery(text=text, until=half)).hits}
        assert found == {"i000000", "i000001"}, text


def test_dates_far_outside_the_usual_range_are_indexed_and_filtered(
    index: SearchIndex,
) -> None:
    old, late = datetime(1971, 5, 1, tzinfo=UTC), datetime(2100, 5, 1, tzinfo=UTC)
    index.upsert([_doc(1, "fax", started_at=old), _doc(2, "fax", started_at=late),
                  _doc(3, "fax", started_at=EPOCH)])
    assert _ids(index, text="fax", until=datetime(1990, 1, 1, tzinfo=UTC)) == ["i000001"]
    assert _ids(index, text="fax", since=datetime(2099, 1, 1, tzinfo=UTC)) == ["i000002"]
    assert _ids(index, text="fax", since=datetime(1971, 5, 2, tzinfo=UTC),
                until=datetime(2100, 4, 1, tzinfo=UTC)) == ["i000003"]


def _ids(index: SearchIndex, **kw: Any) -> list[str]:
    return sorted(h.item_id for h in index.search(SearchQuery(**kw)).hits)


# -- the embedded index and Elasticsearch agree ---------------------------------------


def _corpus() -> list[IndexDoc]:
    """Short sections (Lucene keeps lengths below 24 tokens exactly), Zipf-like words."""
    rng = random.Random(15)
    weights = [1 / (k + 2) for k in range(len(WORDS))]
    docs = []
    for n in range(400):
        def sentence() -> str:
            return " ".join(rng.choices(WORDS, weights, k=rng.randint(3, 18)))

        call = n % 2 == 0
        sections = (tuple(Section("transcript", sentence(), "agent" if i % 2 else "customer",
                                  i * 5.0) for i in range(3)) if call
                    else (Section("subject", sentence()), Section("body", sentence())))
        docs.append(_doc(
            n, "", channel="call" if call else "email", sections=sections,
            started_at=EPOCH + timedelta(minutes=rng.randrange(400 * 24 * 60)),
            purposes=tuple(sorted(rng.sample(["quality", "training", "legal"],
                                             rng.randint(1, 3)))),
            restricted=rng.random() < 0.1, parties=(f"+3161{n:07d}", f"c{n}@example.net")))
    return docs


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SearchIndex, ...]]:
    from archive.index.elastic import ElasticIndex
    from tests.services import elasticsearch_url

    sqlite = SqliteIndex(tmp_path_factory.mktemp("parity") / "index.sqlite")
    es = ElasticIndex(elasticsearch_url(), prefix=f"t{uuid.uuid4().hex[:10]}")
    indexes = (sqlite, es, MemoryIndex())
    for idx in indexes:
        idx.ensure()
        idx.upsert(_corpus())
    yield indexes
    es.drop()
    for idx in indexes:
        idx.close()


def _queries() -> Iterator[tuple[bool, SearchQuery]]:
    """(ranked, query): one word or one phrase is ranked the same way everywhere; for
    several, BM25's idf differs (Lucene adds one) so only the items must agree."""
    window: dict[str, Any] = {"since": EPOCH + timedelta(days=60),
                              "until": EPOCH + timedelta(days=150)}
    for word in ("w0", "w3", "w11", "w40", "w59"):
        yield True, SearchQuery(text=word, limit=15)
        yield True, SearchQuery(text=word, purposes=frozenset({"training"}), limit=15,
                                **window)
        yield True, SearchQuery(text=word, include_restricted=True, channel="call", limit=15)
    yield True, SearchQuery(text='"w0 w1"', limit=15)
    yield True, SearchQuery(text='"w2 w0"', anonymised=False, limit=15)
    yield False, SearchQuery(text="w5 w9", limit=400)
    yield False, SearchQuery(text='w1 "w0 w2"', purposes=frozenset({"legal"}), limit=400)
    yield False, SearchQuery(purposes=frozenset({"legal"}), limit=400, **window)


def test_sqlite_and_elasticsearch_give_the_same_totals_and_top_items(
    both: tuple[SearchIndex, ...],
) -> None:
    sqlite, es, memory = both
    for ranked, query in _queries():
        a, b = sqlite.search(query), es.search(query)
        assert (a.total, a.total_is_lower_bound) == (b.total, b.total_is_lower_bound), query
        assert a.total == memory.search(query).total, query
        if ranked:
            assert [h.item_id for h in a.hits] == [h.item_id for h in b.hits], query
        else:
            assert {h.item_id for h in a.hits} == {h.item_id for h in b.hits}, query
        assert a.total > 0, query

