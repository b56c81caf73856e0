"""The web console in a real headless Chromium (Debian's chromium and chromium-driver,
driven by selenium): log in, watch a transfer's progress move, see a write-back upload
pending, edit a setting and see it validated. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import ftplib
import io
import os
import secrets
import threading
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from holding_proxy import HoldingProxy
from netutil import HOST
from ossftp_server import REPO_ROOT, Account, OssftpServer, hash_password
from test_console import SlowSource

PASSWORD = "console-" + secrets.token_urlsafe(8)
SHOTS = Path(os.environ.get("OSSFTP_ARTIFACTS", REPO_ROOT / "test-artifacts")) / "console"


@pytest.fixture
def browser():
    os.environ["SE_OFFLINE"] = "true"  # never let selenium fetch a driver
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1100", "--no-first-run", "--disable-background-networking",
                     "--disable-extensions", "--disable-sync"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def server(tmp_path, seaweedfs):
    """ossftp in write-back mode on SeaweedFS, through a proxy that holds report.bin's upload."""
    bucket = "console-" + secrets.token_hex(4)
    seaweedfs.client().create_bucket(Bucket=bucket)
    proxy = HoldingProxy(seaweedfs.endpoint, hold_key="report.bin")
    account = Account("alice", "a-" + secrets.token_urlsafe(8), bucket, access_id=seaweedfs.admin.access_key,
                      access_secret=seaweedfs.admin.secret_key)
    srv = OssftpServer(tmp_path / "srv", [account], console=True,
                       launcher_config={"password": hash_password(PASSWORD)},
                       extra_config={"provider": "s3", "endpoint": proxy.endpoint, "write_back": True})
    srv.start()
    srv.proxy = proxy
    try:
        yield srv
    finally:
        proxy.release.set()
        srv.stop()
        proxy.close()


def shot(driver, name: str) -> None:
    path = SHOTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    assert path.stat().st_size > 5000, f"{path} looks empty"


def test_console_in_a_browser(browser, server):
    base = f"http://{HOST}:{server.web_port}"
    # The page redraws its parts as figures come in: an element found just before a redraw is
    # stale when read (seen once on a busy machine), and is found again at the next poll.
    wait = WebDriverWait(browser, 20, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,))

    # Log in: the console sends an anonymous visitor to the login page.
    browser.get(base + "/")
    wait.until(lambda d: d.current_url.endswith("/login"))
    browser.find_element(By.ID, "password").send_keys("wrong")
    browser.find_element(By.ID, "login").click()
    wait.until(lambda d: d.find_elements(By.ID, "login-error"))
    assert "Wrong password" in browser.find_element(By.ID, "login-error").text
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    shot(browser, "1-login")
    browser.find_element(By.ID, "login").click()
    wait.until(lambda d: d.current_url == base + "/")
    wait.until(lambda d: "Uptime" in d.find_element(By.ID, "status").text)

    # A transfer's progress moves.
    account = server.accounts[0]
    ftp = ftplib.FTP()
    ftp.connect(HOST, server.port, timeout=30)
    ftp.login(account.username, account.password)
    done = threading.Event()
    errors = []

    def upload():
        try:
            ftp.storbinary("STOR report.bin", io.BufferedReader(SlowSource(100, 0.05), 65536))
        except Exception as error:  # reported below
            errors.append(error)
        done.set()

    threading.Thread(target=upload, daemon=True).start()

    def shown_bytes(driver) -> int:
        # Read in the page: the rows are rebuilt every second.
        return driver.execute_script(
            "const c = document.querySelector('#transfers span[data-bytes]'); return c ? Number(c.dataset.bytes) : 0")

    wait.until(lambda d: shown_bytes(d) > 0)
    first = shown_bytes(browser)
    assert "/report.bin" in browser.find_element(By.ID, "transfers").text
    wait.until(lambda d: shown_bytes(d) > first)
    shot(browser, "2-transfer-in-progress")
    assert account.username in browser.find_element(By.ID, "sessions").text

    # Once the client has its 226, the write-back upload waits for the store (which never
    # answers here), and the spool shows it pending.
    assert done.wait(60) and not errors, errors
    wait.until(lambda d: "report.bin" in d.find_element(By.ID, "pending").text)
    pending = browser.find_element(By.ID, "pending").text
    assert f"{account.bucket}/report.bin" in pending and "6.3 MiB" in pending, pending
    assert server.proxy.held >= 1
    shot(browser, "3-pending-write-back")

    # An edit is validated: a wrong value is refused with the field's name, a right one saved.
    field = browser.find_element(By.ID, "setting-idle_timeout")
    field.clear()
    field.send_keys("soon")
    browser.find_element(By.ID, "save-idle_timeout").click()
    wait.until(lambda d: d.find_element(By.ID, "edit-result").text)
    result = browser.find_element(By.ID, "edit-result")
    assert result.get_attribute("class") == "error" and "idle_timeout" in result.text, result.text
    shot(browser, "4-edit-refused")
    assert '"idle_timeout"' not in server.config_path.read_text()
    field = browser.find_element(By.ID, "setting-idle_timeout")
    field.clear()
    field.send_keys("900")
    browser.find_element(By.ID, "save-idle_timeout").click()
    wait.until(lambda d: "saved" in d.find_element(By.ID, "edit-result").text)
    wait.until(lambda d: d.find_element(By.ID, "setting-idle_timeout").get_attribute("value") == "900")
    assert '"idle_timeout" : 900' in server.config_path.read_text() \
        or '"idle_timeout": 900' in server.config_path.read_text()
    assert account.access_secret not in browser.find_element(By.ID, "config").text
    shot(browser, "5-edit-saved")
    ftp.close()
