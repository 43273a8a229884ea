"""One contract for every search index: memory, SQLite FTS5, Elasticsearch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from archive.index import IndexDoc, SearchIndex, SearchQuery
from tests.conftest import index_doc


def _doc(item_id: str, **kw: Any) -> IndexDoc:
    doc = index_doc(item_id, **kw)
    assert isinstance(doc, IndexDoc)
    return doc


def _ids(index: SearchIndex, **kw: Any) -> list[str]:
    return sorted(h.item_id for h in index.search(SearchQuery(**kw)).hits)


def test_words_are_anded_across_the_whole_item(index: SearchIndex) -> None:
    index.upsert([
        _doc("a", title="Router broken", text="the modem reboots every night"),
        _doc("b", title="Invoice", text="the modem was billed twice"),
    ])
    assert _ids(index, text="modem") == ["a", "b"]
    assert _ids(index, text="router reboots") == ["a"]  # title + body of one item
    assert _ids(index, text="router billed") == []


def test_phrases_match_in_order_only(index: SearchIndex) -> None:
    index.upsert([
        _doc("a", text="please cancel my contract today"),
        _doc("b", text="my contract, please do not cancel"),
    ])
    assert _ids(index, text='"cancel my contract"') == ["a"]
    assert _ids(index, text="cancel contract") == ["a", "b"]


def test_matching_is_case_and_accent_insensitive(index: SearchIndex) -> None:
    index.upsert([_doc("a", text="Facturen van Café Müller"),
                  _doc("b", text="Viele Grüße aus der Straße")])
    assert _ids(index, text="CAFE muller") == ["a"]
    assert _ids(index, text="grüße STRASSE") == []  # ß is a letter of its own
    assert _ids(index, text="Grüße straße") == ["b"]
    assert _ids(index, text="gruße") == ["b"]


def test_non_latin_scripts_are_searchable(index: SearchIndex) -> None:
    index.upsert([_doc("ko", text="안녕하세요 인터넷이 안 돼요"),
                  _doc("ru", text="Здравствуйте, интернет не работает")])
    assert _ids(index, text="인터넷이") == ["ko"]
    assert _ids(index, text="ИНТЕРНЕТ") == ["ru"]


def test_snippet_is_html_safe_and_marks_the_match(index: SearchIndex) -> None:
    index.upsert([_doc("a", text="<script>alert(1)</script> the refund arrived")])
    hit = index.search(SearchQuery(text="refund")).hits[0]
    assert "<mark>refund</mark>" in hit.snippet
    assert "<script>" not in hit.snippet


def test_transcript_hit_names_speaker_and_offset(index: SearchIndex) -> None:
    index.upsert([
        _doc("call1", channel="call", transcript=(
            ("agent", 1.5, "good morning how can I help"),
            ("customer", 4.25, "my internet connection keeps dropping"),
        )),
    ])
    hit = index.search(SearchQuery(text="dropping")).hits[0]
    assert hit.item_id == "call1"
    assert hit.speaker == "customer"
    assert hit.start_s == 4.25


def test_purpose_filter_is_any_of(index: SearchIndex) -> None:
    index.upsert([
        _doc("q", text="alpha", purposes=("quality",)),
        _doc("t", text="alpha", purposes=("training",)),
        _doc("l", text="alpha", purposes=("legal",)),
    ])
    assert _ids(index, text="alpha", purposes=frozenset({"quality", "legal"})) == ["l", "q"]
    assert _ids(index, text="alpha", purposes=frozenset()) == []
    assert _ids(index, text="alpha") == ["l", "q", "t"]


def test_restricted_items_are_hidden_unless_asked(index: SearchIndex) -> None:
    index.upsert([_doc("r", text="beta", restricted=True), _doc("o", text="beta")])
    assert _ids(index, text="beta") == ["o"]
    assert _ids(index, text="beta", include_restricted=True) == ["o", "r"]


def test_channel_party_subject_and_date_filters(index: SearchIndex) -> None:
    jan = datetime(2026, 1, 10, tzinfo=UTC)
    feb = datetime(2026, 2, 10, tzinfo=UTC)
    index.upsert([
        _doc("e1", text="gamma", parties=("jan@customer.nl", "Jan Jansen"),
             subjects=("jan@customer.nl",), started_at=jan),
        _doc("c1", text="gamma", channel="call", parties=("+31612345678", "31612345678"),
             subjects=("+31612345678",), started_at=feb),
    ])
    assert _ids(index, text="gamma", channel="call") == ["c1"]
    assert _ids(index, party="jan@customer.nl") == ["e1"]
    assert _ids(index, text="+31612345678") == ["c1"]
    assert _ids(index, subject="+31612345678") == ["c1"]
    assert _ids(index, subject="31612345678") == []  # exact identifier only
    assert _ids(index, since=datetime(2026, 2, 1, tzinfo=UTC)) == ["c1"]
    assert _ids(index, until=datetime(2026, 2, 1, tzinfo=UTC)) == ["e1"]


def test_direction_filter_combines_with_words_channel_and_dates(index: SearchIndex) -> None:
    jan = datetime(2026, 1, 10, tzinfo=UTC)
    index.upsert([
        _doc("in1", text="refund", started_at=jan),
        _doc("out1", text="refund", direction="outbound", started_at=jan),
        _doc("out2", text="refund", direction="outbound", channel="call",
             started_at=datetime(2026, 3, 1, tzinfo=UTC)),
        _doc("int1", text="other", direction="internal", started_at=jan),
    ])
    assert _ids(index, direction="outbound") == ["out1", "out2"]
    assert _ids(index, text="refund", direction="inbound") == ["in1"]
    assert _ids(index, text="refund", direction="outbound", channel="call") == ["out2"]
    assert _ids(index, direction="outbound", until=datetime(2026, 2, 1, tzinfo=UTC)) == ["out1"]
    assert _ids(index, direction="internal") == ["int1"]
    result = index.search(SearchQuery(direction="outbound", limit=1))
    assert result.total == 2 and len(result.hits) == 1


def test_empty_query_lists_newest_first_with_pagination(index: SearchIndex) -> None:
    index.upsert([
        _doc(f"i{n}", title=f"msg {n}", started_at=datetime(2026, 1, n + 1, tzinfo=UTC))
        for n in range(5)
    ])
    page1 = index.search(SearchQuery(limit=2))
    page2 = index.search(SearchQuery(limit=2, offset=2))
    assert page1.total == 5
    assert [h.item_id for h in page1.hits] == ["i4", "i3"]
    assert [h.item_id for h in page2.hits] == ["i2", "i1"]


def test_upsert_replaces_and_delete_removes(index: SearchIndex) -> None:
    index.upsert([_doc("a", text="old words")])
    index.upsert([_doc("a", text="new words")])
    assert _ids(index, text="old") == []
    assert _ids(index, text="new") == ["a"]
    assert index.count() == 1
    index.delete("a")
    index.delete("a")
    assert _ids(index, text="new") == []
    assert index.count() == 0


def test_total_counts_items_not_sections(index: SearchIndex) -> None:
    index.upsert([_doc("call", channel="call", transcript=tuple(
        ("agent", float(n), "hello again") for n in range(5)))])
    result = index.search(SearchQuery(text="hello"))
    assert result.total == 1
    assert len(result.hits) == 1


def test_clear_removes_everything(index: SearchIndex) -> None:
    index.upsert([_doc("a", text="x"), _doc("b", text="y")])
    index.clear()
    assert index.count() == 0
    assert index.search(SearchQuery()).total == 0


def test_health_reports_when_ready(index: SearchIndex) -> None:
    assert index.health()["backend"] == index.name


def _redacted(doc: IndexDoc, *texts: str) -> IndexDoc:
    from dataclasses import replace

    from archive.model import Section
    return replace(doc, redacted=tuple(Section("body", t) for t in texts))


def test_an_anonymised_query_matches_only_the_redacted_copy_never_parties(
    index: SearchIndex,
) -> None:
    index.upsert([
        _redacted(_doc("a", text="Jansen asks about the modem", parties=("jansen@klant.nl",
                                                                         "Piet Jansen")),
                  "[CUSTOMER-1] asks about the modem"),
        _doc("b", text="modem for Jansen", parties=("Piet Jansen",)),  # no redacted copy
    ])
    assert _ids(index, text="jansen") == ["a", "b"]
    assert _ids(index, text="klant") == ["a"]  # the parties field, for a plain search
    assert _ids(index, text="jansen", anonymised=True) == []
    assert _ids(index, text="klant", anonymised=True) == []
    assert _ids(index, text="modem", anonymised=True) == ["a"]
    hit = index.search(SearchQuery(text="modem", anonymised=True)).hits[0]
    assert "Jansen" not in hit.snippet and "CUSTOMER" in hit.snippet
    # The redacted copy never answers a plain search.
    assert _ids(index, text="customer") == []


def test_mentions_are_matched_exactly(index: SearchIndex) -> None:
    from dataclasses import replace

    index.upsert([replace(_doc("a", text="bel 06-12345678"),
                          mentions=("+31612345678", "piet@example.org")),
                  _doc("b", text="nothing")])
    assert _ids(index, mention="+31612345678") == ["a"]
    assert _ids(index, mention="piet@example.org") == ["a"]
    assert _ids(index, mention="+3161234567") == []
    index.delete("a")
    assert _ids(index, mention="+31612345678") == []


def test_a_phrase_never_spans_two_sections(index: SearchIndex) -> None:
    """The embedded index matches items on one row of all their text; a phrase must
    still be within one section (subject, body, utterance), as on every backend."""
    index.upsert([
        _doc("split", title="please cancel", text="my contract today"),
        _doc("whole", text="please cancel my contract today"),
        _doc("call", channel="call", transcript=(("customer", 1.0, "I want to cancel"),
                                                  ("agent", 2.0, "my colleague will help"))),
    ])
    assert _ids(index, text='"cancel my contract"') == ["whole"]
    assert index.search(SearchQuery(text='"cancel my contract"')).total == 1
    assert index.search(SearchQuery(text='"cancel my"')).total == 1
    assert _ids(index, text="cancel my") == ["call", "split", "whole"]


def _page(index: SearchIndex, **kw: Any) -> tuple[int, list[str]]:
    result = index.search(SearchQuery(**kw))
    return result.total, [h.item_id for h in result.hits]


def test_an_item_id_filter_keeps_totals_and_pages_right(index: SearchIndex) -> None:
    """Review and queue state is resolved to item ids outside the index; every backend
    narrows to them (or leaves them out) with the same totals and pages."""
    index.upsert([_doc(f"i{n}", text="modem" if n % 2 else "router",
                       started_at=datetime(2026, 1, n + 1, tzinfo=UTC)) for n in range(8)])
    wanted = frozenset({"i1", "i2", "i3", "i6", "gone"})  # "gone": purged since
    assert _page(index, item_ids=wanted, limit=2) == (4, ["i6", "i3"])
    assert _page(index, item_ids=wanted, limit=2, offset=2) == (4, ["i2", "i1"])
    assert _page(index, text="modem", item_ids=wanted) == (2, ["i3", "i1"])
    assert _page(index, exclude_ids=wanted, limit=3) == (4, ["i7", "i5", "i4"])
    assert _page(index, text="modem", exclude_ids=wanted) == (2, ["i7", "i5"])
    assert _page(index, item_ids=wanted, exclude_ids=frozenset({"i6", "i3"})) == (
        2, ["i2", "i1"])
    assert _page(index, item_ids=frozenset()) == (0, [])
    assert _page(index, text="modem", item_ids=frozenset({"gone"})) == (0, [])
    assert _page(index, text="modem", item_ids=wanted, channel="call") == (0, [])


def test_more_item_ids_than_one_elasticsearch_terms_query_takes(index: SearchIndex) -> None:
    """ES refuses a ``terms`` query over index.max_terms_count (65,536) values; a longer
    list is chunked, and the embedded backends take it as one JSON parameter."""
    index.upsert([_doc(f"i{n}", text="fibre") for n in range(4)])
    many = frozenset(f"x{n:06d}" for n in range(70_000))
    assert _page(index, text="fibre", item_ids=many | {"i1", "i3"}) == (2, ["i1", "i3"])
    assert _ids(index, item_ids=many | {"i2"}) == ["i2"]
    assert _ids(index, text="fibre", exclude_ids=many | {"i0"}) == ["i1", "i2", "i3"]


def test_any_party_matches_any_one_of_several_identifiers(index: SearchIndex) -> None:
    """The agent filter: an agent's identifiers, each matched like the party filter."""
    index.upsert([
        _doc("mail", text="hello", parties=("jan@customer.nl", "smith@example.com")),
        _doc("call", text="hello", channel="call", parties=("+31612345678", "31612345678",
                                                           "+31205550100", "31205550100")),
        _doc("other", text="hello", parties=("jones@example.com", "+31205550199")),
    ])
    smith = ("smith@example.com", "+31205550100")
    assert _ids(index, any_party=smith) == ["call", "mail"]
    assert _ids(index, text="hello", any_party=smith, channel="call") == ["call"]
    assert _ids(index, any_party=smith, party="jan@customer.nl") == ["mail"]
    assert _ids(index, any_party=("example.com smith",)) == []  # each one as a phrase
    assert _ids(index, any_party=("@@",)) == []  # nothing to match: nothing found
    assert index.search(SearchQuery(any_party=smith, limit=1)).total == 2
