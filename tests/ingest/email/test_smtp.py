"""The SMTP journaling server, driven with smtplib and swaks against a real archive.

Every test talks to a real aiosmtpd listener on 127.0.0.1 that ingests into the
``archive`` fixture (local store, SQLite catalog and index).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import shutil
import smtplib
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
import uuid
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from archive.config import Role
from archive.errors import StoreUnavailable, TemporaryFailure
from archive.index import SearchQuery
from archive.intake import CommittedGroup, PreparedItem
from archive.model import ItemRecord, ItemStatus, NewItem, PartyRole
from archive.outbox import OutboxLimits
from archive.service import Archive
from archive.store import BlobWriter
from archive.users import User
from ingest.email.config import SmtpConfig
from ingest.errors import SmtpConfigError
from tests.conftest import IN_CI
from tests.ingest.email.conftest import RunningServer, Serve

SWAKS = shutil.which("swaks")


@pytest.fixture
def privacy(archive: Archive) -> User:
    return archive.authenticate(archive.users.add("privacy-officer", Role.PRIVACY))


def message(
    *,
    subject: str = "Invoice question",
    body: str = "Hello, my invoice is wrong.",
    sender: str = "jan@customer.nl",
    to: str = "support@example.com",
    extra_headers: str = "",
    message_id: str | None = None,
) -> bytes:
    message_id = message_id or f"<{uuid.uuid4().hex}@customer.nl>"
    return (
        f"From: Jan <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nDate: {datetime.now(UTC):%a, %d %b %Y %H:%M:%S +0000}\r\n"
        f"{extra_headers}\r\n{body}\r\n"
    ).encode()


def only_record(archive: Archive) -> ItemRecord:
    ids = archive.item_ids()
    assert len(ids) == 1, ids
    return archive.record(ids[0])


def original(archive: Archive, user: User, item_id: str) -> bytes:
    return archive.read_content(user, item_id).data


def search_total(archive: Archive, user: User, **query: Any) -> int:
    """Hits once every acknowledged message is indexed (a 250 means durable, not searchable)."""
    assert archive.flush_index(10)
    return archive.search(user, SearchQuery(**query)).result.total


# ------------------------------------------------------------------ accept, store, search


def test_smtplib_delivery_is_archived_byte_exact_with_envelope_parties(
    archive: Archive, serve: Serve, privacy: User
) -> None:
    server = serve()
    raw = message(subject="Refund zebrafish", body="Please refund order okapi-17.")
    with server.client() as smtp:
        code, features = smtp.ehlo("mta.example.com")
        assert code == 250 and b"PIPELINING" in features and b"SMTPUTF8" in features
        refused = smtp.sendmail(
            "jan@customer.nl", ["support@example.com", "Compliance@Example.com"], raw
        )
        assert refused == {}
    record = only_record(archive)
    assert record.status is ItemStatus.OK
    assert original(archive, privacy, record.id) == raw
    parties = {(p.role, p.address) for p in record.parties}
    assert (PartyRole.ENVELOPE_TO, "compliance@example.com") in parties  # the Bcc'd custodian
    assert (PartyRole.ENVELOPE_FROM, "jan@customer.nl") in parties
    assert (PartyRole.FROM, "jan@customer.nl") in parties
    assert search_total(archive, privacy, text="zebrafish") == 1
    assert search_total(archive, privacy, text="okapi") == 1
    assert search_total(archive, privacy, party="compliance@example.com") == 1


def test_reply_names_the_item_id(serve: Serve, archive: Archive) -> None:
    server = serve()
    with server.client() as smtp:
        smtp.ehlo()
        smtp.mail("jan@customer.nl")
        smtp.rcpt("support@example.com")
        code, reply = smtp.data(message())
    assert code == 250
    assert reply.decode() == f"2.0.0 Ok: archived as {only_record(archive).id}"


def test_redelivery_is_stored_once_and_new_recipients_are_merged(
    archive: Archive, serve: Serve, privacy: User
) -> None:
    server = serve()
    raw = message()
    with server.client() as smtp:
        smtp.sendmail("jan@customer.nl", ["support@example.com"], raw)
        smtp.mail("jan@customer.nl")
        smtp.rcpt("support@example.com")
        smtp.rcpt("legal@example.com")
        code, reply = smtp.data(raw)
    assert code == 250 and b"already archived" in reply and b"1 new recipients" in reply
    record = only_record(archive)
    envelope_to = {p.address for p in record.parties if p.role is PartyRole.ENVELOPE_TO}
    assert envelope_to == {"support@example.com", "legal@example.com"}
    # different bytes under the same Message-ID are a different message: both kept
    with server.client() as smtp:
        smtp.sendmail("jan@customer.nl", ["support@example.com"], raw.replace(b"wrong", b"right"))
    assert len(archive.item_ids()) == 2


def test_smtputf8_and_8bit_body(archive: Archive, serve: Serve, privacy: User) -> None:
    server = serve()
    raw = (
        "From: Jösé Müller <jösé@exämple.nl>\r\nTo: support@example.com\r\n"
        "Subject: Grüße ✓ ünïcode\r\nMessage-ID: <u1@exämple.nl>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Straße, Ärger und Øresund — 8bit.\r\n"
    ).encode()
    with server.client() as smtp:
        smtp.ehlo()
        assert smtp.has_extn("smtputf8") and smtp.has_extn("8bitmime")
        smtp.sendmail(
            "jösé@exämple.nl", ["support@example.com"], raw,
            mail_options=["SMTPUTF8", "BODY=8BITMIME"],
        )
    record = only_record(archive)
    assert original(archive, privacy, record.id) == raw
    assert ("envelope_from", "jösé@exämple.nl") in {
        (p.role.value, p.address) for p in record.parties
    }
    assert search_total(archive, privacy, text="Øresund") == 1
    assert search_total(archive, privacy, text="ünïcode") == 1


def test_attachment_text_and_html_are_searchable(
    archive: Archive, serve: Serve, privacy: User
) -> None:
    server = serve()
    raw = (
        b"From: jan@customer.nl\r\nTo: support@example.com\r\nSubject: files\r\n"
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/html\r\n\r\n<p>html <b>wombat</b></p>"
        b"<img src=\"http://127.0.0.1:9/pixel\">\r\n"
        b"--B\r\nContent-Type: text/plain; name=notes.txt\r\n"
        b"Content-Disposition: attachment; filename=notes.txt\r\n\r\nnarwhal inside\r\n"
        b"--B--\r\n"
    )
    with server.client() as smtp:
        smtp.sendmail("jan@customer.nl", ["support@example.com"], raw)
    assert search_total(archive, privacy, text="wombat") == 1
    assert search_total(archive, privacy, text="narwhal") == 1
    assert search_total(archive, privacy, text="notes.txt") == 1


def test_smtp_mail_is_searchable_through_the_http_api(archive: Archive, serve: Serve) -> None:
    from fastapi.testclient import TestClient

    from search_api.app import create_app

    token = archive.users.add("reviewer", Role.QUALITY)
    server = serve()
    raw = (
        b"From: Jan <jan@customer.nl>\r\nTo: support@example.com\r\nSubject: Router pangolin\r\n"
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nthe body mentions a tapir\r\n"
        b"--B\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=log.txt"
        b"\r\n\r\nattachment has an axolotl\r\n--B--\r\n"
    )
    with server.client() as smtp:
        smtp.sendmail("jan@customer.nl", ["support@example.com", "custodian@example.com"], raw)
    item_id = only_record(archive).id
    assert archive.flush_index(10)
    with TestClient(create_app(archive)) as http:
        auth = {"Authorization": f"Bearer {token}"}
        for params in ({"q": "pangolin"}, {"q": "tapir"}, {"q": "axolotl"},
                       {"party": "custodian@example.com"}, {"party": "jan@customer.nl"}):
            body = http.get("/api/v1/search", params=params, headers=auth).json()
            assert [hit["id"] for hit in body["items"]] == [item_id], params
        content = http.get(f"/api/v1/items/{item_id}/content", headers=auth)
        assert content.status_code == 200 and content.content == raw


def test_unparseable_message_is_stored_unparsed_not_dropped(
    archive: Archive, serve: Serve, privacy: User
) -> None:
    server = serve()
    raw = b"\x00\x01garbage that is not a message\r\n\xff\xfe\r\n"
    with server.client() as smtp:
        assert smtp.sendmail("jan@customer.nl", ["support@example.com"], raw) == {}
    record = only_record(archive)
    assert record.status is ItemStatus.UNPARSED and record.status_reason == "no_headers"
    assert original(archive, privacy, record.id) == raw


def test_long_lines_are_accepted_byte_exact(
    archive: Archive, serve: Serve, privacy: User
) -> None:
    server = serve()
    raw = message(body="x" * 20_000 + "\r\n.leading dot line\r\n..two dots")
    with server.client() as smtp:
        smtp.sendmail("jan@customer.nl", ["support@example.com"], raw)
    assert original(archive, privacy, only_record(archive).id) == raw


# ------------------------------------------------------------------ limits


def test_message_over_the_size_limit_gets_552_and_the_session_goes_on(
    archive: Archive, serve: Serve
) -> None:
    server = serve(max_message_bytes=100_000)
    big = message(body="y" * 150_000)
    with server.client() as smtp:
        with pytest.raises(smtplib.SMTPSenderRefused) as declared:
            smtp.sendmail("jan@customer.nl", ["support@example.com"], big)  # SIZE=...
        assert declared.value.smtp_code == 552
        smtp.rset()
        smtp.mail("jan@customer.nl")  # no SIZE: refused after the data
        smtp.rcpt("support@example.com")
        code, _ = smtp.data(big)
        assert code == 552
        assert smtp.sendmail("jan@customer.nl", ["support@example.com"], message()) == {}
    assert len(archive.item_ids()) == 1


def test_too_many_recipients_get_452_and_the_rest_is_kept(
    archive: Archive, serve: Serve
) -> None:
    server = serve(max_recipients=3)
    rcpts = [f"r{i}@example.com" for i in range(5)]
    with server.client() as smtp:
        refused = smtp.sendmail("jan@customer.nl", rcpts, message())
    assert set(refused) == {"r3@example.com", "r4@example.com"}
    assert all(code == 452 for code, _ in refused.values())
    envelope_to = {p.address for p in only_record(archive).parties
                   if p.role is PartyRole.ENVELOPE_TO}
    assert envelope_to == set(rcpts[:3])


def test_too_many_headers_is_stored_unparsed(archive: Archive, serve: Serve) -> None:
    server = serve()
    raw = b"".join(b"X-Hop-%d: relay\r\n" % i for i in range(1500)) + b"\r\nbody\r\n"
    with server.client() as smtp:
        smtp.sendmail("jan@customer.nl", ["support@example.com"], raw)
    record = only_record(archive)
    assert (record.status, record.status_reason) == (ItemStatus.UNPARSED, "too_many_headers")


# ------------------------------------------------------------------ durability: 451 on failure


class FlakyStore:
    """Wraps the real store; while ``broken``, every write fails like a full disk."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.broken = False

    def writer(self, key: str) -> AbstractContextManager[BlobWriter]:
        if self.broken:
            raise StoreUnavailable(key, reason=os.strerror(errno.ENOSPC))
        return self.inner.writer(key)  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_store_failure_answers_451_and_recovery_answers_250(
    archive: Archive, serve: Serve, privacy: User
) -> None:
    store = FlakyStore(archive.store)
    archive.vault.store = store  # type: ignore[assignment]
    server = serve()
    raw = message(subject="retry me")
    store.broken = True
    with server.client() as smtp:
        smtp.ehlo()
        smtp.mail("jan@customer.nl")
        smtp.rcpt("support@example.com")
        code, reply = smtp.data(raw)
    assert code == 451 and reply.startswith(b"4.3.0")
    assert archive.item_ids() == []
    store.broken = False  # the MTA retries later
    with server.client() as smtp:
        assert smtp.sendmail("jan@customer.nl", ["support@example.com"], raw) == {}
    assert original(archive, privacy, only_record(archive).id) == raw
    assert server.handle.stats["tempfailed"] == 1


