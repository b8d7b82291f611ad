"""Headless Chromium (Debian's, through its chromedriver) and `make demo` for
the dashboard tests and the README screenshot.

chromium_driver(profile_dir) -> a Selenium WebDriver on /usr/bin/chromium.
When chromium or chromedriver is missing the tests fail with a message saying
what to install; UEDGE_SKIP_BROWSER=1 turns that into a skip (asked for, never
by default).

RunningDemo(workdir): `python -m uedge_host.demo --plain` as a subprocess; .url
is the one-time dashboard login link it prints, .admin an AdminClient with the
admin token, .stop() ends it with SIGTERM (the demo's own clean shutdown).
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PYPATH = os.pathsep.join(os.path.join(ROOT, p) for p in ("lib", "host", "tools/connector"))
CHROMIUM = os.environ.get("UEDGE_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("UEDGE_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1")
DEVICE = "demo-0001"


def chromium_driver(profile_dir, width=1440, height=1100):
    chromium = os.environ.get("UEDGE_CHROMIUM", CHROMIUM)
    chromedriver = os.environ.get("UEDGE_CHROMEDRIVER", CHROMEDRIVER)
    missing = [p for p in (chromium, chromedriver) if not os.access(p, os.X_OK)]
    if missing:
        msg = ("headless browser tests need %s: run `make setup` as root (it installs the "
               "Debian packages chromium and chromium-driver) or `sudo apt-get install chromium "
               "chromium-driver`; set UEDGE_SKIP_BROWSER=1 to skip these tests on purpose"
               % " and ".join(missing))
        if os.environ.get("UEDGE_SKIP_BROWSER") == "1":
            pytest.skip(msg)
        pytest.fail(msg)
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    os.makedirs(profile_dir, exist_ok=True)
    opts = Options()
    opts.binary_location = chromium
    for flag in FLAGS:
        opts.add_argument(flag)
    opts.add_argument("--user-data-dir=%s" % profile_dir)
    opts.add_argument("--window-size=%d,%d" % (width, height))
    service = Service(executable_path=chromedriver,
                      log_output=os.path.join(profile_dir, "chromedriver.log"))
    driver = webdriver.Chrome(options=opts, service=service)
    driver.set_page_load_timeout(30)
    return driver


def wait_for(pred, timeout=30.0, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
        except Exception as e:  # noqa: BLE001 - element not there yet, page mid-render
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0fs waiting for %s (last: %r)" % (timeout, what, last))


class RunningDemo:
    def __init__(self, workdir):
        from uedge_connector.admin import AdminClient

        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.log_path = os.path.join(self.workdir, "demo.out")
        env = dict(os.environ, PYTHONPATH=PYPATH, PYTHONUNBUFFERED="1")
        self.out = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uedge_host.demo", "--plain", "--workdir", self.workdir],
            stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        m = wait_for(lambda: self._poll_url(), timeout=60, what="the demo's dashboard URL")
        self.url = m
        self.base = re.match(r"(http://[^/]+)", self.url).group(1)
        data = os.path.join(self.workdir, "connector-data")
        with open(os.path.join(data, "admin.token")) as f:
            self.token = f.read().strip()
        self.admin = AdminClient(self.base, self.token)

    def _poll_url(self):
        if self.proc.poll() is not None:
            raise RuntimeError("demo exited early:\n" + self.text())
        m = re.search(r"^dashboard: (http://\S+)$", self.text(), re.M)
        return m.group(1) if m else None

    def text(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def view(self):
        return self.admin.request("GET", "/api/dashboard/devices/" + DEVICE)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        return self.proc.returncode
