"""The firmware boots, provisions, reports on-board I/O and obeys data_out."""
import json
import time

import pytest
from fw_helpers import BOARD, PINS, SIM_BOARDS, channel, config_io, make_board, sim_only, values, wait_value

P = PINS[BOARD]


@pytest.mark.parametrize("board", SIM_BOARDS)
def test_boots_provisions_and_reports_onboard_channels(tmp_path, connector, board):
    conn = connector
    p = PINS[board]
    adc = {p["adc"][1]: 30000}
    if p["temp"]:
        adc[p["temp"][1]] = 14000
    vb = make_board(tmp_path, conn, hw={"adc": adc, "pins": {p["din"][1]: 1}}, board=board)
    sim_only(vb)
    dev = vb.device_id
    with vb:
        # settings gc_threshold (default 16384): collections before the heap is full
        vb.wait_for("a collection every 16384 B allocated", 20)
        vb.wait_for("uedge: running version", 20)
        assert vb.count("(factory image)") == 1  # no ota.json: the updater is not loaded
        vb.wait_for("net: up", 20)
        vb.wait_for("uedge: connected", 20)
        assert dev in [d["id"] if isinstance(d, dict) else d for d in conn.devices()]
        assert vb.count("led: connected") >= 1
        chans = {
            "001": channel({"mode": "adc", "pin": p["adc"][0]}),
            "002": channel({"mode": "din", "pin": p["din"][0]}, "BOOLEAN"),
            "004": channel({"mode": "sys", "item": "mem_free"}, device_diagnostic=True),
        }
        if p["temp"]:
            chans["003"] = channel({"mode": "adc", "pin": p["temp"][0]})
        conn.set_resource(dev, "config_io", config_io(chans))
        wait_value(conn, dev, "001", lambda v: v == 30000)
        wait_value(conn, dev, "002", lambda v: v is True)
        if p["temp"]:
            wait_value(conn, dev, "003", lambda v: v == 14000)
        wait_value(conn, dev, "004", lambda v: isinstance(v, int) and v > 0)
        # the simulated hardware moves; the reports follow
        vb.set_adc(p["adc"][1], 1234)
        vb.set_input(p["din"][1], 0)
        wait_value(conn, dev, "001", lambda v: v == 1234)
        wait_value(conn, dev, "002", lambda v: v is False)
        # the config is cached on the board's filesystem for the next boot
        with open(vb.file("config_io.json")) as f:
            assert p["din"][0] in f.read()


def test_bad_pin_in_config_is_reported_not_fatal(tmp_path, connector):
    conn = connector
    vb = make_board(tmp_path, conn, hw={"adc": {P["adc2"][1]: 5}})
    sim_only(vb)
    dev = vb.device_id
    with vb:
        vb.wait_for("uedge: connected", 20)
        conn.set_resource(dev, "config_io", config_io({
            "001": channel({"mode": "adc", "pin": "NOPE"}),
        }))
        vb.wait_for("config_io rejected", 20)
        conn.set_resource(dev, "config_io", config_io({
            "001": channel({"mode": "adc", "pin": P["adc2"][0]}),
        }, edited="2026-01-02T00:00:00Z"))
        wait_value(conn, dev, "001", lambda v: v == 5)
        assert vb.boots == 1  # no restart needed


@pytest.mark.parametrize("board", SIM_BOARDS)
def test_data_out_drives_digital_output(tmp_path, connector, board):
    conn = connector
    name, gpio = PINS[board]["dout"]
    vb = make_board(tmp_path, conn, board=board)
    sim_only(vb)
    dev = vb.device_id
    with vb:
        vb.wait_for("uedge: connected", 20)
        conn.set_resource(dev, "config_io", config_io({
            "010": channel({"mode": "dout", "pin": name, "initial": False}, "BOOLEAN",
                           rate=60000, control=True),
        }))
        vb.wait_for("config_io applied", 20)
        vb.wait_until(lambda: vb.output(gpio) == 0, 10, "%s driven low" % name)
        conn.set_resource(dev, "data_out", json.dumps({"010": True}))
        vb.wait_until(lambda: vb.output(gpio) == 1, 15, "%s driven high by data_out" % name)
        wait_value(conn, dev, "010", lambda v: v is True)  # new state echoed to data_in
        conn.set_resource(dev, "data_out", json.dumps({"010": False}))
        vb.wait_until(lambda: vb.output(gpio) == 0, 15, "%s back low" % name)
        # the request was acknowledged by writing it back to data_out
        acks = [v for _ts, v in conn.history(dev, "data_out", source="device")]
        assert json.dumps({"010": True}) in acks or '{"010":true}' in [a.replace(" ", "") for a in acks]


