# MicroPython-side checks launched by tests/mqtt/test_mqtt_micropython.py.
# Usage: micropython tests/mqtt/mpy_client.py MODE args...  Prints "KEY value" lines.
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 3)[0] + "/lib" if __file__.count("/") >= 3 else "lib")
sys.path.insert(0, "lib")

from uedge.transport.mqtt_client import MQTTClient  # noqa: E402
from uedge.transport.net import MQTTAuthError, MQTTException


def pump(c, cond, ms=5000):
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < ms:
        c.poll()
        if cond():
            return True
        time.sleep_ms(5)
    return False


def params(args):
    # host port [ca [server_hostname]]
    host, port = args[0], int(args[1])
    ssl_params = {}
    if len(args) > 2:
        ssl_params["ca"] = args[2]
    if len(args) > 3:
        ssl_params["server_hostname"] = args[3]
    return host, port, ssl_params


def pubsub(args):
    host, port, sp = params(args)
    c = MQTTClient("mpy-pubsub", host, port, keepalive=1, ssl=bool(sp), ssl_params=sp)
    print("CONNECTED", c.connect())
    got = []
    acks = []
    c.set_callback(lambda t, m: got.append((t, m)))
    c.on_puback = acks.append
    print("SUBACK", c.subscribe("mpy/in/#"))
    c.publish("mpy/out/q0", "zero")
    pid = c.publish("mpy/out/q1", b"one", qos=1)
    print("ACKED", pump(c, lambda: pid in acks), pid in acks)
    c.publish("mpy/in/loop", "looped", qos=1)
    print("LOOPBACK", pump(c, lambda: (b"mpy/in/loop", b"looped") in got))
    # keepalive 1 s: stay idle-but-polling for 2.5 s, pings must keep us connected
    pump(c, lambda: False, 2500)
    print("ALIVE", c.connected)
    c.disconnect()
    print("DONE")


def tlsfail(args):
    host, port, sp = params(args)
    c = MQTTClient("", host, port, ssl=True, ssl_params=sp)
    try:
        c.connect()
        print("CONNECTED-UNEXPECTEDLY")
    except Exception as e:
        print("TLSFAIL", type(e).__name__, e)


def garbage(args):
    c = MQTTClient("x", "127.0.0.1", int(args[0]), timeout_ms=1000)
    try:
        c.connect()
        pump(c, lambda: False, 2000)
        print("NOERROR")
    except MQTTException as e:
        print("ERR", e)


def oversize(args):
    c = MQTTClient("x", "127.0.0.1", int(args[0]), timeout_ms=1000, max_packet=32768)
    got = []
    c.set_callback(lambda t, m: got.append((t, m)))
    c.on_oversize = lambda t, n: print("OVERSIZE", t.decode(), n)
    c.connect()
    pump(c, lambda: got, 5000)
    for t, m in got:
        print("MSG", t.decode(), m.decode())
    print("CONNECTED", c.connected)


def auth(args):
    c = MQTTClient("", args[0], int(args[1]), user=args[2], password=args[3])
    try:
        c.connect()
        print("CONNECTED")
        c.disconnect()
    except MQTTAuthError as e:
        print("AUTHERR", e)


def alloc(args):
    import gc

    c = MQTTClient("mpy-alloc", args[0], int(args[1]))
    c.connect()
    topic = b"mpy/alloc"
    msg = b'{"001":73.16492}'
    for _ in range(10):
        c.publish(topic, msg)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    n = 100
    for _ in range(n):
        c.publish(topic, msg)
    b = gc.mem_alloc()
    gc.enable()
    print("ALLOC_QOS0", (b - a) // n)
    c.disconnect()


def cert(args):
    # host port ca cert key
    sp = {"ca": args[2], "cert": args[3], "key": args[4]}
    c = MQTTClient("", args[0], int(args[1]), ssl=True, ssl_params=sp)
    print("CONNECTED", c.connect())
    pid = c.publish("$resource/data_in", "by-cert", qos=1)
    print("ACKED", pump(c, lambda: c.pending() == 0), pid > 0)
    c.disconnect()


MODES = {"cert": cert, "pubsub": pubsub, "tlsfail": tlsfail, "garbage": garbage, "oversize": oversize, "auth": auth, "alloc": alloc}
MODES[sys.argv[1]](sys.argv[2:])
