"""The edge loop's construction (Edge.__init__: it runs once; on a board this
module is released after it, uedge.compat.release).

setup() takes Edge's arguments: clock, scheduler, transport, outbox (None:
reports that cannot go live are lost), store (the config cache: FileStore),
log, and the options below with their defaults.
"""

from uedge.sync.config_sync import FileStore


def setup(edge, clock, scheduler, transport, outbox=None, store=None, log=None,
          watch=("config_io", "data_out", "config_applications"),
          local_strategy=False, replay_rate=20.0, batch_items=500,
          batch_bytes=262144, max_inflight=64, ack_timeout_ms=30000,
          sync_window_ms=3000, live_timestamps=None, need_sources=None, clock_ok=None,
          message_bytes=None, live_batch_ms=0):
    edge.clock = clock
    edge.scheduler = scheduler
    edge.transport = transport
    edge.outbox = outbox
    edge.store = store or FileStore()
    edge.log = log or _PrintLog()
    edge.watch = tuple(watch)
    edge.local_strategy = local_strategy
    edge.replay_interval_ms = int(1000 / replay_rate) if replay_rate and replay_rate > 0 else 0
    edge.batch_items = batch_items
    edge.batch_bytes = batch_bytes
    # encoded size limit of one replay message (None: 64 KiB, or batch_bytes when larger)
    edge.message_bytes = message_bytes
    # the steps after sampling, bound once (a tuple built per pass allocates)
    edge._steps = (edge._flush_errors, edge._gather_step, edge._replay_step,
                   edge._check_timeouts)
    edge.max_inflight = max_inflight
    edge.ack_timeout_ms = ack_timeout_ms
    # sync_window_ms is accepted for older callers and not used: nothing is
    # written up because a window after connecting passed quietly (see
    # uedge/sync/config_sync.py for what decides instead)
    edge.sync_window_ms = sync_window_ms
    # Record timestamp resolution of the transport: MQTT $resource.batch
    # takes microseconds; the HTTP record API takes seconds.
    edge.record_res_us = int(getattr(transport, "record_ts_divisor", 1) or 1)
    if live_timestamps is None:
        # live reports carry their own timestamp (record API): a retry
        # lands on the same point. With a coarse record API (HTTP) they
        # are gathered per slot first (uedge/sync/delivery.py)
        live_timestamps = True
    edge.live_timestamps = live_timestamps
    # live reports due within this many ms of each other share a message
    # ($resource.batch; uedge.sync.live_batch); not with a coarse record API
    edge.live_batch_ms = live_batch_ms if edge.record_res_us == 1 else 0
    edge._batch = None  # [(ts_us, payload)] waiting for the next report
    edge._batch_ms = 0
    edge._batch_cost = 0
    edge._batch_early = True
    # need_sources(application_names): called before a config_io is parsed,
    # so a host can load drivers (and their libraries) only when used
    edge.need_sources = need_sources
    # clock_ok() -> False while the wall clock is not set yet (a board
    # before its first time sync): queued reports are held back (their
    # replay would carry those timestamps) and live reports go without a
    # timestamp, so the connector stamps them on receipt
    edge.clock_ok = clock_ok

    edge.config = None  # last good ConfigIO
    edge.config_text = None  # the running config_io text and its digest (ConfigSync._running)
    edge._cdigest = None
    edge.apps = None  # last good ConfigApplications
    edge.connected = False
    edge.reason = "starting"
    edge.connected_since_ms = None
    edge._sync_pending = False  # waiting for the connect-time read of config_io
    edge._sync = {}  # persisted sync state (config_io in step, data_out applied)
    edge._config_writes = {}  # msg_id -> digest of a config_io write not yet acked
    edge._updates = []  # (alias, value_str, ts_us) from the transport
    edge._errors = {}  # pending __error entries (channel id -> msg)
    edge._doc_errors = {}  # document alias -> the channel keys its error went under
    edge._live = {}  # msg_id -> (ts_us, payload, sent_ms)
    edge._live_more = {}  # msg_id -> [(ts_us, payload)] sent after it in one message
    edge._replay = None  # (msg_id, keys, sent_ms, n)
    edge._replay_limit = batch_items  # smaller while a refused batch is split
    edge._replay_cap = 0  # while short of memory: the largest batch that fits (Delivery._replay_short)
    edge._early_acks = {}
    edge._sending = False
    edge._next_replay_ms = 0
    edge._stopping = False
    edge._sched_hold_ms = 0  # sampling held until then after the scheduler failed
    edge._steps_hold_ms = 0  # the same for the steps (replay, slots, timeouts)
    # counters
    edge.reports = 0  # data_in reports produced
    edge.sent_live = 0
    edge.delivered = 0  # reports acknowledged by the connector (live + replay)
    edge.replayed = 0
    edge.queued = 0  # reports that went to the outbox
    edge.lost = 0  # reports neither sent nor queued (no outbox / refused)
    edge.queue_errors = 0  # outbox operations that failed (disk full, locked, ...)
    edge.control_ok = 0
    edge.control_rejected = 0
    edge.last_error = None
    edge.last_report_ts_us = None
    edge.auth_failures = 0  # consecutive "not authorized" connection attempts
    edge._delivery_init()

    t = transport
    t.on_update = edge._on_update
    t.on_ack = edge._on_link_ack
    t.on_state = edge._on_state
    if hasattr(t, "on_reject"):
        t.on_reject = edge._on_reject



class _PrintLog:
    def _p(self, level, msg, args):
        print("%s uedge: %s" % (level, (msg % args) if args else msg))

    def error(self, msg, *args):
        self._p("ERROR", msg, args)

    def warning(self, msg, *args):
        self._p("WARNING", msg, args)

    def info(self, msg, *args):
        self._p("INFO", msg, args)

    def debug(self, msg, *args):
        pass
