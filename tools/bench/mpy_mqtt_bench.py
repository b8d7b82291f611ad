# MicroPython side of bench_mqtt.py: publish rate and bytes allocated per publish.
# Usage: micropython tools/bench/mpy_mqtt_bench.py HOST PORT N
import gc
import sys
import time

sys.path.insert(0, "lib")
from uedge.transport.mqtt_client import MQTTClient  # noqa: E402

host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
topic = b"$resource/data_in"
msg = b'{"001":73.16492,"002":12.5}'
c = MQTTClient("mpy-bench", host, port, max_inflight=16)
c.connect()

# allocation per publish, gc disabled so nothing is collected in between
for qos in (0, 1):
    for _ in range(20):
        c.publish(topic, msg, qos=qos)
        while c.pending() >= 16:
            c.poll()
    while c.pending():
        c.poll()
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    k = 200
    for _ in range(k):
        c.publish(topic, msg, qos=qos)
        while c.pending() >= 16:
            c.poll()
    b = gc.mem_alloc()
    gc.enable()
    while c.pending():
        c.poll()
    print("ALLOC", qos, (b - a) / k)

for qos in (0, 1):
    t0 = time.ticks_us()
    for _ in range(n):
        c.publish(topic, msg, qos=qos)
        if qos:
            while c.pending() >= 16:
                c.poll()
    while c.pending():
        c.poll()
    c.ping()
    while c._ping_out:
        c.wait_msg(1000)
    dt = time.ticks_diff(time.ticks_us(), t0)
    print("RATE", qos, n * 1000000 / dt)
c.disconnect()
