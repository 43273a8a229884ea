"""Kill the server mid-call: the sealed spool is recovered as a ``truncated`` recording."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import keys
from archive.catalog import Catalog, sqlite_url
from archive.index.sqlite import SqliteIndex
from archive.model import ItemStatus
from ingest.sip.recording import recover_spools
from tests.conftest import TEST_CONFIG
from tests.ingest.sip.client import (
    JAN_AND_AGENT,
    SiprecClient,
    metadata_xml,
    play_all,
    tone_packets,
)
from tests.ingest.sip.conftest import quality_user
from tests.ingest.sip.standalone import open_test_archive

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]


def test_killed_server_leaves_a_sealed_spool_recovered_as_truncated(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    master = keys.new_dek()
    ring = keys.Keyring.create(data_dir / "keyring.sealed", master)
    for purpose in TEST_CONFIG.purposes:
        ring.ensure_purpose(purpose.name)
    Catalog(sqlite_url(data_dir / "catalog.sqlite")).create_schema()
    SqliteIndex(data_dir / "index.sqlite").ensure()

    env = {**os.environ, "COMMARCHIVE_TEST_KEY": master.hex(), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.ingest.sip.standalone", str(data_dir)],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY"), line
        port = int(line.split()[1])
        client = SiprecClient(port)
        dialog, resp = client.invite(["1", "2"], metadata_xml("sess-crash", JAN_AND_AGENT))
        assert resp.status == 200
        play_all([(dialog.ports[0], tone_packets(2.0)), (dialog.ports[1], tone_packets(2.0))])
        time.sleep(0.6)  # the server seals buffered audio at least every 0.25 s
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    [spool] = list((data_dir / "spool").glob("*.spool"))
    raw = spool.read_bytes()
    assert b"Jan Jansen" not in raw and b"31201234567" not in raw and b"\x55" * 64 not in raw

    archive = open_test_archive(data_dir, master)
    try:
        [item_id] = recover_spools(archive)
        record = archive.record(item_id)
        assert record.status is ItemStatus.TRUNCATED
        assert {p.name for p in record.parties} == {"Jan Jansen", "Agent Seven"}
        content = archive.read_content(quality_user(archive), item_id)
        from ingest.audio import read_wav

        audio = read_wav(content.data)
        assert len(audio.channels) == 2
        assert all(abs(len(c) / 16000 - 2.0) < 0.05 for c in audio.channels)
        assert not list((data_dir / "spool").glob("*.spool"))
        assert recover_spools(archive) == []  # nothing left, nothing twice
    finally:
        archive.close()
