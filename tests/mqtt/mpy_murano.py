# MicroPython side of test_murano_micropython.py: the Murano layers on the unix port.
# Usage: micropython mpy_murano.py mqtt|http HOST PORT DEVICE_ID CRED_PATH CA
import sys
import time

sys.path.insert(0, "lib")

from uedge.transport.murano_mqtt import MuranoMQTT  # noqa: E402
from uedge.transport.murano_http import MuranoHTTP  # noqa: E402

kind, host, port, dev, cred, ca = sys.argv[1:7]
cls = MuranoMQTT if kind == "mqtt" else MuranoHTTP
kw = {"long_poll_ms": 2000} if kind == "http" else {}
m = cls(host, int(port), dev, auth="token", credentials_path=cred, ca=ca, server_hostname="localhost", **kw)
updates = []
acks = []
m.on_update = lambda a, v, ts: updates.append((a, v))
m.on_ack = acks.append
m.provision()
# provisioning code is loaded for it and released after it (uedge.compat.release)
print("PROVISIONED", m.provisioned and "uedge.transport.mqtt_provision" not in sys.modules)
m.connect()
# the TLS context's code is loaded for the connect and released before its handshake
print("CONNECTED", m.connected and "uedge.transport.tls_setup" not in sys.modules)
a = m.write("data_in", '{"001":42}')
b = m.record([(1700000000000000, {"data_in": '{"001":41}'})])
t0 = time.ticks_ms()
while len(acks) < 2 and time.ticks_diff(time.ticks_ms(), t0) < 8000:
    m.poll()
    time.sleep_ms(5)
print("ACKS", sorted(acks) == sorted([a, b]))
chunks = []
got = m.content_get("fw.bin", chunks.append)
print("CONTENT", got, len(b"".join(chunks)))
print("READY")
t0 = time.ticks_ms()
longest = 0
while not [u for u in updates if u[0] == "data_out"] and time.ticks_diff(time.ticks_ms(), t0) < 15000:
    t1 = time.ticks_ms()
    m.poll()
    longest = max(longest, time.ticks_diff(time.ticks_ms(), t1))
    time.sleep_ms(5)
print("UPDATE", [u for u in updates if u[0] == "data_out"])
print("POLL_NONBLOCKING", longest < 500)
m.close()
print("DONE")
