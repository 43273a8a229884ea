"""Archiving a call's spool while its BYE waits, and after a crash (ingest.sip.recording)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from archive.errors import TemporaryFailure
from archive.service import Archive
from ingest.sip import recording
from ingest.sip.counters import SipCounters
from ingest.sip.recording import archive_with_deadline, recover_spools, spool_dir
from ingest.sip.sdp import Codec
from ingest.sip.spool import SpoolWriter, list_spools

SPOOL = Path("/nonexistent/abc.spool")
#: archive_spool is replaced in these tests: the archive itself is never used.
NO_ARCHIVE: Any = object()


def flaky(failures: int, error: Exception) -> tuple[list[Path], Any]:
    calls: list[Path] = []

    def archive_spool(archive: object, path: Path) -> str:
        calls.append(path)
        if len(calls) <= failures:
            raise error
        return "item-1"

    return calls, archive_spool


def test_a_short_archive_outage_is_ridden_out_before_answering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls, fake = flaky(2, TemporaryFailure("ingest", reason="down"))
    monkeypatch.setattr(recording, "archive_spool", fake)
    counters = SipCounters()
    got = asyncio.run(archive_with_deadline(NO_ARCHIVE, SPOOL, timeout_s=5, counters=counters))
    assert got == "item-1" and calls == [SPOOL] * 3
    assert counters.archive_failures == 2 and counters.calls_archived == 1


def test_an_outage_past_the_deadline_gives_up_and_keeps_the_spool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls, fake = flaky(1000, TemporaryFailure("ingest", reason="down"))
    monkeypatch.setattr(recording, "archive_spool", fake)
    counters = SipCounters()
    got = asyncio.run(archive_with_deadline(NO_ARCHIVE, SPOOL, timeout_s=0.5, counters=counters))
    assert got is None and 2 <= len(calls) <= 4
    assert counters.archive_failures == len(calls) and counters.calls_archived == 0


def test_a_refused_spool_is_not_retried_while_the_bye_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls, fake = flaky(1000, ValueError("not a call"))
    monkeypatch.setattr(recording, "archive_spool", fake)
    counters = SipCounters()
    got = asyncio.run(archive_with_deadline(NO_ARCHIVE, SPOOL, timeout_s=5, counters=counters))
    assert got is None and len(calls) == 1 and counters.archive_failures == 1


def test_a_crashed_call_that_never_carried_audio_is_not_recovered_as_an_item(
    archive: Archive,
) -> None:
    # A crash after the INVITE was answered but before any RTP: the spool holds only
    # the call info (parties from the metadata). No audio, no recording, no item.
    directory = spool_dir(archive)
    silent = SpoolWriter(directory, archive.keyring)
    silent.write_info({"call_id": "c-silent", "started_at": "2026-11-20T10:00:00+00:00",
                       "media_started_at": None, "metadata": {}, "streams": []})
    silent.release()
    heard = SpoolWriter(directory, archive.keyring)
    heard.write_info({"call_id": "c-heard", "started_at": "2026-11-20T10:00:00+00:00",
                      "media_started_at": "2026-11-20T10:00:01+00:00", "metadata": {},
                      "streams": [{"index": 0, "label": "1", "codecs": ["PCMU"]}]})
    heard.add_audio(0, Codec.PCMU, 0, b"\x55" * 160)
    heard.release()
    [item_id] = recover_spools(archive)
    assert archive.item_ids() == [item_id]
    assert list_spools(directory) == []


def test_recovery_removes_spools_a_crash_left_half_created_and_spares_a_live_one(
    archive: Archive,
) -> None:
    """A crash between creating a spool and renaming it leaves a ``.creating`` file
    (a header with a wrapped key, no audio): recovery removes it once it is old,
    and never one that is young or whose writer still holds its lock."""
    import fcntl
    import os
    import time

    directory = spool_dir(archive)
    directory.mkdir(parents=True, exist_ok=True)
    stale, young, locked = (directory / f"{n}.creating" for n in ("stale", "young", "locked"))
    for path in (stale, young, locked):
        path.write_bytes(b"CASPOOL1 header only")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    os.utime(locked, (hour_ago, hour_ago))
    fd = os.open(locked, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert recover_spools(archive) == []
        assert not stale.exists() and young.exists() and locked.exists()
    finally:
        os.close(fd)
    assert archive.item_ids() == []
