"""The SMTP server as the e-mail tests run it: on its own event loop thread, as
``commarchive serve`` runs it, and the ``serve`` fixture that starts and closes it."""

from __future__ import annotations

import asyncio
import smtplib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from archive.service import Archive
from ingest.email.config import SmtpConfig
from ingest.email.smtp import SmtpServerHandle, start_smtp_server


class RunningServer:
    """The SMTP server on its own event loop thread, as ``commarchive serve`` runs it."""

    def __init__(self, archive: Archive, config: SmtpConfig) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(start_smtp_server(archive, config), self.loop)
        try:
            self.handle: SmtpServerHandle = future.result(10)
        except BaseException:
            self._stop_loop()
            raise
        self.port = self.handle.port

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.handle.close(), self.loop).result(60)
        self._stop_loop()

    def client(self, **kwargs: Any) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.port, timeout=30, **kwargs)


Serve = Callable[..., RunningServer]


@pytest.fixture
def serve(archive: Archive) -> Iterator[Serve]:
    running: list[RunningServer] = []

    def start(**overrides: Any) -> RunningServer:
        server = RunningServer(archive, SmtpConfig(port=0, **overrides))
        running.append(server)
        return server

    yield start
    for server in running:
        server.close()
