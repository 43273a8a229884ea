"""Legal's workspace in real (headless) Chromium: preview a hold by person, place it,
record a disclosure to an authority, make an evidence bundle, propose lifting it;
a second legal user approves the lifting (the proposer has no approve button)."""

from __future__ import annotations

from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from archive import evidence, holds
from archive.config import Role
from archive.service import Archive
from tests.conftest import email_item
from tests.search_api.test_ui import browser, served
from tests.search_api.test_ui_approvals import _shot, _sign_in

__all__ = ["browser", "served"]  # the fixtures, shared with the reviewer UI tests

PIET = "piet.fraude@klant.nl"


def test_legal_previews_places_discloses_bundles_and_lifts_with_a_second_user(
    browser: WebDriver, served: str, archive: Archive, tmp_path: Path,
) -> None:
    items = sorted(archive.ingest(email_item(customer=PIET, subject=f"Order {n}",
                                             body="betaling")).item_id for n in range(2))
    archive.ingest(email_item(customer="else@klant.nl", body="other"))
    lena = archive.users.add("lena", Role.LEGAL)
    lars = archive.users.add("lars", Role.LEGAL)
    wait = WebDriverWait(browser, 20)

    _sign_in(browser, served, lena, "lena (legal)")
    wait.until(ec.element_to_be_clickable((By.ID, "legal-link"))).click()
    wait.until(ec.url_to_be(served + "/legal/holds"))
    wait.until(ec.visibility_of_element_located((By.ID, "holds-empty")))
    browser.find_element(By.ID, "nav-new").click()
    browser.find_element(By.ID, "hold-target").send_keys(PIET)
    place = browser.find_element(By.ID, "place")
    assert not place.is_enabled(), "placing needs a preview first"
    browser.find_element(By.ID, "preview").click()
    title = wait.until(ec.visibility_of_element_located((By.ID, "preview-title")))
    assert title.text == "This hold would cover 2 items"
    previewed = [r.find_element(By.TAG_NAME, "td").text
                 for r in browser.find_elements(By.CSS_SELECTOR, "#preview-items tbody tr")]
    assert sorted(previewed) == items
    assert holds.list_holds(archive) == [], "a preview places nothing"
    _shot(browser, "legal-preview")
    browser.find_element(By.ID, "hold-reason").send_keys("payment fraud")
    browser.find_element(By.ID, "hold-case").send_keys("OM-17")
    place.click()
    wait.until(ec.url_matches(r"/legal/holds/\d+$"))
    hold_id = int(browser.current_url.rsplit("/", 1)[1])
    wait.until(ec.text_to_be_present_in_element((By.ID, "hold-title"), "OM-17"))

    browser.find_element(By.ID, "disclosure-recipient").send_keys("Public Prosecutor")
    browser.find_element(By.ID, "disclosure-basis").send_keys("order art. 126nd Sv")
    browser.find_element(By.CSS_SELECTOR, "#disclosure-form button").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "disclosures"), "Public Prosecutor"))
    assert evidence.list_hold_disclosures(archive, hold_id)[0]["item_ids"] == items

    browser.find_element(By.ID, "bundle-note").send_keys("for the court")
    browser.find_element(By.ID, "bundle").click()
    result = wait.until(ec.visibility_of_element_located((By.ID, "bundle-result")))
    shown_sha = result.find_element(By.TAG_NAME, "code").text
    exported = archive.audit.events(action="evidence_export", limit=1)[0]
    assert shown_sha == exported.detail["manifest_sha256"]
    link = browser.find_element(By.ID, "bundle-link")
    assert str(link.get_attribute("download")).endswith(".zip")
    assert str(link.get_attribute("href")).startswith("blob:")
    assert sorted(exported.item_ids) == items

    browser.find_element(By.ID, "lift-note").send_keys("case settled")
    browser.find_element(By.ID, "propose-lift").click()
    proposal = wait.until(ec.visibility_of_element_located(
        (By.CSS_SELECTOR, "#lift-proposals .proposal")))
    assert "Releases 2 item(s)" in proposal.text
    assert proposal.find_elements(By.CSS_SELECTOR, "button.approve") == []
    assert "another legal user must approve" in proposal.text
    browser.execute_script("document.getElementById('lift-proposals').scrollIntoView()")
    _shot(browser, "legal-hold")

    browser.find_element(By.ID, "logout").click()
    wait.until(ec.url_to_be(served + "/"))
    _sign_in(browser, served, lars, "lars (legal)")
    browser.get(f"{served}/legal/holds/{hold_id}")
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#lift-proposals button.approve"))
               ).click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "hold-meta"), "lifted by lars"))
    assert not browser.find_element(By.ID, "lift-form").is_displayed()
    browser.execute_script("document.getElementById('lift-proposals').scrollIntoView()")
    _shot(browser, "legal-lifted")
    assert not holds.get_hold(archive, hold_id).active
