"""`archon-plan serve` in a real browser: headless Chromium, driven by Selenium, reads the page
the real executable serves, with no console error; a screenshot is kept for people to look at."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard import FAILED_AT, failed_project

ROOT = Path(__file__).resolve().parents[1]
# Where the screenshot goes: ARCHON_TEST_ARTIFACTS, else artifacts/ in the checkout (git ignores it).
ARTIFACTS = Path(os.environ.get("ARCHON_TEST_ARTIFACTS") or ROOT / "artifacts")
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
LISTENING = re.compile(r"at (http://127\.0\.0\.1:\d+/)")


def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed: pip install -e '.[test]'"
    if CHROMIUM is None or CHROMEDRIVER is None:
        return ("chromium and chromedriver are not installed (Debian: apt-get install chromium "
                "chromium-driver; .ci/run installs them)")
    return None


pytestmark = pytest.mark.skipif(_browser_missing() is not None, reason=_browser_missing() or "")


@pytest.fixture
def served(tmp_path: Path, database_url: str) -> Iterator[str]:
    """`archon-plan serve --port 0` in a process of its own, on the failed project; its URL."""
    manifest = failed_project(tmp_path, database_url)
    env = {**os.environ, "ARCHON_DATABASE_URL": database_url}
    env.pop("ARCHON_SERVE_TOKEN", None)
    log = tmp_path / "serve.log"
    with log.open("w") as stderr:
        server = subprocess.Popen([sys.executable, "-m", "archon_plan", "--manifest", str(manifest), "serve",
                                   "--port", "0"], cwd=tmp_path, env=env, stderr=stderr)
    try:
        yield _address(server, log)
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, log.read_text()  # SIGTERM is how a server stops: exit 0


def _address(server: subprocess.Popen[bytes], log: Path) -> str:
    """The URL the server names on stderr once it listens, when it answers /healthz."""
    deadline = time.monotonic() + 30
    while not (found := LISTENING.search(log.read_text())):
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"archon-plan serve did not start: {log.read_text()}")
        time.sleep(0.1)
    with urllib.request.urlopen(found[1] + "healthz", timeout=10) as answer:
        assert answer.status == 200
    return found[1]


def test_the_served_page_shows_migrations_and_failure_without_console_errors(served: str) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1360,1000", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        driver.get(served)
        assert "archon-plan" in driver.title
        text = driver.find_element(By.TAG_NAME, "body").text
        for name in ("001_create_users", "002_create_posts", "001_add_scores"):
            assert name in text
        assert FAILED_AT in driver.find_element(By.ID, "failures").text
        assert len(driver.find_elements(By.CSS_SELECTOR, "svg.chart")) == 3
        # The stylesheet applied (a CSP that refused it would leave the pills unstyled).
        pill = driver.find_element(By.CSS_SELECTOR, ".pill.st-applied")
        assert pill.value_of_css_property("border-radius") != "0px"
        errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
        assert errors == []
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {  # the whole page in one picture
            "width": 1360, "height": min(height, 8000), "deviceScaleFactor": 1, "mobile": False})
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "dashboard.png"
        assert driver.save_screenshot(str(shot))
        print(f"\nscreenshot of the dashboard: {shot}")
    finally:
        driver.quit()
