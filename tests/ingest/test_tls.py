"""ingest.tls: server contexts that refuse unusable files clearly, and live certificate rotation."""

from __future__ import annotations

import hashlib
import shutil
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.tls import CertificateWatch, TlsConfigError, server_context
from tests.pki import Issued, TestCa


@pytest.fixture
def ca(tmp_path: Path) -> TestCa:
    return TestCa(tmp_path / "pki")


def test_unusable_tls_settings_are_refused_naming_the_file_and_the_reason(
    ca: TestCa, tmp_path: Path
) -> None:
    server = ca.server()
    missing = tmp_path / "nope.pem"
    with pytest.raises(TlsConfigError, match=r"nope\.pem.*file not found"):
        server_context(missing, server.key)
    with pytest.raises(TlsConfigError, match=r"client CA .*nope\.pem.*file not found"):
        server_context(server.cert, server.key, client_ca=missing)
    with pytest.raises(TlsConfigError, match="fingerprint 'abc': not a SHA-256 fingerprint"):
        server_context(server.cert, server.key, client_ca=ca.cert_path,
                       client_fingerprints=("abc",))
    with pytest.raises(TlsConfigError, match="need a client CA file"):
        server_context(server.cert, server.key, client_fingerprints=("ab" * 32,))
    other = ca.client("someone")
    with pytest.raises(TlsConfigError, match=r"someone\.key"):
        server_context(server.cert, other.key)  # a key that is not the certificate's


def served_fingerprint(port: int, ca: TestCa) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ca.client_context().wrap_socket(raw, server_hostname="localhost") as tls:
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return hashlib.sha256(der).hexdigest()


@pytest.fixture
def tls_server(ca: TestCa) -> Iterator[tuple[int, ssl.SSLContext, Issued]]:
    """A bare TLS server on 127.0.0.1 that completes handshakes and closes."""
    server = ca.server()
    context = server_context(server.cert, server.key)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], context, server
    stop.set()
    thread.join(5)
    listener.close()


def test_a_rotated_certificate_goes_to_new_handshakes_and_a_broken_pair_keeps_the_old(
    ca: TestCa, tls_server: tuple[int, ssl.SSLContext, Issued], tmp_path: Path
) -> None:
    port, context, first = tls_server
    watch = CertificateWatch(first.cert, first.key, [context])
    assert not watch.check()  # nothing changed
    assert served_fingerprint(port, ca) == first.fingerprint

    # Half way through a rotation: the new certificate is there, its key is not yet.
    old_key = tmp_path / "old.key"
    shutil.copy(first.key, old_key)
    second = ca.server()  # the same paths, new certificate and key
    shutil.copy(second.key, tmp_path / "new.key")
    shutil.copy(old_key, first.key)
    assert not watch.check()
    assert served_fingerprint(port, ca) == first.fingerprint  # no downtime, old one kept

    shutil.copy(tmp_path / "new.key", first.key)  # the rotation completes
    assert watch.check() and watch.reloads == 1
    assert served_fingerprint(port, ca) == second.fingerprint
