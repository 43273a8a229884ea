"""The sweep of ``commarchive serve`` also purges rejected drop-folder recordings past their time.

They are sealed files, not items, so the retention sweep alone never saw them
and they stayed forever.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from archive.service import Archive
from commarchive.server import sweep_once
from commarchive.settings import Settings
from ingest.dropfolder import DropFolderConfig, scan_once


def test_sweep_purges_rejected_recordings_older_than_the_setting(
    archive: Archive, tmp_path: Path
) -> None:
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "bad.wav").write_bytes(b"not audio")
    (folder / "bad.json").write_text(json.dumps({"from": "+31201234567"}))
    past = time.time() - 60
    for path in folder.iterdir():
        os.utime(path, (past, past))
    assert scan_once(archive, DropFolderConfig(folder)).rejected == ["bad"]
    rejected = folder / "rejected"
    settings = Settings(drop_folder=folder, drop_folder_rejected_days=3)
    _, purged = sweep_once(archive, settings)
    assert purged == [] and len(list(rejected.iterdir())) == 3  # not old enough yet
    four_days_ago = time.time() - 4 * 86400
    for path in rejected.iterdir():
        os.utime(path, (four_days_ago, four_days_ago))
    _, purged = sweep_once(archive, settings)
    assert purged == ["bad"] and list(rejected.iterdir()) == []
    assert any(e.action == "purge_rejected" for e in archive.audit.events())


def test_without_a_drop_folder_the_sweep_is_the_retention_sweep(archive: Archive) -> None:
    report, purged = sweep_once(archive, Settings())
    assert purged == [] and report.purged == []
