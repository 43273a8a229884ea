"""The labelled corpus read through every trainer endpoint: zero structured identifiers leak.

Content, transcript, item metadata and search hits (snippet, title, parties) of
every corpus document, as a trainer gets them over HTTP, are searched for each
annotated phone, e-mail address, IBAN, national number, date of birth, street
address and postcode, in any spacing or case; and for the customer's own name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from stdnum import iban
from stdnum.be import nn as be_nn
from stdnum.fr import nir as fr_nir
from stdnum.nl import bsn as nl_bsn

from archive.anonymise.recognisers.names import PARTICLES
from archive.service import Archive
from search_api.app import create_app
from tests import corpus
from tests.search_api.conftest import bearer

DOCS = corpus.documents()


def test_the_corpus_is_annotated_exactly_and_its_identifiers_are_valid() -> None:
    assert {d.lang for d in DOCS} == {"nl", "fr", "en"}
    assert {d.kind for d in DOCS} == {"email", "call"}
    assert {p["kind"] for d in DOCS for p in d.pii} >= corpus.STRUCTURED
    for doc in DOCS:
        for pii in doc.pii:
            assert pii["text"] in doc.text(), (doc.id, pii)
            digits = "".join(c for c in pii["text"] if c.isdigit())
            if pii["kind"] == "iban":
                assert iban.is_valid(pii["text"]), pii
            if pii["kind"] == "national_id":
                assert any(m.is_valid(digits) for m in (nl_bsn, be_nn, fr_nir)), pii


@pytest.fixture(scope="module")
def trainer_view(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Everything a trainer is shown of each corpus document, as one text per document."""
    from archive.config import Role
    from tests.conftest import make_archive

    archive: Archive = make_archive(tmp_path_factory.mktemp("corpus") / "data")
    try:
        token = bearer(archive.users.add("trainer-1", Role.TRAINER))
        ids = {doc.id: corpus.ingest(archive, doc) for doc in DOCS}
        shown: dict[str, list[str]] = {doc.id: [] for doc in DOCS}
        with TestClient(create_app(archive)) as client:
            for doc in DOCS:
                item_id = ids[doc.id]
                meta = _ok(client.get(f"/api/v1/items/{item_id}", headers=token)).json()
                shown[doc.id].append(json.dumps(
                    [meta["details"], meta["parties"], meta["annotations"], meta["channels"]],
                    ensure_ascii=False))
                content = _ok(client.get(f"/api/v1/items/{item_id}/content", headers=token))
                if doc.kind == "email":
                    shown[doc.id].append(content.text)
                else:
                    assert content.headers["content-type"] == "audio/wav"
                    transcript = _ok(client.get(f"/api/v1/items/{item_id}/transcript",
                                                headers=token)).json()["transcript"]
                    shown[doc.id].append(json.dumps(transcript, ensure_ascii=False))
                for word in [doc.topic, *doc.text().split()[:40]]:
                    if not word.isalpha():
                        continue
                    resp = client.get("/api/v1/search", params={"q": word}, headers=token)
                    if resp.status_code == 403:  # refused as identifying: nothing shown
                        continue
                    for hit in _ok(resp).json()["items"]:
                        shown.setdefault(_doc_of(ids, hit["id"]), []).append(json.dumps(
                            [hit["snippet"], hit["title"], hit["parties"]], ensure_ascii=False))
        yield {doc_id: "\n".join(parts) for doc_id, parts in shown.items()}
    finally:
        archive.close()


def _ok(resp: Any) -> Any:
    assert resp.status_code == 200, resp.text
    return resp


def _doc_of(ids: dict[str, str], item_id: str) -> str:
    return next(doc_id for doc_id, i in ids.items() if i == item_id)


@pytest.mark.parametrize("doc", DOCS, ids=[d.id for d in DOCS])
def test_no_structured_identifier_reaches_a_trainer(
    trainer_view: dict[str, str], doc: corpus.Doc
) -> None:
    shown = corpus.squash(trainer_view[doc.id])
    assert shown, "the trainer saw nothing of the document"
    leaks = [p for p in doc.pii
             if p["kind"] in corpus.STRUCTURED and corpus.squash(p["text"]) in shown]
    assert leaks == [], trainer_view[doc.id]
    for part in doc.customer["name"].split():
        if part.casefold() in PARTICLES:  # "van", "de": everyday words, identifying nobody
            continue
        assert corpus.squash(part) not in shown, part
    assert corpus.squash(doc.customer["address"]) not in shown
