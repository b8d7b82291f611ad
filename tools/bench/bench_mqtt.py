"""MQTT publish benchmark: uedge.transport.mqtt_client vs paho-mqtt on a loopback mosquitto.

    .venv/bin/python tools/bench/bench_mqtt.py [N]

Prints publishes/s and CPU microseconds per publish for QoS 0 and QoS 1
(QoS 1 with up to 16 messages in flight, counted until every PUBACK is in),
the uedge/paho ratio, and for the MicroPython unix port the publish rate and
bytes allocated per publish (gc.mem_alloc delta with gc disabled).
"""

import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for p in (os.path.join(ROOT, "lib"), os.path.join(ROOT, "tests"), os.path.join(ROOT, "tools", "connector")):
    sys.path.insert(0, p)

from peers.mosquitto import running_mosquitto  # noqa: E402
from uedge.transport.mqtt_client import MQTTClient  # noqa: E402

TOPIC = "$resource/data_in"
MSG = b'{"001":73.16492,"002":12.5}'
WINDOW = 16


def measure(fn, n):
    c0, t0 = time.process_time(), time.perf_counter()
    fn(n)
    c1, t1 = time.process_time(), time.perf_counter()
    return n / (t1 - t0), (c1 - c0) * 1e6 / n


def uedge_run(host, port):
    c = MQTTClient("bench-uedge", host, port, max_inflight=WINDOW)
    c.connect()
    topic = TOPIC.encode()

    def qos0(n):
        for _ in range(n):
            c.publish(topic, MSG)
        c.ping()
        while c._ping_out:  # round trip: the broker has read everything
            c.wait_msg(1000)

    def qos1(n):
        for _ in range(n):
            while c.pending() >= WINDOW:
                c.poll()
            c.publish(topic, MSG, qos=1)
        while c.pending():
            c.poll()

    return c, qos0, qos1


def paho_run(host, port):
    import paho.mqtt.client as mqtt

    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-paho")
    c.max_inflight_messages_set(WINDOW)
    c.max_queued_messages_set(0)
    acked = [0]
    c.on_publish = lambda *a: acked.__setitem__(0, acked[0] + 1)
    c.connect(host, port)
    while not c.is_connected():
        c.loop(0.01)

    def drain():
        while c.want_write():
            c.loop(0)

    def qos0(n):
        acked[0] = 0
        for _ in range(n):
            c.publish(TOPIC, MSG)
            c.loop_write()
        drain()
        while acked[0] < n:
            c.loop(0.001)

    def qos1(n):
        acked[0] = 0
        for i in range(n):
            c.publish(TOPIC, MSG, qos=1)
            while i + 1 - acked[0] >= WINDOW:
                c.loop(0.001)
        while acked[0] < n:
            c.loop(0.001)

    return c, qos0, qos1


def main(argv):
    n = int(argv[1]) if len(argv) > 1 else 20000
    results = {}
    with tempfile.TemporaryDirectory() as tmp, running_mosquitto(os.path.join(tmp, "m")) as b:
        for name, maker in (("uedge", uedge_run), ("paho", paho_run)):
            client, q0, q1 = maker(b.host, b.port)
            q0(500)  # warm up
            results[(name, 0)] = measure(q0, n)
            results[(name, 1)] = measure(q1, n // 4)
            client.disconnect()
        for qos in (0, 1):
            for name in ("uedge", "paho"):
                rate, cpu = results[(name, qos)]
                print("mqtt.cpython.%s.qos%d: %.0f publishes/s, %.2f us CPU/publish" % (name, qos, rate, cpu))
            (ur, uc), (pr, pc) = results[("uedge", qos)], results[("paho", qos)]
            print("mqtt.cpython.ratio.qos%d: uedge/paho %.2fx publishes/s, %.2fx CPU/publish" % (qos, ur / pr, uc / pc))
        mpy = os.path.join(ROOT, ".venv", "bin", "micropython")
        if os.path.exists(mpy):
            out = subprocess.run(
                [mpy, os.path.join(ROOT, "tools", "bench", "mpy_mqtt_bench.py"), b.host, str(b.port), str(n // 2)],
                cwd=ROOT, capture_output=True, text=True, timeout=300,
            )
            if out.returncode:
                print("mqtt.micropython: failed: %s" % out.stderr.strip().splitlines()[-1:])
            for line in out.stdout.splitlines():
                kind, qos, val = line.split()
                if kind == "ALLOC":
                    print("mqtt.micropython.qos%s: %.1f bytes allocated/publish (gc disabled)" % (qos, float(val)))
                else:
                    print("mqtt.micropython.qos%s: %.0f publishes/s" % (qos, float(val)))


if __name__ == "__main__":
    main(sys.argv)
