"""The labelled evaluation corpus is well-formed: its size, its markers and its identifiers.

The recall figures of ``bench/bench_anonymise.py`` mean something only if every
annotated identifier is a valid one (a checksum failure would let a validating
recogniser skip it and still look right) and the corpus is as large as promised.
"""

from __future__ import annotations

import re
from collections import Counter

from stdnum import iban
from stdnum.be import nn as be_nn
from stdnum.nl import bsn as nl_bsn

from bench import corpus

_NINO = re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]")


def test_the_corpus_holds_sixty_emails_and_thirty_calls_across_three_languages() -> None:
    docs = corpus.documents()
    counts = Counter((d.kind, d.lang) for d in docs)
    assert counts == {(k, lang): n for k, n in (("email", 20), ("call", 10))
                      for lang in ("nl", "fr", "en")}
    assert len({d.id for d in docs}) == len(docs)
    assert all(d.gold for d in docs), [d.id for d in docs if not d.gold]


def test_every_annotation_points_at_its_text() -> None:
    for doc in corpus.documents():
        for gold in doc.gold:
            assert doc.text[gold.start:gold.end] == gold.text, (doc.id, gold)
            assert gold.text.strip() == gold.text and gold.text, (doc.id, gold)


def test_every_written_identifier_passes_its_checksum() -> None:
    checked = Counter[str]()
    for doc in corpus.documents():
        for gold in doc.gold:
            compact = re.sub(r"[\s.\-]", "", gold.text).upper()
            if not compact.isascii() or not any(c.isdigit() for c in compact):
                continue  # spoken in a call: words, not digits
            if gold.category == "iban":
                assert iban.is_valid(compact), (doc.id, gold.text)
            elif gold.category == "national_id":
                assert (nl_bsn.is_valid(compact) or be_nn.is_valid(compact)
                        or _NINO.fullmatch(compact)), (doc.id, gold.text)
            else:
                continue
            checked[gold.category] += 1
    assert checked["iban"] >= 15 and checked["national_id"] >= 10


def test_a_marker_with_an_unknown_category_is_refused_by_name() -> None:
    try:
        corpus._unmark("call {Q|me}")
    except ValueError as e:
        assert "'Q'" in str(e) and "{Q|me}" in str(e)
    else:
        raise AssertionError("an unknown category letter was accepted")
