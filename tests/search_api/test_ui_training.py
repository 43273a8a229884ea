"""The trainers' workspace in real (headless) Chromium: a trainer builds a set of 10 items,
previews it, exports it; the downloaded ZIP holds exactly what its manifest lists, and no
screen shows a real name, number or address."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from archive.config import Role
from archive.service import Archive
from tests import corpus
from tests.archive.test_training import anna_items, mail
from tests.search_api.test_ui import browser, served  # noqa: F401  (fixtures)
from tests.search_api.ui_steps import save_screenshot, token_field


def test_trainer_builds_previews_and_exports_a_set_of_ten(
    browser: WebDriver, served: str, archive: Archive, tmp_path: Path,  # noqa: F811
) -> None:
    docs = corpus.documents()
    for doc in docs:
        corpus.ingest(archive, doc)
    anna_items(archive)
    for n in range(4):
        mail(archive, sender=f"klant{n}@voorbeeld.nl", name=f"Sofie Maes{n}",
             body=f"Mijn factuur {n} is te hoog. Mijn IBAN is NL91ABNA0417164300.")
    token = archive.users.add("tina", Role.TRAINER)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(downloads)})
    wait = WebDriverWait(browser, 20)

    browser.get(served + "/")
    token_field(browser).send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    link = wait.until(ec.visibility_of_element_located((By.ID, "training-link")))
    link.click()
    wait.until(ec.visibility_of_element_located((By.ID, "sets")))
    assert browser.current_url == served + "/training"
    wait.until(ec.visibility_of_element_located((By.ID, "sets-empty")))  # after the list loads
    browser.find_element(By.ID, "new-set").click()
    wait.until(ec.visibility_of_element_located((By.ID, "builder")))
    assert browser.current_url == served + "/training/sets/new"
    browser.find_element(By.ID, "f-title").send_keys("Onboarding week 1")
    browser.find_element(By.ID, "f-purpose").send_keys("Billing and outage examples")
    size = browser.find_element(By.ID, "f-size")
    size.clear()
    size.send_keys("10")
    Select(browser.find_element(By.ID, "f-stratify")).select_by_value("channel")
    browser.find_element(By.ID, "f-seed").clear()
    browser.find_element(By.ID, "f-seed").send_keys("7")
    save_screenshot(browser, "training-builder")
    browser.find_element(By.CSS_SELECTOR, "#builder-form button[type=submit]").click()

    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#preview li")) == 10)
    assert browser.current_url.startswith(served + "/training/sets/ts-")
    set_id = browser.current_url.rsplit("/", 1)[1]
    assert browser.find_element(By.ID, "set-title").text == "Onboarding week 1"
    calls = browser.find_elements(By.XPATH, "//ol[@id='preview']/li[.//span[text()='call']]")
    assert len(calls) == 4  # every call there is (equal shares, calls run out first)
    assert "seed 7" in browser.find_element(By.ID, "set-meta").text
    save_screenshot(browser, "training-preview")
    browser.execute_script("arguments[0].scrollIntoView()", calls[0])
    save_screenshot(browser, "training-preview-call")
    page = browser.find_element(By.TAG_NAME, "main").text
    browser.refresh()  # the set's own address works on reload
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#preview li")) == 10)

    browser.find_element(By.ID, "export").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "export-note"), "handed out"))
    assert "handed out" in browser.find_element(By.ID, "set-status").text
    save_screenshot(browser, "training-exported")
    deadline = time.monotonic() + 20
    zipped = downloads / f"{set_id}.zip"
    while not zipped.exists():
        assert time.monotonic() < deadline, list(downloads.iterdir())
        time.sleep(0.1)
    with zipfile.ZipFile(io.BytesIO(zipped.read_bytes())) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    manifest = json.loads(files["manifest.json"])
    listed = {f["path"]: f for item in manifest["items"] for f in item["files"]}
    assert set(files) == {*listed, "manifest.json", "datasheet.md"}
    for path, entry in listed.items():
        assert hashlib.sha256(files[path]).hexdigest() == entry["sha256"]
        assert len(files[path]) == entry["bytes"]
    assert len(manifest["items"]) == 10
    assert {i["id"] for i in manifest["items"]} == {
        li.get_attribute("data-id") for li in browser.find_elements(By.CSS_SELECTOR, "#preview li")}

    browser.find_element(By.LINK_TEXT, "← Training sets").click()
    row = wait.until(ec.visibility_of_element_located(
        (By.CSS_SELECTOR, f"#set-list tr[data-id='{set_id}']")))
    assert "handed out" in row.text and "10" in row.text
    save_screenshot(browser, "training-list")
    page += "\n" + browser.find_element(By.TAG_NAME, "main").text
    seen = corpus.squash(page + "".join(
        v.decode() for k, v in files.items() if not k.endswith(".wav")))
    for doc in docs:
        for pii in doc.pii:
            if pii["kind"] in corpus.STRUCTURED:
                assert corpus.squash(pii["text"]) not in seen, (doc.id, pii)
        assert corpus.squash(doc.customer["name"]) not in seen
        assert corpus.squash(doc.customer["address"]) not in seen
    for planted in ("annadewit", "sofiemaes", "nl91abna", "0612345678", "voorbeeldnl"):
        assert planted not in seen
