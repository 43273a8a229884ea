"""SIP over TLS: calls recorded over it, and mutual TLS refusing clients before any SIP.

Certificates come from a throwaway CA made in the test (:mod:`tests.pki`); the
client is the project's own SIPREC test client speaking TLS
(:class:`tests.ingest.sip.client.SiprecClient`).
"""

from __future__ import annotations

import hashlib
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.sip.config import SipTlsConfig
from tests.ingest.sip.client import (
    JAN_AND_AGENT,
    Dialog,
    SiprecClient,
    metadata_xml,
    play_all,
    tone_packets,
)
from tests.ingest.sip.conftest import RunningSip, read_call
from tests.pki import Issued, TestCa


@pytest.fixture
def ca(tmp_path: Path) -> TestCa:
    return TestCa(tmp_path / "pki")


@pytest.fixture
def server_cert(ca: TestCa) -> Issued:
    return ca.server()


def tls_config(server: Issued, **overrides: object) -> SipTlsConfig:
    values: dict[str, object] = {"cert": server.cert, "key": server.key, "port": 0}
    values.update(overrides)
    return SipTlsConfig(**values)  # type: ignore[arg-type]


def tls_port(sip: RunningSip) -> int:
    assert sip.handle.tls_port is not None
    return sip.handle.tls_port


def options_answer(client: SiprecClient) -> int:
    client.request("OPTIONS", Dialog(uuid.uuid4().hex, "t1"))
    return client.recv_final().status


def refusals(sip: RunningSip, expected: int) -> int:
    """The server's count of refused TLS connections, once it has counted ``expected``.

    The client may see the connection end just before the server counts it.
    """
    deadline = time.monotonic() + 5
    while sip.handle.counters.tls_refused < expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return sip.handle.counters.tls_refused


def refused(port: int, context: ssl.SSLContext) -> bool:
    """True when the server ends a TLS connection before it answers any SIP.

    With TLS 1.3 the client's side of the handshake can finish before the server
    has checked the client certificate, so the refusal may show on the first read.
    """
    try:
        client = SiprecClient(port, tls=context, timeout=3)
    except (ssl.SSLError, OSError):
        return True
    try:
        options_answer(client)
    except (ssl.SSLError, OSError):
        return True
    finally:
        client.close()
    return False


def test_a_call_over_tls_is_recorded_and_our_contact_says_tls(
    make_sip: Callable[..., RunningSip], ca: TestCa, server_cert: Issued
) -> None:
    sip = make_sip(tls=tls_config(server_cert))
    client = SiprecClient(tls_port(sip), tls=ca.client_context())
    dialog, resp = client.invite(["1", "2"], metadata_xml("sess-tls", JAN_AND_AGENT))
    assert resp.status == 200, resp.reason
    assert ";transport=tls" in resp.headers["contact"]
    play_all([(dialog.ports[0], tone_packets(1.0)), (dialog.ports[1], tone_packets(1.0, pt=8))])
    assert client.bye(dialog).status == 200
    client.close()
    [item_id] = sip.handle.archived
    audio, details = read_call(sip.archive, item_id)
    assert len(audio.channels) == 2 and abs(details["duration_s"] - 1.0) < 0.05


def test_plain_tcp_to_the_tls_port_gets_no_sip_answer(
    make_sip: Callable[..., RunningSip], server_cert: Issued
) -> None:
    sip = make_sip(tls=tls_config(server_cert, handshake_timeout_s=1.0))
    with socket.create_connection(("127.0.0.1", tls_port(sip)), timeout=5) as sock:
        sock.sendall(b"OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n")
        answer = sock.recv(4096)
    assert b"SIP/2.0" not in answer
    assert sip.handle.counters.requests == 0 and refusals(sip, 1) == 1


def test_mutual_tls_admits_a_client_certificate_from_the_ca(
    make_sip: Callable[..., RunningSip], ca: TestCa, server_cert: Issued
) -> None:
    sbc = ca.client("sbc-1")
    sip = make_sip(tls=tls_config(server_cert, client_ca=ca.cert_path))
    client = SiprecClient(tls_port(sip), tls=ca.client_context(sbc))
    assert options_answer(client) == 200
    client.close()


def test_mutual_tls_refuses_a_client_without_a_certificate_or_from_another_ca(
    make_sip: Callable[..., RunningSip], ca: TestCa, server_cert: Issued, tmp_path: Path
) -> None:
    stranger_ca = TestCa(tmp_path / "other", name="someone else's CA")
    stranger = stranger_ca.client("stranger")
    sip = make_sip(tls=tls_config(server_cert, client_ca=ca.cert_path))
    assert refused(tls_port(sip), ca.client_context())
    assert refused(tls_port(sip), ca.client_context(stranger))
    assert sip.handle.counters.requests == 0 and refusals(sip, 2) == 2


def test_the_fingerprint_allowlist_admits_only_the_listed_certificate(
    make_sip: Callable[..., RunningSip], ca: TestCa, server_cert: Issued
) -> None:
    listed, unlisted = ca.client("sbc-listed"), ca.client("sbc-unlisted")
    fingerprint = ":".join(listed.fingerprint[i:i + 2] for i in range(0, 64, 2)).upper()
    sip = make_sip(tls=tls_config(server_cert, client_ca=ca.cert_path,
                                  client_fingerprints=(fingerprint,)))
    assert refused(tls_port(sip), ca.client_context(unlisted))
    assert sip.handle.counters.requests == 0 and refusals(sip, 1) == 1
    client = SiprecClient(tls_port(sip), tls=ca.client_context(listed))
    assert options_answer(client) == 200
    client.close()


def test_a_rotated_certificate_is_served_without_a_restart_and_open_calls_go_on(
    make_sip: Callable[..., RunningSip], ca: TestCa, server_cert: Issued
) -> None:
    sip = make_sip(tls=tls_config(server_cert, reload_check_s=0.1))
    before = SiprecClient(tls_port(sip), tls=ca.client_context())
    assert certificate_of(before) == server_cert.fingerprint
    rotated = ca.server()  # new certificate and key at the same paths
    deadline = time.monotonic() + 5
    while True:
        after = SiprecClient(tls_port(sip), tls=ca.client_context())
        if certificate_of(after) == rotated.fingerprint or time.monotonic() > deadline:
            break
        after.close()
        time.sleep(0.1)
    assert certificate_of(after) == rotated.fingerprint
    assert options_answer(after) == 200 and options_answer(before) == 200
    before.close()
    after.close()


def certificate_of(client: SiprecClient) -> str:
    assert isinstance(client.sock, ssl.SSLSocket)
    der = client.sock.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


def test_a_client_that_never_starts_its_handshake_is_cut_off_and_counted_against_its_cap(
    make_sip: Callable[..., RunningSip], ca: TestCa, server_cert: Issued
) -> None:
    sip = make_sip(tls=tls_config(server_cert, handshake_timeout_s=1.0),
                   max_tcp_connections_per_source=2)
    port = tls_port(sip)
    quiet = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(2)]
    time.sleep(0.3)
    # Two silent connections fill this address's cap: a third is closed on accept.
    with pytest.raises((ssl.SSLError, OSError)):
        SiprecClient(port, tls=ca.client_context(), timeout=3)
    for sock in quiet:
        assert sock.recv(100) == b""  # the server hung up after the handshake timeout
        sock.close()
    assert refusals(sip, 2) == 2
    client = SiprecClient(port, tls=ca.client_context())  # the slots are free again
    assert options_answer(client) == 200
    client.close()
