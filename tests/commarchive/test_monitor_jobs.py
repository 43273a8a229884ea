"""Monitoring policies over e-mails run after the SMTP ``250``, as ``monitor`` jobs:

- with an enabled policy, the 250 arrives while the evaluation is still held back, and
  once it is let go the item is in the review queue with its hit;
- ``serve`` killed after the 250 and before the evaluation: the next start flags the
  e-mail, once;
- without an embedded worker ``commarchive worker`` runs the jobs, and an operator can
  ask for an item's check (``jobs add monitor ITEM``).
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from archive import quality_tables as qt
from archive.jobs import JobQueue
from archive.quality import monitoring
from archive.service import Archive
from commarchive import runtime
from commarchive.settings import Settings
from commarchive.worker import JobKind, JobWorker, start_embedded
from ingest.email.config import SmtpConfig
from tests.commarchive.cli.test_privacy_commands import cli, data_dir  # noqa: F401
from tests.conftest import email_item
from tests.ingest.email.conftest import RunningServer
from tests.services import free_port

POLICY = {"lists": {"*": ["cancel my contract"]}}
WAIT_SECONDS = 60.0


def _message() -> str:
    return (f"From: Jan <jan@klant.nl>\r\nTo: support@example.com\r\nSubject: contract\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@klant.nl>\r\n\r\n"
            f"Please cancel my contract by the end of the month.\r\n")


def _send(port: int, *, timeout: float) -> str:
    """The item id the 250 names."""
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as smtp:
        smtp.ehlo("mta.test")
        smtp.mail("jan@klant.nl")
        smtp.rcpt("support@example.com")
        code, reply = smtp.data(_message())
    assert code == 250, reply
    found = re.search(rb"archived as (\S+)", reply)
    assert found, reply
    return found.group(1).decode()


def _entries(archive: Archive, item_id: str) -> list[Any]:
    with archive.catalog.read() as conn:
        return list(conn.execute(sa.select(qt.queue).where(qt.queue.c.item_id == item_id)))


def _monitor_events(archive: Archive, item_id: str) -> int:
    return len(archive.audit.events(action="quality_monitor", item_id=item_id))


def _wait_for(done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_250_comes_before_the_policies_run_and_the_hit_follows(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    monitoring.install(archive)
    gate = threading.Event()
    evaluating = threading.Event()
    real_check = monitoring.check_items

    def held_check(arc: Archive, item_ids: Sequence[str], **kwargs: Any) -> Any:
        evaluating.set()
        assert gate.wait(WAIT_SECONDS), "never released"
        return real_check(arc, item_ids, **kwargs)

    monkeypatch.setattr(monitoring, "check_items", held_check)
    server = RunningServer(archive, SmtpConfig(port=0))
    stop_worker = start_embedded(archive, Settings(), [JobKind.MONITOR])
    try:
        # Were the policies on the way to the 250, the held evaluation would hold it.
        item_id = _send(server.port, timeout=10)
        assert _monitor_events(archive, item_id) == 0 and _entries(archive, item_id) == []
        assert evaluating.wait(WAIT_SECONDS)  # the embedded worker has the job
        gate.set()
        _wait_for(lambda: bool(_entries(archive, item_id)))
        [entry] = _entries(archive, item_id)
        assert (entry.policy, entry.source) == ("churn", "policy")
        assert '"kind": "body"' in entry.hits
    finally:
        gate.set()
        stop_worker()
        server.close()


def test_a_worker_of_the_shared_queue_runs_the_monitor_jobs(archive: Archive) -> None:
    """Several nodes (no embedded worker): ``commarchive worker`` takes the e-mail's job."""
    monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    monitoring.install(archive)
    archive.start_indexing()  # a serving node: it acknowledges, it does not evaluate
    item_id = archive.ingest(email_item(body="Please cancel my contract.")).item_id
    assert _entries(archive, item_id) == []
    worker = JobWorker(archive, Settings(), router=lambda: None, name="elsewhere")
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    try:
        _wait_for(lambda: (JobKind.MONITOR, item_id, "queued 1") in worker.done)
    finally:
        stop.set()
        thread.join(WAIT_SECONDS)
    assert len(_entries(archive, item_id)) == 1


