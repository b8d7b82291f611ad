"""Take the README's dashboard screenshot: `make demo` running, the page in
headless Chromium after a minute of data and one control round trip.

    .venv/bin/python tests/dashboard/screenshot.py docs/dashboard.png [--seconds 60]
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dash_helpers import RunningDemo, chromium_driver, wait_for  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--seconds", type=float, default=60.0, help="data to collect before the shot")
    p.add_argument("--window", default="60", help="time window of the plot (seconds)")
    p.add_argument("--width", type=int, default=1440)
    p.add_argument("--height", type=int, default=1180)
    args = p.parse_args(argv)
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    with tempfile.TemporaryDirectory(prefix="uedge-shot-") as tmp:
        demo = RunningDemo(os.path.join(tmp, "demo"))
        driver = None
        try:
            driver = chromium_driver(os.path.join(tmp, "profile"), args.width, args.height)
            driver.get(demo.url)
            wait_for(lambda: driver.find_element(By.CSS_SELECTOR, 'path.series[data-channel="001"]'),
                     what="the plot")
            wait_for(lambda: int(driver.find_element(By.CSS_SELECTOR, 'path.series[data-channel="001"]')
                                 .get_attribute("data-points")) >= args.seconds / 2.5,
                     timeout=args.seconds + 60, interval=1.0, what="a minute of points")
            # a third series on the plot, and one control request shown with its ack and echo
            driver.find_element(By.CSS_SELECTOR, 'input.plot-toggle[data-channel="003"]').click()
            form = driver.find_element(By.CSS_SELECTOR, 'form.control[data-channel="005"]')
            box = form.find_element(By.CSS_SELECTOR, ".control-value")
            box.clear()
            box.send_keys("24.5")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            wait_for(lambda: "complete" in form.find_element(By.CSS_SELECTOR, ".control-status")
                     .get_attribute("class"), timeout=60, what="ack and echo")
            form = driver.find_element(By.CSS_SELECTOR, 'form.control[data-channel="009"]')
            box = form.find_element(By.CSS_SELECTOR, ".control-value")
            box.send_keys("sideways")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            # a request the page would refuse, sent past it: the device's __error shows on 003
            demo.admin.set_resource("demo-0001", "data_out", '{"003": true}')
            wait_for(lambda: driver.find_element(By.CSS_SELECTOR, 'tr.has-error[data-channel="003"]'),
                     timeout=60, what="the device's __error on channel 003")
            Select(driver.find_element(By.ID, "window")).select_by_value(args.window)
            wait_for(lambda: driver.find_element(By.CSS_SELECTOR, 'path.series[data-channel="003"]'),
                     what="the third series")
            driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
            height = driver.execute_script("return document.documentElement.scrollHeight")
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": args.width, "height": min(height + 16, 3000), "deviceScaleFactor": 1,
                "mobile": False})
            time.sleep(2.5)  # one more poll: the plot redrawn at the new size
            driver.save_screenshot(args.out)
            print("saved %s" % args.out)
        finally:
            if driver is not None:
                driver.quit()
            demo.stop()


if __name__ == "__main__":
    main()
