"""The item view says why a call has no transcript (headless Chromium, as ``test_ui``)."""

from __future__ import annotations

import math
import struct

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from archive.config import Role
from archive.model import TranscriptStatus
from archive.service import Archive
from ingest.audio import write_wav
from ingest.calls import build_call_item, parse_sidecar, recording_from_file
from tests.search_api.test_ui import browser, served  # noqa: F401 (fixtures)
from tests.search_api.ui_steps import open_result, token_field


def test_a_call_without_a_model_for_its_language_says_so_in_the_item_view(
    browser: WebDriver, served: str, archive: Archive  # noqa: F811
) -> None:
    # GIVEN a Dutch call that waits for a Dutch model
    pcm = b"".join(struct.pack("<h", int(6000 * math.sin(i / 5))) for i in range(8000 * 2))
    sidecar = parse_sidecar({"call_id": "ui-nl", "from": "+31612345678", "from_name": "Kees Klant",
                             "to": "+31205550100", "agent": "+31205550100",
                             "direction": "inbound", "start": "2026-11-02T09:00:00Z"})
    item_id = archive.ingest(build_call_item(recording_from_file(
        write_wav(8000, [pcm, pcm]), sidecar, source="test", config=archive.config),
        archive.config)).item_id
    archive.mark_transcript_unavailable(item_id, TranscriptStatus.NO_MODEL,
                                        "no transcription model for language 'nl'", language="nl")
    token = archive.users.add("reviewer", Role.QUALITY)
    wait = WebDriverWait(browser, 20)

    # WHEN a reviewer opens it
    browser.get(served + "/")
    token_field(browser).send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(ec.visibility_of_element_located((By.ID, "search")))
    browser.find_element(By.ID, "q").send_keys("Kees")
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    open_result(browser, item_id)

    # THEN the item view says there is no transcript and why, and shows none
    wait.until(ec.text_to_be_present_in_element((By.ID, "item-meta"), "no speech model"))
    assert "none: no speech model for this call's language (nl)" in (
        browser.find_element(By.ID, "item-meta").text)
    wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#reader .reader-transcript"),
                                                "No transcript"))
    assert browser.find_elements(By.CSS_SELECTOR, "#reader .utterance") == []
