"""COMMARCHIVE_LOG_FORMAT=json: every line a log collector reads is one JSON object."""

from __future__ import annotations

import json
import logging

import pytest

from commarchive import logs
from commarchive.settings import LogFormat, Settings


def test_json_lines_carry_time_level_logger_message_and_the_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMMARCHIVE_LOG_FORMAT", "json")
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    try:
        logs.configure(Settings().log_format)
        log = logging.getLogger("commarchive.serve")
        log.info("SMTP ingest listening on %s:%s", "127.0.0.1", 2525)
        try:
            raise RuntimeError("index down")
        except RuntimeError:
            log.exception("error while shutting down")
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(e["level"], e["logger"], e["message"]) for e in lines] == [
        ("INFO", "commarchive.serve", "SMTP ingest listening on 127.0.0.1:2525"),
        ("ERROR", "commarchive.serve", "error while shutting down"),
    ]
    assert "RuntimeError: index down" in lines[1]["exception"]
    assert lines[0]["time"].endswith("+00:00")


def test_text_is_the_default() -> None:
    assert Settings().log_format is LogFormat.TEXT
