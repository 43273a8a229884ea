"""Steps the browser tests share."""

from __future__ import annotations

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait


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
