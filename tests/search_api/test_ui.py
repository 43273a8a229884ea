"""The reviewer UI in real (headless) Chromium: sign in, search, open a call, jump in it."""

from __future__ import annotations

import math
import re
import shutil
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
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
from tests.services import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if IN_CI:
            pytest.fail("chromium/chromedriver missing (Debian packages chromium, chromium-driver)")
        pytest.skip("chromium not installed")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
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
    browser.find_element(By.ID, "token").send_keys("cma_wrong")
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "login-error"), "token_unknown"))

    browser.find_element(By.ID, "token").clear()
    browser.find_element(By.ID, "token").send_keys(token)
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

    call_hit.click()
    wait.until(ec.visibility_of_element_located((By.ID, "transcript-box")))
    lines = browser.find_elements(By.CSS_SELECTOR, "#transcript li")
    assert [li.find_element(By.CLASS_NAME, "speaker").text for li in lines] == ["agent", "customer"]
    audio_src = browser.find_element(By.ID, "audio").get_attribute("src")
    assert audio_src and audio_src.startswith("blob:")
    wait.until(lambda d: d.execute_script("return document.getElementById('audio').duration") > 5)
    lines[1].click()
    position = browser.execute_script("return document.getElementById('audio').currentTime")
    assert 2.9 <= position <= 3.5
    shot = tmp_path / "ui.png" if IN_CI else Path("/tmp/commarchive-ui.png")
    browser.save_screenshot(str(shot))
    assert archive.audit.events(actor="reviewer", action="read")  # the audio read was audited


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
    browser.find_element(By.ID, "token").send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(ec.visibility_of_element_located((By.ID, "search")))
    browser.find_element(By.ID, "q").send_keys("modem")
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "summary"), "+"))
    # 10,000 less the page's hits the catalog does not know (the stand-ins), and a "+".
    assert re.fullmatch(r"9,9\d\d\+ items", browser.find_element(By.ID, "summary").text)
