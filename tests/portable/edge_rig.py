# Shared parts for the portable edge-loop tests (test_outbox_edge_*.py): a
# fake link, a config store, a log that keeps errors, and a builder for an
# Edge on a FakeClock. Plain classes and functions: imported under pytest and
# under MicroPython alike.
from uedge.compat import FakeClock
from uedge.edge import Edge
from uedge.pipeline.scheduler import Scheduler
import uedge.sources.simulated  # noqa: F401

# One counter channel (001) sampled and reported every second.
CFG = (
    '{"last_edited":"2024-01-01T00:00:00Z","channels":{"001":{"display_name":"C",'
    '"properties":{"data_type":"NUMBER"},"protocol_config":{"sample_rate":1000,'
    '"report_rate":1000,"application":"Simulated","app_specific_config":'
    '{"function":"counter","start":0,"step":1}}}}}'
)


class Link:
    """A link that is down until `connected` is set. record() numbers each
    message and keeps it in `sent` as [msg_id, entries]; with ack_on_poll
    every message sent so far is acknowledged at the next poll() (and its id
    made negative, so it is acknowledged once)."""

    def __init__(self, ack_on_poll=False):
        self.connected = False
        self.sent = []
        self.n = 0
        self.ack_on_poll = ack_on_poll
        self.on_update = self.on_ack = self.on_state = None

    def poll(self, now):
        if not self.ack_on_poll:
            return
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


class Store:
    """Holds config_io text (None: no stored config); saves nothing."""

    def __init__(self, config_io=CFG):
        self.config_io = config_io

    def load(self, alias):
        return self.config_io if alias == "config_io" else None

    def save(self, alias, text):
        pass


class Log:
    """Keeps the error lines; drops the rest."""

    def __init__(self):
        self.errors = []

    def error(self, msg, *args):
        self.errors.append(msg % args if args else msg)

    def warning(self, msg, *args):
        pass

    def info(self, msg, *args):
        pass

    def debug(self, msg, *args):
        pass


def start_edge(link, outbox, store, log=None, up=False, **options):
    """A started Edge on a new FakeClock -> (clock, edge). With up, the link is
    connected and the edge told so."""
    clock = FakeClock()
    e = Edge(clock, Scheduler(clock), link, outbox, store=store, log=log, **options)
    e.start()
    if up:
        link.connected = True
        e._on_state(True, "up")
    return clock, e


def run(e, clock, n, step=100):
    """Poll the edge n times, advancing the clock by step ms after each."""
    for _ in range(n):
        e.poll(clock.now_ms())
        clock.advance(step)
