"""The reviewer UI in real (headless) Chromium: sign in, search, open a call, jump in it."""

from __future__ import annotations

import math
import re
import shutil
import struct
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from archive.config import Role
from archive.model import Section
from archive.service import Archive
from ingest.audio import write_wav
from ingest.calls import build_call_item, parse_sidecar, recording_from_file
from tests.conftest import IN_CI, email_item
from tests.search_api.ui_steps import save_screenshot, token_field
from tests.services import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def chrome(tmp_path: Path, *flags: str) -> WebDriver:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if IN_CI:
            pytest.fail("chromium/chromedriver missing (Debian packages chromium, chromium-driver)")
        pytest.skip("chromium not installed")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900", *flags):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    driver = chrome(tmp_path)
    yield driver
    driver.quit()


@pytest.fixture
def offline_browser(tmp_path: Path) -> Iterator[WebDriver]:
    """Chromium with no route out: every host but loopback goes to a proxy that is not
    there, and no name resolves."""
    driver = chrome(tmp_path, f"--proxy-server=http://127.0.0.1:{free_port()}",
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    yield driver
    driver.quit()


@pytest.fixture
def served(archive: Archive) -> Iterator[str]:
    from search_api.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(archive), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _call(archive: Archive) -> str:
    pcm = b"".join(struct.pack("<h", int(6000 * math.sin(i / 5))) for i in range(8000 * 6))
    sidecar = parse_sidecar({"call_id": "ui-1", "from": "+31612345678", "from_name": "Kees Klant",
                             "to": "+31205550100", "agent": "+31205550100",
                             "direction": "inbound", "start": "2026-11-02T09:00:00Z"})
    plan = archive.config
    item_id = archive.ingest(build_call_item(
        recording_from_file(write_wav(8000, [pcm, pcm]), sidecar, source="test", config=plan),
        plan)).item_id
    transcript = {"speakers": [
        {"label": "agent", "channel": 1, "words": [],
         "utterances": [{"start": 0.5, "end": 1.5, "text": "goedemorgen waarmee kan ik helpen"}]},
        {"label": "customer", "channel": 0, "words": [],
         "utterances": [{"start": 3.0, "end": 5.0, "text": "mijn modem knippert oranje"}]},
    ]}
    archive.attach_transcript(item_id, transcript, [
        Section("transcript", "goedemorgen waarmee kan ik helpen", "agent", 0.5),
        Section("transcript", "mijn modem knippert oranje", "customer", 3.0),
    ], "agent: goedemorgen\ncustomer: mijn modem knippert oranje")
    return item_id


def test_reviewer_signs_in_searches_and_jumps_to_the_words(
    browser: WebDriver, served: str, archive: Archive, tmp_path: Path
) -> None:
    token = archive.users.add("reviewer", Role.QUALITY)
    archive.ingest(email_item(subject="Modem <b>bold</b>", body="het modem is stuk"))
    call_id = _call(archive)
    wait = WebDriverWait(browser, 20)

    browser.get(served + "/")
    token_field(browser).send_keys("cma_wrong")
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "login-error"), "token_unknown"))

    browser.find_element(By.ID, "token").clear()
    token_field(browser).send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(ec.visibility_of_element_located((By.ID, "search")))
    browser.find_element(By.ID, "q").send_keys("modem")
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#results mark")))
    assert browser.find_element(By.ID, "summary").text == "2 items"
    # The subject's markup is shown as text, not rendered.
    assert browser.find_elements(By.CSS_SELECTOR, "#results b") == []
    call_hit = wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f"#results li[data-id='{call_id}']")))
    assert "customer at 0:03" in call_hit.text
    assert call_hit.find_element(By.TAG_NAME, "mark").text == "modem"

    assert re.fullmatch(r"Call with Kees Klant, 2 Nov \d\d:00, 0:06",
                        call_hit.find_element(By.CLASS_NAME, "title").text)
    mail_hit = browser.find_element(By.CSS_SELECTOR, f"#results li:not([data-id='{call_id}'])")
    meta = mail_hit.find_element(By.CLASS_NAME, "meta").text
    assert meta.endswith(" · Jan, support@example.com"), meta  # each mailbox once

    mail_hit.click()  # the same mailbox as From and envelope sender: one row
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#reader .mail-card")))
    addresses = [td.text for td in
                 browser.find_elements(By.CSS_SELECTOR, "#parties td:nth-child(4)")]
    assert sorted(addresses) == ["jan@customer.nl", "support@example.com"], addresses
    browser.find_element(By.ID, "back").click()
    call_hit = wait.until(ec.element_to_be_clickable(
        (By.CSS_SELECTOR, f"#results li[data-id='{call_id}']")))

    call_hit.click()
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#reader .utterance")))
    assert browser.current_url == f"{served}/items/{call_id}"
    assert browser.find_element(By.ID, "item-title").text.startswith("Call with Kees Klant, ")
    browser.refresh()  # the item's own address works on reload (the session cookie signs in)
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#reader .utterance")))
    assert browser.find_element(By.ID, "item-title").text.startswith("Call with Kees Klant, ")
    lines = browser.find_elements(By.CSS_SELECTOR, "#reader .transcript li")
    assert [li.find_element(By.CLASS_NAME, "speaker").text for li in lines] == ["agent", "customer"]
    audio_src = browser.find_element(By.CSS_SELECTOR, "#reader audio").get_attribute("src")
    assert audio_src == f"{served}/api/v1/items/{call_id}/audio"  # streamed, not a blob
    wait.until(lambda d: d.execute_script(
        "return document.querySelector('#reader audio').duration") > 5)
    lines[1].find_element(By.CLASS_NAME, "word").click()
    position = browser.execute_script("return document.querySelector('#reader audio').currentTime")
    assert 2.9 <= position <= 3.5
    save_screenshot(browser, "ui")
    assert archive.audit.events(actor="reviewer", action="read")  # the audio read was audited


