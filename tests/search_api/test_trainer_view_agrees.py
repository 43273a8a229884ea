"""Every trainer endpoint agrees with the anonymised view: what the view withholds of
an item is shown nowhere, over HTTP, by any endpoint.

Documents of the labelled evaluation corpus (``bench/corpus``: third parties,
agents' names, spoken numbers, addresses without a street suffix, customer
numbers) are archived, e-mails and calls with their transcripts, and everything a
trainer gets of them is collected: item metadata (details, parties, annotations),
content (the e-mail's text), transcript (words and utterances), and search hits
(snippet, title, parties) for the document's words. Each annotated value that the
item's own view (``AnonymisedView(parties, language)``) redacts must appear in
none of it, in any spacing or case; and every structured identifier is redacted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from archive.anonymise import AnonymisedView, recognisers
from archive.service import Archive
from bench import corpus as labelled
from search_api.app import create_app
from tests import corpus
from tests.search_api.conftest import bearer

#: Two e-mails and one call per language: 9 items, each with third parties.
DOCS = [d for lang in ("nl", "fr", "en") for kind, n in (("email", 2), ("call", 1))
        for d in [x for x in labelled.documents() if x.lang == lang and x.kind == kind][:n]]
STRUCTURED = frozenset({"iban", "phone", "email", "national_id", "postcode", "customer_number"})


def _as_corpus_doc(doc: labelled.LabelledDoc) -> corpus.Doc:
    pii = [{"kind": g.category, "text": g.text} for g in doc.gold]
    customer = {"name": doc.customer_name, "address": doc.customer_address}
    if doc.kind == "email":
        subject, body = doc.text.split("\n\n", 1)
        raw: dict[str, Any] = {"subject": subject, "body": body}
    else:
        raw = {"utterances": [{"speaker": who, "text": doc.text[start:end]}
                              for who, start, end in doc.utterances]}
    return corpus.Doc(doc.id, doc.lang, doc.kind, doc.topic, customer, pii, raw)


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, str]]]:
    """Per document: everything a trainer was shown, and the text its view redacts."""
    from archive.config import Role
    from tests.conftest import make_archive

    recognisers.configure(customer_numbers=[r"KL-?\d{7}", r"CT-\d{4}-\d{6}"])
    archive: Archive = make_archive(tmp_path_factory.mktemp("agree") / "data")
    try:
        token = bearer(archive.users.add("trainer-1", Role.TRAINER))
        ids = {doc.id: corpus.ingest(archive, _as_corpus_doc(doc)) for doc in DOCS}
        shown: dict[str, list[str]] = {doc.id: [] for doc in DOCS}
        with TestClient(create_app(archive)) as client:
            for doc in DOCS:
                item_id = ids[doc.id]
                meta = _ok(client.get(f"/api/v1/items/{item_id}", headers=token)).json()
                shown[doc.id].append(json.dumps(meta, ensure_ascii=False))
                if doc.kind == "email":
                    shown[doc.id].append(_ok(client.get(f"/api/v1/items/{item_id}/content",
                                                        headers=token)).text)
                else:
                    shown[doc.id].append(json.dumps(_ok(client.get(
                        f"/api/v1/items/{item_id}/transcript", headers=token)).json(),
                        ensure_ascii=False))
                for word in {doc.topic, *doc.text.split()}:
                    if not word.isalpha() or len(word) < 4:
                        continue
                    resp = client.get("/api/v1/search", params={"q": word}, headers=token)
                    if resp.status_code == 403:  # refused as identifying: nothing shown
                        continue
                    for hit in _ok(resp).json()["items"]:
                        doc_id = next(d for d, i in ids.items() if i == hit["id"])
                        shown[doc_id].append(json.dumps(
                            [hit["snippet"], hit["title"], hit["parties"]], ensure_ascii=False))
        withheld: dict[str, str] = {}
        for doc in DOCS:
            record = archive.vault.record(ids[doc.id])
            view = AnonymisedView(record.parties, record.language)
            spans = view.redactor.spans(doc.text)
            covered = [False] * len(doc.text)
            for span in spans:
                covered[span.start:span.end] = [True] * (span.end - span.start)
            withheld[doc.id] = "\n".join(g.text for g in doc.gold
                                         if all(covered[g.start:g.end]))
        yield {d.id: ("\n".join(shown[d.id]), withheld[d.id]) for d in DOCS}
    finally:
        recognisers.configure(customer_numbers=())
        archive.close()


def _ok(resp: Any) -> Any:
    assert resp.status_code == 200, resp.text
    return resp


@pytest.mark.parametrize("doc", DOCS, ids=[d.id for d in DOCS])
def test_no_endpoint_shows_what_the_view_withholds(
        seen: dict[str, tuple[str, str]], doc: labelled.LabelledDoc) -> None:
    shown, withheld = seen[doc.id]
    assert shown.strip()
    leaks = [value for value in withheld.splitlines() if _appears(value, shown)]
    assert leaks == []
    structured = [g.text for g in doc.gold if g.category in STRUCTURED]
    assert [v for v in structured if v not in withheld.splitlines()] == []


def _appears(value: str, text: str) -> bool:
    """``value``'s words, in order, as whole words of ``text`` (any spacing, any case)."""
    words = re.findall(r"\w+", value.casefold())
    pattern = r"(?<!\w)" + r"\W*".join(re.escape(w) for w in words) + r"(?!\w)"
    return bool(words) and re.search(pattern, text.casefold()) is not None
