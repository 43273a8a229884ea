"""The privacy office's workspace in real (headless) Chromium: a whole access request.

Intake, identity verification, lookup, one item excluded and a third party redacted
in another, the export downloaded and checked against the review, reply, closing;
the dashboard shows an overdue case in red. Screenshots are saved like the other
UI tests' (``artifacts/screenshots``, or ``COMMARCHIVE_SCREENSHOTS``) and looked at.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from archive import rights
from archive.config import Role
from archive.retention import sweep
from archive.rights import case_retention
from archive.service import Archive
from tests.conftest import email_item
from tests.search_api.test_ui import chrome
from tests.search_api.ui_steps import save_screenshot
from tests.services import free_port
from tests.subjects import T0, A, Mixed


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    driver = chrome(tmp_path)
    yield driver
    driver.quit()


@pytest.fixture
def served(mixed: Mixed) -> Iterator[str]:
    from search_api.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(mixed.archive), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _shot(browser: WebDriver, name: str) -> None:
    save_screenshot(browser, name, full_page=True)


def _review(browser: WebDriver, wait: WebDriverWait[WebDriver], item_id: str, decision: str,
            reason: str = "", redact: str = "") -> None:
    row = browser.find_element(By.CSS_SELECTOR, f"#review tr[data-id='{item_id}']")
    Select(row.find_element(By.CLASS_NAME, "decision")).select_by_value(decision)
    row.find_element(By.CLASS_NAME, "reason").send_keys(reason)
    row.find_element(By.CLASS_NAME, "redact").send_keys(redact)
    row.find_element(By.CLASS_NAME, "save").click()
    wait.until(ec.text_to_be_present_in_element(
        (By.CSS_SELECTOR, f"#review tr[data-id='{item_id}'] td:nth-child(3)"), decision))


def test_privacy_officer_handles_an_access_request_from_intake_to_closing(
    browser: WebDriver, served: str, mixed: Mixed, tmp_path: Path,
) -> None:
    arc: Archive = mixed.archive
    neighbour = arc.ingest(email_item(
        subject="Noise", body="My neighbour Piet Peters (piet@peters.nl) plays drums at night.",
        customer=A.email, started_at=T0 + timedelta(days=5))).item_id
    late = rights.open_case(arc, kind="erasure", identifiers=["+31687654321"], channel="letter",
                            requester="Bob", actor="dpo-0",
                            received_at=datetime.now(UTC) - timedelta(days=70))["id"]
    token = arc.users.add("dpo", Role.PRIVACY)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.execute_cdp_cmd("Browser.setDownloadBehavior",
                            {"behavior": "allow", "downloadPath": str(downloads)})
    wait = WebDriverWait(browser, 20)

    browser.get(served + "/privacy")
    wait.until(ec.visibility_of_element_located((By.ID, "token"))).send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    overdue_row = wait.until(ec.visibility_of_element_located(
        (By.CSS_SELECTOR, f"#cases tr[data-id='{late}']")))
    assert "overdue" in overdue_row.get_attribute("class")
    assert overdue_row.value_of_css_property("color") == "rgba(176, 0, 32, 1)"  # red
    assert "1 overdue" in browser.find_element(By.ID, "digest").text
    _shot(browser, "cases-dashboard")

    # Intake.
    browser.find_element(By.ID, "new-case").click()
    wait.until(ec.visibility_of_element_located((By.ID, "intake-form")))
    assert browser.current_url == served + "/privacy/cases/new"
    Select(browser.find_element(By.ID, "kind")).select_by_value("access")
    browser.find_element(By.ID, "requester").send_keys("Anna de Vries")
    browser.find_element(By.ID, "identifiers").send_keys(f"{A.email}\n{A.customer_number}")
    Select(browser.find_element(By.ID, "channel")).select_by_value("web_form")
    browser.find_element(By.CSS_SELECTOR, "#intake-form button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "case-title"), "Anna de Vries"))
    case_id = int(browser.current_url.rsplit("/", 1)[1])
    assert not browser.find_element(By.ID, "lookup").is_displayed()  # verify first

    # Identity verification.
    Select(browser.find_element(By.ID, "verify-method")).select_by_value("known_contact")
    browser.find_element(By.ID, "verify-note").send_keys("replied from the address on record")
    browser.find_element(By.CSS_SELECTOR, "#verify-form button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "verified"), "Verified by dpo"))
    assert not browser.find_element(By.ID, "verify-form").is_displayed()

    # Lookup, then the review item by item.
    browser.find_element(By.ID, "lookup").click()
    wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f"#review tr[data-id='{neighbour}']")))
    found = [r.get_attribute("data-id") for r in
             browser.find_elements(By.CSS_SELECTOR, "#review tbody tr")]
    assert set(found) == set(mixed.items[A.email]) | {neighbour}
    assert not browser.find_element(By.ID, "export").is_enabled()
    excluded = mixed.items[A.email][0]
    _review(browser, wait, excluded, "exclude", reason="duplicate of the order mail")
    _review(browser, wait, neighbour, "redact", reason="names a neighbour",
            redact="Piet Peters, piet@peters.nl")
    rest = [i for i in found if i not in (excluded, neighbour)]
    for item_id in rest:
        _review(browser, wait, item_id, "include")
    _shot(browser, "cases-review")

    # The export, downloaded, matches the review.
    export = browser.find_element(By.ID, "export")
    assert export.is_enabled()
    export.click()
    wait.until(lambda _d: list(downloads.glob("*.zip"))
               and not list(downloads.glob("*.crdownload")))
    [path] = downloads.glob("*.zip")
    assert path.name == f"case-{case_id}-export.zip"
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as zf:
        index = json.loads(zf.read("index.json"))
        blob = b"".join(zf.read(n) for n in zf.namelist())
        redacted = zf.read(f"items/{neighbour}/redacted.txt").decode()
        letter = zf.read("cover_letter.txt").decode()
    assert {i["id"] for i in index["items"]} == set(rest) | {neighbour}
    assert excluded.encode() not in blob
    assert "[THIRD PARTY]" in redacted and b"Piet" not in blob
    assert "Supervisory authority" in letter
    wait.until(ec.text_to_be_present_in_element((By.ID, "actions"), "export by dpo"))

    # Reply and close.
    browser.find_element(By.ID, "reply-text").send_keys("Dear Ms de Vries, your data is enclosed.")
    browser.find_element(By.CSS_SELECTOR, "#reply-form button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "replied"), "Reply sent"))
    assert not browser.find_element(By.ID, "reply-form").is_displayed()
    Select(browser.find_element(By.ID, "close-outcome")).select_by_value("done")
    browser.find_element(By.CSS_SELECTOR, "#close-form button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "closed"), "as done"))
    steps = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#timeline li")]
    assert " · opened · dpo" in steps[0] and " · closed · dpo" in steps[-1]
    _shot(browser, "cases-closed")
    browser.refresh()  # the case's own address survives a reload
    wait.until(ec.text_to_be_present_in_element((By.ID, "closed"), "as done"))

    browser.find_element(By.LINK_TEXT, "← All cases").click()
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, f"#cases tr[data-id='{late}']")))
    ids = [r.get_attribute("data-id") for r in
           browser.find_elements(By.CSS_SELECTOR, "#cases tbody tr")]
    assert ids == [str(late)]  # the closed case left the open list

    browser.get(served + "/")  # the reviewers' page links a privacy officer here
    wait.until(ec.element_to_be_clickable((By.ID, "privacy-link"))).click()
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, f"#cases tr[data-id='{late}']")))
    assert browser.current_url == served + "/privacy"
    assert rights.get_case(arc, case_id)["status"] == "closed"

    # Past the closed case's retention, the sweep leaves only the facts of the request.
    case_retention.install(arc)
    days = arc.config.privacy_office.closed_case_retention_days
    sweep(arc, now=datetime.now(UTC) + timedelta(days=days + 1))
    browser.get(served + f"/privacy/cases/{case_id}")
    wait.until(ec.text_to_be_present_in_element((By.ID, "closed"), "retention period ended"))
    page = browser.find_element(By.TAG_NAME, "body").text
    for gone in ("Anna de Vries", A.email, A.customer_number, "Dear Ms de Vries",
                 "replied from the address on record"):
        assert gone not in page, gone
    assert "Verified by dpo" in page and "as done" in page and "null" not in page
    assert "6 items found" in browser.find_element(By.ID, "review-summary").text
    _shot(browser, "cases-expired")
