"""Headless Chromium (Debian's chromium + chromium-driver) through Selenium."""

import shutil
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.server import DEMO_PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def new_driver():
    profile = tempfile.mkdtemp(prefix="d09-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1200,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.profile_dir = profile
    return driver


def wait_for(driver, condition, timeout=20, message=""):
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: condition(d), message
    )


class BrowserFactory:
    def __init__(self):
        self.drivers = []

    def new(self):
        driver = new_driver()
        self.drivers.append(driver)
        return driver

    def quit_all(self):
        for driver in self.drivers:
            try:
                driver.quit()
            finally:
                shutil.rmtree(driver.profile_dir, ignore_errors=True)
        self.drivers = []


def log_in(driver, server_url, username, password=DEMO_PASSWORD):
    """Log in through the account page's form, as a person would."""
    driver.get(server_url + "/account")
    form = driver.find_element("css selector", "form#login-form")
    form.find_element("name", "username").send_keys(username)
    form.find_element("name", "password").send_keys(password)
    form.find_element("css selector", "[type=submit]").click()
    wait_for(
        driver,
        lambda d: d.find_element("id", "logged-in").is_displayed(),
        message=f"{username} logged in",
    )
