"""SIPREC session recording server (RFC 7866) over UDP and TCP, in the caller's asyncio loop.

This module wires the pieces and routes requests; each piece has one job:

* :mod:`ingest.sip.transport`: UDP/TCP listeners, TCP framing, socket buffers;
* :mod:`ingest.sip.transactions`: answers cached per transaction, so a
  retransmitted request gets the same answer and never a second recording;
  the ``200`` to an INVITE retransmitted over UDP until the ACK;
* :mod:`ingest.sip.uas`: what INVITE, ACK, re-INVITE/UPDATE, CANCEL and BYE do
  to a recording session, and how one ends (the durability invariant of the
  BYE answer is written and kept there);
* :mod:`ingest.sip.session`: one session and its :class:`CallState` machine;
* :mod:`ingest.sip.media`: RTP ports and streams; every packet is placed on
  the call's timeline (:mod:`ingest.sip.rtp`) and sealed into the call's spool
  (:mod:`ingest.sip.spool`) as it arrives, so nothing plain reaches disk and a
  crash leaves a recoverable recording.

A rotated TLS certificate (new files at the configured paths) is loaded by the
housekeeping timer without a restart (:class:`ingest.tls.CertificateWatch`).

Here: requests from outside the allowlist are refused (``403``) before
anything else (TCP connections from outside it are closed on accept, see
:mod:`ingest.sip.transport`); malformed ones get ``400`` when they can be answered at all;
OPTIONS, INFO and unknown methods are answered directly; a housekeeping timer
ends silent or expired sessions, expires transactions and retries spools the
archive could not take.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Final

from ingest.sip.config import SipConfig
from ingest.sip.counters import SipCounters
from ingest.sip.message import SipParseError, make_response, new_tag, parse_message
from ingest.sip.session import ACCEPT, ALLOW
from ingest.sip.transactions import ResponseCache, transaction_key
from ingest.sip.transport import Peer, Reply, SipListeners, Transport
from ingest.sip.uas import RecordingUas

if TYPE_CHECKING:
    from archive.service import Archive

__all__ = ["SipServer", "SipServerHandle", "start_sip_server"]

log = logging.getLogger("commarchive.sip")

HOUSEKEEPING_S: Final = 0.25


class SipServer:
    """Listeners, the recording UAS and the housekeeping timer, started and closed together."""

    def __init__(self, archive: Archive, config: SipConfig) -> None:
        self.archive = archive
        self.config = config
        self.counters = SipCounters()
        self.responses = ResponseCache()
        self.listeners = SipListeners(config, self, self.counters)
        self.allowlist = self.listeners.allowlist
        self.uas = RecordingUas(
            archive, config, self.counters, self.responses, self.listeners.port_for
        )
        self._housekeeping: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        self._certificate_check_at = 0.0

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        await self.listeners.start()
        self._housekeeping = asyncio.create_task(self._housekeep())
        log.info(
            "SIP recording server on udp:%s tcp:%s tls:%s",
            self.listeners.udp_port,
            self.listeners.tcp_port,
            self.listeners.tls_port,
        )

    async def close(self) -> None:
        self.uas.closing = True
        self.listeners.closing = True
        if self._housekeeping:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
        # Live calls keep their spools (sealed, unlocked): recover_spools archives them.
        self.uas.release_live_calls()
        # Calls being archived finish (their BYE gets its answer); the rest is cancelled.
        await self.uas.tasks.shutdown(self.config.bye_archive_timeout_s + 5)
        self.uas.calls.clear()
        await self.listeners.close()

    # -- what the listeners deliver --------------------------------------------------------

    def on_message(self, data: bytes, reply: Reply, transport: Transport, peer: Peer) -> None:
        if not data.strip():
            return  # keep-alive
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            if exc.partial is None:
                self.counters.dropped_sip += 1
            self._bad_request(exc, reply)
            return
        if not msg.is_request:
            return  # responses to our BYEs: nothing to do
        if not self.allowlist.allows(peer[0]):
            self.counters.refused += 1
            if msg.method != "ACK":
                reply(make_response(msg, 403, "Forbidden (address not allowed)").to_bytes())
            return
        self.counters.requests += 1
        method = msg.method or ""
        try:
            key = transaction_key(msg)
        except SipParseError as exc:
            self._bad_request(SipParseError(exc.reason, partial=msg), reply)
            return
        if method != "ACK" and self.responses.replay(key, reply):
            return
        uas = self.uas
        if method == "INVITE":
            uas.invite(msg, reply, transport, peer, key)
        elif method == "ACK":
            uas.ack(msg)
        elif method == "BYE":
            uas.bye(msg, reply, key)
        elif method == "CANCEL":
            uas.cancel(msg, reply, key)
        elif method == "OPTIONS":
            self.responses.respond(
                key,
                reply,
                make_response(
                    msg,
                    200,
                    "OK",
                    to_tag=new_tag(),
                    headers=[("Allow", ALLOW), ("Accept", ACCEPT), ("Supported", "timer")],
                ),
            )
        elif method == "UPDATE":
            uas.update(msg, reply, key)
        elif method == "INFO":
            call = uas.dialog_call(msg)
            status = (200, "OK") if call else (481, "Call/Transaction Does Not Exist")
            self.responses.respond(key, reply, make_response(msg, *status))
        else:
            self.responses.respond(
                key,
                reply,
                make_response(msg, 405, "Method Not Allowed", headers=[("Allow", ALLOW)]),
            )

    def connection_in_use(self, peer: Peer) -> bool:
        """A live call came in on this TCP/TLS connection (its BYE and ours travel on it)."""
        return any(
            call.transport.stream and call.remote_addr == peer and call.state.live
            for call in self.uas.calls.values()
        )

    def on_unframeable(self, data: bytes, exc: SipParseError, reply: Reply) -> None:
        self.counters.dropped_sip += 1
        self._bad_request(exc, reply)

    def _bad_request(self, exc: SipParseError, reply: Reply) -> None:
        """Answer 400 when enough of the request was read to answer it (never an ACK)."""
        partial = exc.partial
        if partial is None or not partial.is_request or partial.get("via") is None:
            return
        if partial.method == "ACK":
            return
        self.counters.bad_requests += 1
        reply(make_response(partial, 400, exc.reason).to_bytes())

    # -- housekeeping ------------------------------------------------------------------------

    async def _housekeep(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(HOUSEKEEPING_S)
            now = time.monotonic()
            lag_ms = int(1000 * (now - before - HOUSEKEEPING_S))
            if lag_ms > self.counters.loop_lag_max_ms:
                self.counters.loop_lag_max_ms = lag_ms
            self.uas.check_calls(now)
            self.responses.expire(now)
            if now >= self._retry_at:
                self._retry_at = now + self.config.archive_retry_interval_s
                self.uas.tasks.spawn(self.uas.retry_spools())
            watch, tls = self.listeners.certificate_watch, self.config.tls
            if watch is not None and tls is not None and now >= self._certificate_check_at:
                self._certificate_check_at = now + tls.reload_check_s
                watch.check()  # a rotated certificate: new handshakes get it


class SipServerHandle:
    """What ``commarchive serve`` holds: bound ports, counters, close()."""

    def __init__(self, server: SipServer) -> None:
        self._server = server

    @property
    def udp_port(self) -> int | None:
        return self._server.listeners.udp_port

    @property
    def tcp_port(self) -> int | None:
        return self._server.listeners.tcp_port

    @property
    def tls_port(self) -> int | None:
        return self._server.listeners.tls_port

    @property
    def counters(self) -> SipCounters:
        return self._server.counters

    @property
    def archived(self) -> list[str]:
        """Item ids archived by this server, oldest first."""
        return list(self._server.uas.archived)

    def active_calls(self) -> dict[str, list[int]]:
        """Call-ID -> RTP ports of its live streams (for tests and diagnostics)."""
        return {
            cid: [s.port for s in call.streams if s.active]
            for cid, call in self._server.uas.calls.items()
            if call.state.live
        }

    async def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Wait until no call is live or being archived; False on timeout."""
        uas = self._server.uas
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not uas.calls and not uas.finishing:
                return True
            await asyncio.sleep(0.05)
        return False

    async def close(self) -> None:
        await self._server.close()


async def start_sip_server(archive: Archive, config: SipConfig) -> SipServerHandle:
    """Bind the SIP ports (UDP and/or TCP) and start serving in the running loop."""
    server = SipServer(archive, config)
    await server.start()
    return SipServerHandle(server)
