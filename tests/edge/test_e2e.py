"""End to end: real connector subprocess, real `uedge go` subprocess."""

import json
import os
import stat
import subprocess
import sys

from edge_helpers import PYPATH, Uedge, make_config, wait_for
from uedge_connector.testing import running_connector


def _values(u, cid):
    return [(ts, d[cid]) for ts, d in u.data_in() if cid in d]


def test_provision_data_config_and_control_over_mqtts(tmp_path):
    cfg = make_config(n=2, rate_ms=200, multiplier=2, offset=1)
    with running_connector(tmp_path) as conn, \
            Uedge(tmp_path, conn, "e2e-1", cfg, scheme="mqtts") as u:
        # provisioning: the device exists and the token went to the INI (0600)
        wait_for(lambda: any(d["id"] == "e2e-1" and d["provisioned"] for d in conn.devices()),
                 what="device provisioned")
        wait_for(lambda: "murano_token" in u.ini_text(), what="token in INI")
        assert stat.S_IMODE(os.stat(u.ini).st_mode) == 0o600
        ini = open(u.ini).read()
        assert "murano_id = e2e-1" in ini and "mqtts://127.0.0.1" in ini
        token = [ln.split("=", 1)[1].strip() for ln in ini.splitlines() if ln.startswith("murano_token")][0]
        assert token not in u.log_text()  # never logged

        # data_in values follow the configured conversion: counter n -> 2n + 1
        vals = wait_for(lambda: (lambda v: v if len(v) >= 5 else None)(_values(u, "001")),
                        what="data_in 001")
        nums = [v for _ts, v in vals]
        assert all(x == 2 * ((x - 1) // 2) + 1 for x in nums), nums
        assert nums == sorted(nums)
        assert nums[0] == 1  # the first sample (counter 0) is there
        # the local (locally configured) config_io was written up
        wait_for(lambda: conn.get_resource("e2e-1", "config_io"), what="config_io written up")
        assert json.loads(conn.get_resource("e2e-1", "config_io"))["channels"]["001"]

        # a config_io change from the ExoSense side is applied live (no restart)
        pid = u.proc.pid
        new = make_config(n=3, rate_ms=200, multiplier=2, offset=1,
                          last_edited="2030-01-01T00:00:00Z")
        del new["channels"]["002"]
        conn.set_resource("e2e-1", "config_io", json.dumps(new))
        wait_for(lambda: _values(u, "003"), what="new channel 003 reporting")
        assert u.proc.pid == pid and u.proc.poll() is None
        with open(u.cfg_path) as f:
            assert json.load(f)["last_edited"] == "2030-01-01T00:00:00Z"  # cached locally
        n002 = len(_values(u, "002"))
        wait_for(lambda: len(_values(u, "003")) > 5, what="more 003")
        assert len(_values(u, "002")) <= n002 + 1  # removed channel stopped

        # an invalid config_io is rejected with __error, the last good one keeps running
        conn.set_resource("e2e-1", "config_io", '{"last_edited": "2031-01-01", "channels": {"x": 5}}')
        # (under the channel id its message names: __error is keyed by channel)
        wait_for(lambda: [d for _ts, d in u.data_in() if "rejected" in d.get("__error", {}).get("x", "")],
                 what="__error.x")
        before = len(_values(u, "003"))
        wait_for(lambda: len(_values(u, "003")) > before + 3, what="003 still reporting")

        # data_out round trip: ack written back, actuated through the source, echoed
        conn.set_resource("e2e-1", "data_out", '{"009": 30}')
        wait_for(lambda: ('{"009": 30}' in [v for _ts, v in conn.history("e2e-1", "data_out", source="device")]),
                 what="data_out acknowledged")
        wait_for(lambda: [v for _ts, v in _values(u, "009") if v == 30], what="009 = 30 in data_in")
        # the source now reads 30 on its own schedule (it was actuated, not just echoed)
        wait_for(lambda: len([v for _ts, v in _values(u, "009") if v == 30]) >= 3, what="009 sampled 30")

        # an out-of-range request is reported in __error and never actuated
        conn.set_resource("e2e-1", "data_out", '{"009": 99}')
        errs = wait_for(lambda: [d["__error"]["009"] for _ts, d in u.data_in()
                                 if "009" in d.get("__error", {})], what="__error.009")
        assert "40" in errs[0]
        n = len(_values(u, "009"))
        wait_for(lambda: len(_values(u, "009")) >= n + 3, what="more 009 samples")
        assert 99 not in [v for _ts, v in _values(u, "009")]
        assert _values(u, "009")[-1][1] == 30

        # uedge status shows the running daemon
        st = u.wait_status(lambda s: s["connected"] and s["control_rejected"] >= 1)
        assert st["channels"]["009"]["value"] == 30
        assert st["transport"] == "mqtts"
        env = dict(os.environ, PYTHONPATH=PYPATH)
        out = subprocess.run([sys.executable, "-m", "uedge_host.cli", "-i", u.ini, "status"],
                             capture_output=True, text=True, env=env, timeout=30)
        assert out.returncode == 0, out.stderr
        assert "connection connected" in out.stdout and "Set point" in out.stdout
        assert "queue      0 reports waiting" in out.stdout
        assert u.stop() == 0
        st = u.status()
        assert st["reason"] == "stopped"


def test_https_transport_provision_control_and_replay(tmp_path):
    cfg = make_config(n=1, rate_ms=250)
    with running_connector(tmp_path) as conn, \
            Uedge(tmp_path, conn, "e2e-http", cfg, scheme="https") as u:
        wait_for(lambda: len(_values(u, "001")) >= 3, what="data_in over HTTPS")
        assert "murano_token" in u.ini_text()
        conn.set_resource("e2e-http", "data_out", '{"009": 25}')
        wait_for(lambda: [v for _ts, v in _values(u, "009") if v == 25], what="009 = 25")
        assert '{"009": 25}' in [v for _ts, v in conn.history("e2e-http", "data_out", source="device")]
        # outage: reports are queued and replayed with their sampling times
        # (the HTTP record API has 1 s resolution: one point per second)
        conn.stop()
        u.wait_status(lambda s: s["queue"]["depth"] >= 12, what="queued over HTTP outage")
        queued = u.queued_rows()
        conn.start()
        u.wait_status(lambda s: s["connected"] and s["queue"]["depth"] == 0, timeout=60,
                      what="replayed over HTTP")
        seconds = set(ts // 1000000 for ts, _d in u.data_in())
        for ts, _p in queued:
            assert ts // 1000000 in seconds
        assert u.stop() == 0


def test_token_refused_after_reset_is_kept_until_the_operator_provisions_again(tmp_path):
    """A refused token is not dropped (a transient refusal must not strand the
    device): the daemon backs off, says how to provision again, and does so once
    the operator removes the token from the INI."""
    cfg = make_config(n=1, rate_ms=200, control=False)
    with running_connector(tmp_path) as conn:
        u = Uedge(tmp_path, conn, "e2e-reset", cfg).start()
        try:
            wait_for(lambda: "murano_token" in u.ini_text(), what="token in INI")
            old = u.ini_text()
            u.stop()
            conn.reset("e2e-reset")  # ExoSense side: the identity is reset
            u.start()
            wait_for(lambda: "refused the credentials 3 times" in u.log_text(), timeout=60,
                     what="the operator told")
            assert u.ini_text() == old  # the stored token is kept
            assert "provisioned" not in u.log_text().split("refused the credentials")[-1]
            u.stop()
            with open(u.ini) as f:
                lines = [ln for ln in f.read().splitlines() if not ln.startswith("murano_token")]
            with open(u.ini, "w") as f:
                f.write("\n".join(lines) + "\n")
            u.start()
            wait_for(lambda: "murano_token" in u.ini_text() and u.ini_text() != old, timeout=60,
                     what="new token in INI")
            n = len(u.data_in())
            wait_for(lambda: len(u.data_in()) > n + 3, what="reporting with the new token")
        finally:
            u.stop()


def test_remote_config_cached_without_c_and_runs_after_restart(tmp_path):
    with running_connector(tmp_path) as conn:
        u = Uedge(tmp_path, conn, "e2e-cache", None)
        u.args.remove("-c")
        u.args.remove(u.cfg_path)
        u.start()
        try:
            wait_for(lambda: "murano_token" in u.ini_text(), what="provisioned")
            conn.set_resource("e2e-cache", "config_io", json.dumps(make_config(n=1, rate_ms=200, control=False)))
            wait_for(lambda: _values(u, "001"), what="remote config running")
            cache = os.path.join(u.dir, "e2e-cache.config_io.json")
            assert os.path.exists(cache)
            u.stop()
            conn.stop()  # the restarted daemon runs the cached config offline
            u.start()
            u.wait_status(lambda s: s["queue"]["depth"] >= 3, what="cached config sampling offline")
        finally:
            u.stop()


def test_client_certificate_auth_over_mqtts_and_https(tmp_path):
    from uedge_connector import pki

    cfg = make_config(n=1, rate_ms=200, control=False)
    with running_connector(tmp_path, auth="cert") as conn:
        for scheme in ("mqtts", "https"):
            device = "cert-" + scheme
            cert, key = pki.make_client_cert(str(tmp_path / "client"), conn.pki, device)
            u = Uedge(tmp_path, conn, device, cfg, scheme=scheme, extra=["-C", cert, "-K", key]).start()
            try:
                wait_for(lambda u=u: len(_values(u, "001")) >= 3, what="data_in with a client certificate")
                assert "murano_token" not in u.ini_text()
            finally:
                assert u.stop() == 0
