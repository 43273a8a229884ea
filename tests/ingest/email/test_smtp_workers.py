"""Ingest worker processes: the pool itself, and the SMTP server running on it."""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import smtplib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.config import Role
from archive.index import SearchQuery
from archive.model import ItemStatus
from archive.service import Archive
from commarchive import runtime
from commarchive.settings import Settings
from ingest.email.config import SmtpConfig
from ingest.email.smtp import SmtpServerHandle, start_smtp_server
from ingest.email.workers import WorkerPool
from ingest.errors import SmtpConfigError, WorkerDied, WorkerStartError

# ------------------------------------------------------------------ in the workers

_state: dict[str, Any] = {}


def _init(tag: str) -> None:
    _state["tag"] = tag


def _init_fails() -> None:
    raise OSError("cannot open the archive: no master key")


def _init_unless(flag: str) -> None:
    if Path(flag).exists():
        raise OSError("archive unavailable")
    _state["tag"] = "ready"


def _tagged(value: int) -> tuple[str, int, int]:
    return _state["tag"], value * 2, os.getpid()


def _boom(text: str) -> None:
    raise ValueError(text)


def _nap(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


# ------------------------------------------------------------------ the pool


def test_calls_run_in_initialised_workers_and_errors_come_back() -> None:
    async def main() -> None:
        pool = WorkerPool(2, _init, ("ready",))
        await pool.start()
        try:
            results = await asyncio.gather(*(pool.run(_tagged, n) for n in range(20)))
            assert [r[:2] for r in results] == [("ready", 2 * n) for n in range(20)]
            assert {r[2] for r in results} == set(pool.pids) and len(pool.pids) == 2
            with pytest.raises(ValueError, match="bad input"):
                await pool.run(_boom, "bad input")
            assert (await pool.run(_tagged, 5))[1] == 10  # still serving after an error
        finally:
            await pool.close()

    asyncio.run(main())


def test_a_killed_worker_fails_its_calls_and_is_replaced() -> None:
    async def main() -> None:
        pool = WorkerPool(1, _init, ("ready",))
        await pool.start()
        try:
            (victim,) = pool.pids
            call = asyncio.ensure_future(pool.run(_nap, 5.0))
            await asyncio.sleep(0.3)
            os.kill(victim, signal.SIGKILL)
            with pytest.raises(WorkerDied):
                await asyncio.wait_for(call, 10)
            deadline = time.monotonic() + 30
            while pool.pids in ([], [victim]) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert pool.restarts == 1 and pool.pids and pool.pids != [victim]
            assert (await pool.run(_tagged, 4))[:2] == ("ready", 8)
        finally:
            await pool.close()

    asyncio.run(main())


def test_a_worker_that_cannot_be_replaced_at_once_is_retried(tmp_path: Path) -> None:
    flag = tmp_path / "unavailable"

    async def main() -> None:
        pool = WorkerPool(1, _init_unless, (str(flag),))
        await pool.start()
        try:
            (victim,) = pool.pids
            flag.touch()  # replacements fail to start for a while
            os.kill(victim, signal.SIGKILL)
            await asyncio.sleep(1.5)
            assert pool.pids == [] and pool.restarts == 0
            with pytest.raises(WorkerDied):
                await pool.run(_tagged, 1)
            flag.unlink()
            deadline = time.monotonic() + 30
            while not pool.pids and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert pool.restarts == 1 and (await pool.run(_tagged, 2))[:2] == ("ready", 4)
        finally:
            await pool.close()

    asyncio.run(main())


def test_a_worker_that_cannot_start_fails_the_start() -> None:
    async def main() -> None:
        pool = WorkerPool(2, _init_fails, ())
        with pytest.raises(WorkerStartError, match="no master key"):
            await pool.start()

    asyncio.run(main())


# ------------------------------------------------------------------ SMTP on workers


class WorkerServer:
    def __init__(self, settings: Settings, archive: Archive, workers: int = 2) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.handle: SmtpServerHandle = asyncio.run_coroutine_threadsafe(
            start_smtp_server(archive, SmtpConfig(port=0, workers=workers),
                              preparer=functools.partial(runtime.open_preparer, settings)),
            self.loop).result(60)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.handle.close(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def send(self, raw: bytes, sender: str = "jan@customer.nl") -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", self.handle.port, timeout=60) as smtp:
            smtp.ehlo("test")
            smtp.mail(sender)
            smtp.rcpt("support@example.com")
            return smtp.data(raw)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "archive")
    runtime.init_archive(settings).close()
    return settings


@pytest.fixture
def real_archive(settings: Settings) -> Iterator[Archive]:
    archive = runtime.open_archive(settings)
    yield archive
    archive.close()


def mail(n: int, body: str = "") -> bytes:
    return (f"From: Jan <jan@customer.nl>\r\nTo: support@example.com\r\n"
            f"Subject: worker test {n}\r\nMessage-ID: <w{n}@customer.nl>\r\n\r\n"
            f"Question {n} about invoice {body or 'pangolin'}.\r\n").encode()


def test_mail_through_worker_processes_is_stored_grouped_and_searchable(
    settings: Settings, real_archive: Archive
) -> None:
    server = WorkerServer(settings, real_archive)
    try:
        codes: list[int] = []

        def client(start: int) -> None:
            for n in range(start, start + 10):
                codes.append(server.send(mail(n))[0])

        threads = [threading.Thread(target=client, args=(k * 10,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        garbage = b"\x00\x01garbage that is not a message\r\n\xff\xfe\r\n"
        assert server.send(garbage)[0] == 250
        # A re-delivery (the worker sends back no original) merges its new recipient.
        with smtplib.SMTP("127.0.0.1", server.handle.port, timeout=60) as smtp:
            smtp.ehlo("test")
            smtp.mail("jan@customer.nl")
            smtp.rcpt("support@example.com")
            smtp.rcpt("legal@example.com")
            code, reply = smtp.data(mail(3))
        assert code == 250 and b"already archived" in reply and b"1 new recipients" in reply
    finally:
        server.close()
    assert codes == [250] * 40
    ids = real_archive.item_ids()
    assert len(ids) == 41
    records = [real_archive.record(i) for i in ids]
    unparsed = [r for r in records if r.status is ItemStatus.UNPARSED]
    assert [r.status_reason for r in unparsed] == ["no_headers"]
    quality = real_archive.users.authenticate(real_archive.users.add("q", Role.QUALITY))
    assert real_archive.flush_index(10)
    assert real_archive.search(quality, SearchQuery(text="pangolin")).result.total == 40
    assert real_archive.audit.verify().ok


def test_killed_workers_mean_451_until_replaced_never_a_lost_250(
    settings: Settings, real_archive: Archive
) -> None:
    server = WorkerServer(settings, real_archive)
    try:
        assert server.send(mail(1))[0] == 250
        victims = server.handle.worker_pids
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)  # the loop sees both sockets close; new workers take ~1 s to start
        code, reply = server.send(mail(2))
        assert code == 451 and b"try again" in reply
        deadline = time.monotonic() + 60
        while server.handle.worker_restarts < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert set(server.handle.worker_pids).isdisjoint(victims)
        assert len(server.handle.worker_pids) == 2
        assert server.send(mail(2))[0] == 250  # the sender's retry
    finally:
        server.close()
    assert len(real_archive.item_ids()) == 2


def test_workers_that_cannot_open_the_archive_fail_the_start(
    tmp_path: Path, real_archive: Archive
) -> None:
    missing = Settings(data_dir=tmp_path / "not-an-archive")
    with pytest.raises(SmtpConfigError, match="could not start"):
        WorkerServer(missing, real_archive)
