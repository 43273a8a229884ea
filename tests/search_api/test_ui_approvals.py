"""The privacy office's approvals in real (headless) Chromium: officer A looks a person
up and proposes their erasure, sees the dry run and no approve button (the API refuses
A too); officer B opens the proposal, approves it and sees the certificate."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from archive import rights
from archive.config import Role
from archive.service import Archive
from tests.conftest import email_item, make_archive
from tests.search_api.test_ui import browser, served
from tests.search_api.ui_steps import save_screenshot
from tests.subjects import PRIVACY_CONFIG

__all__ = ["browser", "served"]  # the fixtures, shared with the reviewer UI tests

MARIEKE = "marieke.smit@klant.nl"


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    """Purposes as shipped (no legal obligation on a support e-mail): erasure erases."""
    arc = make_archive(tmp_path / "data", config=PRIVACY_CONFIG)
    yield arc
    arc.close()


def _sign_in(browser: WebDriver, served: str, token: str, name: str) -> None:
    wait = WebDriverWait(browser, 20)
    browser.get(served + "/")
    wait.until(ec.visibility_of_element_located((By.ID, "token"))).send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "who"), name))


def _shot(browser: WebDriver, name: str) -> None:
    save_screenshot(browser, name, full_page=True)


def _approve_by_api(served: str, token: str, approval_id: str) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(f"{served}/api/v1/approvals/{approval_id}/approve",
                                 method="POST", data=b"{}",
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_an_erasure_needs_a_second_officer_in_the_web_ui(
    browser: WebDriver, served: str, archive: Archive, tmp_path: Path,
) -> None:
    items = [archive.ingest(email_item(customer=MARIEKE, subject=f"Modem {n}",
                                       body="mijn modem knippert")).item_id for n in range(2)]
    anna = archive.users.add("anna", Role.PRIVACY)
    bert = archive.users.add("bert", Role.PRIVACY)
    wait = WebDriverWait(browser, 20)

    # Officer A: into the privacy office's approvals, looks Marieke up, proposes.
    _sign_in(browser, served, anna, "anna (privacy)")
    browser.get(served + "/privacy/approvals")
    wait.until(ec.visibility_of_element_located((By.ID, "approvals")))
    browser.find_element(By.ID, "nav-subjects").click()
    browser.find_element(By.ID, "identifier").send_keys(MARIEKE)
    browser.find_element(By.CSS_SELECTOR, "#subject-form button").click()
    wait.until(ec.visibility_of_element_located((By.ID, "subject-found")))
    assert browser.current_url == served + "/privacy/subjects/marieke.smit%40klant.nl"
    rows = browser.find_elements(By.CSS_SELECTOR, "#subject-items tbody tr")
    assert sorted(r.find_element(By.TAG_NAME, "td").text for r in rows) == sorted(items)
    case_id = rights.open_case(archive, kind="erasure", identifiers=[MARIEKE], channel="email",
                               requester="Marieke Smit", actor="anna")["id"]
    browser.find_element(By.ID, "case-id").send_keys(str(case_id))
    browser.find_element(By.ID, "propose-erase").click()
    wait.until(ec.url_matches(r"/privacy/approvals/\d+$"))
    approval_id = browser.current_url.rsplit("/", 1)[1]
    dry = wait.until(ec.visibility_of_element_located((By.ID, "dry-run")))
    wait.until(lambda d: "Erased (would be) (2)" in dry.text)
    for item_id in items:
        assert item_id in dry.text
    assert browser.find_elements(By.ID, "approve") == [], "no approve button for the proposer"
    assert browser.find_element(By.ID, "approval-own").is_displayed()
    assert f"request (case)\n{case_id}" in browser.find_element(By.ID, "approval-meta").text
    _shot(browser, "privacy-proposal")
    status, body = _approve_by_api(served, anna, approval_id)
    assert status == 403 and body["error"]["code"] == "own_proposal"  # type: ignore[index]
    assert archive.record(items[0])  # still there

    # Officer B: signs in, finds the proposal in the list, approves, sees the certificate.
    browser.find_element(By.ID, "logout").click()
    wait.until(ec.url_to_be(served + "/"))
    _sign_in(browser, served, bert, "bert (privacy)")
    browser.get(served + "/privacy/approvals")
    wait.until(ec.element_to_be_clickable(
        (By.CSS_SELECTOR, f"#approval-list tr[data-id='{approval_id}']"))).click()
    approve = wait.until(ec.element_to_be_clickable((By.ID, "approve")))
    assert not browser.find_element(By.ID, "approval-own").is_displayed()
    approve.click()
    result = wait.until(ec.visibility_of_element_located((By.ID, "result-box")))
    wait.until(lambda d: "Erasure certificate" in result.text)
    assert "Erased (2)" in result.text and "issued by bert" in result.text
    assert browser.find_elements(By.ID, "approve") == []
    assert "executed" in browser.find_element(By.ID, "approval-meta").text
    _shot(browser, "privacy-certificate")
    assert [e.actor for e in archive.audit.events(action="approval_execute", limit=5)] == ["bert"]
    erased = archive.audit.events(action="erase", limit=5)
    assert set(erased[0].item_ids) == set(items)

    # The request case lists the erasure among its actions, linked to the certificate.
    browser.get(f"{served}/privacy/cases/{case_id}")
    action = wait.until(ec.visibility_of_element_located(
        (By.CSS_SELECTOR, "#actions li a[href^='/privacy/approvals/']")))
    assert "erase by bert" in browser.find_element(By.ID, "actions").text
    _shot(browser, "privacy-case-with-erasure")
    action.click()
    wait.until(ec.url_to_be(f"{served}/privacy/approvals/{approval_id}"))
    wait.until(lambda d: "Erasure certificate" in d.find_element(By.ID, "result-box").text)
