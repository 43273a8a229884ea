"""Each 250 follows the fsync of its blob, the blob's directory and the catalog WAL.

The SMTP server runs with the production default of ingest worker processes
under ``strace -f`` (``tests/soak/durability.py``); a process kill cannot show
a missing fsync (the page cache survives it), a syscall trace can. The check is
also run against servers with each of the three syncs removed, and must fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from commarchive.settings import SERVE_SMTP_WORKERS
from tests.conftest import IN_CI
from tests.soak.durability import run_traced

STRACE = shutil.which("strace")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(STRACE is None and not IN_CI, reason="strace is not installed"),
]


def test_every_250_follows_the_fsync_of_blob_directory_and_catalog_wal(tmp_path: Path) -> None:
    assert STRACE, "strace is required in CI (scripts/test.sh installs it)"
    checked, acked = run_traced(tmp_path, messages=5, workers=SERVE_SMTP_WORKERS, strace=STRACE)
    assert acked == 5 and len(checked.acked) == 5
    assert checked.problems == []


@pytest.mark.parametrize(("broken", "complaint"), [
    ("blob", "its blob was not fsync'd"),
    ("directory", "its blob's directory was not fsync'd"),
    ("wal", "the catalog WAL was not fsync'd"),
])
def test_the_check_fails_when_one_of_the_syncs_is_removed(
    tmp_path: Path, broken: str, complaint: str
) -> None:
    assert STRACE, "strace is required in CI (scripts/test.sh installs it)"
    checked, acked = run_traced(tmp_path, messages=3, workers=SERVE_SMTP_WORKERS,
                                broken=broken, strace=STRACE)
    assert acked == 3 and len(checked.acked) == 3  # a SIGKILL test would see nothing wrong
    assert len(checked.problems) == 3
    assert all(complaint in p for p in checked.problems), checked.problems
