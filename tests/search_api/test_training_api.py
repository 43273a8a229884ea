"""The trainers' training-set API: roles, the one error shape, and that every trainer-visible
answer (list, preview, ZIP) agrees with the anonymised view: planted PII never appears."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from archive import training
from archive.config import DEFAULT_RULES, Role
from archive.service import Archive
from search_api.app import create_app
from tests import corpus
from tests.archive.test_training import anna_items, mail
from tests.conftest import TEST_CONFIG, make_archive
from tests.search_api.conftest import assert_error, bearer

BODY = {"title": "Week 1", "purpose": "Billing examples for new agents", "size": 20}


@pytest.fixture
def erasable(tmp_path: Path) -> Iterator[Archive]:
    arc = make_archive(tmp_path / "erasable",
                       config=TEST_CONFIG.model_copy(update={"rules": DEFAULT_RULES}))
    training.install(arc)
    yield arc
    arc.close()


def test_only_trainers_build_and_read_sets(client: TestClient, archive: Archive,
                                           tokens: dict[str, str]) -> None:
    mail(archive, sender="x@klant.nl", name="X Y", body="factuur")
    for role in ("quality", "admin", "privacy", "legal"):
        assert_error(client.post("/api/v1/training/sets", json=BODY,
                                 headers=bearer(tokens[role])), 403, "wrong_role")
        assert_error(client.get("/api/v1/training/sets", headers=bearer(tokens[role])),
                     403, "wrong_role")
    trainer = bearer(tokens["trainer"])
    assert_error(client.post("/api/v1/training/sets", json={**BODY, "size": 0},
                             headers=trainer), 422, "invalid_request")
    assert_error(client.post("/api/v1/training/sets", json={**BODY, "language": "de"},
                             headers=trainer), 404, "not_found")
    made = client.post("/api/v1/training/sets", json=BODY, headers=trainer)
    assert made.status_code == 201, made.text
    set_id = made.json()["id"]
    assert_error(client.get(f"/api/v1/training/sets/{set_id}/export",
                            headers=bearer(tokens["quality"])), 403, "wrong_role")
    assert_error(client.get("/api/v1/training/sets/ts-nope", headers=trainer), 404, "not_found")
    gone = client.delete(f"/api/v1/training/sets/{set_id}", headers=trainer)
    assert gone.json() == {"id": set_id, "deleted": True}
    assert_error(client.get(f"/api/v1/training/sets/{set_id}", headers=trainer), 404,
                 "not_found")


def test_every_trainer_answer_and_the_zip_agree_and_leak_nothing(
        client: TestClient, archive: Archive, tokens: dict[str, str]) -> None:
    docs = corpus.documents()
    for doc in docs:
        corpus.ingest(archive, doc)
    anna = anna_items(archive)
    trainer = bearer(tokens["trainer"])
    made = client.post("/api/v1/training/sets", json=BODY, headers=trainer).json()
    assert made["items"] == len(docs) + len(anna)
    listed = client.get("/api/v1/training/sets", headers=trainer).json()
    shown = client.get(f"/api/v1/training/sets/{made['id']}", headers=trainer).json()
    export = client.get(f"/api/v1/training/sets/{made['id']}/export", headers=trainer)
    assert export.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(export.content)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(files["manifest.json"])
    # The preview and the ZIP are one rendering: the same pseudonyms, the same text.
    for item in shown["items"]:
        entry = next(e for e in manifest["items"] if e["id"] == item["id"])
        assert entry["pseudonyms"] == item["pseudonyms"]
        assert entry["redactions"] == item["redactions"]
        name = "email.txt" if item["channel"] == "email" else "transcript.txt"
        assert files[f"items/{item['id']}/{name}"].decode().rstrip("\n") == item["text"]
    visible = corpus.squash("\n".join([
        json.dumps([listed, shown], ensure_ascii=False),
        *(v.decode() for k, v in files.items() if not k.endswith(".wav"))]))
    for doc in docs:
        for pii in doc.pii:
            if pii["kind"] in corpus.STRUCTURED:
                assert corpus.squash(pii["text"]) not in visible, (doc.id, pii)
        assert corpus.squash(doc.customer["name"]) not in visible, doc.id
        assert corpus.squash(doc.customer["address"]) not in visible, doc.id
    for planted in ("annadewit", "anna@customer", "0612345678", "pietpeters", "0687654321"):
        assert planted not in visible
    assert not any(item_id in json.dumps([listed, shown]) + files["manifest.json"].decode()
                   for item_id in anna.values())  # no archive ids either


def test_the_erasure_certificate_lists_sets_already_handed_out(
        erasable: Archive) -> None:
    anna = anna_items(erasable)
    trainer = bearer(erasable.users.add("tina", Role.TRAINER))
    dpo = bearer(erasable.users.add("dpo", Role.PRIVACY))
    second = bearer(erasable.users.add("dpo-2", Role.PRIVACY))
    with TestClient(create_app(erasable)) as client:
        handed = client.post("/api/v1/training/sets", json=BODY, headers=trainer).json()
        assert client.get(f"/api/v1/training/sets/{handed['id']}/export",
                          headers=trainer).status_code == 200
        draft = client.post("/api/v1/training/sets", json=BODY, headers=trainer).json()
        proposed = client.post("/api/v1/subjects/anna@customer.nl/erase",
                               json={"also": ["+31612345678"]}, headers=dpo)
        assert proposed.status_code == 202, proposed.text  # two-person control
        resp = client.post(f"/api/v1/approvals/{proposed.json()['approval_id']}/approve",
                           json={"note": "checked"}, headers=second)
        assert resp.status_code == 200, resp.text
        outside = next(o for o in resp.json()["result"]["outside_catalog"]
                       if o["source"] == "training sets")
        assert len(outside["handed_out"]) == len(anna)
        assert all(handed["id"] in line for line in outside["handed_out"])
        assert len(outside["erased"]) == len(anna)
        assert client.get(f"/api/v1/training/sets/{draft['id']}",
                          headers=trainer).json()["set"]["items"] == 0
        kept = client.get(f"/api/v1/training/sets/{handed['id']}", headers=trainer).json()
        assert len(kept["set"]["gone"]) == len(anna) and kept["items"] == []


def test_the_quality_criteria_are_taken_kept_and_checked(client: TestClient,
                                                         archive: Archive) -> None:
    mail(archive, sender="x@klant.nl", name="X", body="mijn factuur klopt niet")
    trainer = bearer(archive.users.add("tina", Role.TRAINER))
    made = client.post("/api/v1/training/sets", headers=trainer,
                       json={**BODY, "reviewed": False, "score_min": None})
    assert made.status_code == 201, made.text
    assert made.json()["criteria"]["reviewed"] is False
    assert made.json()["items"] == 1
    # No monitoring policy put anything in the queue under this topic: nothing to pick.
    assert_error(client.post("/api/v1/training/sets", headers=trainer,
                             json={**BODY, "topic": "churn"}), 404, "not_found")
    assert_error(client.post("/api/v1/training/sets", headers=trainer,
                             json={**BODY, "score_min": 120}), 422, "invalid_request")
    assert_error(client.post("/api/v1/training/sets", headers=trainer,
                             json={**BODY, "reviewed": False, "score_max": 50}), 400,
                 "invalid_request")
