"""What the uedge client still takes from the connector that the seeds do not
promise: real `uedge go` processes against the seed-strict connector.

Each test states the behaviour the client must have; those the client does not
have yet are marked xfail(strict=True) with the root cause, so the marker has
to go when the client is fixed (an unexpected pass fails the run). The same
scenario with --resend-on-connect shows the extension is what the client leans
on today.
"""

import json
import os
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
for p in (os.path.join(ROOT, "tests", "edge"), os.path.join(ROOT, "host"),
          os.path.join(ROOT, "lib")):
    if p not in sys.path:
        sys.path.append(p)

edge_helpers = pytest.importorskip("edge_helpers")
from uedge_connector.testing import running_connector  # noqa: E402

make_config, wait_for, Uedge = edge_helpers.make_config, edge_helpers.wait_for, edge_helpers.Uedge


def _config(n, last_edited):
    return json.dumps(make_config(n=n, rate_ms=300, control=False, last_edited=last_edited))


CONFIG_B = _config(2, "2024-02-02T00:00:00Z")


def offline_cloud_edit(tmp_path, extra_args=()):
    """The device runs config A from the cloud; while it is stopped the ExoSense
    side sets config B; the device starts again. -> (B's ts_us, config_io history
    after B as [(ts_us, value)], the uedge log)."""
    with running_connector(tmp_path, extra_args=list(extra_args)) as conn:
        u = Uedge(tmp_path, conn, "gap-cfg", None)
        u.args.remove("-c")
        u.args.remove(u.cfg_path)
        u.start()
        try:
            wait_for(lambda: "murano_token" in u.ini_text(), what="provisioned")
            conn.set_resource("gap-cfg", "config_io", _config(1, "2024-01-01T00:00:00Z"))
            wait_for(lambda: os.path.exists(os.path.join(u.dir, "gap-cfg.config_io.json")),
                     what="config A cached")
            wait_for(lambda: u.log_text().count("connected (") >= 1, what="connected")
            u.stop()
            seen = u.log_text().count("connected (")
            ts_b = conn.set_resource("gap-cfg", "config_io", CONFIG_B)
            u.start()
            wait_for(lambda: u.log_text().count("connected (") > seen, what="connected again")
            # well past the client's sync window (3 s) after connecting
            time.sleep(6)
            after = [(ts, v) for ts, v in conn.history("gap-cfg", "config_io") if ts > ts_b]
            return ts_b, after, u.log_text()
        finally:
            u.stop()


def test_config_io_edited_offline_is_not_overwritten_over_mqtt(tmp_path):
    _ts_b, after, _log = offline_cloud_edit(tmp_path)
    stale = [v for _ts, v in after if v != CONFIG_B]
    assert stale == [], "the device overwrote the ExoSense-side config_io: %r" % (stale[:1],)


def test_config_io_edited_offline_with_resend_on_connect(tmp_path):
    """With the extension the client picks up B and writes nothing over it."""
    _ts_b, after, _log = offline_cloud_edit(tmp_path, ["--resend-on-connect"])
    assert [v for _ts, v in after if v != CONFIG_B] == []
