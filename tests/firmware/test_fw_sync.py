"""The board applies a data_out once: after a reboot the request still on the
connector is not carried out again (the sync state on flash), a new request
with the same value is. Over HTTP, whose connect-time read returns it."""
import json
import os
import time

from fw_helpers import BOARD, PINS, channel, config_io, make_board, sim_only

P = PINS[BOARD]


def test_data_out_applied_once_across_a_reboot_over_http(tmp_path, connector):
    conn = connector
    name, gpio = P["dout"]
    vb = make_board(tmp_path, conn, settings={"protocol": "http", "port": conn.https_port})
    sim_only(vb)
    dev = vb.device_id
    vb.start()
    try:
        vb.wait_for("uedge: connected", 20)
        conn.set_resource(dev, "config_io", config_io({
            "010": channel({"mode": "dout", "pin": name, "initial": False}, "BOOLEAN",
                           rate=60000, control=True),
        }))
        vb.wait_for("config_io applied", 20)
        conn.set_resource(dev, "data_out", json.dumps({"010": True}))
        vb.wait_until(lambda: vb.output(gpio) == 1, 15, "%s driven high by data_out" % name)
        assert os.path.exists(vb.file("config_io.sync.json"))
    finally:
        vb.stop()
    # reboot: the output starts low again (as if switched off by hand)
    vb.start()
    try:
        m = vb.mark()
        vb.wait_for("uedge: connected", 20, after=m)
        vb.wait_until(lambda: vb.output(gpio) == 0, 10, "%s low after the reboot" % name)
        vb.wait_for("data_out already applied", 10, after=m)
        time.sleep(3)  # long polls meanwhile
        assert vb.output(gpio) == 0
        assert "channel 010 set to" not in "\n".join(vb.log().splitlines()[m:])
        # a new request with the same value is carried out
        conn.set_resource(dev, "data_out", json.dumps({"010": True}))
        vb.wait_until(lambda: vb.output(gpio) == 1, 15, "%s driven high by the new request" % name)
    finally:
        vb.stop()
