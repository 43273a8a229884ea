"""A SIPREC server on 127.0.0.1 in a background event loop, over the test archive."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pytest

from archive.service import Archive
from ingest.sip.config import SipConfig
from ingest.sip.server import SipServerHandle, start_sip_server

T = TypeVar("T")

TEST_SIP_CONFIG = SipConfig(
    host="127.0.0.1",
    port=0,
    rtp_port_range=(20000, 28000),  # below the ephemeral range sipp and clients draw from
    rtp_inactivity_timeout_s=3.0,
    archive_retry_interval_s=1.0,
)


@dataclass
class RunningSip:
    handle: SipServerHandle
    loop: asyncio.AbstractEventLoop
    archive: Archive

    @property
    def port(self) -> int:
        assert self.handle.udp_port is not None
        return self.handle.udp_port

    def call(self, coro: Any, timeout: float = 60.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def wait_idle(self, timeout: float = 30.0) -> None:
        assert self.call(self.handle.wait_idle(timeout), timeout + 5), "calls still pending"


def run_sip(archive: Archive, config: SipConfig) -> Iterator[RunningSip]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    handle = asyncio.run_coroutine_threadsafe(start_sip_server(archive, config), loop).result(10)
    running = RunningSip(handle, loop, archive)
    try:
        yield running
    finally:
        asyncio.run_coroutine_threadsafe(handle.close(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def sip_config() -> SipConfig:
    return TEST_SIP_CONFIG


@pytest.fixture
def sip(archive: Archive, sip_config: SipConfig) -> Iterator[RunningSip]:
    yield from run_sip(archive, sip_config)


@pytest.fixture
def make_sip(archive: Archive) -> Iterator[Callable[..., RunningSip]]:
    """Start a server with config overrides: ``make_sip(answer_delay_s=1.0)``."""
    gens: list[Iterator[RunningSip]] = []

    def start(**overrides: Any) -> RunningSip:
        gen = run_sip(archive, replace(TEST_SIP_CONFIG, **overrides))
        gens.append(gen)
        return next(gen)

    yield start
    for gen in gens:
        for _ in gen:
            pass


def quality_user(archive: Archive) -> Any:
    from archive.config import Role

    return archive.authenticate(
        archive.users.add(f"q{id(archive) % 100000}x{_counter()}", Role.QUALITY)
    )


_COUNT = [0]


def _counter() -> int:
    _COUNT[0] += 1
    return _COUNT[0]


def read_call(archive: Archive, item_id: str) -> tuple[Any, dict[str, Any]]:
    """(decoded audio, details) of an archived call, read as a quality reviewer."""
    from ingest.audio import read_wav

    user = quality_user(archive)
    content = archive.read_content(user, item_id)
    assert content.content_type == "audio/wav"
    view = archive.get_item(user, item_id)
    return read_wav(content.data), view.details


def voiced_extent_s(pcm: bytes, rate: int = 8000) -> tuple[float, float]:
    """(first, last) time of a non-silent sample."""
    from array import array

    samples = array("h")
    samples.frombytes(pcm)
    loud = [i for i, v in enumerate(samples) if abs(v) > 8]
    assert loud, "channel is silent"
    return loud[0] / rate, (loud[-1] + 1) / rate
