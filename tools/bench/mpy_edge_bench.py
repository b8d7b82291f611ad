# The portable edge loop as a MicroPython (unix port) process against a
# connector: used by bench_edge.py --runtime micropython and by the edge tests
# (with a SegmentOutbox directory: store and forward on the board code path).
# Runs until killed.
#   micropython mpy_edge_bench.py HOST PORT DEVICE CONFIG_IO_PATH CREDENTIALS_PATH [OUTBOX_DIR]
import sys

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, HERE + "/../../lib")

import gc  # noqa: E402
import select  # noqa: E402

from uedge.compat import Clock  # noqa: E402
from uedge.edge import Edge  # noqa: E402
from uedge.sync.config_sync import FileStore  # noqa: E402
from uedge.transport.murano_mqtt import MuranoMQTT  # noqa: E402
from uedge.outbox.memory import MemoryOutbox  # noqa: E402
from uedge.outbox.segment import SegmentOutbox  # noqa: E402
from uedge.pipeline.scheduler import Scheduler  # noqa: E402
import uedge.sources.simulated  # noqa: E402,F401


class _Quiet:
    def error(self, msg, *args):
        print("ERROR " + ((msg % args) if args else msg))

    def warning(self, msg, *args):
        pass

    def info(self, msg, *args):
        pass

    def debug(self, msg, *args):
        pass


def main(argv):
    host, port, device, cfg_path, cred = argv[1], int(argv[2]), argv[3], argv[4], argv[5]
    clock = Clock()
    link = MuranoMQTT(host, port, device, credentials_path=cred, tls=False, clock=clock)
    if len(argv) > 6:
        outbox = SegmentOutbox(argv[6], cap_bytes=262144, segment_bytes=8192)
    else:
        outbox = MemoryOutbox(cap_items=1000)
    link.backoff.cap_ms = 2000  # reconnect quickly (tests, bench)
    edge = Edge(clock, Scheduler(clock, reuse_report=True), link, outbox,
                store=FileStore(cfg_path), log=_Quiet())
    edge.start()
    poller = select.poll()
    registered = None
    peak = 0
    next_gc = clock.now_ms() + 5000
    while True:
        edge.poll(clock.now_ms())
        a = gc.mem_alloc()
        if a > peak:
            peak = a
        if clock.now_ms() >= next_gc:
            # live heap = what survives a collection; peak includes garbage
            gc.collect()
            print("HEAP live=%d peak=%d total=%d" % (gc.mem_alloc(), peak, gc.mem_alloc() + gc.mem_free()))
            next_gc = clock.now_ms() + 5000
        now = clock.now_ms()
        wait = edge.next_wake_ms(now, 50) - now
        if wait <= 0:
            continue
        c = link._client
        sock = c.sock if (c is not None and c.connected) else None
        if sock is not registered:
            if registered is not None:
                try:
                    poller.unregister(registered)
                except Exception:
                    pass
            if sock is not None:
                poller.register(sock, select.POLLIN)
            registered = sock
        if sock is not None:
            poller.poll(wait)
        else:
            clock.sleep_ms(wait)


main(sys.argv)
