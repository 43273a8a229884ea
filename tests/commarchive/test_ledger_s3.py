"""With the audit anchor's S3 Object Lock bucket configured, the erasure ledger is in
that bucket: nothing on a node's disk, every node sees every erasure, and a restore
replays from it. Real services (``tests.services``: moto S3, PostgreSQL), never
skipped under CI.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from archive import rights
from archive.config import CONFIG_FILE_NAME
from archive.errors import AccessDenied, ConfigError, ItemNotFound
from archive.ledger.s3 import S3Ledger
from commarchive import backup, runtime
from commarchive.settings import Settings
from tests.conftest import email_item
from tests.services import postgres_database, s3_endpoint
from tests.subjects import A, B


def _settings(data_dir: Path, tmp_path: Path, bucket: str, **more: object) -> Settings:
    s3 = s3_endpoint()
    fields: dict[str, object] = {
        "data_dir": data_dir, "master_key_file": tmp_path / "secrets" / "master.key",
        "s3_endpoint": s3["endpoint_url"], "s3_access_key": s3["access_key"],
        "s3_secret_key": s3["secret_key"], "s3_region": s3["region"],
        "audit_anchor_s3_bucket": bucket, **more}
    return Settings(**fields)  # type: ignore[arg-type]


def test_an_erasure_on_one_node_is_in_the_bucket_and_seen_by_the_other(
    tmp_path: Path,
) -> None:
    url = postgres_database()
    bucket = f"ledger-{uuid.uuid4().hex[:12]}"
    shared = {"catalog_url": url, "keyring_store": "catalog"}
    a = runtime.init_archive(_settings(tmp_path / "a", tmp_path, bucket, **shared))
    (tmp_path / "b").mkdir(mode=0o700)
    shutil.copy(tmp_path / "a" / CONFIG_FILE_NAME, tmp_path / "b" / CONFIG_FILE_NAME)
    b = runtime.open_archive(_settings(tmp_path / "b", tmp_path, bucket, **shared))
    try:
        assert isinstance(a.vault.ledger, S3Ledger) and isinstance(b.vault.ledger, S3Ledger)
        kept = a.ingest(email_item(customer=B.email, body="keep me")).item_id
        gone = a.ingest(email_item(customer=A.email, body="erase me")).item_id
        assert b.vault.ledger.head() is None
        rights.erase_subject(a, A.email, actor="dpo")
        # B names A's erasure in its next anchor record, and the entry is B's to read.
        head = b.vault.ledger.head()
        assert head is not None and head == a.vault.ledger.head(fresh=True)
        assert [i for e in b.vault.ledger.entries() for i in e.item_ids] == [gone]
        b.vault.record_event(actor="t", role="admin", action="after_erasure")
        assert b.audit.verify().ok and a.audit.verify().ok
        assert b.vault.record(kept).id == kept
        # Nothing about the erasure on either node's disk.
        assert not [p for p in tmp_path.rglob("*") if p.suffix in (".erasures", ".anchor")]
    finally:
        b.close()
        a.close()


def test_restore_replays_the_erasure_from_the_s3_ledger(tmp_path: Path) -> None:
    bucket = f"ledger-{uuid.uuid4().hex[:12]}"
    settings = _settings(tmp_path / "arc", tmp_path, bucket)
    arc = runtime.init_archive(settings)
    try:
        erased = arc.ingest(email_item(customer=A.email, body="erase me")).item_id
        kept = arc.ingest(email_item(customer=B.email, body="keep me"))
        backup.backup(settings, arc, tmp_path / "b.tar")
        rights.erase_subject(arc, A.email, actor="dpo")
    finally:
        arc.close()
    report = backup.restore(settings, tmp_path / "b.tar", tmp_path / "restored")
    assert [i for e in report["replayed"] for i in e["item_ids"]] == [erased]
    restored = runtime.open_archive(settings.model_copy(
        update={"data_dir": tmp_path / "restored"}))
    try:
        with pytest.raises(ItemNotFound):
            restored.vault.record(erased)
        with pytest.raises(AccessDenied):
            restored.vault.dek(erased)
        assert restored.vault.unseal_for_system(kept.item_id, "original")
        assert restored.audit.verify().ok
    finally:
        restored.close()


def test_a_file_ledger_is_refused_beside_the_bucket_until_moved_into_it(
    tmp_path: Path,
) -> None:
    """Switching to the bucket must not leave the file's erasures out of every restore."""
    plain = Settings(data_dir=tmp_path / "arc", master_key_file=tmp_path / "k" / "m.key")
    arc = runtime.init_archive(plain)
    try:
        arc.ingest(email_item(customer=A.email, body="erase me"))
        rights.erase_subject(arc, A.email, actor="dpo")
        archive_id = arc.keyring.archive_id
    finally:
        arc.close()
    assert runtime.ledger_path(plain, archive_id).stat().st_size > 0
    moved = _settings(tmp_path / "arc", tmp_path, f"ledger-{uuid.uuid4().hex[:12]}",
                      master_key_file=tmp_path / "k" / "m.key")
    with pytest.raises(ConfigError, match="ledger move"):
        runtime.open_archive(moved)
    report = backup.move_ledger(moved)
    assert report["entries"] == report["written"] > 0
    assert backup.move_ledger(moved)["written"] == 0  # again: nothing copied twice
    arc = runtime.open_archive(moved)
    try:
        assert isinstance(arc.vault.ledger, S3Ledger)
        assert len(list(arc.vault.ledger.entries())) == report["entries"]
        assert arc.audit.verify().ok  # the anchor's older records name the same lines
    finally:
        arc.close()
