"""Backup and restore: a restore never brings back a person erased after the backup.

The drill: ingest for subjects A and B, back up while the archive is open, erase
A, restore the backup into a new directory. A's items are gone with their keys,
B's are intact and byte-exact, the audit log verifies, and the replayed erasure
of A is listed."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from archive import rights
from archive.errors import AccessDenied, ItemNotFound
from commarchive import runtime
from commarchive.settings import Settings
from tests.commarchive.cli.test_cli import cli
from tests.conftest import email_item
from tests.subjects import A, B


def _init(data_dir: Path) -> None:
    """A new archive on the default policy: support mail is tagged for quality and
    training only, so an erasure destroys it whole."""
    cli("init", str(data_dir))


def _ingest(data_dir: Path) -> tuple[dict[str, list[str]], dict[str, bytes]]:
    """Two mails each for A and B in an open ("serving") archive, then a backup taken
    while it is open; returns the item ids and the originals."""
    ids: dict[str, list[str]] = {A.email: [], B.email: []}
    originals: dict[str, bytes] = {}
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        for subject in (A, B):
            for n in range(2):
                item = email_item(customer=subject.email, subject=f"{subject.name} {n}",
                                  body=f"Private words of {subject.name} number {n}.")
                item_id = arc.ingest(item).item_id
                ids[subject.email].append(item_id)
                originals[item_id] = item.original
    finally:
        arc.close()
    return ids, originals


def test_restore_drill_replays_the_erasure_made_after_the_backup(tmp_path: Path) -> None:
    data_dir = tmp_path / "arc"
    _init(data_dir)
    ids, originals = _ingest(data_dir)
    backup_file = tmp_path / "backups" / "b1.tar"
    serving = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        made = json.loads(cli("backup", "--out", str(backup_file), data_dir=data_dir).stdout)
        assert made["blobs"] >= 0 and backup_file.stat().st_mode & 0o777 == 0o600
        certificate = rights.erase_subject(serving, A.email, actor="dpo")
        assert sorted(e["item_id"] for e in certificate.erased) == sorted(ids[A.email])
    finally:
        serving.close()
    with tarfile.open(backup_file) as tar:
        names = tar.getnames()
    assert "catalog.sqlite" in names and "keyring.sealed" in names
    assert not any(n.endswith((".key", ".anchor", ".erasures")) for n in names)

    restored = tmp_path / "restored"
    report = json.loads(cli("restore", str(backup_file), str(restored)).stdout)
    replayed = [e for e in report["replayed"] if e["reason"] == "erasure"]
    assert replayed and sorted(i for e in replayed for i in e["item_ids"]) == sorted(
        ids[A.email])

    arc = runtime.open_archive(Settings(data_dir=restored))
    try:
        for item_id in ids[A.email]:
            with pytest.raises(ItemNotFound) as gone:
                arc.vault.record(item_id)
            assert gone.value.gone
            with pytest.raises(AccessDenied):
                arc.vault.dek(item_id)
        for item_id in ids[B.email]:
            assert arc.vault.unseal_for_system(item_id, "original") == originals[item_id]
        listed = arc.audit.events(action="erasure_replayed")
        assert sorted(i for e in listed for i in e.item_ids) == sorted(ids[A.email])
        assert all(e.detail["reason"] == "erasure" for e in listed)
        (restore_event,) = arc.audit.events(action="restore")
        assert restore_event.detail["replayed"] == report["replayed"]
    finally:
        arc.close()
    assert "audit log OK" in cli("audit", "verify", data_dir=restored).stdout


def test_restore_refuses_a_non_empty_directory_and_needs_the_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "arc"
    cli("init", str(data_dir))
    backup_file = tmp_path / "b.tar"
    cli("backup", "--out", str(backup_file), data_dir=data_dir)
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "x").write_text("x")
    proc = cli("restore", str(backup_file), str(occupied), check=False)
    assert proc.returncode == 1 and "not empty" in proc.stderr
    proc = cli("restore", str(backup_file), str(tmp_path / "new"), check=False,
               env={"XDG_CONFIG_HOME": str(tmp_path / "no-keys-here")})
    assert proc.returncode == 1 and "master key file" in proc.stderr
    inside = cli("backup", "--out", str(data_dir / "b.tar"), data_dir=data_dir, check=False)
    assert inside.returncode == 1 and "inside the data directory" in inside.stderr
    assert os.environ["XDG_CONFIG_HOME"]


def test_restore_refuses_an_erasure_ledger_cut_short(tmp_path: Path) -> None:
    """Whoever cuts the erasures made after a backup off the ledger's end must not get
    the erased people back from that backup: the audit anchor names the ledger's head."""
    data_dir = tmp_path / "arc"
    _init(data_dir)
    _ingest(data_dir)
    backup_file = tmp_path / "b.tar"
    cli("backup", "--out", str(backup_file), data_dir=data_dir)
    serving = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        rights.erase_subject(serving, A.email, actor="dpo")
        ledger = serving.vault.ledger.path
    finally:
        serving.close()
    assert ledger is not None
    lines = ledger.read_bytes().splitlines(keepends=True)
    ledger.write_bytes(b"".join(lines[:-1]))
    proc = cli("restore", str(backup_file), str(tmp_path / "restored"), check=False)
    assert proc.returncode == 1, proc.stdout
    assert "refusing to restore" in proc.stderr and "cut off its end" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "audit log OK" not in cli("audit", "verify", data_dir=data_dir, check=False).stdout
