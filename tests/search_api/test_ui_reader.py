"""The reader in real (headless) Chromium, whole journeys.

E-mail: search with filters and pages, open a message, read its header card and its
sanitised HTML with a working link, download its attachment. Call: the player
streams (playback starts while the server still holds back the rest of the file),
the highlighted word follows playback, a click on a word seeks there, speed and
keyboard shortcuts work. Screenshots of each screen are saved like the other UI tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from archive.config import Role
from archive.model import Direction, Section
from archive.service import Archive
from ingest.audio import write_wav
from ingest.calls import ingest_call_file
from search_api.routers.items import MAX_RANGE_BYTES
from tests.conftest import email_item
from tests.search_api.mail_samples import PDF, archive_html_mail
from tests.search_api.test_ui import browser, chrome, served  # noqa: F401  (fixtures)
from tests.search_api.ui_steps import open_result, save_screenshot, token_field
from tests.services import free_port

WORDS = [
    "goedemiddag", "met", "de", "klantenservice", "van", "de", "provider", "u", "spreekt",
    "met", "Sanne", "waarmee", "kan", "ik", "u", "helpen", "vandaag", "mijn", "internet",
    "valt", "steeds", "weg", "sinds", "gisteren", "avond", "en", "de", "modem", "knippert",
    "oranje", "wat", "kan", "ik", "doen",
]
SECONDS = 60


def _shot(driver: WebDriver, name: str) -> Path:
    return save_screenshot(driver, name)


def _sign_in(driver: WebDriver, url: str, token: str) -> WebDriverWait[WebDriver]:
    wait = WebDriverWait(driver, 20)
    driver.set_window_size(1200, 1500)  # the whole reader in each screenshot
    driver.get(url + "/")
    token_field(driver).send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(ec.visibility_of_element_located((By.ID, "search")))
    wait.until(lambda d: len(Select(d.find_element(By.ID, "direction")).options) > 1)
    return wait


def test_a_reviewer_filters_pages_and_reads_an_html_email_and_downloads_its_attachment(
    browser: WebDriver, served: str, archive: Archive, tmp_path: Path  # noqa: F811
) -> None:
    # GIVEN an HTML e-mail with an attachment among 24 other inbound mails and an
    # outbound one, all about an outage
    mail_id = archive_html_mail(archive, "Modem blinks orange after the outage")
    for n in range(24):
        archive.ingest(email_item(subject=f"Outage {n}", body=f"outage report {n}",
                                  started_at=datetime(2026, 10, 1 + n, 9, tzinfo=UTC)))
    reply = email_item(subject="Re: outage", body="we fixed the outage",
                       started_at=datetime(2026, 11, 3, 9, tzinfo=UTC))
    archive.ingest(dataclasses.replace(reply, direction=Direction.OUTBOUND))
    token = archive.users.add("reviewer", Role.QUALITY)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",  # type: ignore[attr-defined]
                            {"behavior": "allow", "downloadPath": str(downloads)})
    wait = _sign_in(browser, served, token)

    # WHEN they search e-mail, inbound only, and page through the results
    browser.find_element(By.ID, "q").send_keys("outage")
    Select(browser.find_element(By.ID, "channel")).select_by_value("email")
    Select(browser.find_element(By.ID, "direction")).select_by_value("inbound")
    browser.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "summary"), "25 items"))
    wait.until(ec.text_to_be_present_in_element((By.ID, "page-info"), "1\u201320 of 25"))
    assert browser.find_elements(By.CSS_SELECTOR, "#results mark")
    _shot(browser, "ui-reader-search")
    browser.find_element(By.ID, "next").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "page-info"), "21\u201325 of 25"))
    assert len(browser.find_elements(By.CSS_SELECTOR, "#results li")) == 5
    # AND the search has its own address: a reload shows the same page of the same search
    assert browser.current_url == (f"{served}/?q=outage&channel=email&direction=inbound"
                                   "&page=2"), browser.current_url
    browser.refresh()
    wait.until(ec.text_to_be_present_in_element((By.ID, "page-info"), "21\u201325 of 25"))
    assert Select(browser.find_element(By.ID, "direction")).first_selected_option.text \
        == "inbound"
    # AND narrow it to November (the outbound reply stays out: inbound only)
    browser.execute_script("document.getElementById('since').value = '2026-11-01';"
                           "document.getElementById('since').dispatchEvent(new Event('change'))")
    wait.until(ec.text_to_be_present_in_element((By.ID, "summary"), "1 item"))
    open_result(browser, mail_id)

    # THEN the message is a card: who, when, what
    card = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#reader .mail-card")))
    assert card.find_element(By.CLASS_NAME, "mail-subject").text == \
        "Modem blinks orange after the outage"
    assert card.find_element(By.CLASS_NAME, "mail-from").text == \
        "Marieke Smit <marieke@customer.nl>"
    assert card.find_element(By.CLASS_NAME, "mail-cc").text == "Billing <billing@example.com>"
    date = card.find_element(By.CLASS_NAME, "mail-date")
    assert date.get_attribute("title") == "Mon, 02 Nov 2026 09:15:00 +0100"
    assert "2026" in date.text
    # AND the HTML body is text with a link that opens elsewhere, nothing loaded or run
    body = browser.find_element(By.CSS_SELECTOR, "#reader .mail-html")
    assert "My modem blinks orange since the outage" in body.text
    link = body.find_element(By.TAG_NAME, "a")
    assert link.get_attribute("href") == "https://status.example.net/outage/42"
    assert link.get_attribute("target") == "_blank"
    assert body.find_elements(By.CSS_SELECTOR, "img, iframe, script, style, [style]") == []
    # AND the plain text is one click away
    browser.find_element(By.XPATH, "//button[text()='Plain text']").click()
    assert "My modem blinks orange" in browser.find_element(
        By.CSS_SELECTOR, "#reader pre.mail-text").text
    browser.find_element(By.XPATH, "//button[text()='Formatted']").click()
    attachment = browser.find_element(By.CSS_SELECTOR, "#reader .mail-attachments li")
    assert "invoice 42.pdf" in attachment.text and "application/pdf" in attachment.text
    _shot(browser, "ui-reader-email")

    # WHEN they download the attachment THEN the file is the one that was sent
    attachment.find_element(By.TAG_NAME, "a").click()
    target = downloads / "invoice 42.pdf"
    deadline = time.monotonic() + 20
    while not (target.exists() and target.stat().st_size == len(PDF)):
        assert time.monotonic() < deadline, list(downloads.iterdir())
        time.sleep(0.1)
    assert target.read_bytes() == PDF
    blocked = [e["message"] for e in browser.get_log("browser")  # type: ignore[attr-defined]
               if "Content Security Policy" in e["message"]]
    assert blocked == []


class AudioGate:
    """ASGI middleware between the browser and the app: records which bytes of the audio
    the server has sent (from each answer's Content-Range), and holds back every audio
    request starting past the first MiB until the test releases it, so whatever plays
    meanwhile played from part of the file."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.ranges: list[str] = []
        #: Byte spans [start, end) of the file handed to the server for sending.
        self.spans: list[tuple[int, int]] = []
        self.release = threading.Event()

    @property
    def sent_up_to(self) -> int:
        """One past the last byte of the file sent so far."""
        return max((end for _, end in self.spans), default=0)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/audio"):
            await self.app(scope, receive, send)
            return
        spec = dict(scope["headers"]).get(b"range", b"").decode()
        self.ranges.append(spec)
        start = re.match(r"bytes=(\d*)-", spec)
        if not start or not start.group(1) or int(start.group(1)) >= MAX_RANGE_BYTES:
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        at = 0

        async def recording(message: dict[str, Any]) -> None:
            nonlocal at
            if message["type"] == "http.response.start":
                content_range = dict(message["headers"]).get(b"content-range", b"").decode()
                first = re.match(r"bytes (\d+)-", content_range)
                at = int(first.group(1)) if first else 0
            elif message["type"] == "http.response.body":
                body = message.get("body", b"")
                self.spans.append((at, at + len(body)))
                at += len(body)
            await send(message)

        await self.app(scope, receive, recording)


@pytest.fixture
def gated(archive: Archive) -> Iterator[tuple[str, AudioGate]]:
    from search_api.app import create_app

    gate = AudioGate(create_app(archive))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(gate, host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", gate
    gate.release.set()
    server.should_exit = True
    thread.join(timeout=10)


def _long_call(archive: Archive) -> tuple[str, bytes]:
    """A minute-long call (1.9 MB of audio) whose customer says one word a second."""
    t = np.arange(8000 * SECONDS) / 8000
    tone = (6000 * np.sin(2 * np.pi * 220 * t)).astype("<i2").tobytes()
    quiet = (1500 * np.sin(2 * np.pi * 330 * t)).astype("<i2").tobytes()
    wav = write_wav(8000, [tone, quiet])
    sidecar = (b'{"call_id": "reader-1", "from": "+31612345678", "from_name": "Kees Klant",'
               b' "to": "+31205550100", "agent": "+31205550100", "direction": "inbound",'
               b' "start": "2026-11-02T09:00:00Z"}')
    item_id = ingest_call_file(archive, wav, sidecar, source="test", actor="test").ingest.item_id
    words = [{"word": w, "start": float(i), "end": i + 0.9, "conf": 1.0}
             for i, w in enumerate(WORDS)]
    half = len(words) // 2
    transcript = {"speakers": [
        {"label": "agent", "channel": 1, "words": words[:half], "utterances": [
            {"start": 0.0, "end": words[half - 1]["end"],
             "text": " ".join(w["word"] for w in words[:half])}]},
        {"label": "customer", "channel": 0, "words": words[half:], "utterances": [
            {"start": words[half]["start"], "end": words[-1]["end"],
             "text": " ".join(w["word"] for w in words[half:])}]},
    ]}
    archive.attach_transcript(item_id, transcript, [
        Section("transcript", transcript["speakers"][0]["utterances"][0]["text"], "agent", 0.0),
        Section("transcript", transcript["speakers"][1]["utterances"][0]["text"], "customer",
                float(half)),
    ], "agent and customer")
    return item_id, wav


_NOW = """
const a = document.querySelector('#reader audio');
const w = document.querySelector('#reader .word.current');
return {t: a.currentTime, paused: a.paused, rate: a.playbackRate, ready: a.readyState,
        word: w ? w.textContent : null, start: w ? Number(w.dataset.start) : null};
"""


def test_a_call_streams_and_the_highlighted_word_follows_playback(
    gated: tuple[str, AudioGate], archive: Archive, tmp_path: Path
) -> None:
    served_at, gate = gated
    item_id, wav = _long_call(archive)
    token = archive.users.add("listener", Role.QUALITY)
    browser = chrome(tmp_path, "--autoplay-policy=no-user-gesture-required")  # noqa: F811
    try:
        wait = _sign_in(browser, served_at, token)
        Select(browser.find_element(By.ID, "channel")).select_by_value("call")
        open_result(browser, item_id)
        wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#reader .waveform")))
        paths = browser.find_elements(By.CSS_SELECTOR, "#reader .waveform path.wave")
        assert len(paths) == 2  # both channels
        assert [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#reader .speaker")] \
            == ["agent", "customer"]

        # WHEN the reviewer presses Play
        browser.find_element(By.CSS_SELECTOR, "#reader .reader-play").click()
        # THEN it plays on while the server has sent less than the file
        wait.until(lambda d: d.execute_script(_NOW)["t"] > 2.5)
        assert gate.sent_up_to < len(wav), (gate.spans, len(wav), gate.ranges)
        assert all(r.startswith("bytes=") for r in gate.ranges), gate.ranges
        # AND the highlighted word is the one being said, and moves on with the audio
        seen = set()
        for _ in range(2):
            # (between two words nothing is highlighted: wait for the next one)
            now = wait.until(lambda d: (n := d.execute_script(_NOW))["word"] and n)
            assert now["start"] <= now["t"] + 0.1 and now["t"] < now["start"] + 1.05, now
            seen.add(now["word"])
            if len(seen) == 1:
                _shot(browser, "ui-reader-call")
            time.sleep(1.2)
        assert len(seen) == 2

        # WHEN they click a word THEN the audio jumps there
        target = browser.find_elements(By.CSS_SELECTOR, "#reader .word")[20]
        target.click()
        # (read at once: playback goes on and leaves the word within a second)
        jumped = browser.execute_script(_NOW)
        assert 20.0 <= jumped["t"] < 20.9 and jumped["word"] == WORDS[20], jumped

        # WHEN they change the speed THEN playback follows
        Select(browser.find_element(By.CSS_SELECTOR, "#reader .reader-speed")) \
            .select_by_value("1.5")
        assert browser.execute_script(_NOW)["rate"] == 1.5

        # AND the keyboard: space pauses, arrows seek, ] speeds up (as documented on screen)
        shortcuts = browser.find_element(By.CSS_SELECTOR, "#reader .shortcuts").text
        assert "Space" in shortcuts and "play / pause" in shortcuts
        browser.find_element(By.ID, "item-title").click()  # focus off the select
        body = browser.find_element(By.TAG_NAME, "body")
        body.send_keys(Keys.SPACE)
        wait.until(lambda d: d.execute_script(_NOW)["paused"])
        before = browser.execute_script(_NOW)["t"]
        body.send_keys(Keys.ARROW_LEFT)
        wait.until(lambda d: abs(d.execute_script(_NOW)["t"] - (before - 5)) < 0.3)
        body.send_keys(Keys.SHIFT, Keys.ARROW_RIGHT)
        wait.until(lambda d: abs(d.execute_script(_NOW)["t"] - (before + 10)) < 0.3)
        body.send_keys("]")
        assert browser.execute_script(_NOW)["rate"] == 2
        body.send_keys(Keys.SPACE)
        wait.until(lambda d: not d.execute_script(_NOW)["paused"])
        _shot(browser, "ui-reader-call-keys")
        blocked = [e["message"] for e in browser.get_log("browser")  # type: ignore[attr-defined]
                   if "Content Security Policy" in e["message"]]
        assert blocked == []  # the audio plays from its URL under the strict policy
    finally:
        gate.release.set()
        browser.quit()


def test_a_trainer_reads_only_the_redacted_text_of_an_email(
    browser: WebDriver, served: str, archive: Archive, tmp_path: Path  # noqa: F811
) -> None:
    mail_id = archive_html_mail(archive)
    token = archive.users.add("coach", Role.TRAINER)
    wait = _sign_in(browser, served, token)
    assert not browser.find_element(By.ID, "party-filter").is_displayed()  # no person search
    browser.find_element(By.ID, "q").send_keys("modem")
    browser.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click()
    open_result(browser, mail_id)
    card = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#reader .mail-card")))
    assert "Anonymised view" in card.text
    reader = browser.find_element(By.ID, "reader").text
    assert "modem blinks orange" in reader.lower()
    assert "Marieke" not in reader and "marieke@customer.nl" not in reader
    assert browser.find_elements(By.CSS_SELECTOR, "#reader .mail-attachments, #reader a") == []
    _shot(browser, "ui-reader-email-trainer")
