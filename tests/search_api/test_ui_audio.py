"""Calls recorded in any PBX format play in real (headless) Chromium.

Chromium plays no GSM 6.10 or IMA ADPCM WAV; the player streams the 16-bit
PCM WAV derived at ingest (``/api/v1/items/{id}/audio``). Each format is
loaded into an ``<audio>`` element until it has data to play, and the GSM call
is opened through the UI itself, with a screenshot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from archive.config import Role
from archive.service import Archive
from ingest.calls import ingest_call_file
from tests.ingest.formats import KINDS, encode, speech_wav
from tests.search_api.test_ui import browser, served  # noqa: F401  (fixtures)
from tests.search_api.ui_steps import open_result, save_screenshot, token_field

#: Load a URL into a fresh <audio> element; report readyState and duration once it
#: can play (HAVE_CURRENT_DATA or more) or the media error if it cannot.
_PLAYS = """
const [url, token, done] = arguments;
fetch(url, {headers: {Authorization: "Bearer " + token}})
  .then((r) => r.blob())
  .then((blob) => {
    const audio = new Audio();
    const report = () => done({ready: audio.readyState, duration: audio.duration,
                               error: audio.error ? audio.error.code : null});
    audio.addEventListener("loadeddata", report);
    audio.addEventListener("error", report);
    audio.src = URL.createObjectURL(blob);
  })
  .catch((e) => done({ready: -1, duration: 0, error: String(e)}));
"""


def _sidecar(n: int, name: str) -> bytes:
    return (f'{{"call_id": "ui-fmt-{n}", "from": "+3161234{n:04d}", "from_name": "{name}",'
            ' "to": "+31205550100", "agent": "+31205550100", "direction": "inbound",'
            ' "start": "2026-11-02T09:00:00Z"}').encode()


def test_every_format_plays_in_chromium_and_a_gsm_call_plays_in_the_player(
    browser: WebDriver, served: str, archive: Archive, tmp_path: Path  # noqa: F811
) -> None:
    # GIVEN one call per format, archived as a PBX hands them over
    speech = speech_wav(tmp_path / "speech")
    items: dict[str, str] = {}
    for n, kind in enumerate(KINDS):
        data = encode(kind, speech, tmp_path)
        name = "Gerrit Gsmstra" if kind.id == "gsm" else f"Klant {n}"
        items[kind.id] = ingest_call_file(archive, data, _sidecar(n, name), source="test",
                                          actor="test").ingest.item_id
    token = archive.users.add("listener", Role.QUALITY)
    wait = WebDriverWait(browser, 20)
    browser.get(served + "/")

    # WHEN each call's audio is loaded into an <audio> element in Chromium
    browser.set_script_timeout(20)
    for kind_id, item_id in items.items():
        state: dict[str, Any] = browser.execute_async_script(
            _PLAYS, f"{served}/api/v1/items/{item_id}/audio", token)
        # THEN it has data to play and its full length
        assert state["error"] is None and state["ready"] >= 2, (kind_id, state)
        assert state["duration"] > 1.0, (kind_id, state)

    # AND the GSM call, opened from a search in the UI, plays in the player
    token_field(browser).send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(ec.visibility_of_element_located((By.ID, "search")))
    browser.find_element(By.ID, "q").send_keys("Gsmstra")
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    open_result(browser, items["gsm"])
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#reader audio")))
    wait.until(lambda d: d.execute_script(
        "const a = document.querySelector('#reader audio');"
        " return a.readyState >= 2 && a.duration > 1"))
    save_screenshot(browser, "ui-gsm-call")
    assert archive.audit.events(actor="listener", action="read")

