"""Admin CLI and API ("ExoSense side"), persistence across restarts, and the
plain-HTTP device API details (keep-alive, limits, hybrid write/read)."""

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from rawmqtt import RawClient
from uedge_connector.admin import AdminClient, AdminError
from uedge_connector.testing import PACKAGE_ROOT, running_connector


@pytest.fixture(scope="module")
def conn(tmp_path_factory):
    with running_connector(tmp_path_factory.mktemp("admin")) as c:
        yield c


def cli(conn, *args):
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    argv = [sys.executable, "-m", "uedge_connector", args[0], "--admin", conn.admin_url]
    proc = subprocess.run(argv + list(args[1:]), capture_output=True, text=True, env=env,
                          timeout=60)
    return proc.returncode, proc.stdout, proc.stderr


def activate(conn, device_id):
    req = urllib.request.Request("http://127.0.0.1:%d/provision/activate" % conn.http_port,
                                 data=("id=" + device_id).encode())
    with urllib.request.urlopen(req) as r:
        return r.read().decode()


def test_cli_set_config_io_reaches_device_and_history_reads_back(conn, tmp_path):
    token = activate(conn, "cli-dev")
    dev = RawClient(conn.mqtt_port)
    assert dev.connect(password=token) == (0, 0)
    cfg = {"channels": {"001": {"display_name": "Temperature",
                                "protocol_config": {"report_rate": 1000}}}}
    path = tmp_path / "config_io.json"
    path.write_text(json.dumps(cfg))
    rc, out, err = cli(conn, "set", "cli-dev", "config_io", "@" + str(path))
    assert rc == 0, err
    ts = json.loads(out)["ts_us"]
    topic, payload, qos, _r = dev.wait_message("$resource/config_io/")
    assert topic == "$resource/config_io/%d" % ts and qos == 0
    assert json.loads(payload) == cfg

    for i in range(3):
        dev.publish("$resource/data_in", '{"001": %d}' % i, qos=1)
        dev.read()
    dev.disconnect()
    rc, out, _ = cli(conn, "get", "cli-dev", "data_in")
    assert (rc, out.strip()) == (0, '{"001": 2}')
    rc, out, _ = cli(conn, "get", "cli-dev", "data_in", "--history", "2")
    lines = [ln.split("\t") for ln in out.strip().splitlines()]
    assert [ln[1:] for ln in lines] == [["device", '{"001": 1}'], ["device", '{"001": 2}']]
    assert int(lines[0][0]) < int(lines[1][0])
    assert [v for _t, v in conn.history("cli-dev", "data_in")] == [
        '{"001": 0}', '{"001": 1}', '{"001": 2}']

    rc, out, _ = cli(conn, "set", "cli-dev", "data_out", '{"002": true}')
    assert rc == 0
    rc, out, _ = cli(conn, "devices")
    assert [d["id"] for d in json.loads(out)] == ["cli-dev"]

    rc, out, err = cli(conn, "get", "nobody", "data_in")
    assert rc == 1 and "no value" in err
    assert conn.get_resource("nobody", "data_in") is None and conn.history("nobody", "x") == []
    rc, out, err = cli(conn, "set", "nobody", "config_io", "{}")
    assert rc == 1 and "404" in err


def test_cli_get_follow_prints_new_points(conn):
    import queue
    import threading

    token = activate(conn, "follow-dev")
    c = RawClient(conn.mqtt_port)
    c.connect(password=token)

    def write(value):
        c.publish("$resource/data_in", value, qos=1)
        c.read()

    write("v0")
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "uedge_connector", "get", "follow-dev",
                             "data_in", "--follow", "--admin", conn.admin_url],
                            stdout=subprocess.PIPE, text=True, env=env)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(ln) for ln in proc.stdout], daemon=True).start()
    try:
        assert lines.get(timeout=20).rstrip("\n").split("\t")[1:] == ["device", "v0"]
        write("v1")
        write("v2")
        got = [lines.get(timeout=20).rstrip("\n").split("\t")[1:] for _ in range(2)]
        assert got == [["device", "v1"], ["device", "v2"]]
    finally:
        c.disconnect()
        proc.terminate()
        proc.wait(10)


def test_cli_content_and_whitelist(conn, tmp_path):
    f = tmp_path / "app.tar.gz"
    f.write_bytes(b"\x1f\x8b" + b"x" * 50)
    rc, out, err = cli(conn, "content-upload", str(f), "--mime", "application/gzip")
    assert rc == 0, err
    rc, out, _ = cli(conn, "content-list")
    items = {i["name"]: i for i in json.loads(out)}
    assert items["app.tar.gz"]["length"] == 52
    assert items["app.tar.gz"]["mime"] == "application/gzip"
    rc, out, _ = cli(conn, "whitelist", "wl-a", "wl-b")
    assert rc == 0
    ids = [d["id"] for d in conn.devices()]
    assert "wl-a" in ids and "wl-b" in ids