def test_connector_restart_loses_no_queued_data(tmp_path, connector):
    conn = connector
    vb = make_board(tmp_path, conn, hw={"adc": {P["adc"][1]: 100}}, settings={"reconnect_cap_s": 2})
    sim_only(vb)
    dev = vb.device_id
    with vb:
        vb.wait_for("uedge: connected", 20)
        conn.set_resource(dev, "config_io", config_io({
            "001": channel({"mode": "adc", "pin": P["adc"][0]}, rate=200),
        }))
        wait_value(conn, dev, "001", lambda v: v == 100)
        m = vb.mark()
        conn.stop()
        vb.wait_for("disconnected", 20, after=m)
        # values sampled while the connector is away
        for v in (201, 202, 203):
            vb.set_adc(P["adc"][1], v)
            time.sleep(0.6)
        conn.start()
        vb.wait_for("uedge: connected", 40, after=m)
        vb.set_adc(P["adc"][1], 300)
        wait_value(conn, dev, "001", lambda v: v == 300, 30)
        got = [v for _ts, v in values(conn, dev, "001")]
        for v in (201, 202, 203):
            assert v in got, "value %d sampled offline was lost: %r" % (v, got)
        ts = [t for t, _v in values(conn, dev, "001")]
        assert ts == sorted(ts)


def test_hung_loop_is_reset_by_the_watchdog(tmp_path, connector):
    conn = connector
    vb = make_board(tmp_path, conn, hw={"adc": {P["adc"][1]: 1}})
    sim_only(vb)
    dev = vb.device_id
    with vb:
        vb.wait_for("uedge: connected", 20)
        conn.set_resource(dev, "config_io", config_io({
            "001": channel({"mode": "adc", "pin": P["adc"][0]}),
        }))
        wait_value(conn, dev, "001", lambda v: v == 1)
        vb.update_hw(hang=True)  # the ADC read never returns
        vb.wait_for("machine: watchdog expired", 30)
        vb.update_hw(hang=False)
        vb.wait_for("reset cause 3", 20)  # machine.WDT_RESET
        vb.wait_for("uedge: connected", 20, count=2)
        vb.set_adc(P["adc"][1], 2)
        wait_value(conn, dev, "001", lambda v: v == 2)  # cached config_io runs again


def test_http_transport_and_status_led(tmp_path, connector):
    conn = connector
    vb = make_board(tmp_path, conn, hw={"adc": {P["adc"][1]: 42}},
                    settings={"protocol": "http", "port": conn.https_port})
    sim_only(vb)
    dev = vb.device_id
    led = "LED" if BOARD == "rp2040" else "2"
    with vb:
        vb.wait_for("uedge: connected", 20)
        vb.wait_until(lambda: vb.output(led) == 1, 10, "LED steady on when connected")
        conn.set_resource(dev, "config_io", config_io({
            "001": channel({"mode": "adc", "pin": P["adc"][0]}),
        }))
        wait_value(conn, dev, "001", lambda v: v == 42, 30)


def test_wifi_failure_is_retried_until_the_network_comes(tmp_path, connector):
    conn = connector
    vb = make_board(tmp_path, conn, hw={"wifi": {"ssid": "uedge-lab", "password": "changed"}},
                    settings={"ntp_wait_s": 1})
    sim_only(vb)
    with vb:
        vb.wait_for("net: connect failed (status STAT_WRONG_PASSWORD)", 20)
        vb.wait_for("uedge: edge loop started", 20)  # runs (and samples) without a network
        vb.wait_for("net: connect failed", 20, count=2)  # retried
        assert vb.count("led: no_network") >= 1
        assert vb.count("uedge: connected") == 0  # no connector attempts without a link
        # the access point's password is put back: the next retry gets through
        vb.update_hw(wifi={"ssid": "uedge-lab", "password": "correct horse"})
        vb.wait_for("net: up", 30)
        vb.wait_for("uedge: connected", 30)
        assert vb.boots == 1
