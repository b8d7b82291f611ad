"""The firmware boots, provisions, reports on-board I/O and obeys data_out."""
import json
import time

from conftest import channel, config_io, make_board, sim_only, values, wait_value


def test_boots_provisions_and_reports_onboard_channels(tmp_path, connector):
    conn = connector
    vb = make_board(tmp_path, conn, hw={"adc": {"26": 30000, "ch4": 14000}, "pins": {"14": 1}})
    sim_only(vb)
    dev = vb.device_id
    with vb:
        vb.wait_for("net: up", 20)
        vb.wait_for("uedge: connected", 20)
        assert dev in [d["id"] if isinstance(d, dict) else d for d in conn.devices()]
        assert vb.count("led: connected") >= 1
        conn.set_resource(dev, "config_io", config_io({
            "001": channel({"mode": "adc", "pin": "A0"}),
            "002": channel({"mode": "din", "pin": "GP14"}, "BOOLEAN"),
            "003": channel({"mode": "adc", "pin": "TEMP"}),
            "004": channel({"mode": "sys", "item": "mem_free"}, device_diagnostic=True),
        }))
        wait_value(conn, dev, "001", lambda v: v == 30000)
        wait_value(conn, dev, "002", lambda v: v is True)
        wait_value(conn, dev, "003", lambda v: v == 14000)
        wait_value(conn, dev, "004", lambda v: isinstance(v, int) and v > 0)
        # the simulated hardware moves; the reports follow
        vb.set_adc(26, 1234)
        vb.set_input(14, 0)
        wait_value(conn, dev, "001", lambda v: v == 1234)
        wait_value(conn, dev, "002", lambda v: v is False)
        # the config is cached on the board's filesystem for the next boot
        with open(vb.file("config_io.json")) as f:
            assert "GP14" in f.read()


def test_bad_pin_in_config_is_reported_not_fatal(tmp_path, connector):
    conn = connector
    vb = make_board(tmp_path, conn, hw={"adc": {"27": 5}})
    sim_only(vb)
    dev = vb.device_id
    with vb:
        vb.wait_for("uedge: connected", 20)
        conn.set_resource(dev, "config_io", config_io({
            "001": channel({"mode": "adc", "pin": "NOPE"}),
        }))
        vb.wait_for("config_io rejected", 20)
        conn.set_resource(dev, "config_io", config_io({
            "001": channel({"mode": "adc", "pin": "A1"}),
        }, edited="2026-01-02T00:00:00Z"))
        wait_value(conn, dev, "001", lambda v: v == 5)
        assert vb.boots == 1  # no restart needed


def test_data_out_drives_digital_output(tmp_path, connector):
    conn = connector
    vb = make_board(tmp_path, conn)
    sim_only(vb)
    dev = vb.device_id
    with vb:
        vb.wait_for("uedge: connected", 20)
        conn.set_resource(dev, "config_io", config_io({
            "010": channel({"mode": "dout", "pin": "GP16", "initial": False}, "BOOLEAN",
                           rate=60000, control=True),
        }))
        vb.wait_for("config_io applied", 20)
        vb.wait_until(lambda: vb.output(16) == 0, 10, "GP16 driven low")
        conn.set_resource(dev, "data_out", json.dumps({"010": True}))
        vb.wait_until(lambda: vb.output(16) == 1, 15, "GP16 driven high by data_out")
        wait_value(conn, dev, "010", lambda v: v is True)  # new state echoed to data_in
        conn.set_resource(dev, "data_out", json.dumps({"010": False}))
        vb.wait_until(lambda: vb.output(16) == 0, 15, "GP16 back low")
        # the request was acknowledged by writing it back to data_out
        acks = [v for _ts, v in conn.history(dev, "data_out", source="device")]
        assert json.dumps({"010": True}) in acks or '{"010":true}' in [a.replace(" ", "") for a in acks]


def test_connector_restart_loses_no_queued_data(tmp_path, connector):
    conn = connector
    vb = make_board(tmp_path, conn, hw={"adc": {"26": 100}}, settings={"reconnect_cap_s": 2})
    sim_only(vb)
    dev = vb.device_id
    with vb:
        vb.wait_for("uedge: connected", 20)
        conn.set_resource(dev, "config_io", config_io({
            "001": channel({"mode": "adc", "pin": "A0"}, rate=200),
        }))
        wait_value(conn, dev, "001", lambda v: v == 100)
        m = vb.mark()
        conn.stop()
        vb.wait_for("disconnected", 20, after=m)
        # values sampled while the connector is away
        for v in (201, 202, 203):
            vb.set_adc(26, v)
            time.sleep(0.6)
        conn.start()
        vb.wait_for("uedge: connected", 40, after=m)
        vb.set_adc(26, 300)
        wait_value(conn, dev, "001", lambda v: v == 300, 30)
        got = [v for _ts, v in values(conn, dev, "001")]
        for v in (201, 202, 203):
            assert v in got, "value %d sampled offline was lost: %r" % (v, got)
        ts = [t for t, _v in values(conn, dev, "001")]
        assert ts == sorted(ts)
