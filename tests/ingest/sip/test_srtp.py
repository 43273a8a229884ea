"""SRTP keyed by SDES over SIP over TLS: recorded as RTP is, forgeries and replays dropped.

The client protects its packets with libsrtp itself (``SrtpKey.protect``), and
the same call is also sent as plain RTP, so the two recordings can be compared.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from ingest.sip.config import SipTlsConfig
from ingest.sip.sdp import parse_sdp
from ingest.sip.srtp import choose_crypto
from tests.ingest.sip.client import (
    JAN_AND_AGENT,
    SiprecClient,
    SrtpKey,
    metadata_xml,
    rtp,
    sdp_offer,
)
from tests.ingest.sip.conftest import RunningSip, read_call
from tests.pki import Issued, TestCa

PACKETS = 100
#: Never sent in either call: a gap of silence a forged packet must not fill.
GAP = 40


@pytest.fixture
def ca(tmp_path: Path) -> TestCa:
    return TestCa(tmp_path / "pki")


@pytest.fixture
def server_cert(ca: TestCa) -> Issued:
    return ca.server()


def start(make_sip: Callable[..., RunningSip], server: Issued, **overrides: object) -> RunningSip:
    tls = SipTlsConfig(cert=server.cert, key=server.key, port=0)
    return make_sip(tls=tls, **overrides)


def tls_client(sip: RunningSip, ca: TestCa) -> SiprecClient:
    assert sip.handle.tls_port is not None
    return SiprecClient(sip.handle.tls_port, tls=ca.client_context())


def speech(ssrc: int, seed: int) -> list[tuple[float, bytes]]:
    """2 s of PCMU whose every packet differs (codes that never decode to silence)."""
    return [
        (i * 0.02, rtp(0, i, 5000 + 160 * i, ssrc,
                       bytes(0x10 + (seed + 3 * i + j) % 0x60 for j in range(160))))
        for i in range(PACKETS)
    ]


def send(streams: Sequence[tuple[int, Sequence[bytes]]]) -> None:
    """Each stream from its own socket, packets interleaved and sent without pacing.

    Later packets are placed by their RTP timestamps, so pacing does not change the
    recording; sending the streams side by side starts them together.
    """
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in streams]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        longest = max(len(packets) for _, packets in streams)
        for i in range(longest):
            for sock, (port, packets) in zip(socks, streams, strict=True):
                if i < len(packets):
                    sock.sendto(packets[i], ("127.0.0.1", port))
            if i % 20 == 19:
                time.sleep(0.005)
    finally:
        for sock in socks:
            sock.close()


def voiced(channel: bytes) -> tuple[int, bytes]:
    """(samples of silence before the first voiced sample, the channel from there, trimmed)."""
    samples = [channel[i:i + 2] for i in range(0, len(channel), 2)]
    first = next(i for i, s in enumerate(samples) if s != b"\0\0")
    last = max(i for i, s in enumerate(samples) if s != b"\0\0")
    return first, b"".join(samples[first:last + 1])


def flipped(packet: bytes, at: int = 30) -> bytes:
    return packet[:at] + bytes([packet[at] ^ 0x01]) + packet[at + 1:]


def record(sip: RunningSip, client: SiprecClient, session: str,
           streams: Callable[[list[int]], Sequence[tuple[int, Sequence[bytes]]]],
           crypto: Sequence[str] | None = None) -> list[tuple[int, bytes]]:
    """Record one two-stream call; the voiced part of each channel (see :func:`voiced`)."""
    dialog, resp = client.invite(["1", "2"], metadata_xml(session, JAN_AND_AGENT),
                                 pts="0", crypto=crypto)
    assert resp.status == 200, resp.reason
    send(streams(dialog.ports))
    time.sleep(0.5)  # the server reads what was sent before the BYE ends the media
    assert client.bye(dialog).status == 200
    client.close()
    audio, details = read_call(sip.archive, sip.handle.archived[-1])
    suites = [s["srtp"] for s in details["streams"]]
    assert suites == ([c.split()[1] for c in crypto] if crypto else [None, None])
    return [voiced(channel) for channel in audio.channels]


@pytest.mark.parametrize("suite", ["AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"])
def test_a_call_in_srtp_over_tls_is_recorded_byte_identical_to_it_in_plain_rtp(
    make_sip: Callable[..., RunningSip], ca: TestCa, server_cert: Issued, suite: str
) -> None:
    sip = start(make_sip, server_cert)
    jan, agent = speech(ssrc=0x1111, seed=1), speech(ssrc=0x2222, seed=50)
    keep = [i for i in range(PACKETS) if i != GAP]

    def plain(ports: list[int]) -> list[tuple[int, list[bytes]]]:
        return [(ports[0], [jan[i][1] for i in keep]), (ports[1], [agent[i][1] for i in keep])]

    plain_audio = record(sip, SiprecClient(sip.port), "sess-plain", plain)

    keys = [SrtpKey.new(suite), SrtpKey.new(suite)]
    secret_jan = [p for _, p in keys[0].protect(jan)]
    secret_agent = [p for _, p in keys[1].protect(agent)]
    forged_by_stranger = SrtpKey.new(suite).protect([jan[GAP]])[0][1]

    def secret(ports: list[int]) -> list[tuple[int, list[bytes]]]:
        jan_sent = [secret_jan[i] for i in keep[:60]]
        # Into the gap: the real packet tampered with, and one made with another key;
        # then a packet sent again (a replay). None of them may reach the recording.
        jan_sent += [flipped(secret_jan[GAP]), forged_by_stranger, secret_jan[10]]
        jan_sent += [secret_jan[i] for i in keep[60:]]
        return [(ports[0], jan_sent), (ports[1], [secret_agent[i] for i in keep])]

    srtp_audio = record(sip, tls_client(sip, ca), "sess-srtp", secret,
                        crypto=[k.crypto() for k in keys])

    # The start of each stream is placed by wall-clock arrival (ingest.sip.rtp), which
    # can differ by a few samples between any two calls; from there on, every byte.
    for (plain_lead, plain_pcm), (srtp_lead, srtp_pcm) in zip(plain_audio, srtp_audio,
                                                            strict=True):
        assert srtp_pcm == plain_pcm
        assert plain_lead < 160 and srtp_lead < 160
    counters = sip.handle.counters
    assert (counters.srtp_auth_failures, counters.srtp_replays) == (2, 1)


def test_the_answer_takes_the_offered_suite_with_a_key_of_its_own(
    make_sip: Callable[..., RunningSip], ca: TestCa, server_cert: Issued
) -> None:
    sip = start(make_sip, server_cert)
    client = tls_client(sip, ca)
    offered = SrtpKey.new()
    # A suite we cannot use first, then one we can: the second is taken.
    dialog, resp = client.invite(
        ["1"], metadata_xml("sess-answer", JAN_AND_AGENT),
        crypto=[f"7 F8_128_HMAC_SHA1_80 inline:{'A' * 40}\r\na=crypto:{offered.crypto()}"])
    assert resp.status == 200, resp.reason
    [media] = parse_sdp(resp.body.encode()).media
    assert media.proto == "RTP/SAVP"
    answered = choose_crypto(media)
    assert answered is not None and (answered.tag, answered.suite) == ("1", offered.suite)
    assert answered.key != offered.key
    client.bye(dialog)
    client.close()


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sdes_keys_over_plain_sip_are_refused_488(
    make_sip: Callable[..., RunningSip], server_cert: Issued, transport: str
) -> None:
    sip = start(make_sip, server_cert)
    port = sip.port if transport == "udp" else sip.handle.tcp_port
    assert port is not None
    client = SiprecClient(port, tcp=transport == "tcp")
    _, resp = client.invite(["1"], metadata_xml("sess-sdes", JAN_AND_AGENT),
                            crypto=[SrtpKey.new().crypto()])
    client.close()
    assert resp.status == 488 and "only over SIP over TLS" in resp.reason
    assert sip.handle.active_calls() == {}


def test_a_reinvite_bringing_sdes_over_udp_is_refused_and_the_call_goes_on(
    make_sip: Callable[..., RunningSip], server_cert: Issued
) -> None:
    sip = start(make_sip, server_cert)
    client = SiprecClient(sip.port)
    dialog, resp = client.invite(["1"], metadata_xml("sess-re", JAN_AND_AGENT), pts="0")
    assert resp.status == 200
    dialog.cseq += 1
    offer = sdp_offer(["1"], pts="0", crypto=[SrtpKey.new().crypto()])
    client.request("INVITE", dialog, content_type="application/sdp", body=offer)
    assert client.recv_final().status == 488
    send([(dialog.ports[0], [p for _, p in speech(ssrc=7, seed=3)])])
    time.sleep(0.5)
    assert client.bye(dialog).status == 200
    client.close()
    assert len(sip.handle.archived) == 1


def test_require_srtp_refuses_plain_rtp_even_over_tls(
    make_sip: Callable[..., RunningSip], ca: TestCa, server_cert: Issued
) -> None:
    sip = start(make_sip, server_cert, require_srtp=True)
    client = tls_client(sip, ca)
    _, resp = client.invite(["1"], metadata_xml("sess-plain-tls", JAN_AND_AGENT))
    assert resp.status == 488 and "SRTP required" in resp.reason
    dialog, resp = client.invite(["1"], metadata_xml("sess-srtp-tls", JAN_AND_AGENT),
                                 crypto=[SrtpKey.new().crypto()])
    assert resp.status == 200, resp.reason
    client.bye(dialog)
    client.close()


def test_an_offer_with_only_unusable_crypto_is_refused_not_recorded_as_plain(
    make_sip: Callable[..., RunningSip], ca: TestCa, server_cert: Issued
) -> None:
    sip = start(make_sip, server_cert)
    client = tls_client(sip, ca)
    key = SrtpKey.new()
    unusable = [f"{key.crypto()}|2^20|1:4", "1 AES_CM_128_HMAC_SHA1_80 inline:dG9vc2hvcnQ="]
    for crypto in unusable:
        _, resp = client.invite(["1"], metadata_xml("sess-bad", JAN_AND_AGENT), crypto=[crypto])
        assert resp.status == 488 and "no supported SDES crypto suite" in resp.reason
    client.close()
