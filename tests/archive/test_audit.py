"""Every privacy action is an audit event; tampering with any one is detected by position."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from archive import holds, rights
from archive.retention import sweep
from archive.service import Archive
from commarchive import runtime
from commarchive.settings import Settings
from tests.subjects import T0, A, B, Mixed, build_mixed


def _run_privacy_actions(mixed: Mixed) -> None:
    from datetime import timedelta

    arc = mixed.archive
    rights.export_subject(arc, A.email, io.BytesIO(), actor="dpo")
    rights.restrict_subject(arc, B.email, actor="dpo", reason="contested")
    holds.place_hold(arc, actor="legal-1", reason="r", case_ref="C", subject=B.phone)
    rights.record_disclosure(arc, [mixed.a_order], recipient="Tax", legal_basis="law",
                              actor="legal-1", role="legal")
    rights.erase_subject(arc, A.email, actor="dpo")
    sweep(arc, now=T0 + arc.config.purpose("quality").retention + timedelta(days=1),
          actor="sweeper")


def test_every_privacy_action_is_an_audit_event_per_subject_and_actor(mixed: Mixed) -> None:
    _run_privacy_actions(mixed)
    arc = mixed.archive
    a_actions = {e.action for e in arc.audit.events(subject=A.email)}
    assert {"export", "erase", "purge"} <= a_actions
    b_actions = {e.action for e in arc.audit.events(subject=B.email)}
    assert "restrict" in b_actions
    assert "hold_place" in {e.action for e in arc.audit.events(subject=B.phone)}
    legal = {e.action for e in arc.audit.events(actor="legal-1")}
    assert legal == {"hold_place", "disclosure"}
    swept = {e.action for e in arc.audit.events(actor="sweeper")}
    assert {"retention_drop", "sweep"} <= swept
    for event in arc.audit.events(actor="dpo"):
        assert event.role == "privacy" and event.at is not None
    assert arc.audit.verify().ok


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMARCHIVE_")}
    return subprocess.run(
        [sys.executable, "-m", "commarchive", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=120, env=env,
    )


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
def test_tampering_with_one_event_is_detected_with_its_position(
    tmp_path: Path, tamper: str,
) -> None:
    data_dir = tmp_path / "arc"
    assert _cli(tmp_path, "init", str(data_dir)).returncode == 0
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        _run_privacy_actions(build_mixed(arc))
        target = next(e for e in arc.audit.events(subject=A.email) if e.action == "export").seq
        total = len(arc.audit.events(limit=100_000))
        assert arc.audit.verify().ok
    finally:
        arc.close()
    assert "OK" in _cli(data_dir, "audit", "verify").stdout
    db = sqlite3.connect(data_dir / "catalog.sqlite")
    with db:
        if tamper == "edit":
            db.execute("UPDATE audit_events SET detail = ? WHERE seq = ?",
                       (json.dumps({"request_id": None}), target))
        elif tamper == "delete":
            db.execute("DELETE FROM audit_events WHERE seq = ?", (target,))
        else:
            # Swap two neighbouring events' contents, keeping their seq numbers.
            rows = {r[0]: r[1:] for r in db.execute(
                "SELECT seq, at, actor, role, action, purpose, item_ids, subject, detail, "
                "prev_hash, hash FROM audit_events WHERE seq IN (?, ?)", (target, target + 1))}
            cols = "at=?, actor=?, role=?, action=?, purpose=?, item_ids=?, subject=?, " \
                   "detail=?, prev_hash=?, hash=?"
            db.execute(f"UPDATE audit_events SET {cols} WHERE seq = ?",
                       (*rows[target + 1], target))
            db.execute(f"UPDATE audit_events SET {cols} WHERE seq = ?",
                       (*rows[target], target + 1))
    db.close()
    assert target < total
    proc = _cli(data_dir, "audit", "verify")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"FAILED verification at event {target}:" in proc.stdout


def test_events_cut_off_the_end_are_detected_by_the_anchor(archive: Archive) -> None:
    from archive import catalog as cat

    for n in range(5):
        archive.audit.record(actor="a", role="privacy", action=f"step{n}")
    with archive.catalog.write() as conn:
        conn.execute(cat.audit_events.delete().where(cat.audit_events.c.seq >= 4))
    report = archive.audit.verify()
    assert not report.ok
    assert report.position == 4 and "removed from the end" in (report.problem or "")


def _anchor_file(archive: Archive) -> Path:
    return archive.data_dir.parent / f"{archive.data_dir.name}.anchor"


def test_a_torn_anchor_line_after_a_crash_is_not_called_tampering(archive: Archive) -> None:
    for n in range(4):
        archive.audit.record(actor="a", role="privacy", action=f"step{n}")
    anchor = _anchor_file(archive)
    assert not (archive.data_dir / "audit.anchor").exists()
    with anchor.open("ab") as fh:
        fh.write(b'{"body": "{\\"seq\\": 5, \\"ha')  # the power went mid-append
    assert archive.audit.verify().ok
    # A forged anchor line (valid JSON, wrong MAC) is tampering.
    forged = b'{"body": "{\\"hash\\": \\"x\\", \\"seq\\": 4}", "mac": "00"}\n'
    anchor.write_bytes(anchor.read_bytes() + forged)
    report = archive.audit.verify()
    assert not report.ok and "altered" in (report.problem or "")


def _cli_archive(tmp_path: Path, events: int) -> tuple[Path, Path]:
    """An archive made by `commarchive init` with ``events`` more audit events; returns
    its data directory and its anchor file (outside it)."""
    data_dir = tmp_path / "arc"
    assert _cli(tmp_path, "init", str(data_dir)).returncode == 0
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        for n in range(events):
            arc.audit.record(actor="a", role="privacy", action=f"step{n}")
        anchor = runtime.anchor_path(Settings(data_dir=data_dir), arc.keyring.archive_id)
    finally:
        arc.close()
    assert not anchor.is_relative_to(data_dir) and anchor.exists()
    return data_dir, anchor


def _total(data_dir: Path) -> int:
    db = sqlite3.connect(data_dir / "catalog.sqlite")
    try:
        return int(db.execute("SELECT max(seq) FROM audit_events").fetchone()[0])
    finally:
        db.close()


def _verify_fails_at(data_dir: Path, position: int, words: str) -> None:
    proc = _cli(data_dir, "audit", "verify")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"FAILED verification at event {position}:" in proc.stdout, proc.stdout
    assert words in proc.stdout, proc.stdout


@pytest.mark.parametrize("removed", [1, 3])
def test_deleting_the_newest_events_fails_verify_at_the_first_missing(
    tmp_path: Path, removed: int,
) -> None:
    data_dir, _ = _cli_archive(tmp_path, 6)
    total = _total(data_dir)
    db = sqlite3.connect(data_dir / "catalog.sqlite")
    with db:
        db.execute("DELETE FROM audit_events WHERE seq > ?", (total - removed,))
    db.close()
    _verify_fails_at(data_dir, total - removed + 1, "removed from the end")


def test_restoring_an_older_anchor_fails_verify_at_the_first_unanchored_event(
    tmp_path: Path,
) -> None:
    data_dir, anchor = _cli_archive(tmp_path, 3)
    older, seq_then = anchor.read_bytes(), _total(data_dir)
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        for n in range(4):
            arc.audit.record(actor="a", role="privacy", action=f"later{n}")
    finally:
        arc.close()
    assert "OK" in _cli(data_dir, "audit", "verify").stdout
    anchor.write_bytes(older)
    _verify_fails_at(data_dir, seq_then + 1, "newer than the newest anchor")


def test_a_deleted_anchor_fails_verify(tmp_path: Path) -> None:
    data_dir, anchor = _cli_archive(tmp_path, 2)
    anchor.unlink()
    _verify_fails_at(data_dir, 1, "is missing")


def test_an_edited_event_fails_verify_at_its_position(tmp_path: Path) -> None:
    data_dir, _ = _cli_archive(tmp_path, 5)
    db = sqlite3.connect(data_dir / "catalog.sqlite")
    with db:
        db.execute("UPDATE audit_events SET actor = 'someone-else' WHERE seq = 3")
    db.close()
    _verify_fails_at(data_dir, 3, "altered")


def test_the_audit_key_is_not_derivable_from_the_data_directory(tmp_path: Path) -> None:
    """Whoever holds only the data directory cannot re-chain edited events: the MAC
    key is sealed in the keyring, whose key is wrapped by a master key kept elsewhere."""
    import shutil

    data_dir, _ = _cli_archive(tmp_path, 1)
    copy = tmp_path / "stolen"
    shutil.copytree(data_dir, copy)
    files = [p for p in copy.rglob("*") if p.is_file()]
    assert files and not any(p.name.endswith(".key") for p in files)
    env_home = tmp_path / "elsewhere"
    proc = subprocess.run(
        [sys.executable, "-m", "commarchive", "--data-dir", str(copy), "audit", "verify"],
        capture_output=True, text=True, timeout=120,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("COMMARCHIVE_")},
             "XDG_CONFIG_HOME": str(env_home)})
    assert proc.returncode == 1 and "does not exist" in proc.stderr


def test_the_s3_object_lock_anchor_catches_truncation_and_cannot_be_deleted(
    archive: Archive,
) -> None:
    import uuid

    from minio.error import S3Error

    from archive import catalog as cat
    from archive.anchors.s3 import S3Anchor
    from archive.audit import AuditLog
    from tests.services import s3_endpoint

    ep = s3_endpoint()
    anchor = S3Anchor(ep["endpoint"], access_key=ep["access_key"], secret_key=ep["secret_key"],
                      bucket=f"anchor-{uuid.uuid4().hex[:12]}", prefix="audit-anchor/t",
                      secure=ep["secure"], region=ep["region"], retention_days=1)
    anchor.ensure_bucket()
    log = AuditLog(archive.catalog, archive.keyring.secret("audit"), anchor)
    assert log.verify().ok  # no events, no anchor: nothing to vouch for
    for n in range(4):
        log.record(actor="a", role="privacy", action=f"step{n}")
    assert log.verify().ok
    names = sorted(o.object_name for o in anchor._client.list_objects(
        anchor.bucket, prefix="audit-anchor/t/"))
    newest = names[-1]
    with pytest.raises(S3Error):
        for version in anchor._client.list_objects(anchor.bucket, prefix=newest,
                                                   include_version=True):
            anchor._client.remove_object(anchor.bucket, newest, version_id=version.version_id)
    # Putting an older record under the newest name changes nothing (oldest version wins).
    import base64
    import hashlib

    older = anchor._client.get_object(anchor.bucket, names[1]).read()
    anchor._client.put_object(
        anchor.bucket, newest, io.BytesIO(older), len(older),
        metadata={"x-amz-sdk-checksum-algorithm": "SHA256",
                  "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(older).digest())
                  .decode()})
    assert log.verify().ok
    with archive.catalog.write() as conn:
        conn.execute(cat.audit_events.delete().where(cat.audit_events.c.seq >= 3))
    report = log.verify()
    assert not report.ok and report.position == 3
    assert "removed from the end" in (report.problem or "")
