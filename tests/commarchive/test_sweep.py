"""Every retention sweep (serve's, the CLI's, the API's) also purges rejected
drop-folder recordings past their time.

They are sealed files, not items, so the retention sweep alone never saw them
and they stayed forever; at first only ``commarchive serve``'s periodic sweep
purged them, while ``commarchive sweep`` and ``POST /sweep`` left them.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from archive.retention import sweep
from commarchive import runtime
from commarchive.settings import Settings
from ingest.dropfolder import DropFolderConfig, scan_once
from tests.commarchive.cli.test_cli import cli


def _reject_one(settings: Settings) -> Path:
    assert settings.drop_folder is not None
    folder = settings.drop_folder
    folder.mkdir()
    (folder / "bad.wav").write_bytes(b"not audio")
    (folder / "bad.json").write_text(json.dumps({"from": "+31201234567"}))
    past = time.time() - 60
    for path in folder.iterdir():
        os.utime(path, (past, past))
    arc = runtime.open_archive(settings)
    try:
        assert scan_once(arc, DropFolderConfig(folder)).rejected == ["bad"]
    finally:
        arc.close()
    return folder / "rejected"


#: What the sweep's training-set hook reports when no set expired.
TRAINING_SETS_UNCHANGED = {"source": "training sets", "purged": []}
CASES_UNCHANGED = {"source": "privacy cases", "purged": []}


def _age(directory: Path, days: float) -> None:
    then = time.time() - days * 86400
    for path in directory.iterdir():
        os.utime(path, (then, then))


def test_the_sweep_purges_rejected_recordings_older_than_the_setting(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    cli("init", str(data_dir))
    settings = Settings(data_dir=data_dir, drop_folder=tmp_path / "drop",
                        drop_folder_rejected_days=3)
    rejected = _reject_one(settings)
    arc = runtime.open_archive(settings)
    try:
        report = sweep(arc, actor="sweeper")
        assert report.outside == [{"source": "drop folder: rejected recordings", "purged": []},
                                  TRAINING_SETS_UNCHANGED, CASES_UNCHANGED]
        assert len(list(rejected.iterdir())) == 3  # not old enough yet
        _age(rejected, 4)
        preview = sweep(arc, actor="sweeper", dry_run=True)
        assert preview.outside[0]["purged"] == ["bad"] and len(list(rejected.iterdir())) == 3
        report = sweep(arc, actor="sweeper")
        assert report.outside[0]["purged"] == ["bad"] and list(rejected.iterdir()) == []
        assert [e.detail for e in arc.audit.events() if e.action == "purge_rejected"] == [
            {"count": 1}]
    finally:
        arc.close()


def test_the_command_line_sweep_purges_them_too(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    cli("init", str(data_dir))
    settings = Settings(data_dir=data_dir, drop_folder=tmp_path / "drop")
    rejected = _reject_one(settings)
    _age(rejected, 31)
    env = {"COMMARCHIVE_DROP_FOLDER": str(settings.drop_folder)}
    dry = json.loads(cli("sweep", "--dry-run", data_dir=data_dir, env=env).stdout)
    assert dry["outside"][0]["purged"] == ["bad"] and len(list(rejected.iterdir())) == 3
    done = json.loads(cli("sweep", data_dir=data_dir, env=env).stdout)
    assert done["outside"][0]["purged"] == ["bad"] and list(rejected.iterdir()) == []


def test_without_a_drop_folder_the_sweep_is_the_retention_sweep(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    cli("init", str(data_dir))
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        report = sweep(arc, actor="sweeper")
    finally:
        arc.close()
    assert report.outside == [TRAINING_SETS_UNCHANGED, CASES_UNCHANGED]
    assert report.purged == []