def test_admin_history_limits_and_api_errors(conn):
    token = activate(conn, "hist")
    c = RawClient(conn.mqtt_port)
    c.connect(password=token)
    batch = [{"timestamp": 1000000 * i, "values": {"data_in": str(i)}} for i in range(1, 6)]
    c.publish("$resource.batch", json.dumps(batch), qos=1)
    c.read()
    c.disconnect()
    assert conn.history("hist", "data_in", limit=2) == [(4000000, "4"), (5000000, "5")]
    assert conn.history("hist", "data_in", since=3000000) == [
        (3000000, "3"), (4000000, "4"), (5000000, "5")]
    with pytest.raises(AdminError) as e:
        conn.admin.request("GET", "/api/nothing")
    assert e.value.status == 404
    with pytest.raises(AdminError) as e:
        conn.set_resource("hist", "config_io", "x" * (1048576 + 1))
    assert e.value.status == 413


def test_http_device_api_keepalive_limits_and_hybrid(conn):
    token = activate(conn, "http-dev")
    h = http.client.HTTPConnection("127.0.0.1", conn.http_port, timeout=10)
    hdr = {"X-Exosite-CIK": token, "Content-Type": "application/x-www-form-urlencoded"}
    h.request("POST", "/onep:v1/stack/alias", body="data_in=%7B%22a%22%3A1%7D&state=on",
              headers=hdr)
    r = h.getresponse()
    assert r.status == 204
    r.read()
    sock = h.sock
    h.request("GET", "/onep:v1/stack/alias?data_in&state&nothing", headers=hdr)
    r = h.getresponse()
    assert (r.status, r.read()) == (200, b"data_in=%7B%22a%22%3A1%7D&state=on")
    assert h.sock is sock  # same connection: HTTP/1.1 keep-alive
    h.request("POST", "/onep:v1/stack/alias?state", body="state=off", headers=hdr)
    r = h.getresponse()
    assert (r.status, r.read()) == (200, b"state=off")
    h.request("POST", "/onep:v1/stack/alias", body="big=" + "a" * (1048576 + 1), headers=hdr)
    r = h.getresponse()
    assert r.status == 413
    r.read()
    h.close()
    assert conn.get_resource("http-dev", "big") is None
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(urllib.request.Request(
            "http://127.0.0.1:%d/onep:v1/stack/alias?data_in" % conn.http_port,
            headers={"X-Exosite-CIK": "nope"}))
    assert e.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as e:
        activate(conn, "http-dev")
    assert e.value.code == 409


@pytest.mark.skipif(not shutil.which("curl"), reason="curl not installed")
def test_curl_over_https_with_the_local_ca(conn):
    token = activate(conn, "curl-dev")
    value = "x" * 5000  # large enough for curl to send "Expect: 100-continue"
    base = "https://localhost:%d/onep:v1/stack/alias" % conn.https_port
    common = ["curl", "-sS", "--cacert", conn.ca_path, "-H", "X-Exosite-CIK: " + token]
    proc = subprocess.run(common + ["-o", "/dev/null", "-w", "%{http_code}",
                                    "--data-urlencode", "data_in=" + value, base],
                          capture_output=True, text=True, timeout=30)
    assert proc.stdout == "204", proc.stderr
    assert conn.get_resource("curl-dev", "data_in") == value
    proc = subprocess.run(common + ["-w", " %{http_code}", "-H", "Request-Timeout: 200",
                                    base + "?config_io"],
                          capture_output=True, text=True, timeout=30)
    assert proc.stdout == " 304"


def test_restart_and_kill_keep_ports_identities_and_history(tmp_path):
    with running_connector(tmp_path) as conn:
        token = activate(conn, "persist")
        c = RawClient(conn.mqtt_port)
        c.connect(password=token)
        c.publish("$resource/data_in", "before", qos=1)
        c.read()
        c.disconnect()
        ports = dict(conn.ports)
        conn.stop()
        conn.start()
        assert conn.ports == ports
        c = RawClient(conn.mqtt_port)
        assert c.connect(password=token) == (0, 0)
        c.publish("$resource/data_in", "after restart", qos=1)
        c.read()
        c.disconnect()
        conn.kill()
        conn.start()
        assert conn.ports == ports
        assert [v for _t, v in conn.history("persist", "data_in")] == ["before", "after restart"]
        c = RawClient(conn.mqtt_port)
        assert c.connect(password=token) == (0, 0)
        c.disconnect()


def test_admin_token_required_when_enabled(tmp_path):
    with running_connector(tmp_path, admin_token=True) as conn:
        token_file = os.path.join(conn.data_dir, "admin.token")
        assert os.stat(token_file).st_mode & 0o777 == 0o600
        with pytest.raises(AdminError) as e:
            AdminClient(conn.admin_url).devices()
        assert e.value.status == 401
        assert conn.devices() == []  # the harness reads the token file
        env = dict(os.environ,
                   PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        proc = subprocess.run([sys.executable, "-m", "uedge_connector", "devices", "--data",
                               conn.data_dir], capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 0 and json.loads(proc.stdout) == []


def test_connector_exits_when_the_starting_process_dies(tmp_path):
    script = (
        "import os, sys\n"
        "from uedge_connector.testing import ConnectorProcess\n"
        "c = ConnectorProcess(sys.argv[1]).start()\n"
        "print(c.proc.pid, flush=True)\n"
        "os._exit(0)\n"
    )
    env = dict(os.environ, PYTHONPATH=PACKAGE_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True,
                          text=True, env=env, timeout=60)
    pid = int(proc.stdout.strip())
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, 9)
        raise AssertionError("connector %d outlived the process that started it" % pid)
