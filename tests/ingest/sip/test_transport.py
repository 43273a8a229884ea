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

    def on_message(self, data: bytes, reply: Reply, transport: Transport, peer: Peer) -> None:
        self.messages.append((data, transport, peer))
        reply(b"echo:" + data[:7])

    def on_unframeable(self, data: bytes, exc: SipParseError, reply: Reply) -> None:
        self.unframeable.append((data, exc.reason))


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
