"""SIP transports: UDP and TCP listeners, TCP framing, the allowlist (ingest.sip.transport)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass, field

import pytest

from ingest.sip.config import SipConfig
from ingest.sip.message import SipParseError
from ingest.sip.transport import Allowlist, Peer, Reply, SipListeners, Transport

OPTIONS = (
    b"OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-{n}\r\n"
    b"From: <sip:a@b>;tag=1\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: c{n}\r\nCSeq: 1 OPTIONS\r\n"
    b"Content-Length: 4\r\n\r\nbody"
)


def options(n: int) -> bytes:
    return OPTIONS.replace(b"{n}", str(n).encode())


@dataclass
class Recorder:
    """A message sink that echoes every message back and remembers what it got."""

    messages: list[tuple[bytes, Transport, Peer]] = field(default_factory=list)
    unframeable: list[tuple[bytes, str]] = field(default_factory=list)
    #: TCP peers a live call is using (kept open however idle).
    in_use: set[Peer] = field(default_factory=set)

    def on_message(self, data: bytes, reply: Reply, transport: Transport, peer: Peer) -> None:
        self.messages.append((data, transport, peer))
        reply(b"echo:" + data[:7])

    def on_unframeable(self, data: bytes, exc: SipParseError, reply: Reply) -> None:
        self.unframeable.append((data, exc.reason))

    def connection_in_use(self, peer: Peer) -> bool:
        return peer in self.in_use


CONFIG = SipConfig(host="127.0.0.1", port=0)


async def started(sink: Recorder, config: SipConfig = CONFIG) -> SipListeners:
    listeners = SipListeners(config, sink)
    await listeners.start()
    return listeners


def test_udp_datagrams_reach_the_sink_with_a_reply_to_their_source() -> None:
    sink = Recorder()

    async def main() -> bytes:
        listeners = await started(sink)
        assert listeners.udp_port is not None
        assert listeners.port_for(Transport.UDP) == listeners.udp_port
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.connect(("127.0.0.1", listeners.udp_port))
            sock.send(options(1))
            answer = await asyncio.wait_for(loop.sock_recv(sock, 2048), 5)
            here = sock.getsockname()
        await listeners.close()
        assert sink.messages == [(options(1), Transport.UDP, ("127.0.0.1", here[1]))]
        return answer

    assert asyncio.run(main()) == b"echo:OPTIONS"


def test_tcp_is_cut_into_messages_and_keepalives_are_answered() -> None:
    sink = Recorder()

    async def main() -> bytes:
        listeners = await started(sink)
        assert listeners.tcp_port == listeners.port_for(Transport.TCP)
        # With port 0, TCP takes the same port number as UDP when it can.
        assert listeners.tcp_port == listeners.udp_port
        reader, writer = await asyncio.open_connection("127.0.0.1", listeners.tcp_port)
        two, split = options(1) + options(2), options(3)
        writer.write(b"\r\n\r\n" + two + split[:30])
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(split[30:])
        await writer.drain()
        expected = b"\r\n" + b"echo:OPTIONS" * 3
        got = await asyncio.wait_for(reader.readexactly(len(expected)), 5)
        writer.close()
        await listeners.close()
        return got

    assert asyncio.run(main()) == b"\r\n" + b"echo:OPTIONS" * 3
    assert [m[0] for m in sink.messages] == [options(1), options(2), options(3)]
    assert {m[1] for m in sink.messages} == {Transport.TCP}


def test_an_unframeable_tcp_stream_is_reported_and_closed() -> None:
    sink = Recorder()

    async def main() -> bytes:
        listeners = await started(sink)
        reader, writer = await asyncio.open_connection("127.0.0.1", listeners.tcp_port)
        writer.write(options(1).replace(b"Content-Length: 4", b"Content-Length: four"))
        await writer.drain()
        rest = await asyncio.wait_for(reader.read(), 5)  # EOF: the server hung up
        writer.close()
        await listeners.close()
        return rest

    assert asyncio.run(main()) == b""
    [(data, reason)] = sink.unframeable
    assert reason == "Bad Content-Length" and data.startswith(b"OPTIONS ")
    assert sink.messages == []


def test_only_enabled_transports_are_bound() -> None:
    async def main() -> SipListeners:
        listeners = await started(Recorder(), SipConfig(host="127.0.0.1", port=0, tcp=False))
        await listeners.close()
        return listeners

    listeners = asyncio.run(main())
    assert listeners.udp_port and listeners.tcp_port is None


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("10.2.0.1", False),
        ("::1", True),
        ("fe80::1%eth0", True),  # the zone is not part of the address
        ("fe80::2", False),
        ("pbx.example.com", False),  # names are never trusted
        ("", False),
    ],
)
def test_allowlist_takes_networks_and_refuses_everything_else(host: str, allowed: bool) -> None:
    allowlist = Allowlist(["127.0.0.0/8", "::1/128", "10.1.0.0/16", "fe80::1"])
    assert allowlist.allows(host) is allowed


# -- TCP admission: allowlist on accept, idle timeout, per-source cap ---------------------


async def closed_by_server(reader: asyncio.StreamReader, within_s: float) -> bool:
    """True when the server hangs up within ``within_s`` without sending anything."""
    try:
        return await asyncio.wait_for(reader.read(), within_s) == b""
    except TimeoutError:
        return False
    except ConnectionError:
        return True


def test_tcp_from_outside_the_allowlist_is_closed_on_accept() -> None:
    sink = Recorder()
    config = SipConfig(host="127.0.0.1", port=0, allowlist=("192.0.2.0/24",))

    async def main() -> tuple[bool, int]:
        listeners = await started(sink, config)
        reader, writer = await asyncio.open_connection("127.0.0.1", listeners.tcp_port)
        # Nothing sent: an idle socket from anywhere must not hold a connection slot.
        closed = await closed_by_server(reader, 2.0)
        writer.close()
        refused = listeners.refused_connections
        await listeners.close()
        return closed, refused

    assert asyncio.run(main()) == (True, 1)
    assert sink.messages == []


def test_an_idle_tcp_connection_is_closed_after_the_idle_timeout() -> None:
    sink = Recorder()
    config = SipConfig(host="127.0.0.1", port=0, tcp_idle_timeout_s=1.0)

    async def main() -> tuple[bool, bool, bool]:
        listeners = await started(sink, config)
        idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", listeners.tcp_port)
        busy_reader, busy_writer = await asyncio.open_connection("127.0.0.1", listeners.tcp_port)
        # A connection a live call uses stays, however quiet the call is.
        sink.in_use.add(busy_writer.get_extra_info("sockname")[:2])
        # Traffic keeps a connection open: each message restarts the idle clock.
        talk_reader, talk_writer = await asyncio.open_connection("127.0.0.1", listeners.tcp_port)
        for n in range(5):  # 1.5 s in all, each pause well inside the timeout
            talk_writer.write(options(n))
            await talk_writer.drain()
            await asyncio.wait_for(talk_reader.readexactly(len(b"echo:OPTIONS")), 5)
            await asyncio.sleep(0.3)
        talk_writer.write(options(9))
        await talk_writer.drain()
        talk_open = await asyncio.wait_for(talk_reader.readexactly(12), 5) == b"echo:OPTIONS"
        idle_closed = await closed_by_server(idle_reader, 3.0)
        busy_closed = await closed_by_server(busy_reader, 1.5)
        for writer in (idle_writer, busy_writer, talk_writer):
            writer.close()
        await listeners.close()
        return idle_closed, busy_closed, talk_open

    assert asyncio.run(main()) == (True, False, True)


def test_tcp_connections_per_source_address_are_capped() -> None:
    sink = Recorder()
    config = SipConfig(host="127.0.0.1", port=0, max_tcp_connections_per_source=3)

    async def main() -> tuple[list[bool], bytes]:
        listeners = await started(sink, config)
        conns = [await asyncio.open_connection("127.0.0.1", listeners.tcp_port)
                 for _ in range(4)]
        closed = [await closed_by_server(reader, 0.5) for reader, _ in conns]
        # Once one closes, the source may connect again.
        conns[0][1].close()
        await asyncio.sleep(0.2)
        reader, writer = await asyncio.open_connection("127.0.0.1", listeners.tcp_port)
        writer.write(options(1))
        await writer.drain()
        answer = await asyncio.wait_for(reader.readexactly(12), 5)
        for _, w in [*conns, (reader, writer)]:
            w.close()
        await listeners.close()
        return closed, answer

    closed, answer = asyncio.run(main())
    assert closed == [False, False, False, True]
    assert answer == b"echo:OPTIONS"
