"""The Murano MQTT and HTTP layers under the MicroPython unix port, against the connector."""

import os
import subprocess

import pytest
from mqtt_helpers import MICROPYTHON, ROOT


@pytest.mark.parametrize("kind", ["mqtt", "http"])
def test_mpy_murano_layer(conn, tmp_path, kind):
    dev = "mpy-%s-1" % kind
    port = conn.mqtts_port if kind == "mqtt" else conn.https_port
    conn.upload_content("fw.bin", b"\x00\x01" * 3000, "application/octet-stream")
    proc = subprocess.Popen(
        [MICROPYTHON, os.path.join("tests", "mqtt", "mpy_murano.py"), kind, "127.0.0.1", str(port), dev,
         str(tmp_path / "token"), conn.ca_path],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith("READY"):
                break
        assert lines[:4] == ["PROVISIONED True", "CONNECTED True", "ACKS True", "CONTENT 6000 6000"], (lines, proc.stderr.read() if proc.poll() is not None else "")
        assert conn.get_resource(dev, "data_in") == '{"001":42}'
        conn.set_resource(dev, "data_out", '{"002":1}')
        out, err = proc.communicate(timeout=30)
        rest = out.splitlines()
        assert rest == ["UPDATE [('data_out', '{\"002\":1}')]", "POLL_NONBLOCKING True", "DONE"], (rest, err)
        # the token was persisted (file modes: MicroPython's os has no chmod/open flags,
        # so 0600 is only enforced on CPython; see docs/mqtt.md)
        assert len((tmp_path / "token").read_text()) >= 20
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