def test_admin_sees_the_setup_warning_and_the_token_stays_out_of_page_storage(
    browser: WebDriver, served: str, archive: Archive, tmp_path: Path
) -> None:
    token = archive.users.add("root", Role.ADMIN)
    wait = WebDriverWait(browser, 20)
    browser.get(served + "/")
    field = token_field(browser)  # the form shows once the page knows nobody is signed in
    login = browser.find_element(By.ID, "login").text
    assert "commarchive users add NAME --role ROLE" in login
    field.send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    banner = wait.until(ec.visibility_of_element_located((By.ID, "setup-warning")))
    assert "archive.toml" in banner.text and "organisation" in banner.text
    assert browser.find_element(By.ID, "who").text == "root (admin)"
    assert not browser.find_element(By.ID, "search").is_displayed()  # admins see no content
    save_screenshot(browser, "admin")
    stored = browser.execute_script(
        "return JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage),"
        " document.cookie, document.getElementById('token').value])")
    assert token not in stored and "commarchive_session" not in stored  # HttpOnly

    browser.refresh()  # the session cookie signs the reload in, with no token at hand
    wait.until(ec.visibility_of_element_located((By.ID, "admin")))
    browser.find_element(By.ID, "logout").click()
    wait.until(ec.visibility_of_element_located((By.ID, "login")))
    browser.refresh()
    wait.until(ec.visibility_of_element_located((By.ID, "login")))
    assert not browser.find_element(By.ID, "admin").is_displayed()


def test_api_docs_render_offline_under_the_unchanged_csp(
    offline_browser: WebDriver, served: str, tmp_path: Path
) -> None:
    wait = WebDriverWait(offline_browser, 30)
    with pytest.raises(WebDriverException, match=r"ERR_PROXY|ERR_NAME"):  # really offline
        offline_browser.get("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css")
    offline_browser.get(served + "/docs")
    title = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".swagger-ui .title")))
    assert "commarchive" in title.text
    operations = offline_browser.find_elements(By.CSS_SELECTOR, ".opblock")
    assert len(operations) >= 28
    assert any("/api/v1/search" in op.text for op in operations)
    save_screenshot(offline_browser, "docs")
    blocked = [e["message"] for e in offline_browser.get_log("browser")
               if "Content Security Policy" in e["message"]]
    assert blocked == []
    offline_browser.get(served + "/redoc")  # ReDoc needs inline styles: the same page
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, ".swagger-ui .title")))

    for path in ("/docs", "/docs/assets/swagger-ui-bundle.js", "/ui/docs.js", "/"):
        with urllib.request.urlopen(served + path, timeout=10) as resp:
            assert resp.headers["Content-Security-Policy"] == EXPECTED_CSP, path
    with urllib.request.urlopen(served + "/docs", timeout=10) as resp:
        assert b"<script>" not in resp.read()  # no inline script to allow


#: The policy, spelled out: loosening ui.CSP for the docs fails here.
EXPECTED_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; media-src 'self' blob:; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def test_a_search_matching_more_than_ten_thousand_items_shows_a_lower_bound(
    browser: WebDriver, served: str, archive: Archive
) -> None:
    from datetime import UTC, datetime

    from archive.index import EXACT_TOTAL_LIMIT
    from tests.conftest import index_doc

    token = archive.users.add("reviewer", Role.QUALITY)
    archive.ingest(email_item(body="modem modem modem"))
    # Index entries without catalog rows stand in for a large archive (never shown).
    old = datetime(2020, 1, 1, tzinfo=UTC)
    archive.index.upsert([index_doc(f"bulk{n}", text="a modem in a longer text",  # type: ignore[misc]
                                    started_at=old) for n in range(EXACT_TOTAL_LIMIT)])
    wait = WebDriverWait(browser, 20)
    browser.get(served + "/")
    token_field(browser).send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(ec.visibility_of_element_located((By.ID, "search")))
    browser.find_element(By.ID, "q").send_keys("modem")
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "summary"), "+"))
    # 10,000 less the page's hits the catalog does not know (the stand-ins), and a "+".
    assert re.fullmatch(r"9,9\d\d\+ items", browser.find_element(By.ID, "summary").text)
