"""Stems are computed once per distinct word, and come out exactly as before.

Indexing a 64 KiB e-mail stemmed every one of its ~10,000 words and then split the
stems again for the item row; now each distinct word is stemmed and folded once. The
index holds exactly the same tokens (so rankings, totals and the index format are
unchanged, on SQLite and Elasticsearch alike): ``reference_stems`` below is the
previous implementation, copied unchanged, and the tests compare both on the
labelled corpus and on generated texts (accents, Greek final sigma, dotless i,
Hangul, ``ß``, digits, punctuation, repeated words).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.index import IndexDoc, SearchQuery, analysis
from archive.index import sqlite_layout as lay
from archive.index.analysis import analyse, stems, token_text
from archive.index.query import fold, tokenize
from archive.model import Section
from tests import corpus

BENCH_CORPUS = Path(__file__).resolve().parents[2] / "bench" / "corpus"
LANGUAGES = ("nl", "fr", "en", "de", "es", None)


# -- the reference: stems and the item row's stems as they were, unchanged ----------


def reference_stems(text: str, language: str | None) -> str:
    stemmer = analysis._item_stemmer(language)
    if stemmer is None:
        return " ".join(tokenize(text))
    words = analysis._WORD_RE.findall(text.lower())
    out = stemmer.stemWords(words)
    accented = [i for i, w in enumerate(words) if not w.isascii()]
    bare = stemmer.stemWords([fold(words[i]) for i in accented])
    more = [b for i, b in zip(accented, bare, strict=True) if b != fold(out[i])]
    return fold(" ".join(out + more))


def reference_item_words(texts: list[str], stems: list[str]) -> str:
    marked = dict.fromkeys(lay.STEM_MARK + t for s in stems for t in tokenize(s))
    return lay.SECTION_BREAK.join(texts) + lay.SECTION_BREAK + " ".join(marked)


def assert_same(texts: Sequence[str], language: str | None) -> None:
    found = [analyse(t, language) for t in texts]
    expected = [reference_stems(t, language) for t in texts]
    assert [f.text for f in found] == expected
    assert [stems(t, language) for t in texts] == expected
    assert [token_text(t) for t in texts] == [" ".join(tokenize(t)) for t in texts]
    assert (lay.item_words(list(texts), [t for f in found for t in f.distinct])
            == reference_item_words(list(texts), expected))


# -- generated texts ---------------------------------------------------------------

WORDS = ("facturen", "factuur", "factures", "électricité", "electricite", "Électricité",
         "Straße", "STRASSE", "ΟΔΟΣ", "οδός", "ΣΊΣΥΦΟΣ", "İstanbul", "\u0131i", "한국어", "ﬁnal",
         "Ångström", "naïve", "coöperatie", "rechnungen", "invoices", "invoice", "betaald",
         "payé", "42", "0612345678", "x", "é", "e\u0301t\u00e9", "Ǆemal", "ǅ", "ⅻ", "²")
SEPARATORS = (" ", "  ", "\n", ", ", ". ", "-", "'", "\u00a0", "/", "\t", "…", "")


@st.composite
def texts(draw: st.DrawFn) -> str:
    words = draw(st.lists(st.one_of(st.sampled_from(WORDS),
                                    st.text(min_size=1, max_size=8)), max_size=40))
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=len(words),
                         max_size=len(words)))
    return "".join(w + s for w, s in zip(words, seps, strict=True))


@settings(max_examples=300, deadline=None)
@given(text=texts(), language=st.sampled_from(LANGUAGES))
def test_generated_texts_get_the_same_stems_as_before(text: str, language: str | None) -> None:
    assert_same([text, text.upper(), text + " " + text], language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_labelled_corpus_gets_the_same_stems_as_before(language: str | None) -> None:
    texts = [doc.text() for doc in corpus.documents()]
    texts += [p.read_text(encoding="utf-8") for p in sorted(BENCH_CORPUS.glob("*.txt"))]
    assert len(texts) > 9
    assert_same(texts, language)


def test_a_long_body_with_few_distinct_words_asks_the_stemmer_about_those_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bench's 64 KiB body: ~10,000 words, 12 distinct ones."""
    line = "Lorem ipsum dolor sit amet, invoice refund contract order number 42 ok.\r\n"
    body = line * 900
    real = analysis._item_stemmer("en")
    assert real is not None
    asked: list[str] = []

    class Counting:
        def stemWord(self, word: str) -> str:
            asked.append(word)
            return real.stemWord(word)

        def stemWords(self, words: Sequence[str]) -> list[str]:
            asked.extend(words)
            return real.stemWords(words)

    counting = Counting()
    monkeypatch.setattr(analysis, "_item_stemmer", lambda language: counting)
    monkeypatch.setattr(analysis, "_local", threading.local())  # no stems kept yet
    found = analyse(body, "en")
    assert len(asked) == 12
    assert found.text == reference_stems(body, "en")
    assert found.text.count("invoic") == 900
    assert found.distinct == ("lorem", "ipsum", "dolor", "sit", "amet", "invoic", "refund",
                              "contract", "order", "number", "42", "ok")
    # The next text (the redacted copy, the next message) asks about its new words only.
    expected = reference_stems(body + " refunds", "en")
    asked.clear()
    assert analyse(body + " refunds", "en").text == expected
    assert asked == ["refunds"]


