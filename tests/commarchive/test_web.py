"""The API and UI over HTTPS (commarchive.web): HSTS, plain HTTP off, live certificate rotation.

In process first (the listeners ``serve`` builds, over the test archive), then
``commarchive serve`` itself as a subprocess with HTTPS and SIP over TLS only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from archive.service import Archive
from commarchive.settings import Settings
from commarchive.web import WebListeners, web_listeners
from search_api.app import create_app
from tests.commarchive.cli.test_cli import cli
from tests.ingest.sip.client import Dialog, SiprecClient
from tests.pki import TestCa
from tests.services import free_port


@pytest.fixture
def ca(tmp_path: Path) -> TestCa:
    return TestCa(tmp_path / "pki")


def run_web(web: WebListeners) -> Iterator[None]:
    """Serve ``web`` in a background event loop, as ``serve`` does, until the test ends."""
    loop = asyncio.new_event_loop()

    async def main() -> None:
        closers = await web.start_companions()
        try:
            await web.main.serve()
        finally:  # in the loop itself: it may not be running any more after the thread
            for close in reversed(closers):
                await close()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not web.main.started or (web.companion is not None and not web.companion.started):
        assert time.monotonic() < deadline, "the web listeners did not start"
        time.sleep(0.05)
    try:
        yield
    finally:
        web.main.should_exit = True
        thread.join(5)
        if thread.is_alive():  # a browser's keep-alive connection: do not wait for it
            web.main.force_exit = True
            if web.companion is not None:
                web.companion.force_exit = True
            thread.join(15)
        assert not thread.is_alive(), "the web listeners did not stop"
        loop.close()


@pytest.fixture
def start_web(archive: Archive, ca: TestCa) -> Iterator[Callable[..., Settings]]:
    runs: list[Iterator[None]] = []
    server = ca.server()

    def start(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "http": f"127.0.0.1:{free_port()}", "https": f"127.0.0.1:{free_port()}",
            "tls": {"cert": server.cert, "key": server.key, "reload_seconds": 0.1},
        }
        values["tls"].update(overrides.pop("tls_extra", {}))
        values.update(overrides)
        settings = Settings(**values)
        run = run_web(web_listeners(create_app(archive), settings))
        next(run)
        runs.append(run)
        return settings

    yield start
    for run in runs:
        for _ in run:
            pass


def served_certificate(address: str, ca: TestCa) -> str:
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw, \
            ca.client_context().wrap_socket(raw, server_hostname="localhost") as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()


def test_the_api_answers_over_https_with_hsts_and_over_http_without(
    start_web: Callable[..., Settings], ca: TestCa
) -> None:
    settings = start_web()
    with httpx.Client(verify=ca.client_context(), timeout=10) as client:
        secure = client.get(f"https://{settings.https}/healthz")
        plain = client.get(f"http://{settings.http}/healthz")
        page = client.get(f"https://{settings.https}/")
    assert secure.status_code == 200 and secure.json()["ok"] is True
    assert secure.headers["strict-transport-security"] == "max-age=31536000"
    assert plain.status_code == 200 and "strict-transport-security" not in plain.headers
    assert page.status_code == 200 and "content-security-policy" in page.headers
    assert page.headers["strict-transport-security"] == "max-age=31536000"


def test_plain_http_can_be_turned_off(
    start_web: Callable[..., Settings], ca: TestCa, archive: Archive
) -> None:
    settings = start_web(http="off")
    web = web_listeners(create_app(archive), settings)
    assert web.main.config.is_ssl and web.companion is None  # one listener, HTTPS
    with httpx.Client(verify=ca.client_context(), timeout=10) as client:
        assert client.get(f"https://{settings.https}/healthz").status_code == 200
    with pytest.raises(ValueError, match="HTTP=off needs COMMARCHIVE_HTTPS"):
        Settings(http="off")


def test_a_rotated_certificate_is_served_without_a_restart(
    start_web: Callable[..., Settings], ca: TestCa
) -> None:
    settings = start_web()
    assert settings.https is not None and settings.tls.cert is not None
    before = served_certificate(settings.https, ca)
    # A keep-alive connection opened before the rotation goes on working after it.
    with httpx.Client(verify=ca.client_context(), timeout=10) as client:
        assert client.get(f"https://{settings.https}/healthz").status_code == 200
        rotated = ca.server()  # new certificate and key at the same paths
        assert rotated.fingerprint != before
        deadline = time.monotonic() + 5
        while served_certificate(settings.https, ca) != rotated.fingerprint:
            assert time.monotonic() < deadline, "the new certificate was not loaded"
            time.sleep(0.05)
        assert client.get(f"https://{settings.https}/healthz").status_code == 200


def test_serve_with_https_and_sip_over_tls_only(tmp_path: Path, ca: TestCa) -> None:
    data_dir = tmp_path / "arc"
    cli("init", str(data_dir))
    server = ca.server()
    https, sip_tls = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = {**os.environ, "COMMARCHIVE_DATA_DIR": str(data_dir),
           "COMMARCHIVE_TLS_CERT": str(server.cert), "COMMARCHIVE_TLS_KEY": str(server.key)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "commarchive", "serve", "--http", "off", "--https", https,
         "--sip-tls", sip_tls],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(verify=ca.client_context(), timeout=5) as client:
            while True:
                try:
                    answer = client.get(f"https://{https}/healthz")
                    break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        err = proc.stderr.read().decode() if proc.stderr else ""
                        raise AssertionError(f"serve did not come up: {err}") from None
                    time.sleep(0.2)
        assert answer.status_code == 200 and "strict-transport-security" in answer.headers
        sip = SiprecClient(int(sip_tls.rpartition(":")[2]), tls=ca.client_context())
        sip.request("OPTIONS", Dialog("opt-1", "t1"))
        assert sip.recv_final().status == 200
        sip.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def upload_call(client: httpx.Client, url: str, **headers: str) -> httpx.Response:
    from ingest.audio import write_wav
    from tests.ingest.test_audio import sine
    from tests.ingest.test_recordings_upload import SIDECAR

    wav = write_wav(8000, [sine(300, 1.0), sine(600, 1.0)])
    return client.post(f"{url}/api/v1/recordings", headers=headers,
                       files={"audio": ("call.wav", wav, "audio/wav")},
                       data={"metadata": json.dumps(SIDECAR)})


def test_a_pbx_with_a_client_certificate_uploads_as_ingest_without_a_token(
    start_web: Callable[..., Settings], ca: TestCa, archive: Archive, tmp_path: Path
) -> None:
    pbx, stranger = ca.client("pbx-1"), TestCa(tmp_path / "other", name="other CA")
    settings = start_web(http="off", tls_extra={"client_ca": ca.cert_path})
    url = f"https://{settings.https}"
    with httpx.Client(verify=ca.client_context(pbx), timeout=20) as client:
        created = upload_call(client, url)
        assert created.status_code == 201, created.text
        # The certificate makes it an ingest machine, nothing more: it cannot read.
        item_id = created.json()["item_id"]
        assert client.get(f"{url}/api/v1/items/{item_id}").status_code == 403
    events = archive.audit.events(actor="tls:pbx-1")
    assert events and item_id in events[0].item_ids
    with httpx.Client(verify=ca.client_context(), timeout=20) as browser_like:
        assert browser_like.get(f"{url}/healthz").status_code == 200  # no certificate: fine
        assert upload_call(browser_like, url).status_code == 401
    other = httpx.Client(verify=ca.client_context(stranger.client("x")), timeout=20)
    with other, pytest.raises(httpx.TransportError):  # another CA's certificate: no handshake
        other.get(f"{url}/healthz")


def test_the_fingerprint_allowlist_narrows_which_certificates_are_ingest(
    start_web: Callable[..., Settings], ca: TestCa
) -> None:
    listed, unlisted = ca.client("pbx-listed"), ca.client("pbx-unlisted")
    settings = start_web(http="off", tls_extra={"client_ca": ca.cert_path,
                                                "client_fingerprints": [listed.fingerprint]})
    url = f"https://{settings.https}"
    with httpx.Client(verify=ca.client_context(unlisted), timeout=20) as client:
        assert upload_call(client, url).status_code == 401
    with httpx.Client(verify=ca.client_context(listed), timeout=20) as client:
        assert upload_call(client, url).status_code == 201
