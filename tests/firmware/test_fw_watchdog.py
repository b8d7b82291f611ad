"""A connector that accepts TCP but answers slowly never makes the board reset.

The peer is a raw TCP server: it reads CONNECT, answers CONNACK only after a
delay, then leaves SUBSCRIBE unanswered. The board's watchdog (8 s on the
rp2040 profile; the virtual board's machine.WDT ends the process when it is
not fed in time) must keep being fed while the link waits, the link error
must be reported and the next attempt must come after a backoff, with no
restart of the board.
"""
import socket
import threading
import time

from fw_helpers import make_board, sim_only

CONNACK_DELAY_S = 5.0  # late, but within the link's timeout
TIMEOUT_MS = 12000  # the link's wait for CONNACK / SUBACK: longer than the 8 s watchdog


class SlowPeer:
    """Accepts MQTT connections, answers CONNACK late and SUBSCRIBE never."""

    def __init__(self):
        self.srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.port = self.srv.getsockname()[1]
        self.connects = []  # time of each CONNECT received
        self.subscribes = 0
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            c.settimeout(60)
            first = c.recv(1024)
            if not first or first[0] != 0x10:  # CONNECT
                return
            self.connects.append(time.monotonic())
            time.sleep(CONNACK_DELAY_S)
            c.sendall(b"\x20\x02\x00\x00")  # CONNACK, accepted
            while not self.stopped:
                data = c.recv(1024)
                if not data:
                    return
                if data[0] & 0xF0 == 0x80:  # SUBSCRIBE: never answered
                    self.subscribes += 1
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.stopped = True
        self.srv.close()


def test_slow_connector_feeds_the_watchdog_and_backs_off(tmp_path, connector):
    peer = SlowPeer()
    try:
        vb = make_board(tmp_path, connector, settings={
            "host": "127.0.0.1", "port": peer.port, "tls": False, "timeout_ms": TIMEOUT_MS,
            "wdt": True, "reconnect_cap_s": 4})
        sim_only(vb)
        with open(vb.file("murano.token"), "w") as f:  # provisioned already: straight to connect
            f.write("t" * 40)
        with vb:
            vb.wait_for("machine: watchdog armed, 8000 ms", 20)
            # CONNACK late, SUBACK never: the link gives up after its timeout
            vb.wait_for("no SUBACK", 60)
            vb.wait_for("retry in", 10)
            # ... and tries again after the backoff, still in the same boot
            deadline = time.monotonic() + 40
            while len(peer.connects) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert len(peer.connects) >= 2, vb.log()
            assert peer.subscribes >= 1
            vb.wait_for("no SUBACK", 40, count=2)
            log = vb.log()
            assert "watchdog expired" not in log, log
            assert vb.boots == 1, log
            assert vb.count("uedge: connected") == 0
    finally:
        peer.close()
