"""Archiving a finished call's spool while its BYE waits (ingest.sip.recording)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from archive.errors import TemporaryFailure
from ingest.sip import recording
from ingest.sip.counters import SipCounters
from ingest.sip.recording import archive_with_deadline

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
