"""Headless Chromium (Debian's chromium and chromium-driver) through Selenium
(python3-selenium), set up for the dashboard's test and benchmark.

The browser trusts exactly one certificate error: the central's own key, by
--ignore-certificate-errors-spki-list (the SHA-256 of its SubjectPublicKeyInfo),
which is how a pinned self-managed CA's server is accepted without turning all
certificate checks off. Every host name but 127.0.0.1 resolves to nothing, so
the page cannot reach anything but the central's admin listener.
"""

import os
import shutil
import tempfile

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


def check_tools():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(p)]
    if missing:
        raise SystemExit("missing %s: install chromium chromium-driver python3-selenium "
                         "(scripts/install-deps.sh does)" % ", ".join(missing))


class Browser:
    """A Chromium with its own profile folder, removed by quit()."""

    def __init__(self, spki_sha256, width=1280, height=800, cache=True):
        check_tools()
        self.profile = tempfile.mkdtemp(prefix="dashboard-chromium-")
        o = webdriver.ChromeOptions()
        o.binary_location = CHROMIUM
        for arg in ("--headless=new", "--window-size=%d,%d" % (width, height),
                    "--ignore-certificate-errors-spki-list=" + spki_sha256,
                    "--user-data-dir=" + self.profile,
                    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                    "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-default-apps", "--disable-extensions", "--password-store=basic",
                    "--force-device-scale-factor=1", "--lang=en-GB"):
            o.add_argument(arg)
        if not cache:
            o.add_argument("--disk-cache-size=1")
        if os.geteuid() == 0:
            o.add_argument("--no-sandbox")  # Chromium's sandbox refuses to run as root
        o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=o)
        # The page's own size, whatever the window's frame takes.
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})

    def wait(self, what, predicate, timeout=30):
        """Polls predicate(driver) until it is true (WebDriverWait)."""
        # A page re-rendering may replace an element between finding and reading it.
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(
            lambda d: predicate(d), message="timed out waiting for " + what)

    def console(self):
        """The browser console's entries since the last call."""
        return self.driver.get_log("browser")

    def quit(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)
