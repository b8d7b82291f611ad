# MicroPython side of the broker-restart test: the Murano layer must reconnect by itself.
# Usage: micropython mpy_murano_restart.py HOST PORT CRED_PATH
import sys
import time

sys.path.insert(0, "lib")
from uedge.transport.murano_mqtt import MuranoMQTT  # noqa: E402

m = MuranoMQTT(sys.argv[1], int(sys.argv[2]), "0001", tls=False, credentials_path=sys.argv[3],
               backoff_base_ms=200, backoff_cap_ms=1000, keepalive=5)
acks = []
m.on_ack = acks.append
m.connect()
print("READY", m.connected)


def until(cond, ms):
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < ms:
        m.poll()
        if cond():
            return True
        time.sleep_ms(5)
    return False


print("DOWN", until(lambda: not m.connected, 10000))
t0 = m.attempts
until(lambda: False, 1000)
print("SPACED", 1 <= m.attempts - t0 <= 6)
print("UP", until(lambda: m.connected, 20000))
sys.stdin.readline()  # the test's subscriber is ready
mid = m.write("data_in", "mpy-after-restart")
print("ACKED", until(lambda: mid in acks, 5000))
m.close()
