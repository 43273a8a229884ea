"""ingest.email.session: who may connect (the allowlist, without sockets)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from ingest.email.config import SmtpConfig, parse_allowlist
from ingest.email.session import SessionState


def test_peer_outside_loopback_is_matched_by_cidr() -> None:
    # The allowlist logic without sockets: IPv4-mapped IPv6 peers count as IPv4.
    state = SessionState(
        config=SmtpConfig(), networks=parse_allowlist(("192.0.2.0/24",)),
        slots=asyncio.Semaphore(1), executor=None, committer=None,  # type: ignore[arg-type]
    )
    assert state.allowed(("192.0.2.7", 25))
    assert state.allowed(("::ffff:192.0.2.7", 25, 0, 0))
    assert not state.allowed(("198.51.100.1", 25))
    assert not state.allowed("")
    assert replace(SmtpConfig(), port=25).port == 25
