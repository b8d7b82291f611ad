"""The dashboard in a real headless Chromium while `make demo` runs: the device
appears, plots grow live, a control request round-trips (and a bad one never
leaves the page), an invalid config_io shows uedge's validator message."""

import json
import os

import pytest
from dash_helpers import DEVICE, RunningDemo, chromium_driver, wait_for

from uedge.config.config_io import parse_config_io
from uedge.config.json_reader import ConfigError

By = pytest.importorskip("selenium.webdriver.common.by").By  # a dev extra: fails setup if absent

# records every fetch the page makes, so a test can tell what was (not) sent
RECORD_FETCH = """
if (!window.__sent) {
  window.__sent = [];
  const orig = window.fetch;
  window.fetch = function (url, opts) {
    window.__sent.push([(opts && opts.method) || "GET", String(url)]);
    return orig.apply(this, arguments);
  };
}
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = RunningDemo(tmp_path_factory.mktemp("demo"))
    yield d
    rc = d.stop()
    assert rc == 0, d.text()[-3000:]


@pytest.fixture(scope="module")
def page(demo, tmp_path_factory):
    driver = chromium_driver(str(tmp_path_factory.mktemp("chromium-profile")))
    try:
        driver.get(demo.url)  # the one-time login link the demo printed
        wait_for(lambda: driver.current_url.endswith("/dashboard/"), what="login redirect")
        driver.execute_script(RECORD_FETCH)
        yield driver
    finally:
        driver.quit()


def find(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css)


def finds(driver, css):
    return driver.find_elements(By.CSS_SELECTOR, css)


def sent(driver):
    return driver.execute_script("return window.__sent")


def test_device_appears_with_state_and_channels(page):
    row = wait_for(lambda: find(page, 'tr[data-device="%s"]' % DEVICE), what="device row")
    wait_for(lambda: "connected" in find(page, 'tr[data-device="%s"] td.state' % DEVICE).text,
             what="connected state")
    assert "token auth" in row.text
    wait_for(lambda: "provisioned" in find(page, "#device-badges").text, what="badges")
    # channels from config_io (written up by the device): display name, unit, a value
    wait_for(lambda: "Tank Temperature" in find(page, 'tr[data-channel="001"]').text,
             what="channel 001 by its display name")
    r = find(page, 'tr[data-channel="001"]')
    assert find(r, "td.unit").text == "°C"
    wait_for(lambda: find(page, 'tr[data-channel="001"] td.value').text not in ("", "–"),
             what="a latest value")
    age = find(page, 'tr[data-channel="001"] td.age')
    assert age.text == "just now" or age.text.endswith(" ago")
    assert age.get_attribute("title")  # the full time of the latest value
    assert "control" in find(page, 'tr[data-channel="005"]').text


def test_plot_gains_points_live_without_reload(page):
    page.execute_script("window.__no_reload = 1")
    path = 'path.series[data-channel="001"]'
    first = wait_for(lambda: int(find(page, path).get_attribute("data-points")) >= 2 and
                     int(find(page, path).get_attribute("data-points")), what="points on the plot")
    wait_for(lambda: int(find(page, path).get_attribute("data-points")) > first, timeout=60,
             what="more points while the demo runs")
    assert page.execute_script("return window.__no_reload") == 1  # same page, updated in place
    assert len(find(page, path).get_attribute("d")) > 10


def test_several_channels_on_one_plot(page):
    box = find(page, 'input.plot-toggle[data-channel="006"]')
    if not box.is_selected():
        box.click()
    wait_for(lambda: len(finds(page, "svg#chart path.series")) >= 3, what="three series")
    on_plot = {p.get_attribute("data-channel") for p in finds(page, "svg#chart path.series")}
    assert {"001", "002", "006"} <= on_plot
    legend = find(page, "#legend").text
    assert "Flow Total" in legend and "Tank Temperature" in legend
    # a second unit gets the right-hand axis
    units = [t.text for t in finds(page, "svg#chart text.axis-unit")]
    assert units[:2] == ["°C", "bar"]


def test_time_window_chooser_reloads_the_window(page):
    from selenium.webdriver.support.ui import Select

    Select(find(page, "#window")).select_by_value("60")
    wait_for(lambda: any("/series?" in u and "since=" in u for _m, u in sent(page)[-6:]),
             what="a series request for the new window")
    Select(find(page, "#window")).select_by_value("300")


def test_control_round_trip_shows_ack_and_echo(page, demo):
    form = wait_for(lambda: find(page, 'form.control[data-channel="005"]'), what="control form")
    box = find(form, ".control-value")
    box.clear()
    box.send_keys("27.5")
    find(form, "button[type=submit]").click()
    status = find(form, ".control-status")
    wait_for(lambda: "complete" in status.get_attribute("class"), timeout=60, what="ack and echo")
    assert "ack" in find(status, '[data-step="ack"]').text
    assert "27.5" in find(status, '[data-step="echo"]').text
    outs = [json.loads(v) for _t, v, s in demo.admin.resource(DEVICE, "data_out")["history"]
            if s == "cloud"]
    assert {"005": 27.5} in outs
    wait_for(lambda: find(page, 'tr[data-channel="005"] td.value').text == "27.5",
             what="the channel's new state in the table")


@pytest.mark.parametrize("channel,value,message", [
    ("005", "99", "99 is above control_properties.range.max 35"),
    ("005", "1", "1 is below control_properties.range.min 5"),
    ("005", "warm", 'expected a number, got "warm"'),
    ("009", "sideways", '"sideways" is not one of open, close, half, auto'),
])
def test_bad_control_request_is_refused_in_the_page(page, demo, channel, value, message):
    before = demo.admin.resource(DEVICE, "data_out")["history"]
    n_sent = len(sent(page))
    form = find(page, 'form.control[data-channel="%s"]' % channel)
    box = find(form, ".control-value")
    box.clear()
    box.send_keys(value)
    find(form, "button[type=submit]").click()
    status = find(form, ".control-status")
    wait_for(lambda: "refused" in status.get_attribute("class"), what="the refusal")
    assert status.text.startswith("refused, not sent: channel %s: %s" % (channel, message))
    assert not [u for _m, u in sent(page)[n_sent:] if u.endswith("/control")]
    cloud = [r for r in demo.admin.resource(DEVICE, "data_out")["history"] if r[2] == "cloud"]
    assert cloud == [r for r in before if r[2] == "cloud"]


def test_device_error_is_shown_against_its_channel(page, demo):
    # a request the page refuses (003 is no control channel), sent past it: the device
    # rejects it and reports data_in __error.003. The row is marked has-error
    # only while the error is newer than the channel's latest value (003 is
    # report_on_change on a square wave: its next value may come any moment),
    # so the error cell is what is waited for.
    demo.admin.set_resource(DEVICE, "data_out", '{"003": true}')
    wait_for(lambda: "not a control channel" in find(page, 'tr[data-channel="003"] td.error').text,
             timeout=60, what="__error in the error cell of row 003")
    box = find(page, 'input.plot-toggle[data-channel="003"]')
    if not box.is_selected():
        box.click()
    mark = wait_for(lambda: find(page, 'svg#chart path.err-mark[data-channel="003"]'),
                    what="an error mark on the plot")
    assert "not a control channel" in mark.get_attribute("textContent")


def test_csv_export_of_a_channel(page):
    link = find(page, 'tr[data-channel="001"] a.csv')
    text = page.execute_async_script(
        "const done = arguments[1]; fetch(arguments[0]).then(r => r.text()).then(done);",
        link.get_attribute("href"))
    lines = text.strip().splitlines()
    assert lines[0] == "time_utc,ts_us,value,error"
    assert len(lines) > 3
    float(lines[-1].split(",")[2])


def test_invalid_config_io_shows_the_validator_message_and_is_not_sent(page, demo):
    find(page, '.tabs button[data-tab="config_io"]').click()
    ta = wait_for(lambda: find(page, "#config_io-text").get_attribute("value") and
                  find(page, "#config_io-text"), what="config_io in the editor")
    doc = json.loads(ta.get_attribute("value"))
    assert "005" in doc["channels"]
    doc["channels"]["005"]["control_properties"]["range"] = {"min": 40, "max": 30}
    doc["channels"]["002"]["protocol_config"]["down_sample"] = "MEAN"
    text = json.dumps(doc, indent=2)
    with pytest.raises(ConfigError) as exc:
        parse_config_io(text)
    before = demo.admin.resource(DEVICE, "config_io")["history"]
    n_sent = len(sent(page))
    page.execute_script("arguments[0].value = arguments[1]", ta, text)
    find(page, "#config_io-send").click()
    msg = find(page, "#config_io-message")
    wait_for(lambda: "error" in msg.get_attribute("class") and msg.text, what="the message")
    assert msg.text == str(exc.value)
    assert msg.text.startswith("channel 002: protocol_config.down_sample must be one of")
    assert not [m for m, u in sent(page)[n_sent:] if m == "PUT"]
    assert demo.admin.resource(DEVICE, "config_io")["history"] == before


def test_valid_config_io_edit_reaches_the_device(page, demo):
    find(page, "#config_io-reload").click()
    ta = find(page, "#config_io-text")
    wait_for(lambda: "MEAN" not in ta.get_attribute("value"), what="reloaded text")
    doc = json.loads(ta.get_attribute("value"))
    doc["channels"]["001"]["display_name"] = "Tank Temperature (edited)"
    page.execute_script("arguments[0].value = arguments[1]", ta, json.dumps(doc, indent=2))
    find(page, "#config_io-send").click()
    msg = find(page, "#config_io-message")
    wait_for(lambda: msg.text.startswith("sent to %s" % DEVICE), what="sent")
    cloud = [json.loads(v) for _t, v, s in demo.admin.resource(DEVICE, "config_io", limit=5)["history"]
             if s == "cloud"]
    assert cloud and cloud[-1]["last_editor"] == "user"
    assert cloud[-1]["channels"]["001"]["display_name"] == "Tank Temperature (edited)"
    find(page, '.tabs button[data-tab="channels"]').click()
    wait_for(lambda: "Tank Temperature (edited)" in find(page, 'tr[data-channel="001"]').text,
             timeout=60, what="the edited name, applied by the device")


def test_config_applications_view_and_edit(page, demo):
    find(page, '.tabs button[data-tab="config_applications"]').click()
    ta = find(page, "#config_applications-text")
    bad = {"last_edited": "2026-01-01T00:00:00+00:00", "applications": {"Modbus_RTU": {
        "application_display_name": "Modbus RTU",
        "interfaces": [{"interface": "/dev/ttyUSB0", "baud_rate": 1234}]}}}
    page.execute_script("arguments[0].value = arguments[1]", ta, json.dumps(bad, indent=2))
    find(page, "#config_applications-send").click()
    msg = find(page, "#config_applications-message")
    wait_for(lambda: "error" in msg.get_attribute("class") and "baud_rate" in msg.text,
             what="the validator's message")
    bad["applications"]["Modbus_RTU"]["interfaces"][0]["baud_rate"] = 19200
    page.execute_script("arguments[0].value = arguments[1]", ta, json.dumps(bad, indent=2))
    find(page, "#config_applications-send").click()
    wait_for(lambda: msg.text.startswith("sent to"), what="sent")
    stored = json.loads(demo.admin.resource(DEVICE, "config_applications", limit=1)["latest"]["value"])
    assert stored["applications"]["Modbus_RTU"]["interfaces"][0]["baud_rate"] == 19200
    find(page, "#config_applications-reload").click()
    wait_for(lambda: "/dev/ttyUSB0" in find(page, "#apps-view").text, what="the view")
    find(page, '.tabs button[data-tab="channels"]').click()


def test_login_page_refuses_a_wrong_token(demo, tmp_path):
    driver = chromium_driver(str(tmp_path / "profile"))
    try:
        driver.get(demo.base + "/dashboard/")
        wait_for(lambda: driver.current_url.endswith("/dashboard/login"), what="login page")
        find(driver, "#token").send_keys("not-the-token")
        find(driver, "button[type=submit]").click()
        wait_for(lambda: "Wrong admin token" in find(driver, "#login-message").text, what="refusal")
        find(driver, "#token").send_keys(demo.token)
        find(driver, "button[type=submit]").click()
        wait_for(lambda: find(driver, 'tr[data-device="%s"]' % DEVICE), what="the dashboard")
        find(driver, "#logout button").click()
        wait_for(lambda: driver.current_url.endswith("/dashboard/login"), what="logged out")
        driver.get(demo.base + "/dashboard/")
        assert driver.current_url.endswith("/dashboard/login")
        assert demo.token not in open(os.path.join(demo.workdir, "connector.log")).read()
    finally:
        driver.quit()
