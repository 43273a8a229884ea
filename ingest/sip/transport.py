"""SIP over UDP, TCP and TLS: the listeners, stream framing, the source allowlist, socket buffers.

Only bytes cross this module's edge. Every complete message goes to a
:class:`MessageSink` together with a ``reply`` function bound to its peer
(the datagram's source, or the TCP connection it came on), so the layers above
never see a socket. TCP carries a stream: messages are cut at their
Content-Length (:func:`ingest.sip.message.frame_length`), RFC 5626 keep-alives
are answered, and a stream that cannot be framed is closed after a best-effort
``400``.

TCP admission, so idle sockets cannot crowd out real recordings: a connection
from outside the allowlist is closed on accept, before a byte is read; one
source address holds at most ``max_tcp_connections_per_source`` connections
(and all together :data:`MAX_TCP_CONNECTIONS`); a connection that sends
nothing for ``tcp_idle_timeout_s`` is closed unless a live call uses it (the
sink says which, :meth:`MessageSink.connection_in_use`): an SRC reconnects
when it has something to say.

TLS is TCP with a handshake in front (:mod:`ingest.tls`): the same
admission runs on accept, before the handshake; the handshake must finish
within ``SipTlsConfig.handshake_timeout_s``; a mutual-TLS client whose
certificate is not on the fingerprint allowlist is cut off before a byte of
SIP is read. Then the stream is framed exactly as over TCP.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any, Final, Protocol, cast

from ingest.sip.config import SipConfig
from ingest.sip.counters import SipCounters
from ingest.sip.message import SipParseError, frame_length
from ingest.tls import CertificateWatch, peer_allowed, server_context

__all__ = [
    "MAX_TCP_CONNECTIONS",
    "SIP_RECEIVE_BUFFER_BYTES",
    "Allowlist",
    "MessageSink",
    "Peer",
    "Reply",
    "SipListeners",
    "Transport",
    "set_receive_buffer",
]

MAX_TCP_CONNECTIONS: Final = 1024
SIP_RECEIVE_BUFFER_BYTES: Final = 4 * 1024 * 1024
TCP_READ_BYTES: Final = 65536
#: How much of an unframeable TCP stream is parsed to answer it 400.
UNFRAMEABLE_ECHO_BYTES: Final = 4096

log = logging.getLogger("commarchive.sip")

#: Sends one message back to where the request came from.
Reply = Callable[[bytes], None]
#: (host, port) of the other end.
Peer = tuple[str, int]


class Transport(StrEnum):
    UDP = "udp"
    TCP = "tcp"
    TLS = "tls"

    @property
    def stream(self) -> bool:
        """A connection (TCP or TLS): reliable, replies travel on it, no retransmissions."""
        return self is not Transport.UDP


class MessageSink(Protocol):
    """Where the listeners deliver what they receive."""

    def on_message(self, data: bytes, reply: Reply, transport: Transport, peer: Peer) -> None:
        """One SIP message (or a blank keep-alive) from ``peer``."""

    def on_unframeable(self, data: bytes, exc: SipParseError, reply: Reply) -> None:
        """The start of a TCP stream that cannot be cut into messages (it is closed next)."""

    def connection_in_use(self, peer: Peer) -> bool:
        """Whether a live call uses the TCP or TLS connection from ``peer`` (kept open idle)."""


class Allowlist:
    """The networks allowed to send SIP; everyone else is refused before any call exists."""

    def __init__(self, networks: Iterable[str]) -> None:
        self._networks = tuple(ipaddress.ip_network(n, strict=False) for n in networks)

    def allows(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        return any(address in network for network in self._networks)


def set_receive_buffer(transport: asyncio.BaseTransport, size: int) -> None:
    """A bigger kernel receive buffer, so bursts are not dropped while we are busy."""
    sock = transport.get_extra_info("socket")
    if sock is not None and size:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, sink: MessageSink) -> None:
        self.sink = sink
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

        self.sink.on_message(data, reply, Transport.UDP, peer)

    def error_received(self, exc: Exception) -> None:
        pass


class SipListeners:
    """The bound UDP socket and TCP server, and the TCP connections they accepted."""

    def __init__(
        self, config: SipConfig, sink: MessageSink, counters: SipCounters | None = None
    ) -> None:
        self.config = config
        self.sink = sink
        self.counters = counters if counters is not None else SipCounters()
        self.udp_port: int | None = None
        self.tcp_port: int | None = None
        self.tls_port: int | None = None
        #: Set when the server shuts down: TCP connections stop reading.
        self.closing = False
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tls: asyncio.Server | None = None
        self._tls_context: ssl.SSLContext | None = None
        #: Reloads a rotated certificate into the TLS context (the server's housekeeping).
        self.certificate_watch: CertificateWatch | None = None
        if config.tls is not None:
            tls = config.tls
            self._tls_context = server_context(
                tls.cert, tls.key, client_ca=tls.client_ca,
                client_fingerprints=tls.client_fingerprints,
            )
            self.certificate_watch = CertificateWatch(tls.cert, tls.key, [self._tls_context])
        self._tcp_writers: set[asyncio.StreamWriter] = set()
        self.allowlist = Allowlist(config.allowlist)
        #: Open TCP connections per source address.
        self._per_source: dict[str, int] = {}
        #: TCP connections closed on accept (outside the allowlist or over a cap).
        self.refused_connections = 0

    def port_for(self, transport: Transport) -> int | None:
        """Our port on ``transport`` (what Contact and Via name)."""
        if transport is Transport.TLS:
            return self.tls_port
        return self.tcp_port if transport is Transport.TCP else self.udp_port

    async def start(self) -> None:
        """Bind UDP and/or TCP; with port 0, TCP takes UDP's port when it is free."""
        loop = asyncio.get_running_loop()
        cfg = self.config
        if cfg.udp:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self.sink), local_addr=(cfg.host, cfg.port)
            )
            self._udp = transport
            set_receive_buffer(transport, SIP_RECEIVE_BUFFER_BYTES)
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
        if cfg.tls is not None:
            self._tls = await asyncio.start_server(self._serve_tls, cfg.tls.host, cfg.tls.port)
            self.tls_port = int(self._tls.sockets[0].getsockname()[1])

    async def close(self) -> None:
        self.closing = True
        if self._udp:
            self._udp.close()
        servers = [server for server in (self._tcp, self._tls) if server is not None]
        for server in servers:
            server.close()
        for writer in list(self._tcp_writers):
            writer.close()
        for server in servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), timeout=2)

    def _admit(self, writer: asyncio.StreamWriter) -> Peer | None:
        """The peer of a new TCP connection, or None when it is to be closed at once."""
        peername = writer.get_extra_info("peername") or ("", 0)
        peer = (str(peername[0]), int(peername[1]))
        if (
            not self.allowlist.allows(peer[0])
            or len(self._tcp_writers) >= MAX_TCP_CONNECTIONS
            or self._per_source.get(peer[0], 0) >= self.config.max_tcp_connections_per_source
        ):
            self.refused_connections += 1
            return None
        return peer

    async def _read_or_idle(self, reader: asyncio.StreamReader, peer: Peer) -> bytes | None:
        """The next bytes; None when the connection idled out (no live call uses it)."""
        while True:
            try:
                async with asyncio.timeout(self.config.tcp_idle_timeout_s):
                    return await reader.read(TCP_READ_BYTES)
            except TimeoutError:
                if not self.sink.connection_in_use(peer):
                    return None

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve_stream(reader, writer, Transport.TCP)

    async def _serve_tls(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._serve_stream(reader, writer, Transport.TLS)

    async def _handshake(self, writer: asyncio.StreamWriter, peer: Peer) -> bool:
        """TLS on an admitted connection; False (counted) when it fails or is not allowed."""
        tls = self.config.tls
        assert tls is not None and self._tls_context is not None
        try:
            await writer.start_tls(
                self._tls_context, ssl_handshake_timeout=tls.handshake_timeout_s
            )
        except (OSError, ssl.SSLError, TimeoutError, asyncio.IncompleteReadError) as exc:
            self.counters.tls_refused += 1
            log.warning("TLS handshake from %s failed: %s", peer[0], type(exc).__name__)
            return False
        if not peer_allowed(writer.get_extra_info("ssl_object"), tls.client_fingerprints):
            self.counters.tls_refused += 1
            log.warning("TLS client %s: certificate not on the fingerprint allowlist", peer[0])
            return False
        return True

    async def _serve_stream(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transport: Transport
    ) -> None:
        peer = self._admit(writer)
        if peer is None:
            writer.transport.abort()  # closed before a byte is read
            return
        self._tcp_writers.add(writer)
        self._per_source[peer[0]] = self._per_source.get(peer[0], 0) + 1

        def reply(payload: bytes) -> None:
            if not writer.is_closing():
                writer.write(payload)

        buffer = bytearray()
        try:
            if transport is Transport.TLS and not await self._handshake(writer, peer):
                writer.transport.abort()  # no SIP was read
                return
            while not self.closing:
                chunk = await self._read_or_idle(reader, peer)
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
                        self.sink.on_unframeable(
                            bytes(buffer[:UNFRAMEABLE_ECHO_BYTES]), exc, reply
                        )
                        return
                    if size is None:
                        break
                    frame = bytes(buffer[:size])
                    del buffer[:size]
                    self.sink.on_message(frame, reply, transport, peer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tcp_writers.discard(writer)
            left = self._per_source.get(peer[0], 1) - 1
            if left > 0:
                self._per_source[peer[0]] = left
            else:
                self._per_source.pop(peer[0], None)
            writer.close()
