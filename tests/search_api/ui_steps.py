"""Steps the browser tests share."""

from __future__ import annotations

import os
from pathlib import Path

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait


def token_field(browser: WebDriver, timeout_s: float = 20) -> WebElement:
    """The sign-in form's token field, once the page has found nobody signed in.

    The form stays hidden until the page has asked the server about its session
    (a signed-in user who reloads sees no sign-in flash), as a person waits for it.
    """
    return WebDriverWait(browser, timeout_s).until(
        ec.visibility_of_element_located((By.ID, "token")))


def open_result(browser: WebDriver, item_id: str, timeout_s: float = 20) -> None:
    """Click the search result of ``item_id``.

    The list is drawn again whenever a search answers (the one run at sign-in and
    the user's own), so a row found a moment ago may have been replaced: retry.
    """
    selector = f"#results li[data-id='{item_id}']"

    def click(driver: WebDriver) -> bool:
        try:
            driver.find_element(By.CSS_SELECTOR, selector).click()
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        return True

    WebDriverWait(browser, timeout_s).until(click)


#: Where the browser tests leave their screenshots: the artifacts of a test run, kept
#: after it (CI collects the directory; people look at them before calling a screen done).
SCREENSHOTS = Path(os.environ.get(
    "COMMARCHIVE_SCREENSHOTS", Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"))


def save_screenshot(browser: WebDriver, name: str, *, full_page: bool = False) -> Path:
    """Save what ``browser`` shows as ``SCREENSHOTS/name.png``; returns the file.

    ``full_page`` grows the window to the page's height first, so a long form is seen whole.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if full_page:
        browser.set_window_size(1200, max(900, int(browser.execute_script(
            "return document.body.scrollHeight")) + 40))
    shot = SCREENSHOTS / f"{name}.png"
    assert browser.save_screenshot(str(shot)), shot
    return shot
