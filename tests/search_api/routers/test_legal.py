"""Legal's workspace through the HTTP API: a hold's scope previewed before placing it,
disclosures recorded against a hold, and evidence bundles that a command verifies
offline, naming any changed, missing or added file."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from archive.service import Archive
from tests.conftest import email_item
from tests.search_api.conftest import assert_error, bearer
from tests.subjects import A, call_item

OTHER = "otto@elsewhere.nl"


@pytest.fixture
def items(archive: Archive) -> list[str]:
    """Two of A's items (an e-mail and a call) and one of someone else's."""
    mail = archive.ingest(email_item(customer=A.email, subject="Contract",
                                     body="I cancel the contract.")).item_id
    call = archive.ingest(call_item(A, started_at=datetime.now(UTC) - timedelta(days=1))).item_id
    other = archive.ingest(email_item(customer=OTHER, body="unrelated")).item_id
    return [mail, call, other]


def test_a_hold_is_previewed_before_it_is_placed_by_subject_search_and_item(
    client: TestClient, tokens: dict[str, str], items: list[str], archive: Archive,
) -> None:
    legal = bearer(tokens["legal"])
    archive.flush_index()
    for body, expected in (({"subject": A.phone}, {items[1]}),
                           ({"query": "contract"}, {items[0]}),
                           ({"item_ids": [items[2]]}, {items[2]})):
        preview = client.post("/api/v1/holds/preview", json=body, headers=legal)
        assert preview.status_code == 200, preview.text
        assert {i["item_id"] for i in preview.json()["items"]} == expected
        assert preview.json()["count"] == len(expected)
        placed = client.post("/api/v1/holds", json={**body, "reason": "claim",
                                                     "case_ref": "K-1"}, headers=legal).json()
        assert set(placed["item_ids"]) == expected, "the preview is what gets placed"
    assert client.post("/api/v1/holds/preview", json={"subject": A.phone},
                       headers=legal).json()["items"][0]["held"] is True
    assert_error(client.post("/api/v1/holds/preview", json={"item_ids": ["nope"]},
                             headers=legal), 404, "not_found")
    assert_error(client.post("/api/v1/holds/preview", json={"subject": A.email},
                             headers=bearer(tokens["quality"])), 403, "wrong_role")
    assert "hold_preview" in [e.action for e in archive.audit.events(limit=100)]


def test_disclosures_are_recorded_against_a_hold(
    client: TestClient, tokens: dict[str, str], items: list[str], archive: Archive,
) -> None:
    legal = bearer(tokens["legal"])
    hold = client.post("/api/v1/holds", json={"item_ids": items[:2], "reason": "fraud inquiry",
                                              "case_ref": "OM-2026-17"}, headers=legal).json()
    made = client.post(f"/api/v1/holds/{hold['id']}/disclosures",
                       json={"recipient": "Public Prosecutor", "legal_basis": "order 126nd Sv"},
                       headers=legal)
    assert made.status_code == 201, made.text
    assert set(made.json()["item_ids"]) == set(items[:2])
    assert made.json()["reference"] == "OM-2026-17"
    refused = client.post(f"/api/v1/holds/{hold['id']}/disclosures",
                          json={"recipient": "Police", "legal_basis": "x",
                                "item_ids": [items[2]]}, headers=legal)
    error = assert_error(refused, 400, "invalid_request")
    assert items[2] in str(error["message"]) and "not under hold" in str(error["message"])
    listed = client.get(f"/api/v1/holds/{hold['id']}/disclosures", headers=legal).json()
    assert [d["recipient"] for d in listed] == ["Public Prosecutor"]
    # The ordinary disclosure record too: the subject's access request will name it.
    per_subject = client.get("/api/v1/disclosures", params={"subject": A.email},
                             headers=legal).json()
    assert {d["item_id"] for d in per_subject} == {items[0]}


def _bundle(client: TestClient, tokens: dict[str, str], body: dict[str, object]) -> bytes:
    resp = client.post("/api/v1/evidence", json=body, headers=bearer(tokens["legal"]))
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/zip"
    return resp.content


def test_an_evidence_bundle_holds_byte_exact_originals_with_their_chain_of_custody(
    client: TestClient, tokens: dict[str, str], items: list[str], archive: Archive,
) -> None:
    legal = bearer(tokens["legal"])
    hold = client.post("/api/v1/holds", json={"item_ids": items[:2], "reason": "claim",
                                              "case_ref": "K-7"}, headers=legal).json()
    client.get(f"/api/v1/items/{items[0]}/content", headers=legal)  # an access to show
    data = _bundle(client, tokens, {"hold_id": hold["id"], "note": "for the court"})
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest_bytes = zf.read("manifest.json")
        manifest = json.loads(manifest_bytes)
        assert zf.read("manifest.sha256").decode().split()[0] == hashlib.sha256(
            manifest_bytes).hexdigest()
        assert {i["item_id"] for i in manifest["items"]} == set(items[:2])
        assert manifest["hold"]["case_ref"] == "K-7"
        for entry in manifest["items"]:
            original = zf.read(entry["original"])
            assert original == archive.vault.unseal_for_system(entry["item_id"], "original")
            assert hashlib.sha256(original).hexdigest() == entry["sha256"]
            custody = json.loads(zf.read(entry["custody"]))
            assert custody["sha256_at_ingest"] == entry["sha256"]
            assert custody["ingested_at"] and custody["source"]
            actions = [e["action"] for e in custody["accesses"]]
            assert actions[0] == "ingest" and "hold_place" in actions
        mail_custody = json.loads(zf.read(f"custody/{items[0]}.json"))
        assert any(e["action"] == "read" and e["actor"] == "legal-user"
                   for e in mail_custody["accesses"])
    exported = archive.audit.events(action="evidence_export", limit=5)
    assert set(exported[0].item_ids) == set(items[:2])
    assert exported[0].detail["manifest_sha256"] == hashlib.sha256(manifest_bytes).hexdigest()
    outside = client.post("/api/v1/evidence", json={"hold_id": hold["id"],
                                                     "item_ids": [items[2]]}, headers=legal)
    assert_error(outside, 400, "invalid_request")


# -- offline verification ----------------------------------------------------------------------


def _verify(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The documented command, with no archive, no keys and no settings around it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMARCHIVE_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "empty-config")
    return subprocess.run([sys.executable, "-m", "commarchive", "evidence", "verify",
                           str(path)], capture_output=True, text=True, env=env, timeout=120,
                          cwd=tmp_path)


def _rewrite(src: bytes, dest: Path, *, change: str | None = None, drop: str | None = None,
             add: str | None = None) -> None:
    with zipfile.ZipFile(io.BytesIO(src)) as zin, zipfile.ZipFile(dest, "w") as zout:
        for info in zin.infolist():
            if info.filename == drop:
                continue
            data = zin.read(info.filename)
            if info.filename == change:
                data = data.replace(b"cancel", b"renew") if b"cancel" in data else data + b"!"
            zout.writestr(info.filename, data)
        if add:
            zout.writestr(add, b"planted")


def test_the_verify_command_names_a_changed_missing_or_added_file(
    client: TestClient, tokens: dict[str, str], items: list[str], tmp_path: Path,
) -> None:
    data = _bundle(client, tokens, {"item_ids": items[:2]})
    intact = tmp_path / "bundle.zip"
    intact.write_bytes(data)
    ok = _verify(intact, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout and "4 files verify" in ok.stdout
    with zipfile.ZipFile(intact) as zf:
        original = next(n for n in zf.namelist() if n.startswith(f"originals/{items[0]}"))
        custody = f"custody/{items[1]}.json"
    cases = {
        "changed": ({"change": original}, f"{original}: changed"),
        "custody changed": ({"change": custody}, f"{custody}: changed"),
        "missing": ({"drop": original}, f"{original}: missing"),
        "added": ({"add": "originals/extra.eml"}, "originals/extra.eml: not in the manifest"),
        "manifest changed": ({"change": "manifest.json"}, "manifest.json: changed"),
    }
    for name, (how, expected) in cases.items():
        bad = tmp_path / f"{name.replace(' ', '-')}.zip"
        _rewrite(data, bad, **how)
        result = _verify(bad, tmp_path)
        assert result.returncode == 1, name
        assert expected in result.stderr, (name, result.stderr)
    assert (tmp_path / "empty-config").exists() is False, "verification opened no archive"
