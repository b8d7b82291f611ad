"""Local connector benchmark (loopback, one process each side).

Figures (one line each):
  connector.mqtt_qos1_writes_per_s     $resource/data_in QoS 1 publishes acknowledged per
                                       second (one device, publishes pipelined)
  connector.mqtt_batch_points_per_s    points stored per second via $resource.batch
                                       (100 records per publish, QoS 1)
  connector.http_writes_per_s          POST /onep:v1/stack/alias per second (keep-alive)
  connector.update_latency_ms          admin set -> PUBLISH received by the device (median)

    .venv/bin/python tools/bench/bench_connector.py
"""

import http.client
import json
import os
import queue
import statistics
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "connector"))

import paho.mqtt.client as mqtt  # noqa: E402
from uedge_connector.testing import running_connector  # noqa: E402


def activate(conn, device_id):
    req = urllib.request.Request("http://127.0.0.1:%d/provision/activate" % conn.http_port,
                                 data=("id=" + device_id).encode())
    with urllib.request.urlopen(req) as r:
        return r.read().decode()


def paho_device(conn, token, on_message=None):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="")
    c.username_pw_set("", token)
    c.max_inflight_messages_set(100)
    if on_message:
        c.on_message = on_message
    c.connect("127.0.0.1", conn.mqtt_port, 60)
    c.loop_start()
    return c


def bench_qos1(conn, n=3000):
    c = paho_device(conn, activate(conn, "bench-q1"))
    t0 = time.perf_counter()
    infos = [c.publish("$resource/data_in", '{"001": %d}' % i, qos=1) for i in range(n)]
    for info in infos:
        info.wait_for_publish(60)
    dt = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return n / dt


def bench_batch(conn, publishes=50, per=100):
    c = paho_device(conn, activate(conn, "bench-batch"))
    base = 1700000000000000
    t0 = time.perf_counter()
    infos = []
    for p in range(publishes):
        recs = [{"timestamp": base + (p * per + i) * 1000, "values": {"data_in": '{"001": %d}' % i}}
                for i in range(per)]
        infos.append(c.publish("$resource.batch", json.dumps(recs), qos=1))
    for info in infos:
        info.wait_for_publish(60)
    dt = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return publishes * per / dt


def bench_http(conn, n=1000):
    token = activate(conn, "bench-http")
    h = http.client.HTTPConnection("127.0.0.1", conn.http_port)
    hdr = {"X-Exosite-CIK": token, "Content-Type": "application/x-www-form-urlencoded"}
    t0 = time.perf_counter()
    for i in range(n):
        h.request("POST", "/onep:v1/stack/alias", body="data_in=%d" % i, headers=hdr)
        r = h.getresponse()
        r.read()
        assert r.status == 204
    dt = time.perf_counter() - t0
    h.close()
    return n / dt


def bench_update_latency(conn, n=100):
    got = queue.Queue()
    c = paho_device(conn, activate(conn, "bench-upd"), lambda cl, u, m: got.put(time.perf_counter()))
    time.sleep(0.3)
    lat = []
    for i in range(n):
        t0 = time.perf_counter()
        conn.set_resource("bench-upd", "data_out", '{"002": %d}' % i)
        lat.append((got.get(timeout=10) - t0) * 1000)
    c.disconnect()
    c.loop_stop()
    return statistics.median(lat)


def main():
    with tempfile.TemporaryDirectory() as tmp, running_connector(tmp) as conn:
        print("connector.mqtt_qos1_writes_per_s %.0f" % bench_qos1(conn))
        print("connector.mqtt_batch_points_per_s %.0f" % bench_batch(conn))
        print("connector.http_writes_per_s %.0f" % bench_http(conn))
        print("connector.update_latency_ms %.2f" % bench_update_latency(conn))


if __name__ == "__main__":
    main()