def test_locked_catalog_answers_451(archive: Archive, serve: Serve) -> None:
    server = serve()
    lock = sqlite3.connect(archive.data_dir / "catalog.sqlite", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        with server.client() as smtp:
            smtp.ehlo()
            smtp.mail("jan@customer.nl")
            smtp.rcpt("support@example.com")
            code, _ = smtp.data(message())
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert code == 451
    assert archive.item_ids() == []
    with server.client() as smtp:
        assert smtp.sendmail("jan@customer.nl", ["support@example.com"], message()) == {}


def test_internal_error_answers_451_and_logs_no_content(
    archive: Archive, serve: Serve, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(items: list[PreparedItem], **kwargs: Any) -> CommittedGroup:
        raise RuntimeError(f"failed on {items[0].new.details['subject']}")

    monkeypatch.setattr(archive, "commit_group", broken)
    server = serve()
    caplog.set_level("DEBUG")
    with server.client() as smtp:
        smtp.ehlo()
        smtp.mail("jan@customer.nl")
        smtp.rcpt("support@example.com")
        code, _ = smtp.data(message(subject="Secret merger pelican", body="pelican body"))
    assert code == 451
    assert "RuntimeError" in caplog.text
    assert "pelican" not in caplog.text.lower()


def test_ingest_timeout_answers_451_and_a_late_success_dedupes(
    archive: Archive, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = archive.commit_group

    def slow(items: list[PreparedItem], **kwargs: Any) -> CommittedGroup:
        time.sleep(1.0)
        return real(items)

    monkeypatch.setattr(archive, "commit_group", slow)
    server = serve(ingest_timeout_s=0.3)
    raw = message()
    with server.client() as smtp:
        smtp.ehlo()
        smtp.mail("jan@customer.nl")
        smtp.rcpt("support@example.com")
        assert smtp.data(raw)[0] == 451
    time.sleep(1.2)
    monkeypatch.setattr(archive, "commit_group", real)
    with server.client() as smtp:
        smtp.ehlo()
        smtp.mail("jan@customer.nl")
        smtp.rcpt("support@example.com")
        code, reply = smtp.data(raw)
    assert code == 250 and b"already archived" in reply
    assert len(archive.item_ids()) == 1


# ------------------------------------------------------------------ backpressure


def slow_ingest(
    archive: Archive, monkeypatch: pytest.MonkeyPatch, seconds: float
) -> threading.Event:
    """Every group commit takes ``seconds`` longer; the event is set once one has begun."""
    real = archive.commit_group
    entered = threading.Event()

    def slow(items: list[PreparedItem], **kwargs: Any) -> CommittedGroup:
        entered.set()
        time.sleep(seconds)
        return real(items)

    monkeypatch.setattr(archive, "commit_group", slow)
    return entered


def send_in_thread(server: RunningServer, raw: bytes) -> tuple[threading.Thread, list[Any]]:
    results: list[Any] = []

    def run() -> None:
        smtp = server.client()
        try:
            results.append(smtp.sendmail("jan@customer.nl", ["support@example.com"], raw))
            # A server closing after this 250 may answer the QUIT with 421 (RFC 5321
            # allows 421 at any time): the message is delivered either way.
            try:
                code, reply = smtp.docmd("QUIT")
            except smtplib.SMTPServerDisconnected:
                return
            assert code in (221, 421), (code, reply)
        finally:
            smtp.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results


def test_busy_server_answers_451_instead_of_queueing(
    archive: Archive, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_ingest(archive, monkeypatch, 1.5)
    server = serve(max_concurrent=1, busy_wait_s=0.2)
    first, results = send_in_thread(server, message())
    time.sleep(0.4)
    with server.client() as smtp:
        smtp.ehlo()
        smtp.mail("jan@customer.nl")
        smtp.rcpt("support@example.com")
        code, reply = smtp.putcmd("data") or smtp.getreply()
        assert (code, reply[:5]) == (451, b"4.3.2")
    first.join(10)
    assert results == [{}]


def test_a_250_does_not_wait_for_the_index_and_a_long_backlog_answers_451(
    archive: Archive, serve: Serve, privacy: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real = archive.index.upsert

    def held(docs: Any) -> None:
        release.wait(30)
        real(docs)

    monkeypatch.setattr(archive.index, "upsert", held)
    archive.start_indexing(OutboxLimits(max_depth=2, max_age_s=60))
    server = serve()
    try:
        with server.client() as smtp:
            for n in range(3):  # answered while none of them can be indexed
                smtp.sendmail("jan@customer.nl", ["support@example.com"],
                              message(body=f"tapir number {n}"))
            with pytest.raises(smtplib.SMTPDataError) as refused:
                smtp.sendmail("jan@customer.nl", ["support@example.com"], message())
        assert refused.value.smtp_code == 451 and b"backlog" in refused.value.smtp_error
        assert len(archive.item_ids()) == 3
        assert archive.search(privacy, SearchQuery(text="tapir")).result.total == 0
    finally:
        release.set()
    assert search_total(archive, privacy, text="tapir") == 3
    with server.client() as smtp:
        assert smtp.sendmail("jan@customer.nl", ["support@example.com"], message()) == {}


def test_connection_cap_answers_421(serve: Serve) -> None:
    server = serve(max_connections=1)
    with server.client() as smtp:
        smtp.ehlo()
        with pytest.raises(smtplib.SMTPConnectError) as refused:
            server.client()
        assert refused.value.smtp_code == 421
    with server.client() as smtp:  # the slot is free again
        assert smtp.noop()[0] == 250


def test_ingest_does_not_block_the_event_loop(
    archive: Archive, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_ingest(archive, monkeypatch, 2.0)
    server = serve()
    sending, results = send_in_thread(server, message())
    time.sleep(0.3)
    started = time.monotonic()
    with server.client() as smtp:
        assert smtp.ehlo()[0] == 250
        assert smtp.noop()[0] == 250
    assert time.monotonic() - started < 0.5
    sending.join(10)
    assert results == [{}]


# ------------------------------------------------------------------ access control


def test_client_outside_the_allowlist_is_refused_with_554(serve: Serve) -> None:
    server = serve(allowlist=("10.0.0.0/8",))
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        server.client()
    assert refused.value.smtp_code == 554


def test_invalid_configuration_is_refused(archive: Archive) -> None:
    with pytest.raises(SmtpConfigError):
        RunningServer(archive, SmtpConfig(port=0, allowlist=("not-a-network",)))
    with pytest.raises(SmtpConfigError):
        RunningServer(archive, SmtpConfig(port=0, require_auth=True))  # AUTH needs TLS


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        ), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    return cert_path, key_path


def client_tls(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def test_required_starttls(archive: Archive, serve: Serve, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server = serve(tls_cert=cert, tls_key=key, require_tls=True)
    with server.client() as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        assert smtp.mail("jan@customer.nl")[0] == 530
    with server.client() as smtp:
        smtp.starttls(context=client_tls(cert))
        assert smtp.sendmail("jan@customer.nl", ["support@example.com"], message()) == {}
    assert len(archive.item_ids()) == 1


def test_optional_starttls_is_offered_and_plain_delivery_still_works(
    archive: Archive, serve: Serve, tls_files: tuple[Path, Path]
) -> None:
    cert, key = tls_files
    server = serve(tls_cert=cert, tls_key=key)
    with server.client() as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls") and not smtp.has_extn("auth")
        assert smtp.sendmail("jan@customer.nl", ["support@example.com"], message()) == {}
    with server.client() as smtp:
        smtp.starttls(context=client_tls(cert))
        smtp.ehlo()
        assert smtp.has_extn("auth")  # offered once encrypted, not required
        assert smtp.sendmail("jan@customer.nl", ["support@example.com"], message()) == {}
    assert len(archive.item_ids()) == 2


def test_auth_with_ingest_token(
    archive: Archive, serve: Serve, tls_files: tuple[Path, Path]
) -> None:
    cert, key = tls_files
    ingest_token = archive.users.add("mailserver", Role.INGEST)
    quality_token = archive.users.add("reviewer", Role.QUALITY)
    expired_token = archive.users.add("old-mta", Role.INGEST, expires_in=timedelta(seconds=-1))
    server = serve(tls_cert=cert, tls_key=key, require_tls=True, require_auth=True)
    with server.client() as smtp:
        smtp.starttls(context=client_tls(cert))
        smtp.ehlo()
        assert smtp.mail("jan@customer.nl")[0] == 530  # AUTH first
        for token in (quality_token, expired_token, "cma_wrong"):
            with pytest.raises(smtplib.SMTPAuthenticationError) as denied:
                smtp.login("mailserver", token)
            assert denied.value.smtp_code == 535
        smtp.login("mailserver", ingest_token)
        assert smtp.sendmail("jan@customer.nl", ["support@example.com"], message()) == {}
    with server.client() as smtp:  # AUTH is never offered in the clear
        smtp.ehlo()
        assert not smtp.has_extn("auth")
    assert len(archive.item_ids()) == 1


# ------------------------------------------------------------------ swaks


def swaks(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    if SWAKS is None:
        if IN_CI:
            pytest.fail("swaks is not installed (apt-get install swaks)")
        pytest.skip("swaks is not installed")
    return subprocess.run(
        [SWAKS, "--hide-informational", *args],
        input=stdin.decode("utf-8", "surrogateescape") if stdin is not None else None,
        capture_output=True, text=True, errors="replace", timeout=60, check=False,
    )


def test_swaks_pipelined_delivery_with_8bit_body(
    archive: Archive, serve: Serve, privacy: User, tmp_path: Path
) -> None:
    server = serve()
    raw = (
        "From: Klant <klant@customer.nl>\r\nTo: support@example.com\r\n"
        "Subject: swaks pipelined\r\nMessage-ID: <swaks-1@customer.nl>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "Één capybara, twee Ærøskøbing.\r\n"
    ).encode()
    data = tmp_path / "message.eml"  # test fixture input, not archive content
    data.write_bytes(raw[:-2])  # swaks appends CRLF . CRLF
    result = swaks(
        "--server", f"127.0.0.1:{server.port}", "--pipeline",
        "--from", "klant@customer.nl", "--to", "support@example.com,bcc-audit@example.com",
        "--data", f"@{data}",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PIPELINING" in result.stdout and "2.0.0 Ok: archived as" in result.stdout
    record = only_record(archive)
    assert original(archive, privacy, record.id) == raw
    assert "bcc-audit@example.com" in {p.address for p in record.parties}
    assert search_total(archive, privacy, text="capybara") == 1


def test_swaks_utf8_envelope_and_headers(
    archive: Archive, serve: Serve, privacy: User, tmp_path: Path
) -> None:
    # This swaks has no SMTPUTF8 switch; it sends the UTF-8 envelope and headers as
    # raw 8-bit bytes, which the server (SMTPUTF8 enabled) takes as UTF-8.
    server = serve()
    raw = (
        "From: Jösé <jösé@exämple.nl>\r\nTo: support@example.com\r\n"
        "Subject: Grüße ✓\r\n\r\nStraße"
    ).encode()
    data = tmp_path / "utf8.eml"
    data.write_bytes(raw)
    result = swaks("--server", f"127.0.0.1:{server.port}", "--from", "jösé@exämple.nl",
                   "--to", "support@example.com,ağent@example.com", "--data", f"@{data}")
    assert result.returncode == 0, result.stdout + result.stderr
    record = only_record(archive)
    assert original(archive, privacy, record.id) == raw + b"\r\n"  # swaks ends the last line
    parties = {(p.role.value, p.address) for p in record.parties}
    assert {("envelope_from", "jösé@exämple.nl"), ("envelope_to", "ağent@example.com"),
            ("from", "jösé@exämple.nl")} <= parties


def test_swaks_starttls_auth_and_refusals(
    archive: Archive, serve: Serve, tls_files: tuple[Path, Path]
) -> None:
    cert, key = tls_files
    token = archive.users.add("mailserver", Role.INGEST)
    server = serve(tls_cert=cert, tls_key=key, require_tls=True, require_auth=True)
    common = ["--server", f"127.0.0.1:{server.port}", "--from", "klant@customer.nl",
              "--to", "support@example.com"]
    ok = swaks(*common, "--tls", "--auth", "PLAIN", "--auth-user", "mailserver",
               "--auth-password", token)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = swaks(*common, "--tls", "--auth", "PLAIN", "--auth-user", "mailserver",
                "--auth-password", "cma_not_a_token")
    assert bad.returncode != 0 and "535" in bad.stdout
    plain = swaks(*common)
    assert plain.returncode != 0 and "530" in plain.stdout
    assert len(archive.item_ids()) == 1


def test_swaks_huge_and_malformed(archive: Archive, serve: Serve, tmp_path: Path) -> None:
    server = serve(max_message_bytes=200_000)
    common = ["--server", f"127.0.0.1:{server.port}", "--from", "klant@customer.nl",
              "--to", "support@example.com"]
    body = tmp_path / "huge.txt"
    body.write_bytes(b"z" * 300_000)
    huge = swaks(*common, "--body", f"@{body}")
    assert huge.returncode != 0 and "552" in huge.stdout
    malformed = tmp_path / "malformed.eml"
    malformed.write_bytes(
        b"From: <<<broken\r\nContent-Type: multipart/mixed; boundary=\"\r\n\r\n--\r\n--\r\n\xff"
    )
    result = swaks(*common, "--data", f"@{malformed}")
    assert result.returncode == 0, result.stdout
    record = only_record(archive)
    assert record.status in (ItemStatus.OK, ItemStatus.UNPARSED)


# ------------------------------------------------------------------ privacy


def test_no_plaintext_content_reaches_disk_or_logs(
    archive: Archive, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    server = serve()
    marker = "quokka" + uuid.uuid4().hex[:12]
    raw = message(subject=f"Subject {marker}", body=f"Body {marker}")
    with server.client() as smtp:
        smtp.set_debuglevel(0)
        smtp.sendmail("jan@customer.nl", ["support@example.com"], raw)
    assert len(archive.item_ids()) == 1
    for path in archive.data_dir.rglob("*"):
        if not path.is_file() or path.name.startswith("index.sqlite"):
            continue  # the search index is the one derived plaintext allowed at rest
        assert marker.encode() not in path.read_bytes(), path
    assert marker not in caplog.text


def test_tempfail_from_archive_is_451(
    archive: Archive, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(new: NewItem, **kwargs: Any) -> PreparedItem:
        raise TemporaryFailure("object store", reason="ConnectionError")

    monkeypatch.setattr(archive, "prepare", unavailable)
    server = serve()
    with server.client() as smtp:
        smtp.ehlo()
        smtp.mail("jan@customer.nl")
        smtp.rcpt("support@example.com")
        code, reply = smtp.data(message())
    assert code == 451 and b"try again later" in reply


def test_socket_level_pipelining(archive: Archive, serve: Serve) -> None:
    server = serve()
    raw = message()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"220")
        sock.sendall(b"EHLO pipeline.test\r\n")
        while not reader.readline().startswith(b"250 "):
            pass
        sock.sendall(
            b"MAIL FROM:<jan@customer.nl>\r\nRCPT TO:<a@example.com>\r\n"
            b"RCPT TO:<b@example.com>\r\nDATA\r\n"
        )
        replies = [reader.readline()[:3] for _ in range(4)]
        assert replies == [b"250", b"250", b"250", b"354"]
        sock.sendall(raw + b".\r\nQUIT\r\n")
        assert reader.readline().startswith(b"250 2.0.0")
        assert reader.readline().startswith(b"221")
    assert len(archive.item_ids()) == 1


def test_client_vanishing_mid_data_stores_nothing_and_server_goes_on(
    archive: Archive, serve: Serve
) -> None:
    server = serve()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(b"EHLO gone.test\r\nMAIL FROM:<jan@customer.nl>\r\n"
                     b"RCPT TO:<a@example.com>\r\nDATA\r\n")
        while not reader.readline().startswith(b"354"):
            pass
        sock.sendall(b"Subject: half a message\r\n\r\nand then the line dro")
        reader.close()  # the makefile keeps the socket open otherwise
    time.sleep(0.3)
    assert archive.item_ids() == []
    with server.client() as smtp:
        assert smtp.sendmail("jan@customer.nl", ["support@example.com"], message()) == {}
    assert len(archive.item_ids()) == 1
    deadline = time.monotonic() + 5
    while server.handle.stats["connections"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.handle.stats["connections"] == 0


def test_data_trickled_past_the_time_limit_gets_421_and_nothing_is_stored(
    archive: Archive, serve: Serve
) -> None:
    # GIVEN a client that sends its message a line at a time, each well inside the idle
    # timeout, so only a limit on the whole DATA phase can end it.
    server = serve(data_timeout_s=1.0, idle_timeout_s=30.0)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        sock.sendall(b"EHLO slow.test\r\nMAIL FROM:<jan@customer.nl>\r\n"
                     b"RCPT TO:<a@example.com>\r\nDATA\r\n")
        while not reader.readline().startswith(b"354"):
            pass
        reader.close()  # read raw from here: a timed-out makefile cannot be read again
        sock.settimeout(0.2)
        answer = b""
        for line in range(100):
            try:
                sock.sendall(b"X-Slow-%d: still sending\r\n" % line)
            except OSError:
                break
            try:
                answer = sock.recv(4096)
            except TimeoutError:
                continue
            break
        # THEN the server answers 421 within the limit and closes the connection.
        assert answer.startswith(b"421"), answer
        assert time.monotonic() - started < 10
        sock.settimeout(5)
        rest = b"-"
        while rest:
            rest = sock.recv(4096)
    assert archive.item_ids() == []
    with server.client() as smtp:  # and the next client is served as usual
        assert smtp.sendmail("jan@customer.nl", ["support@example.com"], message()) == {}
    assert len(archive.item_ids()) == 1
