"""The privacy command forms other tools script against, run as subprocesses."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from commarchive import runtime
from commarchive.settings import Settings
from tests.conftest import email_item

ANNA = "anna@customer.nl"
BOB = "bob@other.nl"


def cli(*args: str, data_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COMMARCHIVE_DATA_DIR": str(data_dir), "COMMARCHIVE_ACTOR": "dpo"}
    proc = subprocess.run([sys.executable, "-m", "commarchive", *args], capture_output=True,
                          text=True, env=env, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"commarchive {args} failed: {proc.stderr}")
    return proc


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    target = tmp_path / "arc"
    subprocess.run([sys.executable, "-m", "commarchive", "init", str(target)], check=True,
                   capture_output=True, env={k: v for k, v in os.environ.items()
                                             if k != "COMMARCHIVE_DATA_DIR"})
    return target


def _seed(data_dir: Path) -> dict[str, list[str]]:
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        started = datetime.now(UTC) - timedelta(days=1)
        anna = [arc.ingest(email_item(customer=ANNA, body=f"Anna writes {n}",
                                      started_at=started)).item_id for n in range(2)]
        bob = [arc.ingest(email_item(customer=BOB, body="Bob writes",
                                     started_at=started)).item_id]
    finally:
        arc.close()
    return {ANNA: anna, BOB: bob}


def test_export_hold_erase_sweep_requests_and_audit_from_the_command_line(
    data_dir: Path, tmp_path: Path,
) -> None:
    items = _seed(data_dir)
    report = json.loads(cli("purposes", "report", "--json", data_dir=data_dir).stdout)
    assert {r["purpose"]: r["items"] for r in report} == {"quality": 3, "training": 3,
                                                          "order": 0, "legal": 0}
    assert {r["purpose"]: r["lawful_basis"] for r in report} == {
        "quality": "legitimate_interest", "training": "legitimate_interest",
        "order": "contract", "legal": "legal_obligation"}
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert report[0]["oldest_item"].startswith(yesterday)
    table = cli("purposes", "report", data_dir=data_dir).stdout
    assert "legitimate_interest" in table and "oldest item" in table

    out = tmp_path / "anna.zip"
    summary = json.loads(cli("subjects", "export", ANNA, "--out", str(out),
                             data_dir=data_dir).stdout)
    assert summary["items"] == 2 and out.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(io.BytesIO(out.read_bytes())) as zf:
        index = json.loads(zf.read("index.json"))
        assert {i["id"] for i in index["items"]} == set(items[ANNA])
        assert not any(items[BOB][0] in n for n in zf.namelist())
    again = cli("subjects", "export", ANNA, "--out", str(out), data_dir=data_dir, check=False)
    assert again.returncode == 1 and again.stderr.startswith("error:")

    hold = json.loads(cli("holds", "place", "--item", items[ANNA][0], "--reason", "dispute",
                          "--case", "CASE-1", data_dir=data_dir).stdout)
    assert hold["item_ids"] == [items[ANNA][0]]
    listed = cli("holds", "list", data_dir=data_dir).stdout.strip().splitlines()
    assert json.loads(listed[0])["case_ref"] == "CASE-1"

    cert = json.loads(cli("subjects", "erase", ANNA, data_dir=data_dir).stdout)
    assert [e["item_id"] for e in cert["erased"]] == [items[ANNA][1]]
    assert cert["kept"][0]["item_id"] == items[ANNA][0]
    assert cert["kept"][0]["reason"] == "legal_hold"

    later = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    dry = json.loads(cli("sweep", "--dry-run", "--now", later, data_dir=data_dir).stdout)
    assert dry["purged"] == items[BOB] and dry["held"] == [items[ANNA][0]]
    done = json.loads(cli("sweep", "--now", later, data_dir=data_dir).stdout)
    assert done["purged"] == items[BOB] and done["dry_run"] is False
    cli("holds", "lift", str(hold["id"]), "--note", "case closed", data_dir=data_dir)
    done = json.loads(cli("sweep", "--now", later, data_dir=data_dir).stdout)
    assert done["purged"] == [items[ANNA][0]]

    received = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    req = json.loads(cli("requests", "add", "--kind", "erasure", "--subject", ANNA,
                         "--requested-by", "Anna, by letter", "--verified-by", "dpo",
                         "--received", received, data_dir=data_dir).stdout)
    overdue = cli("requests", "list", "--overdue", data_dir=data_dir).stdout.splitlines()
    assert [json.loads(r)["id"] for r in overdue] == [req["id"]]
    cli("requests", "close", str(req["id"]), "--note", "erased", data_dir=data_dir)
    assert cli("requests", "list", "--overdue", data_dir=data_dir).stdout.strip() == ""

    verify = cli("audit", "verify", data_dir=data_dir)
    assert "OK" in verify.stdout
    events = [json.loads(line) for line in
              cli("audit", "list", "--subject", "Anna@Customer.nl",
                  data_dir=data_dir).stdout.splitlines()]
    actions = [e["action"] for e in events]
    assert {"export", "erase", "purge", "request_add", "request_close"} <= set(actions)
    assert all(e["actor"] == "dpo" for e in events)


def test_restrict_object_annotate_and_disclose_from_the_command_line(data_dir: Path) -> None:
    items = _seed(data_dir)
    res = json.loads(cli("subjects", "restrict", BOB, "--reason", "contested",
                         data_dir=data_dir).stdout)
    assert res["restricted"] == items[BOB]
    fail = cli("subjects", "unrestrict", BOB, "--note", "", data_dir=data_dir, check=False)
    assert fail.returncode == 1
    cli("subjects", "unrestrict", BOB, "--note", "informed by phone", data_dir=data_dir)
    disc = json.loads(cli("disclosures", "add", "--item", items[BOB][0], "--recipient",
                          "Police", "--basis", "court order", "--reference", "PO-1",
                          data_dir=data_dir).stdout)
    assert disc["recipient"] == "Police"
    listed = cli("disclosures", "list", "--subject", BOB, data_dir=data_dir).stdout
    assert json.loads(listed.splitlines()[0])["reference"] == "PO-1"
    ann = json.loads(cli("items", "annotate", items[BOB][0], "--text", "name is Robert",
                         "--subject", BOB, data_dir=data_dir).stdout)
    assert ann["recipients_to_notify"][0]["recipient"] == "Police"
    obj = json.loads(cli("subjects", "object", BOB, "--purpose", "training",
                         "--withdraw-consent", data_dir=data_dir).stdout)
    assert obj["dropped"] == [{"item_id": items[BOB][0], "purpose": "training"}]
    found = json.loads(cli("subjects", "find", BOB, data_dir=data_dir).stdout)
    assert found["items"][0]["purposes"] == ["quality"]


def test_vague_identifiers_are_refused_and_dry_runs_change_nothing_on_the_command_line(
    data_dir: Path,
) -> None:
    items = _seed(data_dir)
    for args in (("subjects", "find", "2026"), ("subjects", "erase", "jansen"),
                 ("subjects", "object", "jansen"), ("subjects", "export", "2026", "--out",
                                                    str(data_dir.parent / "x.zip")),
                 ("subjects", "restrict", "jansen", "--reason", "x"),
                 ("holds", "place", "--subject", "jansen", "--reason", "x", "--case", "C")):
        refused = cli(*args, data_dir=data_dir, check=False)
        assert refused.returncode == 1, args
        assert refused.stderr.startswith("error: ") and "customer number" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
    assert not (data_dir.parent / "x.zip").exists()
    cert = json.loads(cli("subjects", "erase", ANNA, "--dry-run", data_dir=data_dir).stdout)
    assert cert["dry_run"] is True
    assert sorted(e["item_id"] for e in cert["erased"]) == sorted(items[ANNA])
    obj = json.loads(cli("subjects", "object", BOB, "--dry-run", data_dir=data_dir).stdout)
    assert obj["dry_run"] is True and obj["purged"] == items[BOB]
    found = json.loads(cli("subjects", "find", ANNA, data_dir=data_dir).stdout)
    assert sorted(i["item_id"] for i in found["items"]) == sorted(items[ANNA])
    found = json.loads(cli("subjects", "find", BOB, data_dir=data_dir).stdout)
    assert found["items"][0]["purposes"] == ["quality", "training"]
