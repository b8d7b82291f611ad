"""What the tests in tests/mqtt share: peers, fake servers, MicroPython runs, poll loops."""

import os
import socket
import subprocess
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")


def pump(link, cond, timeout=5.0):
    """Call link.poll() until cond() holds (True) or timeout seconds pass (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        link.poll()
        if cond():
            return True
        time.sleep(0.005)
    return False


def wait(cond, timeout=5.0):
    """Wait until cond() holds (True) or timeout seconds pass (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def run_mpy(script, *args, timeout=60):
    """Run a MicroPython-side script from tests/mqtt; returns (rc, stdout lines)."""
    proc = subprocess.run(
        [MICROPYTHON, os.path.join(HERE, script)] + [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    return proc.returncode, proc.stdout.splitlines(), proc.stderr


class PahoPeer:
    """A paho-mqtt client on the broker: records messages, can answer requests."""

    def __init__(self, host, port, topics=("#", "$resource/#", "$resource.batch", "$provision/#", "$content")):
        import paho.mqtt.client as mqtt

        self.messages = []
        self.lock = threading.Lock()
        self.handlers = {}
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="peer-%d" % os.getpid())
        self.c.on_message = self._on_message
        ready = threading.Event()
        self.c.on_subscribe = lambda *a, **k: ready.set()
        self.c.connect(host, port)
        self.c.loop_start()
        self.c.subscribe([(t, 1) for t in topics])
        assert ready.wait(5), "paho peer did not get SUBACK"

    def _on_message(self, client, userdata, msg):
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), msg.qos, msg.dup))
        for prefix, fn in list(self.handlers.items()):
            if msg.topic.startswith(prefix):
                fn(self, msg.topic, bytes(msg.payload))

    def publish(self, topic, payload, qos=0, wait=True):
        info = self.c.publish(topic, payload, qos=qos)
        if wait:
            info.wait_for_publish(5)

    def answer(self, topic, payload):
        """Publish from inside a handler (the network thread must not wait on itself)."""
        self.publish(topic, payload, wait=False)

    def wait_for(self, pred, timeout=5.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                found = [m for m in self.messages if pred(m)]
            if found:
                return found
            time.sleep(0.01)
        return []

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


class FakeServer:
    """A few lines of TCP server: runs handler(conn) for each accepted connection."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.received = []
        self.stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            try:
                conn.settimeout(5)
                self.handler(self, conn)
            except Exception as e:  # the test asserts on the client side
                self.received.append(("error", repr(e)))
            finally:
                conn.close()

    def close(self):
        self.stop = True
        self.t.join(2)
        self.sock.close()


def read_packet(conn):
    """Read one MQTT packet from a socket -> (header byte, body bytes)."""
    def exact(n):
        b = b""
        while len(b) < n:
            chunk = conn.recv(n - len(b))
            if not chunk:
                raise EOFError("closed")
            b += chunk
        return b

    hdr = exact(1)[0]
    mult, rem = 1, 0
    while True:
        byte = exact(1)[0]
        rem += (byte & 0x7F) * mult
        mult *= 128
        if not byte & 0x80:
            break
    return hdr, exact(rem)


def oversized_publish_handler(srv, conn):
    """CONNACK, a QoS 1 PUBLISH of 1 MiB (sent in pieces), then a small one."""
    read_packet(conn)
    conn.sendall(b"\x20\x02\x00\x00")
    payload = b"x" * (1 << 20)
    topic = b"$resource/config_io/1700000000000000"
    rem = 2 + len(topic) + 2 + len(payload)
    head = bytearray([0x32])
    while True:
        byte, rem = rem & 0x7F, rem >> 7
        head.append(byte | (0x80 if rem else 0))
        if not rem:
            break
    conn.sendall(bytes(head) + bytes([0, len(topic)]) + topic + b"\x00\x07")
    for i in range(0, len(payload), 65536):
        conn.sendall(payload[i : i + 65536])
    conn.sendall(b"\x30\x0a\x00\x03t/s" + b"small")
    srv.received.append(read_packet(conn))  # PUBACK of the skipped PUBLISH
    time.sleep(1)