def _serve(archive_dir: Path, smtp: int, env: dict[str, str]) -> subprocess.Popen[str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "commarchive", "--data-dir", str(archive_dir), "serve",
         "--http", f"127.0.0.1:{free_port()}", "--smtp", f"127.0.0.1:{smtp}"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True)
    assert server.stdout is not None
    for line in server.stdout:
        if "Uvicorn running" in line:
            # Keep reading its log, so a full pipe never stalls it.
            threading.Thread(target=server.stdout.read, daemon=True).start()
            return server
    raise AssertionError("serve did not start")


def _open(archive_dir: Path) -> Archive:
    return runtime.open_archive(Settings(data_dir=archive_dir))


def _stop(server: subprocess.Popen[str], signum: signal.Signals) -> None:
    os.killpg(server.pid, signum)
    server.wait(timeout=120)


@pytest.mark.slow
def test_an_email_acknowledged_before_a_kill_is_flagged_once_after_the_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN serve with no worker for the jobs (as a node whose workers are elsewhere)
    WHEN an e-mail gets its 250 and serve is killed with SIGKILL
    THEN nothing evaluated it yet, and serve started again flags it exactly once."""
    for key in os.environ:
        if key.startswith("COMMARCHIVE_"):
            monkeypatch.delenv(key)
    archive_dir = tmp_path / "data"
    env = dict(os.environ)
    subprocess.run([sys.executable, "-m", "commarchive", "init", str(archive_dir),
                    "--no-input"],
                   env=env, check=True, capture_output=True, timeout=120)
    archive = _open(archive_dir)
    try:
        monitoring.save(archive, "churn", POLICY, enabled=True, actor="rita", role="quality")
    finally:
        archive.close()

    smtp = free_port()
    server = _serve(archive_dir, smtp, {**env, "COMMARCHIVE_EMBEDDED_WORKER": "false"})
    try:
        item_id = _send(smtp, timeout=30)
    finally:
        _stop(server, signal.SIGKILL)

    archive = _open(archive_dir)
    try:
        assert _monitor_events(archive, item_id) == 0 and _entries(archive, item_id) == []
        assert _queued(archive, [JobKind.MONITOR]) == 1
    finally:
        archive.close()

    server = _serve(archive_dir, free_port(), env)  # with its embedded worker
    try:
        archive = _open(archive_dir)
        try:
            _wait_for(lambda: _queued(archive, [JobKind.MONITOR]) == 0
                      and bool(_entries(archive, item_id)))
        finally:
            archive.close()
    finally:
        _stop(server, signal.SIGTERM)
    archive = _open(archive_dir)
    try:
        assert len(_entries(archive, item_id)) == 1
        assert _monitor_events(archive, item_id) == 1
    finally:
        archive.close()


def _queued(archive: Archive, kinds: Sequence[str]) -> int:
    return sum(d.queued + d.running for d in JobQueue(archive.catalog).depth()
               if d.kind in kinds)


def test_an_operator_asks_for_an_items_check_from_the_command_line(
    data_dir: Path,  # noqa: F811
) -> None:
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:  # archived before the policy existed: not checked
        item_id = arc.ingest(email_item(body="Please cancel my contract.")).item_id
        monitoring.save(arc, "churn", POLICY, enabled=True, actor="rita", role="quality")
    finally:
        arc.close()
    assert cli("jobs", "add", "monitor", item_id, data_dir=data_dir).stdout.strip() == (
        "queued 1 monitor job(s)")
    assert "monitor: 1 queued" in cli("jobs", "list", data_dir=data_dir).stdout
    bare = cli("jobs", "add", "monitor", data_dir=data_dir, check=False)
    assert bare.returncode != 0 and "monitor take item ids" in bare.stderr
    arc = runtime.open_archive(Settings(data_dir=data_dir))
    try:
        assert monitoring.run_queued(arc, worker="test") == 1
        assert len(_entries(arc, item_id)) == 1
    finally:
        arc.close()
