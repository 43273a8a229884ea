"""SIPREC session recording server (RFC 7866) over UDP and TCP, in the caller's asyncio loop.

One :class:`_Call` per recording session (dialog). Each offered audio stream gets
its own RTP port; every packet is placed on the call's timeline
(:mod:`ingest.sip.rtp`) and sealed into the call's spool as it arrives
(:mod:`ingest.sip.spool`), so nothing plain reaches disk and a crash leaves a
recoverable recording. At BYE the spool is turned into an item and archived in
a worker thread, and BYE is answered ``200`` only once the item is durable.

Transactions are kept as simply as a UAS can afford: responses are cached per
(Call-ID, branch, CSeq, method) so retransmitted requests get the same answer
and never a second recording; the ``200`` to an INVITE is retransmitted over
UDP until the ACK comes (RFC 3261 13.3.1.4).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, cast

from archive.errors import ArchiveError, TemporaryFailure
from ingest.sip.message import (
    SipMessage,
    SipParseError,
    body_parts,
    frame_length,
    header_params,
    make_response,
    new_branch,
    new_tag,
    parse_message,
    parse_name_addr,
    split_commas,
)
from ingest.sip.metadata import MetadataError, RecordingMetadata, parse_metadata
from ingest.sip.recording import archive_spool, recover_spools, spool_dir
from ingest.sip.rtp import StreamTimeline, parse_rtp
from ingest.sip.sdp import (
    AnswerStream,
    Codec,
    SdpError,
    SessionDescription,
    build_answer,
    new_session_id,
    parse_sdp,
)
from ingest.sip.spool import SpoolWriter
from keys import KeysError

if TYPE_CHECKING:
    from archive.service import Archive

__all__ = ["SipConfig", "SipCounters", "SipServerHandle", "recover_spools", "start_sip_server"]

log = logging.getLogger("commarchive.sip")

ALLOW: Final = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO"
ACCEPT: Final = "application/sdp, application/rs-metadata+xml, multipart/mixed"
METADATA_TYPE: Final = "application/rs-metadata+xml"
T1_S: Final = 0.5
T2_S: Final = 4.0
TIMER_B_S: Final = 32.0
TRANSACTION_TTL_S: Final = 32.0
HOUSEKEEPING_S: Final = 0.25
MAX_TCP_CONNECTIONS: Final = 1024
SIP_RECEIVE_BUFFER_BYTES: Final = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SipConfig:
    host: str = "127.0.0.1"
    port: int = 5060
    udp: bool = True
    tcp: bool = True
    #: Address put in Contact and SDP (defaults to ``host``, or 127.0.0.1 for a wildcard).
    advertise: str | None = None
    #: Networks (CIDR) allowed to send SIP; everything else gets 403 and no call.
    allowlist: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    rtp_port_range: tuple[int, int] = (20000, 40000)
    rtp_inactivity_timeout_s: float = 30.0
    max_calls: int = 500
    session_expires_s: int = 1800
    min_session_expires_s: int = 90
    #: Wait this long before answering an INVITE (a window for CANCEL; 0 in production).
    answer_delay_s: float = 0.0
    #: How long BYE waits for the archive before answering 500 (the spool is kept and retried).
    bye_archive_timeout_s: float = 10.0
    archive_retry_interval_s: float = 5.0
    #: A call (even one on hold, with no session timer) is ended, truncated, after this long.
    max_call_duration_s: float = 6 * 3600.0
    #: Receive buffer per RTP socket: rides out bursts and short stalls (capped by rmem_max).
    rtp_socket_buffer_bytes: int = 1024 * 1024

    @property
    def contact_host(self) -> str:
        if self.advertise:
            return self.advertise
        return "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host


@dataclass(slots=True)
class SipCounters:
    requests: int = 0
    bad_requests: int = 0
    dropped_sip: int = 0
    dropped_rtp: int = 0
    rtp_packets: int = 0
    rtp_duplicates: int = 0
    rtp_events: int = 0
    calls_started: int = 0
    calls_rejected: int = 0
    #: Requests from addresses outside the allowlist (answered 403).
    refused: int = 0
    #: RTP packets from a source other than the stream's latched one (dropped).
    rtp_foreign: int = 0
    calls_archived: int = 0
    calls_truncated: int = 0
    archive_failures: int = 0
    #: Worst event-loop delay seen by the housekeeping timer (ms): a stall indicator.
    loop_lag_max_ms: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


Reply = Callable[[bytes], None]


class _RtpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: _SipServer, call: _Call, stream: _Stream) -> None:
        self.server = server
        self.call = call
        self.stream = stream

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        # Latch onto the first source: nobody else can inject audio into the recording.
        source = (str(addr[0]), int(addr[1]))
        if self.stream.source is None:
            self.stream.source = source
        elif source != self.stream.source:
            self.server.counters.dropped_rtp += 1
            self.server.counters.rtp_foreign += 1
            return
        self.server.on_rtp(self.call, self.stream, data)

    def error_received(self, exc: Exception) -> None:
        pass


@dataclass(slots=True)
class _Stream:
    index: int
    label: str
    port: int
    payloads: dict[int, Codec]
    timeline: StreamTimeline
    transport: asyncio.DatagramTransport | None = None
    active: bool = True
    #: The SRC offered to send on it (not on hold: a=inactive / a=recvonly).
    sending: bool = True
    #: Where its RTP comes from (latched on the first packet).
    source: tuple[str, int] | None = None


@dataclass(slots=True)
class _Call:
    call_id: str
    remote_tag: str
    local_tag: str
    invite: SipMessage
    reply: Reply
    transport_name: str
    remote_addr: tuple[str, int]
    spool: SpoolWriter
    metadata: RecordingMetadata
    metadata_xml: str | None
    state: str = "pending"  # pending -> confirmed -> ending -> done
    streams: list[_Stream] = field(default_factory=list)
    sdp_session_id: int = field(default_factory=new_session_id)
    sdp_version: int = 0
    last_answer: bytes = b""
    ok_response: bytes | None = None
    ok_acked: bool = True
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    created_mono: float = field(default_factory=time.monotonic)
    media_started_at: datetime | None = None
    first_rtp: float | None = None
    last_activity: float = field(default_factory=time.monotonic)
    session_expires_s: int | None = None
    session_deadline: float | None = None
    local_cseq: int = 1
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)


class SipServerHandle:
    """What ``commarchive serve`` holds: bound ports, counters, close()."""

    def __init__(self, server: _SipServer) -> None:
        self._server = server

    @property
    def udp_port(self) -> int | None:
        return self._server.udp_port

    @property
    def tcp_port(self) -> int | None:
        return self._server.tcp_port

    @property
    def counters(self) -> SipCounters:
        return self._server.counters

    @property
    def archived(self) -> list[str]:
        """Item ids archived by this server, oldest first."""
        return list(self._server.archived)

    def active_calls(self) -> dict[str, list[int]]:
        """Call-ID -> RTP ports of its live streams (for tests and diagnostics)."""
        return {
            cid: [s.port for s in call.streams if s.active]
            for cid, call in self._server.calls.items()
            if call.state in ("pending", "confirmed")
        }

    async def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Wait until no call is live or being archived; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self._server.calls and not self._server.finishing:
                return True
            await asyncio.sleep(0.05)
        return False

    async def close(self) -> None:
        await self._server.close()


async def start_sip_server(archive: Archive, config: SipConfig) -> SipServerHandle:
    """Bind the SIP ports (UDP and/or TCP) and start serving in the running loop."""
    server = _SipServer(archive, config)
    await server.start()
    return SipServerHandle(server)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: _SipServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        transport = self.transport
        if transport is None:
            return
        peer = (str(addr[0]), int(addr[1]))

        def reply(payload: bytes) -> None:
            transport.sendto(payload, peer)

        self.server.on_message(data, reply, "udp", peer)

    def error_received(self, exc: Exception) -> None:
        pass


class _SipServer:
    def __init__(self, archive: Archive, config: SipConfig) -> None:
        self.archive = archive
        self.config = config
        self.counters = SipCounters()
        self.calls: dict[str, _Call] = {}
        self.finishing: set[str] = set()
        self.archived: list[str] = []
        self.udp_port: int | None = None
        self.tcp_port: int | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tcp_writers: set[asyncio.StreamWriter] = set()
        self._responses: dict[tuple[str, str, int, str], tuple[bytes | None, float]] = {}
        self._next_port = config.rtp_port_range[0] & ~1
        self._housekeeping: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._finishing_tasks: set[asyncio.Task[Any]] = set()
        self._retry_at = 0.0
        self._closing = False
        self._networks = tuple(ipaddress.ip_network(n, strict=False) for n in config.allowlist)

    def _allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config
        if cfg.udp:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(cfg.host, cfg.port)
            )
            self._udp = transport
            _set_receive_buffer(transport, SIP_RECEIVE_BUFFER_BYTES)
            self.udp_port = int(transport.get_extra_info("sockname")[1])
        if cfg.tcp:
            tcp_port = self.udp_port if cfg.port == 0 and self.udp_port else cfg.port
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, cfg.host, tcp_port)
            except OSError:
                if cfg.port != 0:
                    raise
                self._tcp = await asyncio.start_server(self._serve_tcp, cfg.host, 0)
            self.tcp_port = int(self._tcp.sockets[0].getsockname()[1])
        self._housekeeping = asyncio.create_task(self._housekeep())
        log.info("SIP recording server on udp:%s tcp:%s", self.udp_port, self.tcp_port)

    async def close(self) -> None:
        self._closing = True
        if self._housekeeping:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
        # Live calls keep their spools (sealed, unlocked): recover_spools archives them.
        for call in list(self.calls.values()):
            if call.call_id in self.finishing:
                continue
            self._stop_media(call)
            call.spool.release()
        # Calls being archived finish (their BYE gets its answer); the rest is cancelled.
        for task in list(self._tasks):
            if task not in self._finishing_tasks:
                task.cancel()
        pending = list(self._tasks)
        if pending:
            await asyncio.wait(pending, timeout=self.config.bye_archive_timeout_s + 5)
        self.calls.clear()
        if self._udp:
            self._udp.close()
        if self._tcp:
            self._tcp.close()
            for writer in list(self._tcp_writers):
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), timeout=2)

    def _spawn(self, coro: Any, *, finishing: bool = False) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if finishing:
            self._finishing_tasks.add(task)
            task.add_done_callback(self._finishing_tasks.discard)
        return task

    # -- transports -------------------------------------------------------------------

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tcp_writers) >= MAX_TCP_CONNECTIONS:
            writer.close()
            return
        self._tcp_writers.add(writer)
        peer = writer.get_extra_info("peername") or ("", 0)
        addr = (str(peer[0]), int(peer[1]))

        def reply(payload: bytes) -> None:
            if not writer.is_closing():
                writer.write(payload)

        buffer = bytearray()
        try:
            while not self._closing:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                buffer += chunk
                while buffer:
                    # RFC 5626 keep-alive: CRLFCRLF ping, CRLF pong.
                    if buffer.startswith(b"\r\n\r\n"):
                        del buffer[:4]
                        reply(b"\r\n")
                        continue
                    if buffer.startswith(b"\r\n"):
                        del buffer[:2]
                        continue
                    try:
                        size = frame_length(buffer)
                    except SipParseError as exc:
                        self.counters.dropped_sip += 1
                        self._bad_request(bytes(buffer[:4096]), exc, reply)
                        return
                    if size is None:
                        break
                    frame = bytes(buffer[:size])
                    del buffer[:size]
                    self.on_message(frame, reply, "tcp", addr)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tcp_writers.discard(writer)
            writer.close()

    def _bad_request(self, data: bytes, exc: SipParseError, reply: Reply) -> None:
        partial = exc.partial
        if partial is None or not partial.is_request or partial.get("via") is None:
            return
        if partial.method == "ACK":
            return
        self.counters.bad_requests += 1
        reply(make_response(partial, 400, exc.reason).to_bytes())

    # -- SIP dispatch -------------------------------------------------------------------

    def on_message(self, data: bytes, reply: Reply, transport: str, addr: tuple[str, int]) -> None:
        if not data.strip():
            return  # keep-alive
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            if exc.partial is None:
                self.counters.dropped_sip += 1
            self._bad_request(data, exc, reply)
            return
        if not msg.is_request:
            return  # responses to our BYEs: nothing to do
        if not self._allowed(addr[0]):
            self.counters.refused += 1
            if msg.method != "ACK":
                reply(make_response(msg, 403, "Forbidden (address not allowed)").to_bytes())
            return
        self.counters.requests += 1
        method = msg.method or ""
        try:
            cseq_num, _ = msg.cseq
        except SipParseError as exc:
            self._bad_request(data, SipParseError(exc.reason, partial=msg), reply)
            return
        key = (msg.call_id, msg.branch, cseq_num, method)
        if method != "ACK" and key in self._responses:
            cached, _ = self._responses[key]
            if cached is not None:
                reply(cached)
            return
        if method == "INVITE":
            self._on_invite(msg, reply, transport, addr, key)
        elif method == "ACK":
            self._on_ack(msg)
        elif method == "BYE":
            self._on_bye(msg, reply, key)
        elif method == "CANCEL":
            self._on_cancel(msg, reply, key)
        elif method == "OPTIONS":
            self._respond(
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
            self._on_update(msg, reply, key)
        elif method == "INFO":
            call = self._dialog_call(msg)
            status = (200, "OK") if call else (481, "Call/Transaction Does Not Exist")
            self._respond(key, reply, make_response(msg, *status))
        else:
            self._respond(
                key,
                reply,
                make_response(msg, 405, "Method Not Allowed", headers=[("Allow", ALLOW)]),
            )

    def _respond(self, key: tuple[str, str, int, str], reply: Reply, response: SipMessage) -> bytes:
        raw = response.to_bytes()
        self._responses[key] = (raw, time.monotonic() + TRANSACTION_TTL_S)
        reply(raw)
        return raw

    def _dialog_call(self, msg: SipMessage) -> _Call | None:
        call = self.calls.get(msg.call_id)
        if call is None:
            return None
        to_tag = header_params(msg.get("to") or "").get("tag")
        from_tag = header_params(msg.get("from") or "").get("tag")
        if to_tag != call.local_tag or from_tag != call.remote_tag:
            return None
        return call

    # -- INVITE -----------------------------------------------------------------------------

    def _parse_offer(
        self, msg: SipMessage
    ) -> tuple[SessionDescription | None, RecordingMetadata | None, str | None]:
        sdp: SessionDescription | None = None
        meta: RecordingMetadata | None = None
        xml: str | None = None
        for part in body_parts(msg):
            if part.content_type == "application/sdp" and sdp is None:
                try:
                    sdp = parse_sdp(part.body)
                except SdpError as exc:
                    raise SipParseError(f"Malformed SDP: {exc}", partial=msg) from None
            elif part.content_type == METADATA_TYPE and meta is None:
                try:
                    meta = parse_metadata(part.body)
                except MetadataError as exc:
                    raise SipParseError(f"Malformed Metadata: {exc}", partial=msg) from None
                xml = part.body.decode("utf-8", "replace")
        return sdp, meta, xml

    def _on_invite(
        self,
        msg: SipMessage,
        reply: Reply,
        transport: str,
        addr: tuple[str, int],
        key: tuple[str, str, int, str],
    ) -> None:
        to_tag = header_params(msg.get("to") or "").get("tag")
        from_tag = header_params(msg.get("from") or "").get("tag") or ""
        existing = self.calls.get(msg.call_id)
        if to_tag:
            call = self._dialog_call(msg)
            if call is None or call.state not in ("confirmed", "pending"):
                self._respond(key, reply, _no_such_call(msg))
                return
            self._spawn(self._reinvite(call, msg, reply, key))
            return
        if existing is not None and existing.remote_tag == from_tag:
            # A retransmission that changed its branch: same dialog, same answer.
            if existing.ok_response is not None:
                reply(existing.ok_response)
            return
        try:
            sdp, meta, xml = self._parse_offer(msg)
            if msg.get("contact") is not None:
                parse_name_addr(split_commas(msg.get("contact") or "")[0])
        except SipParseError as exc:
            self.counters.bad_requests += 1
            self._respond(key, reply, make_response(msg, 400, exc.reason))
            return
        if sdp is None:
            self._respond(
                key, reply, make_response(msg, 488, "Not Acceptable Here (SDP offer required)")
            )
            return
        if not from_tag:
            self.counters.bad_requests += 1
            self._respond(key, reply, make_response(msg, 400, "Missing From Tag"))
            return
        if self._closing or len(self.calls) >= self.config.max_calls:
            self.counters.calls_rejected += 1
            self._respond(
                key,
                reply,
                make_response(msg, 503, "Service Unavailable", headers=[("Retry-After", "5")]),
            )
            return
        expires = self._session_expires(msg)
        if isinstance(expires, SipMessage):
            self._respond(key, reply, expires)
            return
        if not any(m.recordable for m in sdp.media):
            self.counters.calls_rejected += 1
            self._respond(
                key,
                reply,
                make_response(
                    msg,
                    488,
                    "Not Acceptable Here (no G.711 audio stream)",
                    headers=[("Warning", '304 commarchive "PCMU or PCMA at 8 kHz required"')],
                ),
            )
            return
        try:
            spool = SpoolWriter(spool_dir(self.archive), self.archive.keyring)
        except (OSError, ArchiveError, KeysError) as exc:
            log.error("cannot open a call spool: %s", type(exc).__name__)
            self._respond(
                key,
                reply,
                make_response(msg, 503, "Service Unavailable", headers=[("Retry-After", "10")]),
            )
            return
        call = _Call(
            call_id=msg.call_id,
            remote_tag=from_tag,
            local_tag=new_tag(),
            invite=msg,
            reply=reply,
            transport_name=transport,
            remote_addr=addr,
            spool=spool,
            metadata=meta or RecordingMetadata(),
            metadata_xml=xml,
            session_expires_s=expires,
        )
        self.calls[call.call_id] = call
        self.counters.calls_started += 1
        trying = make_response(msg, 100, "Trying").to_bytes()
        self._responses[key] = (trying, time.monotonic() + TRANSACTION_TTL_S)
        reply(trying)
        self._spawn(self._answer_initial(call, sdp, key))

    def _session_expires(self, msg: SipMessage) -> int | SipMessage | None:
        raw = msg.get("session-expires")
        supported = {t.strip().lower() for v in msg.get_all("supported") for t in v.split(",")}
        if raw is None:
            return self.config.session_expires_s if "timer" in supported else None
        value = raw.split(";")[0].strip()
        if not value.isdigit():
            return make_response(msg, 400, "Bad Session-Expires")
        seconds = int(value)
        if seconds < self.config.min_session_expires_s:
            return make_response(
                msg,
                422,
                "Session Interval Too Small",
                headers=[("Min-SE", str(self.config.min_session_expires_s))],
            )
        return min(seconds, max(self.config.session_expires_s, self.config.min_session_expires_s))

    async def _allocate(self, call: _Call, stream: _Stream) -> bool:
        loop = asyncio.get_running_loop()
        low, high = self.config.rtp_port_range
        span = max(2, high - low)
        for _ in range(min(64, span // 2)):
            port = self._next_port
            self._next_port += 2
            if self._next_port >= high:
                self._next_port = low & ~1
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _RtpProtocol(self, call, stream), local_addr=(self.config.host, port)
                )
            except OSError:
                continue
            _set_receive_buffer(transport, self.config.rtp_socket_buffer_bytes)
            stream.port = port
            stream.transport = transport
            return True
        return False

    async def _apply_offer(self, call: _Call, sdp: SessionDescription) -> list[AnswerStream]:
        """Map offered m= lines to streams (by a=label), opening ports for new ones."""
        answers: list[AnswerStream] = []
        used: set[int] = set()
        for position, media in enumerate(sdp.media):
            label = media.label if media.label is not None else str(position)
            stream = next(
                (s for s in call.streams if s.label == label and s.index not in used), None
            )
            if not media.recordable:
                if stream is not None and stream.active:
                    self._close_stream(stream)
                answers.append(AnswerStream(0, {}))
                continue
            payloads = media.accepted_payloads()
            if stream is None or not stream.active:
                if stream is None:
                    stream = _Stream(
                        len(call.streams), label, 0, payloads, StreamTimeline(payloads)
                    )
                    call.streams.append(stream)
                else:
                    stream.payloads = payloads
                    stream.timeline.payloads = dict(payloads)
                if not await self._allocate(call, stream):
                    stream.active = False
                    answers.append(AnswerStream(0, {}))
                    continue
                stream.active = True
            else:
                stream.payloads = payloads
                stream.timeline.payloads = dict(payloads)
            stream.sending = media.direction in ("sendonly", "sendrecv")
            used.add(stream.index)
            answers.append(AnswerStream(stream.port, payloads))
        return answers

    def _answer_body(
        self, call: _Call, sdp: SessionDescription, answers: list[AnswerStream]
    ) -> bytes:
        call.sdp_version += 1
        call.last_answer = build_answer(
            sdp,
            answers,
            address=self.config.contact_host,
            session_id=call.sdp_session_id,
            version=call.sdp_version,
        )
        return call.last_answer

    def _ok_headers(self, call: _Call) -> list[tuple[str, str]]:
        transport = ";transport=tcp" if call.transport_name == "tcp" else ""
        port = self.tcp_port if call.transport_name == "tcp" else self.udp_port
        headers = [
            ("Contact", f"<sip:srs@{self.config.contact_host}:{port}{transport}>;+sip.srs"),
            ("Allow", ALLOW),
            ("Content-Type", "application/sdp"),
        ]
        if call.session_expires_s:
            headers.append(("Session-Expires", f"{call.session_expires_s};refresher=uac"))
            headers.append(("Require", "timer"))
            headers.append(("Supported", "timer"))
        return headers

    def _write_info(self, call: _Call) -> None:
        call.spool.write_info(self._info_stub(call))

    async def _answer_initial(
        self, call: _Call, sdp: SessionDescription, key: tuple[str, str, int, str]
    ) -> None:
        try:
            answers = await self._apply_offer(call, sdp)
            if self.config.answer_delay_s > 0:
                await asyncio.sleep(self.config.answer_delay_s)
            if call.state != "pending":
                return  # CANCELled meanwhile
            if not any(a.port for a in answers):
                self._drop_call(call)
                self._respond(key, call.reply, make_response(call.invite, 503, "No RTP Ports"))
                return
            self._write_info(call)
            body = self._answer_body(call, sdp, answers)
            ok = make_response(
                call.invite,
                200,
                "OK",
                to_tag=call.local_tag,
                headers=self._ok_headers(call),
                body=body,
            )
            call.state = "confirmed"
            call.last_activity = time.monotonic()
            if call.session_expires_s:
                call.session_deadline = time.monotonic() + call.session_expires_s
            call.ok_response = self._respond(key, call.reply, ok)
            if call.transport_name == "udp":
                call.ok_acked = False
                self._spawn(self._retransmit_ok(call, call.ok_response))
        except (OSError, ArchiveError, KeysError) as exc:
            log.error("answering a recording session failed: %s", type(exc).__name__)
            self._drop_call(call)
            self._respond(key, call.reply, make_response(call.invite, 500, "Server Internal Error"))

    async def _retransmit_ok(self, call: _Call, raw: bytes) -> None:
        interval = T1_S
        waited = 0.0
        while waited < TIMER_B_S:
            await asyncio.sleep(interval)
            waited += interval
            if call.ok_acked or call.ok_response is not raw or call.state not in ("confirmed",):
                return
            call.reply(raw)
            interval = min(interval * 2, T2_S)

    def _on_ack(self, msg: SipMessage) -> None:
        call = self.calls.get(msg.call_id)
        if call is not None:
            call.ok_acked = True

    async def _reinvite(
        self, call: _Call, msg: SipMessage, reply: Reply, key: tuple[str, str, int, str]
    ) -> None:
        response = await self._renegotiate(call, msg)
        raw = self._respond(key, reply, response)
        if response.status == 200 and call.transport_name == "udp":
            call.ok_response = raw
            call.ok_acked = False
            self._spawn(self._retransmit_ok(call, raw))

    async def _renegotiate(self, call: _Call, msg: SipMessage) -> SipMessage:
        try:
            sdp, meta, xml = self._parse_offer(msg)
        except SipParseError as exc:
            self.counters.bad_requests += 1
            return make_response(msg, 400, exc.reason)
        expires = self._session_expires(msg)
        if isinstance(expires, SipMessage):
            return expires
        if meta is not None:
            call.metadata.merge(meta)
            call.metadata_xml = xml if meta.datamode == "complete" else call.metadata_xml or xml
        if expires:
            call.session_expires_s = expires
            call.session_deadline = time.monotonic() + expires
        call.last_activity = time.monotonic()
        body = call.last_answer
        if sdp is not None:
            # Every stream may be removed (all ports 0): the session stays, metadata may follow.
            answers = await self._apply_offer(call, sdp)
            body = self._answer_body(call, sdp, answers)
        self._write_info(call)
        headers = self._ok_headers(call)
        if not body:
            headers = [h for h in headers if h[0] != "Content-Type"]
        return make_response(msg, 200, "OK", to_tag=call.local_tag, headers=headers, body=body)

    def _on_update(self, msg: SipMessage, reply: Reply, key: tuple[str, str, int, str]) -> None:
        call = self._dialog_call(msg)
        if call is None:
            self._respond(key, reply, _no_such_call(msg))
            return

        async def run() -> None:
            self._respond(key, reply, await self._renegotiate(call, msg))

        self._spawn(run())

    # -- CANCEL / BYE -----------------------------------------------------------------------

    def _on_cancel(self, msg: SipMessage, reply: Reply, key: tuple[str, str, int, str]) -> None:
        call = self.calls.get(msg.call_id)
        if call is None or call.invite.branch != msg.branch:
            self._respond(key, reply, _no_such_call(msg))
            return
        self._respond(key, reply, make_response(msg, 200, "OK"))
        if call.state != "pending":
            return  # already answered: CANCEL has no effect (RFC 3261 9.2)
        call.state = "done"
        invite_key = (call.call_id, call.invite.branch, call.invite.cseq[0], "INVITE")
        self._respond(
            invite_key,
            call.reply,
            make_response(call.invite, 487, "Request Terminated", to_tag=call.local_tag),
        )
        self._drop_call(call)

    def _drop_call(self, call: _Call) -> None:
        """Forget a call that never became a recording (no audio, nothing to keep)."""
        call.state = "done"
        self._stop_media(call)
        call.spool.discard()
        self.calls.pop(call.call_id, None)

    def _on_bye(self, msg: SipMessage, reply: Reply, key: tuple[str, str, int, str]) -> None:
        call = self._dialog_call(msg)
        if call is None or call.state not in ("confirmed", "pending"):
            self._respond(key, reply, _no_such_call(msg))
            return
        # Mark the transaction as in progress: retransmitted BYEs wait for the real answer.
        self._responses[key] = (None, time.monotonic() + TRANSACTION_TTL_S)
        self._spawn(self._finish(call, "ok", None, bye=(msg, reply, key)), finishing=True)

    def _stop_media(self, call: _Call) -> None:
        for stream in call.streams:
            self._close_stream(stream)

    def _close_stream(self, stream: _Stream) -> None:
        stream.active = False
        if stream.transport is not None:
            stream.transport.close()
            stream.transport = None

    async def _finish(
        self,
        call: _Call,
        status: str,
        reason: str | None,
        *,
        bye: tuple[SipMessage, Reply, tuple[str, str, int, str]] | None = None,
    ) -> None:
        if call.state in ("ending", "done"):
            return
        call.state = "ending"
        self.finishing.add(call.call_id)
        self._stop_media(call)
        for stream in call.streams:
            self.counters.rtp_events += stream.timeline.stats.events
            self.counters.rtp_duplicates += stream.timeline.stats.duplicates
        stats = {
            s.label: {
                "packets": s.timeline.stats.packets,
                "duplicates": s.timeline.stats.duplicates,
                "events": s.timeline.stats.events,
                "ssrc_changes": s.timeline.stats.ssrc_changes,
            }
            for s in call.streams
        }
        end = {
            "ended_at": datetime.now(UTC).isoformat(),
            "status": status,
            "reason": reason,
            "rtp_stats": stats,
        }
        item_id: str | None = None
        try:
            self._write_info(call)
            await asyncio.to_thread(call.spool.finish, end)
            item_id = await self._archive_with_deadline(call)
        except OSError as exc:
            log.error("finishing spool %s failed: %s", call.spool.spool_id, type(exc).__name__)
        finally:
            call.state = "done"
            self.calls.pop(call.call_id, None)
            self.finishing.discard(call.call_id)
        if status != "ok":
            self.counters.calls_truncated += 1
        if bye is not None:
            msg, reply, key = bye
            if item_id is not None:
                self._respond(key, reply, make_response(msg, 200, "OK"))
            else:
                self._respond(
                    key,
                    reply,
                    make_response(
                        msg, 500, "Server Internal Error", headers=[("Retry-After", "5")]
                    ),
                )
        else:
            self._send_bye(call)

    async def _archive_with_deadline(self, call: _Call) -> str | None:
        deadline = time.monotonic() + self.config.bye_archive_timeout_s
        delay = 0.2
        while True:
            try:
                item_id = await asyncio.to_thread(archive_spool, self.archive, call.spool.path)
            except TemporaryFailure as exc:
                self.counters.archive_failures += 1
                log.warning("archive unavailable for spool %s: %s", call.spool.spool_id, exc.reason)
                if time.monotonic() + delay > deadline:
                    return None  # the sealed spool stays; housekeeping retries it
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            except Exception as exc:  # the sealed spool stays; recovery retries or sets it aside
                self.counters.archive_failures += 1
                log.error("spool %s not archived: %s", call.spool.spool_id, type(exc).__name__)
                return None
            self.counters.calls_archived += 1
            self.archived.append(item_id)
            return item_id

    def _send_bye(self, call: _Call) -> None:
        """Tell the SRC we ended the session (inactivity, session timer): best effort."""
        contact = call.invite.get("contact")
        try:
            target = parse_name_addr(split_commas(contact)[0]).uri if contact else None
        except SipParseError:
            target = None
        target = target or f"sip:{call.remote_addr[0]}:{call.remote_addr[1]}"
        call.local_cseq += 1
        port = self.tcp_port if call.transport_name == "tcp" else self.udp_port
        proto = "TCP" if call.transport_name == "tcp" else "UDP"
        bye = SipMessage(method="BYE", uri=target)
        bye.add(
            "Via", f"SIP/2.0/{proto} {self.config.contact_host}:{port};branch={new_branch()};rport"
        )
        bye.add("Max-Forwards", "70")
        to_value = call.invite.get("from") or ""
        from_value = call.invite.get("to") or ""
        if "tag=" not in from_value:
            from_value = f"{from_value};tag={call.local_tag}"
        bye.add("From", from_value)
        bye.add("To", to_value)
        bye.add("Call-ID", call.call_id)
        bye.add("CSeq", f"{call.local_cseq} BYE")
        with contextlib.suppress(Exception):
            call.reply(bye.to_bytes())

    # -- RTP ----------------------------------------------------------------------------------

    def on_rtp(self, call: _Call, stream: _Stream, data: bytes) -> None:
        packet = parse_rtp(data)
        if packet is None or not stream.active or call.state not in ("confirmed", "pending"):
            self.counters.dropped_rtp += 1
            return
        now = time.monotonic()
        if call.first_rtp is None:
            call.first_rtp = now
            call.media_started_at = datetime.now(UTC)
            self._write_info(call)
        call.last_activity = now
        placed = stream.timeline.place(packet, now - call.first_rtp)
        if placed is None:
            return
        self.counters.rtp_packets += 1
        offset, codec = placed
        try:
            call.spool.add_audio(stream.index, codec, offset, packet.payload)
        except OSError as exc:
            log.error("spool write failed for %s: %s", call.spool.spool_id, type(exc).__name__)
            self.counters.dropped_rtp += 1

    def _info_stub(self, call: _Call) -> dict[str, Any]:
        return {
            "call_id": call.call_id,
            "started_at": call.created_at.isoformat(),
            "media_started_at": call.media_started_at.isoformat()
            if call.media_started_at
            else None,
            "transport": call.transport_name,
            "metadata": call.metadata.to_json(),
            "metadata_xml": call.metadata_xml,
            "streams": [
                {
                    "index": s.index,
                    "label": s.label,
                    "codecs": sorted({c.value for c in s.payloads.values()}),
                }
                for s in call.streams
            ],
        }

    # -- housekeeping ---------------------------------------------------------------------------

    async def _housekeep(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(HOUSEKEEPING_S)
            now = time.monotonic()
            lag_ms = int(1000 * (now - before - HOUSEKEEPING_S))
            if lag_ms > self.counters.loop_lag_max_ms:
                self.counters.loop_lag_max_ms = lag_ms
            for call in list(self.calls.values()):
                if call.state != "confirmed":
                    continue
                try:
                    call.spool.flush()
                except OSError as exc:
                    log.error("spool flush failed: %s", type(exc).__name__)
                on_hold = not any(st.active and st.sending for st in call.streams)
                if on_hold:
                    call.last_activity = now  # no RTP is expected while held
                reason: str | None = None
                if now - call.last_activity > self.config.rtp_inactivity_timeout_s:
                    reason = "no RTP before the inactivity timeout"
                elif call.session_deadline is not None and now > call.session_deadline:
                    reason = "session timer expired"
                elif now - call.created_mono > self.config.max_call_duration_s:
                    reason = "maximum call duration reached"
                if reason is not None:
                    self._spawn(self._finish(call, "truncated", reason), finishing=True)
            for key, (_, expiry) in list(self._responses.items()):
                if expiry < now:
                    del self._responses[key]
            if now >= self._retry_at:
                self._retry_at = now + self.config.archive_retry_interval_s
                self._spawn(self._retry_spools())

    async def _retry_spools(self) -> None:
        """Archive spools left by failed attempts (archive was down) or earlier crashes."""
        try:
            busy = {c.spool.spool_id for c in self.calls.values()}
            ids = await asyncio.to_thread(recover_spools, self.archive, exclude=busy)
        except Exception as exc:  # a background retry must never die
            log.error("spool retry failed: %s", type(exc).__name__)
            return
        self.archived.extend(ids)
        self.counters.calls_archived += len(ids)


def _no_such_call(msg: SipMessage) -> SipMessage:
    return make_response(msg, 481, "Call/Transaction Does Not Exist")


def _set_receive_buffer(transport: asyncio.BaseTransport, size: int) -> None:
    """A bigger kernel receive buffer, so bursts are not dropped while we are busy."""
    sock = transport.get_extra_info("socket")
    if sock is not None and size:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
