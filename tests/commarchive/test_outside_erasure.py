"""An erasure reaches the subject's data outside the catalog that the composition root
knows of: rejected drop-folder recordings (sealed, but still the subject's)."""

from __future__ import annotations

from pathlib import Path

from archive import rights
from commarchive import runtime
from commarchive.settings import Settings
from ingest.dropfolder import DropFolderConfig, scan_once
from tests.commarchive.cli.test_cli import cli
from tests.ingest.test_dropfolder import SIDECAR, drop


def test_erasing_a_subject_also_erases_their_rejected_drop_folder_recordings(
    tmp_path: Path,
) -> None:
    # GIVEN an archive served with a drop folder, where a recording of the subject
    # (+31 20 123 4567) and one of someone else were rejected
    data_dir, folder = tmp_path / "data", tmp_path / "drop"
    cli("init", str(data_dir))
    arc = runtime.open_archive(Settings(data_dir=data_dir, drop_folder=folder))
    try:
        drop(folder, "jan", b"garbage", SIDECAR)
        drop(folder, "piet", b"garbage", {**SIDECAR, "from": "+31 6 11111111"})
        assert sorted(scan_once(arc, DropFolderConfig(folder)).rejected) == ["jan", "piet"]
        # WHEN the subject's erasure runs (as the CLI and the API run it)
        cert = rights.erase_subject(arc, "020 123 4567", actor="dpo").public()
    finally:
        arc.close()
    # THEN their rejected recording is gone, the other person's stays, and the
    # certificate says what was erased outside the catalog
    assert cert["outside_catalog"] == [{"source": "drop folder: rejected recordings",
                                        "erased": ["jan"], "unattributed": []},
                                       {"source": "training sets", "erased": [],
                                        "unattributed": [], "handed_out": []}]
    left = sorted(p.name for p in (folder / "rejected").iterdir())
    assert not [n for n in left if n.startswith("jan.")]
    assert [n for n in left if n.startswith("piet.")]
    assert "erasure ledger" in cert["method"]


def test_a_dry_run_erases_nothing_outside_the_catalog(tmp_path: Path) -> None:
    data_dir, folder = tmp_path / "data", tmp_path / "drop"
    cli("init", str(data_dir))
    arc = runtime.open_archive(Settings(data_dir=data_dir, drop_folder=folder))
    try:
        drop(folder, "jan", b"garbage", SIDECAR)
        scan_once(arc, DropFolderConfig(folder))
        cert = rights.erase_subject(arc, "+31201234567", actor="dpo", dry_run=True).public()
    finally:
        arc.close()
    assert cert["outside_catalog"] == []
    assert [p for p in (folder / "rejected").iterdir() if p.name.startswith("jan.")]
