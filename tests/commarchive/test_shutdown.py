"""Stopping ``commarchive serve`` with SIGTERM or Ctrl+C while mail and calls flow.

The signal goes to the whole process group, as a terminal's Ctrl+C and a service
manager's stop do (so the SMTP worker processes get it too). Expected: one
quiet line, exit status 0, no traceback and no ERROR line; every message that
got a 250 and every call whose BYE got a 200 is in the archive, and a call
still live at the signal is recovered at the next start.
"""

from __future__ import annotations

import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from archive.model import Channel, ItemStatus
from commarchive import runtime
from commarchive.settings import Settings
from tests.ingest.sip.client import (
    JAN_AND_AGENT,
    Dialog,
    SiprecClient,
    metadata_xml,
    play,
    tone_packets,
)
from tests.services import free_port

pytestmark = pytest.mark.slow


class Traffic:
    """Mail senders and SIPREC calls against a running server, recording what was acknowledged."""

    def __init__(self, smtp_port: int, sip_port: int) -> None:
        self.smtp_port = smtp_port
        self.sip_port = sip_port
        self.stop = threading.Event()
        self.acked_mail: list[str] = []  # item ids from the 250 replies
        self.refusals: list[str] = []
        self.acked_calls: list[str] = []  # SIPREC session ids whose BYE got 200
        self.live_call_started = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, mailers: int = 4) -> None:
        targets = [self._mailer] * mailers + [self._short_calls, self._live_call]
        self._threads = [threading.Thread(target=t, daemon=True) for t in targets]
        for thread in self._threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _mailer(self) -> None:
        while not self.stop.is_set():
            message_id = f"<{uuid.uuid4().hex}@klant.nl>"
            raw = (f"From: Jan <jan@klant.nl>\r\nTo: support@example.com\r\nSubject: storing\r\n"
                   f"Message-ID: {message_id}\r\n\r\nMijn modem knippert.\r\n")
            try:
                with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=20) as smtp:
                    smtp.ehlo("mta.test")
                    smtp.mail("jan@klant.nl")
                    smtp.rcpt("support@example.com")
                    code, reply = smtp.data(raw)
                if code == 250:
                    found = re.search(rb"archived as (\S+)", reply)
                    assert found, reply
                    self.acked_mail.append(found.group(1).decode())
                else:
                    self.refusals.append(f"{code} {reply!r}")
            except (OSError, smtplib.SMTPException) as exc:  # the sender retries later
                self.refusals.append(type(exc).__name__)
                self.stop.wait(0.05)

    def _call(self) -> tuple[SiprecClient, str, Dialog]:
        client = SiprecClient(self.sip_port)
        session = "sess-" + uuid.uuid4().hex[:8]
        dialog, resp = client.invite(["1", "2"], metadata_xml(session, JAN_AND_AGENT))
        assert resp.status == 200, resp.status
        return client, session, dialog

    def _short_calls(self) -> None:
        while not self.stop.is_set():
            try:
                client, session, dialog = self._call()
            except (OSError, AssertionError):
                self.stop.wait(0.1)
                continue
            try:
                play(dialog.ports[0], tone_packets(0.4))
                if client.bye(dialog).status == 200:
                    self.acked_calls.append(session)
            except OSError:
                pass  # no answer to the BYE: the source keeps the call and retries
            finally:
                client.close()

    def _live_call(self) -> None:
        client, _, dialog = self._call()
        self.live_call_started.set()
        try:
            play(dialog.ports[0], tone_packets(0.6))
            self.stop.wait(60)
        finally:
            client.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_the_process_group_stops_quietly_and_loses_nothing(
    tmp_path: Path, signum: signal.Signals, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    for key in os.environ:
        if key.startswith("COMMARCHIVE_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # the key file's home
    env = dict(os.environ)
    subprocess.run([sys.executable, "-m", "commarchive", "init", str(data_dir), "--no-input"],
                   env=env, check=True, capture_output=True, timeout=120)
    http, smtp, sip = free_port(), free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "commarchive", "--data-dir", str(data_dir), "serve",
         "--http", f"127.0.0.1:{http}", "--smtp", f"127.0.0.1:{smtp}",
         "--sip", f"127.0.0.1:{sip}"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    assert server.stdout is not None
    for line in server.stdout:
        if "Uvicorn running" in line:
            break
    else:
        raise AssertionError("serve did not start")

    traffic = Traffic(smtp, sip)
    traffic.start()
    assert traffic.live_call_started.wait(30)
    deadline = time.monotonic() + 60
    while (len(traffic.acked_mail) < 20 or not traffic.acked_calls) and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(server.pid, signum)
    after_signal = server.stdout.read()
    status = server.wait(timeout=120)
    traffic.finish()

    assert status == 0, after_signal
    lines = after_signal.strip().splitlines()
    assert len(lines) == 1 and f"stopped on {signum.name}" in lines[0], after_signal
    assert traffic.acked_mail and traffic.acked_calls

    archive = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        from ingest.sip import recover_spools

        for item_id in traffic.acked_mail:  # every 250 is in the archive, once
            assert archive.record(item_id).channel is Channel.EMAIL
        emails = [r for r in archive.list_records(limit=10_000) if r.channel is Channel.EMAIL]
        assert len({r.sha256 for r in emails}) == len(emails)
        calls = [r for r in archive.list_records(limit=10_000) if r.channel is Channel.CALL]
        assert len(calls) >= len(traffic.acked_calls)
        # The call still live at the signal kept its sealed spool: the next start archives it.
        recovered = recover_spools(archive)
        assert recovered
        assert all(archive.record(i).status is ItemStatus.TRUNCATED for i in recovered)
    finally:
        archive.close()
