"""SMTP journaling proven by mutual TLS: STARTTLS or implicit TLS, a client certificate required.

A mail server that presents a certificate from the configured CA is
authenticated by it (``tls:<common name>``), in place of AUTH; one without a
certificate, or with another CA's, never finishes the handshake, so never
reaches MAIL. Certificates come from a throwaway CA (:mod:`tests.pki`).
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.service import Archive
from ingest.email import session
from ingest.email.config import SmtpConfig
from ingest.errors import SmtpConfigError
from tests.ingest.email.conftest import RunningServer
from tests.ingest.email.test_smtp import message
from tests.pki import Issued, TestCa

SENDER, RECIPIENTS = "jan@customer.nl", ["support@example.com"]


@pytest.fixture
def ca(tmp_path: Path) -> TestCa:
    return TestCa(tmp_path / "pki")


@pytest.fixture
def server_cert(ca: TestCa) -> Issued:
    return ca.server()


@pytest.fixture
def start(archive: Archive, ca: TestCa, server_cert: Issued) -> Iterator[Any]:
    running: list[RunningServer] = []

    def start(**overrides: Any) -> RunningServer:
        config = SmtpConfig(port=0, tls_cert=server_cert.cert, tls_key=server_cert.key,
                            tls_client_ca=ca.cert_path, **overrides)
        server = RunningServer(archive, config)
        running.append(server)
        return server

    yield start
    for server in running:
        server.close()


def test_starttls_with_a_client_certificate_delivers_without_auth(
    start: Any, ca: TestCa, archive: Archive
) -> None:
    server = start(require_auth=True)
    mta = ca.client("mx-1")
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.mail(SENDER)[0] == 530  # nothing before STARTTLS
        smtp.rset()
        smtp.starttls(context=ca.client_context(mta))
        assert smtp.sendmail(SENDER, RECIPIENTS, message()) == {}
    assert len(archive.item_ids()) == 1


def refused_starttls(port: int, context: ssl.SSLContext) -> bool:
    """True when the client cannot finish STARTTLS or its first command after it fails."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            smtp.starttls(context=context)
            smtp.ehlo()
            return smtp.mail(SENDER)[0] != 250
    except (ssl.SSLError, smtplib.SMTPException, OSError):
        return True


def test_starttls_without_a_certificate_or_with_another_cas_never_reaches_mail(
    start: Any, ca: TestCa, archive: Archive, tmp_path: Path
) -> None:
    server = start()
    stranger = TestCa(tmp_path / "other", name="other CA").client("mx-stranger")
    assert refused_starttls(server.port, ca.client_context())
    assert refused_starttls(server.port, ca.client_context(stranger))
    assert archive.item_ids() == []


def test_implicit_tls_with_a_client_certificate_delivers(
    start: Any, ca: TestCa, archive: Archive
) -> None:
    server = start(implicit_tls=True, require_auth=True)
    mta = ca.client("mx-2")
    with smtplib.SMTP_SSL("127.0.0.1", server.port, timeout=10,
                          context=ca.client_context(mta)) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("starttls")
        assert smtp.sendmail(SENDER, RECIPIENTS, message()) == {}
    assert len(archive.item_ids()) == 1
    with pytest.raises((ssl.SSLError, smtplib.SMTPException, OSError)):  # no certificate
        anonymous = smtplib.SMTP_SSL("127.0.0.1", server.port, timeout=10,
                                     context=ca.client_context())
        with anonymous:
            anonymous.ehlo()
            anonymous.mail(SENDER)


def test_inconsistent_tls_settings_are_refused_with_the_reason(
    archive: Archive, ca: TestCa, server_cert: Issued
) -> None:
    with pytest.raises(SmtpConfigError, match="need tls_cert and tls_key"):
        RunningServer(archive, SmtpConfig(port=0, tls_client_ca=ca.cert_path))
    with pytest.raises(SmtpConfigError, match="with implicit TLS, authenticate by client"):
        RunningServer(archive, SmtpConfig(port=0, tls_cert=server_cert.cert,
                                          tls_key=server_cert.key, implicit_tls=True,
                                          require_auth=True))
    with pytest.raises(SmtpConfigError, match=r"client CA .*nope\.pem"):
        RunningServer(archive, SmtpConfig(port=0, tls_cert=server_cert.cert,
                                          tls_key=server_cert.key,
                                          tls_client_ca=ca.cert_path.with_name("nope.pem")))


def starttls_certificate(port: int, context: ssl.SSLContext) -> str:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.starttls(context=context)
        assert isinstance(smtp.sock, ssl.SSLSocket)
        der = smtp.sock.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


def test_a_rotated_certificate_is_used_from_the_next_connection_without_a_restart(
    start: Any, ca: TestCa, server_cert: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session, "CERTIFICATE_CHECK_S", 0.0)
    server = start()
    mta = ca.client_context(ca.client("mx-3"))
    assert starttls_certificate(server.port, mta) == server_cert.fingerprint
    rotated = ca.server()  # new certificate and key at the same paths
    assert starttls_certificate(server.port, mta) == rotated.fingerprint
