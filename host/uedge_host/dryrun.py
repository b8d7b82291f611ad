"""Dry run: run the scheduler on a config_io and print the data_in payloads
it would send, with their timestamps, without any connection.

    python -m uedge_host.dryrun --config config_io.json [--config-applications apps.json]
                                [--duration SECONDS] [--simulated-time] [--batch]

--simulated-time drives a FakeClock, so an hour of schedule prints at once.
Without it the run follows the wall clock (Ctrl-C stops it).
"""

import argparse
import sys
import time

from uedge.compat import Clock, FakeClock
from uedge.config.config_applications import parse_config_applications
from uedge.config.config_io import parse_config_io
from uedge.config.json_reader import ConfigError
from uedge.pipeline.payload import encode_data_in
from uedge.transport.murano_mqtt import batch_payload
from uedge.pipeline.scheduler import Scheduler
from uedge.sources import registry_check


def _load_sources():
    # Register everything this host can run: the portable simulated source,
    # and host sources when their area provides them.
    import uedge.sources.simulated  # noqa: F401

    try:
        import uedge_host.sources  # noqa: F401
    except Exception:
        pass


def _iso(ts_us):
    s = ts_us // 1000000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%03dZ" % ((ts_us // 1000) % 1000)


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def parse_args(argv):
    p = argparse.ArgumentParser(prog="uedge run --dry-run", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", "-c", required=True, help="config_io JSON file")
    p.add_argument("--config-applications", "-a", help="config_applications JSON file")
    p.add_argument("--duration", type=float, default=60.0, help="seconds to run (default 60)")
    p.add_argument("--simulated-time", action="store_true", help="run instantly on a simulated clock")
    p.add_argument("--batch", action="store_true", help="print one $resource.batch body at the end")
    p.add_argument("--start-epoch-us", type=int, default=None, help="simulated wall-clock start")
    p.add_argument("--dry-run", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def run(args, out=sys.stdout):
    _load_sources()
    try:
        cio = parse_config_io(_read(args.config), check_channel=registry_check)
        apps = None
        if args.config_applications:
            apps = parse_config_applications(_read(args.config_applications))
    except ConfigError as e:
        print("config error: %s" % e, file=sys.stderr)
        return 2
    except OSError as e:
        print("cannot read config: %s" % e, file=sys.stderr)
        return 2
    if args.simulated_time:
        start = args.start_epoch_us if args.start_epoch_us is not None else time.time_ns() // 1000
        clock = FakeClock(0, epoch_us=start)
    else:
        clock = Clock()
    sched = Scheduler(clock)
    sched.apply(cio, apps)
    print(
        "# %d channels, %s, %g s" % (len(cio.channels), "simulated time" if args.simulated_time else "real time", args.duration),
        file=sys.stderr,
    )
    end = clock.now_ms() + int(args.duration * 1000)
    batch = []
    n = 0
    try:
        while True:
            nd = sched.next_due_ms()
            if nd is None or nd >= end:
                break
            wait = nd - clock.now_ms()
            if wait > 0:
                clock.sleep_ms(wait)
            rep = sched.poll(clock.now_ms())
            if rep is None:
                continue
            payload = encode_data_in(rep.values, rep.errors)
            n += 1
            if args.batch:
                batch.append((rep.ts_us, {"data_in": payload}))
            else:
                out.write("%d %s %s\n" % (rep.ts_us, _iso(rep.ts_us), payload))
                out.flush()
    except KeyboardInterrupt:
        pass
    finally:
        sched.close()
    if args.batch:
        out.write(batch_payload(batch) + "\n")
    print("# %d payloads" % n, file=sys.stderr)
    return 0


def main(argv=None):
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
