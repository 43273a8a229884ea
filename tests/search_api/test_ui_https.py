"""The reviewer UI in headless Chromium over HTTPS, with the test CA trusted as a real CA.

Chromium on Linux trusts the NSS database in ``$HOME/.pki/nssdb``; the test
makes one in a temporary home with ``certutil`` (Debian package
libnss3-tools) and adds only the throwaway CA, so the browser accepts the
server's certificate the way it would accept a company CA's: no
``--ignore-certificate-errors``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from archive.config import Role
from archive.service import Archive
from commarchive.settings import Settings
from commarchive.web import web_listeners
from search_api.app import create_app
from tests.commarchive.test_web import run_web
from tests.conftest import IN_CI, email_item
from tests.pki import TestCa
from tests.search_api.test_ui import CHROMEDRIVER, CHROMIUM
from tests.search_api.ui_steps import save_screenshot
from tests.services import free_port

CERTUTIL = shutil.which("certutil") or "/usr/bin/certutil"


@pytest.fixture
def ca(tmp_path: Path) -> TestCa:
    return TestCa(tmp_path / "pki")


@pytest.fixture
def trusting_browser(tmp_path: Path, ca: TestCa) -> Iterator[WebDriver]:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER, CERTUTIL) if not Path(p).exists()]
    if missing:
        if IN_CI:
            pytest.fail(f"missing {missing} (Debian packages chromium, chromium-driver, "
                        "libnss3-tools)")
        pytest.skip(f"missing {missing}")
    home = tmp_path / "home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run([CERTUTIL, "-d", f"sql:{nssdb}", "-N", "--empty-password"], check=True)
    subprocess.run([CERTUTIL, "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "commarchive-test",
                    "-i", str(ca.cert_path)], check=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900"):
        opts.add_argument(flag)
    service = Service(executable_path=CHROMEDRIVER, env={**os.environ, "HOME": str(home)})
    driver = webdriver.Chrome(service=service, options=opts)
    yield driver
    driver.quit()


@pytest.fixture
def served_https(archive: Archive, ca: TestCa) -> Iterator[str]:
    server = ca.server()
    port = free_port()
    settings = Settings(http="off", https=f"127.0.0.1:{port}",
                        tls={"cert": server.cert, "key": server.key})
    running = run_web(web_listeners(create_app(archive), settings))
    next(running)
    yield f"https://localhost:{port}"
    for _ in running:
        pass


def test_reviewer_signs_in_and_searches_over_https(
    trusting_browser: WebDriver, served_https: str, archive: Archive, tmp_path: Path
) -> None:
    token = archive.users.add("reviewer", Role.QUALITY)
    archive.ingest(email_item(subject="Modem stuk", body="het modem is stuk"))
    browser = trusting_browser
    wait = WebDriverWait(browser, 20)
    browser.get(served_https + "/")
    # No certificate interstitial: the page itself, in a secure context.
    token_field = wait.until(ec.visibility_of_element_located((By.ID, "token")))
    assert browser.execute_script("return window.isSecureContext") is True
    assert browser.execute_script("return location.protocol") == "https:"
    token_field.send_keys(token)
    browser.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(ec.visibility_of_element_located((By.ID, "search")))
    browser.find_element(By.ID, "q").send_keys("modem")
    browser.find_element(By.CSS_SELECTOR, "#search-form button").click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#results mark")))
    assert browser.find_element(By.ID, "summary").text == "1 item"
    save_screenshot(browser, "ui-https")