def test_the_kept_stems_start_afresh_beyond_their_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis, "_local", threading.local())
    monkeypatch.setattr(analysis, "STEM_CACHE_WORDS", 5)
    texts = ["facturen betaald électricité", "factuur een twee drie vier", "facturen"]
    assert_same(texts, "nl")
    assert 0 < len(analysis._local.word_stems["dutch"]) <= 5


def test_a_text_with_kept_and_new_words_past_the_limit_loses_none(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting afresh must not drop the kept stems this very text still needs: indexing
    failed with a KeyError on such a text and the outbox never drained."""
    monkeypatch.setattr(analysis, "_local", threading.local())
    monkeypatch.setattr(analysis, "STEM_CACHE_WORDS", 5)
    assert_same(["facturen betaald", "facturen een twee drie vier", "betaald facturen"], "nl")


def test_a_redacted_copy_with_nothing_to_redact_is_stemmed_once_per_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from archive.index.elastic import _source
    from archive.index.sqlite import SqliteIndex

    body = "De facturen zijn betaald. " * 200
    sections = (Section("subject", "Facturen"), Section("body", body))
    doc = IndexDoc(item_id="i1", channel="email", direction="inbound",
                   started_at=datetime(2026, 1, 5, tzinfo=UTC), parties=("a@b.nl",),
                   subjects=(), purposes=("training",), restricted=False, held=False,
                   sections=sections, title="Facturen",
                   redacted=(Section("subject", "Facturen"), Section("body", body)),
                   language="nl")
    analysed: list[str] = []
    real = analysis.analyse

    def counting(text: str, language: str | None) -> analysis.Stemmed:
        analysed.append(text)
        return real(text, language)

    monkeypatch.setattr(analysis, "analyse", counting)
    source = _source(doc)
    assert sorted(analysed) == sorted(["Facturen", body])
    assert [s["stems"] for s in source["sections"]] == [
        reference_stems("Facturen", "nl"), reference_stems(body, "nl"), "a b nl",
        reference_stems("Facturen", "nl"), reference_stems(body, "nl")]
    analysed.clear()
    index = SqliteIndex(tmp_path / "index.sqlite")
    index.ensure()
    index.upsert([doc])
    assert sorted(analysed) == sorted(["Facturen", body])
    for anonymised in (False, True):
        hits = index.search(SearchQuery(text="factuur", anonymised=anonymised)).hits
        assert [h.item_id for h in hits] == ["i1"]
    index.close()
