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


def test_a_torn_anchor_slot_after_a_crash_is_not_called_tampering(archive: Archive) -> None:
    for n in range(4):
        archive.audit.record(actor="a", role="privacy", action=f"step{n}")
    anchor = archive.data_dir / "audit.anchor"
    raw = bytearray(anchor.read_bytes())
    raw[10:40] = b"\x00" * 30  # slot 0 (seq 4) half-written when the power went
    anchor.write_bytes(bytes(raw))
    assert archive.audit.verify().ok
    # A forged anchor (valid JSON, wrong MAC) is tampering.
    forged = b'{"body": "{\\"seq\\": 9, \\"hash\\": \\"x\\"}", "mac": "00"}'
    anchor.write_bytes(forged.ljust(255) + b"\n")
    assert not archive.audit.verify().ok
