# The portable edge loop with a segment outbox: offline -> queued -> replayed.
import json
import os

import binascii

from uedge.compat import FakeClock
from uedge.edge import Edge
from uedge.outbox import SegmentOutbox
from uedge.scheduler import Scheduler
import uedge.sources.simulated  # noqa: F401

CFG = (
    '{"last_edited":"2024-01-01T00:00:00Z","channels":{"001":{"display_name":"C",'
    '"properties":{"data_type":"NUMBER"},"protocol_config":{"sample_rate":1000,'
    '"report_rate":1000,"application":"Simulated","app_specific_config":'
    '{"function":"counter","start":0,"step":1}}}}}'
)


class _Link:
    def __init__(self):
        self.connected = False
        self.sent = []
        self.n = 0
        self.on_update = self.on_ack = self.on_state = None

    def poll(self, now):
        ids = [s[0] for s in self.sent if s[0] > 0]
        for i in ids:
            self.on_ack(i)
        for s in self.sent:
            s[0] = -abs(s[0])

    def record(self, entries):
        if not self.connected:
            raise OSError("down")
        self.n += 1
        self.sent.append([self.n, entries])
        return self.n

    def write(self, alias, value):
        return self.record([(0, {alias: value})])

    def close(self):
        pass


class _Store:
    def load(self, alias):
        return CFG if alias == "config_io" else None

    def save(self, alias, text):
        pass


def test_edge_segment_outbox_replay():
    d = "/tmp/uedge-edge-" + binascii.hexlify(os.urandom(6)).decode()
    clock = FakeClock()
    link = _Link()
    q = SegmentOutbox(d, cap_bytes=0)
    e = Edge(clock, Scheduler(clock), link, q, store=_Store(), log=None)
    e.start()
    try:
        for _ in range(50):
            e.poll(clock.now_ms())
            clock.advance(100)
        assert len(q) == 5 and not link.sent
        link.connected = True
        link.on_state(True, "up")
        for _ in range(30):
            e.poll(clock.now_ms())
            clock.advance(100)
        assert len(q) == 0
        seen = []
        for _i, entries in link.sent:
            for ts, vals in entries:
                if "data_in" in vals:
                    seen.append((ts, json.loads(vals["data_in"]).get("001")))
        seen.sort()
        assert [v for _ts, v in seen][:8] == [0, 1, 2, 3, 4, 5, 6, 7]
    finally:
        q.close()
        for name in os.listdir(d):
            os.remove(d + "/" + name)
        os.rmdir(d)
