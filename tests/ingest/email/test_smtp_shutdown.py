"""Closing the SMTP listener (serve stopping): in-flight messages answered, idle ones 421."""

from __future__ import annotations

import asyncio

import pytest

from archive.service import Archive
from ingest.email.config import SmtpConfig
from tests.ingest.email.conftest import RunningServer
from tests.ingest.email.test_smtp import message, send_in_thread, slow_ingest


def test_close_answers_the_message_being_stored_then_tells_idle_sessions_421(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    committing = slow_ingest(archive, monkeypatch, 1.5)
    server = RunningServer(archive, SmtpConfig(port=0))
    try:
        idle = server.client()
        idle.ehlo("mta.test")
        storing, results = send_in_thread(server, message())
        assert committing.wait(30)  # its DATA is in, the commit takes 1.5 s
        closing = asyncio.run_coroutine_threadsafe(server.handle.close(), server.loop)
        storing.join(30)
        assert results == [{}]  # a 250, not a dropped connection
        code, reply = idle.getreply()
        assert (code, reply[:5]) == (421, b"4.3.2")
        closing.result(30)
        assert len(archive.list_records()) == 1
        with pytest.raises(OSError):
            server.client()  # no longer listening
    finally:
        server._stop_loop()
