"""The edge loop: sample -> data_in -> outbox / live send -> connector, and back.

One Edge object ties the parts together and is driven by poll(now_ms) from a
plain loop (run()), on a board or a gateway alike:

    scheduler.poll()  -> Report (values + errors, sampled at ts_us)
    encode data_in once -> send live with its timestamp (record API), or
                           queue it in the outbox when the connector is away
    outbox            -> replayed in order, in batches, rate limited, deleted
                           only when the transport acknowledges delivery
    transport updates -> config_io (validate, apply live, cache, sync up)
                         data_out  (ack, validate, actuate, echo to data_in)
                         config_applications (interfaces for the sources)

config_io synchronisation rule (two-way, as the Data IO Schema asks):
  * a local config (the cache file) runs at start, before any connection;
  * "local authority" (the local config is locked, or local_strategy is set):
    the local config is written up on every connect and remote edits are
    not applied (a rejection is reported in data_in __error.config_io);
  * otherwise the newer last_edited wins: a remote config at least as new as
    the local one is applied live and cached; an older remote config is
    replaced by writing the local one up. When no remote config_io arrives
    within sync_window_ms of connecting, the local one is written up;
  * an invalid remote config is rejected: the message goes to data_in
    __error.config_io and the last good config keeps running.
"""

import json

from uedge import control
from uedge.config import ConfigError, loads, parse_config_applications, parse_config_io
from uedge.link import STATE_READ, UpdateError
from uedge.payload import encode_data_in

from uedge.scheduler import registry_check as check_channel


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


# -- last_edited ------------------------------------------------------------


def _days_from_civil(y, m, d):
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    mp = m - 3 if m > 2 else m + 9
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def edited_seconds(v):
    """last_edited as epoch seconds (float), or None when it cannot be read.

    Accepts ISO 8601 ("2018-03-28T13:27:39+00:00", "...Z", fractions, no
    zone = UTC) and epoch numbers or numeric strings (ms when > 1e11, else s).
    """
    if v is None or v is True or v is False:
        return None
    if isinstance(v, (int, float)):
        n = float(v)
        return n / 1000.0 if n > 1e11 else n
    s = str(v).strip()
    if not s:
        return None
    try:
        n = float(s)
        return n / 1000.0 if n > 1e11 else n
    except ValueError:
        pass
    try:
        y = int(s[0:4])
        mo = int(s[5:7])
        d = int(s[8:10])
        secs = 0.0
        zone = 0
        rest = s[10:]
        if rest and rest[0] in "T t":
            t = rest[1:]
            hh = int(t[0:2])
            mi = int(t[3:5])
            ss = 0.0
            i = 5
            if len(t) > 5 and t[5] == ":":
                j = 8
                while j < len(t) and (t[j].isdigit() or t[j] == "."):
                    j += 1
                ss = float(t[6:j])
                i = j
            secs = hh * 3600 + mi * 60 + ss
            z = t[i:].strip()
            if z and z not in ("Z", "z"):
                sign = -1 if z[0] == "-" else 1
                z = z[1:].replace(":", "")
                zone = sign * (int(z[0:2]) * 3600 + int(z[2:4] or "0") * 60)
        return _days_from_civil(y, mo, d) * 86400.0 + secs - zone
    except (ValueError, IndexError):
        return None


# -- files ------------------------------------------------------------------


class FileStore:
    """Local cache of config_io / config_applications (None path = no cache)."""

    def __init__(self, config_io_path=None, config_applications_path=None):
        self.paths = {"config_io": config_io_path, "config_applications": config_applications_path}

    def load(self, alias):
        p = self.paths.get(alias)
        if not p:
            return None
        try:
            with open(p) as f:
                return f.read()
        except OSError:
            return None

    def save(self, alias, text):
        p = self.paths.get(alias)
        if not p:
            return
        tmp = p + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        try:
            import os

            os.rename(tmp, p)
        except (ImportError, OSError):
            with open(p, "w") as f:
                f.write(text)


def applications_of(text):
    """Application names a config_io text uses ([] when it cannot be read)."""
    try:
        doc = loads(text)
        chans = doc.get("channels")
    except (ConfigError, AttributeError):
        return []
    apps = []
    if isinstance(chans, dict):
        for cid in chans:
            ch = chans[cid]
            pc = ch.get("protocol_config") if isinstance(ch, dict) else None
            app = pc.get("application") if isinstance(pc, dict) else None
            if isinstance(app, str) and app not in apps:
                apps.append(app)
    return apps


def _merge(a, b):
    try:
        da = json.loads(a)
        db = json.loads(b)
    except ValueError:
        return b
    if not isinstance(da, dict) or not isinstance(db, dict):
        return b
    ea = da.pop("__error", None)
    eb = db.pop("__error", None)
    for k in db:
        da[k] = db[k]
    if ea or eb:
        err = {}
        for e in (ea, eb):
            if isinstance(e, dict):
                for k in e:
                    err[k] = e[k]
        da["__error"] = err
    return json.dumps(da)


class Edge:
    def __init__(self, clock, scheduler, transport, outbox=None, store=None, log=None,
                 watch=("config_io", "data_out", "config_applications"),
                 local_strategy=False, replay_rate=20.0, batch_items=500,
                 batch_bytes=262144, max_inflight=64, ack_timeout_ms=30000,
                 sync_window_ms=3000, live_timestamps=None, need_sources=None, clock_ok=None):
        self.clock = clock
        self.scheduler = scheduler
        self.transport = transport
        self.outbox = outbox
        self.store = store or FileStore()
        self.log = log or _PrintLog()
        self.watch = tuple(watch)
        self.local_strategy = local_strategy
        self.replay_interval_ms = int(1000 / replay_rate) if replay_rate and replay_rate > 0 else 0
        self.batch_items = batch_items
        self.batch_bytes = batch_bytes
        self.max_inflight = max_inflight
        self.ack_timeout_ms = ack_timeout_ms
        self.sync_window_ms = sync_window_ms
        # Record timestamp resolution of the transport: MQTT $resource.batch
        # takes microseconds; the HTTP record API takes seconds.
        self.record_res_us = int(getattr(transport, "record_ts_divisor", 1) or 1)
        if live_timestamps is None:
            # with a coarse record API live reports go without a timestamp
            # (the connector stamps them on receipt), as edged does over HTTP
            live_timestamps = self.record_res_us == 1
        self.live_timestamps = live_timestamps
        # need_sources(application_names): called before a config_io is parsed,
        # so a host can load drivers (and their libraries) only when used
        self.need_sources = need_sources
        # clock_ok() -> False while the wall clock is not set yet (a board
        # before its first time sync): queued reports are held back (their
        # replay would carry those timestamps) and live reports go without a
        # timestamp, so the connector stamps them on receipt
        self.clock_ok = clock_ok

        self.config = None  # last good ConfigIO
        self.config_text = None
        self.apps = None  # last good ConfigApplications
        self.connected = False
        self.reason = "starting"
        self.connected_since_ms = None
        self._sync_pending = False  # waiting for a remote config_io after connect
        self._updates = []  # (alias, value_str, ts_us) from the transport
        self._errors = {}  # pending __error entries (channel or config key -> msg)
        self._live = {}  # msg_id -> (ts_us, payload, sent_ms)
        self._replay = None  # (msg_id, keys, sent_ms, n)
        self._replay_limit = batch_items  # smaller while a refused batch is split
        self._early_acks = {}
        self._sending = False
        self._last_data_out = None
        self._next_replay_ms = 0
        self._stopping = False
        # counters
        self.reports = 0  # data_in reports produced
        self.sent_live = 0
        self.delivered = 0  # reports acknowledged by the connector (live + replay)
        self.replayed = 0
        self.queued = 0  # reports that went to the outbox
        self.lost = 0  # reports neither sent nor queued (no outbox / refused)
        self.queue_errors = 0  # outbox operations that failed (disk full, locked, ...)
        self.control_ok = 0
        self.control_rejected = 0
        self.last_error = None
        self.last_report_ts_us = None
        self.auth_failures = 0  # consecutive "not authorized" connection attempts

        t = transport
        t.on_update = self._on_update
        t.on_ack = self._on_ack
        t.on_state = self._on_state
        if hasattr(t, "on_reject"):
            t.on_reject = self._on_reject

    # -- start -------------------------------------------------------------
    def start(self):
        """Load and run the locally cached configuration (before connecting)."""
        text = self.store.load("config_applications")
        if text:
            try:
                self.apps = parse_config_applications(text)
            except ConfigError as e:
                self._error("config_applications", "local config_applications: %s" % e)
        text = self.store.load("config_io")
        if text:
            self._need(text)
            try:
                cfg = parse_config_io(text, check_channel)
                self._apply(cfg, self.apps)
                self.config = cfg
                self.config_text = text
                self.log.info("running local config_io: %d channels", len(cfg.order))
            except ConfigError as e:
                self._error("config_io", "local config_io: %s" % e)
            except Exception as e:  # a source failing to open
                self._error("config_io", "local config_io: %s: %s" % (type(e).__name__, e))
        if getattr(self.transport, "connected", False) and not self.connected:
            self._on_state(True, "connected")

    def _need(self, text):
        if self.need_sources is None:
            return
        try:
            apps = applications_of(text)
            if apps:
                self.need_sources(apps)
        except Exception as e:
            self.log.warning("loading sources: %s: %s", type(e).__name__, e)

    def _apply(self, cfg, apps):
        if apps is None:
            self.scheduler.apply(cfg)
        else:
            self.scheduler.apply(cfg, apps)

    def local_authority(self):
        return self.local_strategy or (self.config is not None and self.config.locked)

    # -- transport callbacks (may run inside transport.poll) -------------------
    def _on_update(self, alias, value, ts_us=None):
        if isinstance(value, UpdateError):
            self._on_update_error(alias, str(value))
            return
        if isinstance(value, (bytes, bytearray)):
            value = value.decode()
        self._updates.append((alias, value, ts_us))

    def _on_update_error(self, alias, msg):
        """The transport could not take an update in (e.g. larger than its buffer)."""
        if alias not in self.watch:
            return
        if alias == "config_io":
            # there is a remote config_io, just not one this device can hold:
            # do not overwrite it with the local one, keep running the last good
            self._sync_pending = False
            msg = "config_io rejected, keeping the last good one: %s" % msg
        self._error(alias, msg)

    def _on_ack(self, msg_id):
        if msg_id in self._live:
            del self._live[msg_id]
            self.delivered += 1
            return
        r = self._replay
        if r is not None and r[0] == msg_id:
            self._replay = None
            self._replay_ok()
            self._outbox_ack(r[1])
            self.delivered += r[3]
            self.replayed += r[3]
            return
        # acknowledged before send() returned (synchronous transports); acks
        # of messages already given up on (re-queued) are ignored
        if self._sending:
            self._early_acks[msg_id] = True

    def _on_reject(self, msg_id, status=None, body=None):
        """The connector refused a message for good (HTTP 4xx).

        A live report is dropped. A replay batch is never dropped whole: it is
        sent again in halves, down to single reports, so that only a report
        the connector refuses on its own (400) or that is too large alone
        (413) is dropped.
        """
        if msg_id in self._live:
            ts_us, payload, _sent = self._live.pop(msg_id)
            self.lost += 1
            self.last_error = "report rejected by the connector (HTTP %s), dropped: %s" % (status, payload[:120])
        elif self._replay is not None and self._replay[0] == msg_id:
            r = self._replay
            self._replay = None
            n = r[3]
            if n > 1:
                self._replay_limit = n // 2
                self._next_replay_ms = 0
                self.log.warning("%d queued reports refused together (HTTP %s): sending them in halves", n, status)
                return
            self._outbox_ack(r[1])
            self.lost += 1
            self.last_error = "queued report rejected by the connector (HTTP %s), dropped" % (status,)
        else:
            return
        self.log.error("%s", self.last_error)

    def _on_state(self, connected, reason=None):
        was = self.connected
        self.connected = bool(connected)
        self.reason = reason or ("connected" if connected else "disconnected")
        now = self.clock.now_ms()
        if connected:
            self.auth_failures = 0
        elif self.reason.startswith("not authorized"):
            self.auth_failures += 1
        if connected and not was:
            self.connected_since_ms = now
            self.log.info("connected (%s)", self.reason)
            self._next_replay_ms = 0
            if self.config is not None and "config_io" in self.watch:
                if self.local_authority():
                    self._push_config("local configuration is authoritative")
                else:
                    self._sync_pending = True
        elif not connected and was:
            self.connected_since_ms = None
            self.log.warning("disconnected: %s", self.reason)
            self._requeue_inflight()

    def _requeue_inflight(self):
        """Unacknowledged sends may be lost with the connection: queue them."""
        if self._live:
            items = sorted(self._live.values())
            self._live = {}
            for ts_us, payload, _sent in items:
                self._queue(ts_us, payload)
        self._replay = None  # still in the outbox, peeked again later

    # -- sending -------------------------------------------------------------
    def _queue(self, ts_us, payload):
        if self.outbox is None:
            self.lost += 1
            return False
        try:
            ok = self.outbox.put(ts_us, payload)
        except Exception as e:  # disk full, database locked, ...: the loop goes on
            self.lost += 1
            self._queue_failed("report lost, the queue refused it", e)
            return False
        if ok:
            self.queued += 1
            return True
        self.lost += 1
        return False

    def _queue_failed(self, what, e):
        msg = "%s: %s: %s" % (what, type(e).__name__, e)
        self.queue_errors += 1
        if msg != self.last_error:  # one log line per distinct failure, not per report
            self.log.error("%s", msg)
        self.last_error = msg

    def _outbox_ack(self, keys):
        """Delete delivered records; a failure leaves them queued (sent again later)."""
        if self.outbox is None:
            return
        try:
            self.outbox.ack(keys)
        except Exception as e:
            self._queue_failed("cannot remove %d delivered reports from the queue" % len(keys), e)

    def _clock_set(self):
        if self.clock_ok is None:
            return True
        try:
            return bool(self.clock_ok())
        except Exception:
            return True

    def _send_live(self, ts_us, payload, now):
        t = self.transport
        if not self.connected or len(self._live) >= self.max_inflight:
            return self._queue(ts_us, payload)
        self._sending = True
        try:
            if self.live_timestamps and self._clock_set():
                msg = t.record([(ts_us, {"data_in": payload})])
            else:
                msg = t.write("data_in", payload)
        except Exception as e:  # connection dropped under us
            self.last_error = "send failed: %s" % e
            return self._queue(ts_us, payload)
        finally:
            self._sending = False
        self.sent_live += 1
        if msg is None or self._early_acks.pop(msg, False):
            self._early_acks.clear()
            self.delivered += 1
        else:
            self._live[msg] = (ts_us, payload, now)
        return True

    def _replay_step(self, now, force=False):
        ob = self.outbox
        if ob is None or self._replay is not None or not self.connected or not len(ob):
            return
        if not force and now < self._next_replay_ms:
            return
        if not self._clock_set():
            return  # held until the wall clock is set
        res = self.record_res_us
        want = self._replay_limit
        try:
            # with a coarse record API, one more to see whether the batch
            # would end in the middle of a record slot
            batch = ob.peek(want + 1 if res > 1 else want, self.batch_bytes)
            more = len(ob) > len(batch)
        except Exception as e:
            self._queue_failed("cannot read the queue", e)
            self._next_replay_ms = now + 1000
            return
        if not batch:
            return
        nxt = None
        if len(batch) > want:
            nxt = batch.pop()
            more = True
        records = []
        keys = []
        last_start = 0
        for key, ts_us, payload in batch:
            if res > 1 and records and records[-1][0] // res == ts_us // res:
                # one point per record slot: merge, the later value of a channel wins
                records[-1] = (records[-1][0], {"data_in": _merge(records[-1][1]["data_in"], payload)})
            else:
                last_start = len(keys)
                records.append((ts_us, {"data_in": payload}))
            keys.append(key)
        if res > 1 and more and len(records) > 1:
            if nxt is None or nxt[1] // res == records[-1][0] // res:
                # the slot may go on in the next batch: send it whole, then
                # (the connector keeps one value per slot: halves would clash)
                records.pop()
                keys = keys[:last_start]
        self._sending = True
        try:
            msg = self.transport.record(records)
        except Exception as e:
            self.last_error = "replay failed: %s" % e
            self._next_replay_ms = now + 1000
            return
        finally:
            self._sending = False
        self._next_replay_ms = now + self.replay_interval_ms
        if msg is None or self._early_acks.pop(msg, False):
            self._early_acks.clear()
            self._replay_ok()
            self._outbox_ack(keys)
            self.delivered += len(keys)
            self.replayed += len(keys)
        else:
            self._replay = (msg, keys, now, len(keys))

    def _replay_ok(self):
        if self._replay_limit < self.batch_items:  # back to full batches step by step
            self._replay_limit = min(self.batch_items, self._replay_limit * 2)

    def _check_timeouts(self, now):
        if not self.ack_timeout_ms:
            return
        limit = now - self.ack_timeout_ms
        # a transport that can take back what it has not sent yet (a request
        # waiting behind retries) is asked to: the report then goes once
        cancel = getattr(self.transport, "cancel", None)
        if self._live:
            late = [m for m in self._live if self._live[m][2] < limit]
            for m in late:
                ts_us, payload, _sent = self._live.pop(m)
                if cancel is not None:
                    cancel(m)
                self._queue(ts_us, payload)
        if self._replay is not None and self._replay[2] < limit:
            if cancel is not None:
                cancel(self._replay[0])
            self._replay = None

    def _error(self, key, msg):
        self.log.error("%s", msg)
        self.last_error = msg
        self._errors[key] = msg

    def _flush_errors(self, now):
        if not self._errors:
            return
        errors = self._errors
        self._errors = {}
        self._send_live(self.clock.epoch_us(), encode_data_in({}, errors), now)

    # -- updates from the connector --------------------------------------------
    def _handle_updates(self, now):
        while self._updates:
            alias, value, ts_us = self._updates.pop(0)
            if alias not in self.watch:
                continue
            try:
                if alias == "data_out":
                    # the HTTP transport re-reads data_out on every reconnect
                    # (marked STATE_READ): the request already carried out is
                    # acknowledged and its state echoed, not actuated again. A
                    # long-poll delivery is a new request, even with the same value.
                    repeat = ts_us == STATE_READ and value == self._last_data_out
                    self._last_data_out = value
                    self._on_data_out(value, actuate=not repeat)
                elif alias == "config_io":
                    self._on_config_io(value)
                elif alias == "config_applications":
                    self._on_config_applications(value)
            except Exception as e:  # never let one bad update stop the loop
                self._error(alias, "%s update failed: %s: %s" % (alias, type(e).__name__, e))

    def _push_config(self, why):
        if self.config_text is None:
            return
        try:
            self.transport.write("config_io", self.config_text)
            self.log.info("config_io written up (%s)", why)
        except Exception as e:
            self.last_error = "config_io write failed: %s" % e

    def _on_config_io(self, text):
        self._sync_pending = False
        if text is None or not text.strip():
            if self.config is not None:
                self._push_config("no config_io on the connector")
            return
        if self.config_text is not None and text == self.config_text:
            return
        self._need(text)
        try:
            cfg = parse_config_io(text, check_channel)
        except ConfigError as e:
            self._error("config_io", "config_io rejected, keeping the last good one: %s" % e)
            return
        if self.config is not None:
            if cfg.raw == self.config.raw:
                return
            if self.local_authority():
                self._error("config_io", "config_io rejected: the device configuration is locked")
                self._push_config("locked")
                return
            remote_t = edited_seconds(cfg.last_edited)
            local_t = edited_seconds(self.config.last_edited)
            if remote_t is not None and local_t is not None and remote_t < local_t:
                self._push_config("local config_io is newer")
                return
            merged = self._keep_locked_channels(cfg)
            if merged is not None:
                text = merged
                try:
                    cfg = parse_config_io(text, check_channel)
                except ConfigError as e:
                    self._error("config_io", "config_io rejected, keeping the last good one: %s" % e)
                    return
        try:
            self._apply(cfg, self.apps)
        except Exception as e:
            self._error("config_io", "config_io rejected, keeping the last good one: %s" % e)
            try:
                if self.config is not None:
                    self._apply(self.config, self.apps)
            except Exception:
                pass
            return
        self.config = cfg
        self.config_text = text
        self.store.save("config_io", text)
        self._errors.pop("config_io", None)
        # acknowledge: the connector's config_io now matches what runs here
        self._push_config("acknowledge the applied config_io")
        self.log.info("config_io applied: %d channels (last_edited %s)", len(cfg.order), cfg.last_edited)

    def _keep_locked_channels(self, cfg):
        """Channels locked on the device are read-only for the application side:
        a remote config keeps the device's version of them. Returns the merged
        config_io text, or None when the remote one leaves them alone."""
        mine = self.config.raw.get("channels") or {}
        theirs = cfg.raw.get("channels")
        if not isinstance(theirs, dict):
            return None
        kept = []
        for cid in self.config.order:
            if self.config.channels[cid].locked and theirs.get(cid) != mine.get(cid):
                theirs[cid] = mine[cid]
                kept.append(cid)
        if not kept:
            return None
        self.log.warning("config_io: locked channel(s) %s kept as configured on the device",
                         ", ".join(kept))
        return json.dumps(cfg.raw)

    def _on_config_applications(self, text):
        if text is None or not text.strip():
            return
        try:
            apps = parse_config_applications(text)
        except ConfigError as e:
            self._error("config_applications", "config_applications rejected: %s" % e)
            return
        if self.config is not None:
            try:
                self._apply(self.config, apps)
            except Exception as e:
                self._error("config_applications", "config_applications rejected: %s" % e)
                return
        self.apps = apps
        self.store.save("config_applications", text)
        self.log.info("config_applications applied")

    def _on_data_out(self, text, actuate=True):
        # 1. acknowledge receipt by writing the same value back
        try:
            self.transport.write("data_out", text)
        except Exception as e:
            self.last_error = "data_out acknowledge failed: %s" % e
        # 2. validate and actuate each request
        try:
            reqs = json.loads(text)
        except ValueError:
            self._error("data_out", "data_out is not JSON: %s" % text[:80])
            return
        if not isinstance(reqs, dict):
            self._error("data_out", "data_out must be a JSON object of channel: value")
            return
        chans = self.config.channels if self.config is not None else {}
        if not actuate:
            states = {}
            for cid in reqs:
                if cid in chans:
                    v = self.scheduler.state(cid)[0]
                    if v is not None:
                        states[cid] = v
            if states:
                self._send_live(self.clock.epoch_us(), encode_data_in(states, None), self.clock.now_ms())
            return
        for cid in reqs:
            cfg = chans.get(cid)
            if cfg is None:
                self._reject(cid, "channel %s is not in config_io" % cid)
                continue
            value, err = control.check_request(cfg, reqs[cid])
            if err is None:
                err = self.scheduler.actuate(cid, value)
            if err is not None:
                self._reject(cid, err)
            else:
                self.control_ok += 1
                self.log.info("channel %s set to %r", cid, value)
        # 3. the new states go out with the next scheduler poll (actuate queues them)

    def _reject(self, cid, msg):
        self.control_rejected += 1
        self.log.warning("channel %s: control request rejected: %s", cid, msg)
        self.last_error = msg
        self._errors[cid] = msg

    # -- the loop ---------------------------------------------------------------
    def poll(self, now=None):
        """One pass: transport I/O, updates, due samples, replay. Never raises."""
        if now is None:
            now = self.clock.now_ms()
        try:
            self.transport.poll(now)
        except Exception as e:
            self.last_error = "transport: %s: %s" % (type(e).__name__, e)
        if self._updates:
            self._handle_updates(now)
        if self._sync_pending and self.connected_since_ms is not None:
            if now - self.connected_since_ms >= self.sync_window_ms:
                self._sync_pending = False
                self._push_config("no newer config_io on the connector")
        n = 0
        while n < 8:
            try:
                rep = self.scheduler.poll(now)
            except Exception as e:
                self.last_error = "scheduler: %s: %s" % (type(e).__name__, e)
                break
            if rep is None:
                break
            n += 1
            errors = rep.errors
            if self._errors:
                merged = {}
                for k in errors:
                    merged[k] = errors[k]
                for k in self._errors:
                    merged[k] = self._errors[k]
                errors = merged
                self._errors = {}
            if not rep.values and not errors:
                continue
            self.reports += 1
            self.last_report_ts_us = rep.ts_us
            try:
                self._send_live(rep.ts_us, encode_data_in(rep.values, errors), now)
            except Exception as e:
                self.lost += 1
                self._step_failed("report", e)
        for step in (self._flush_errors, self._replay_step, self._check_timeouts):
            try:
                step(now)
            except Exception as e:  # the loop must go on whatever a step hits
                self._step_failed(step.__name__, e)

    def _step_failed(self, what, e):
        msg = "%s: %s: %s" % (what.lstrip("_"), type(e).__name__, e)
        if msg != self.last_error:
            self.log.error("%s", msg)
        self.last_error = msg

    def next_wake_ms(self, now, idle_ms=50):
        """When the loop should run again (the transport still needs polling)."""
        try:
            due = self.scheduler.next_due_ms()
        except Exception:
            due = None
        wake = now + idle_ms
        if due is not None and due < wake:
            wake = due
        if (self.outbox is not None and self.connected and self._replay is None and len(self.outbox)
                and self._clock_set()):
            if self._next_replay_ms < wake:
                wake = self._next_replay_ms
        return wake if wake > now else now

    def run(self, should_stop=None, idle_ms=50):
        self.start()
        while not (should_stop and should_stop()):
            now = self.clock.now_ms()
            self.poll(now)
            wake = self.next_wake_ms(self.clock.now_ms(), idle_ms)
            self.clock.sleep_ms(wake - self.clock.now_ms())
        self.shutdown()

    def shutdown(self, flush_ms=5000):
        """Try to deliver what is pending, then persist the rest and close."""
        if self._stopping:
            return
        self._stopping = True
        clock = self.clock
        deadline = clock.now_ms() + flush_ms
        while self.connected and clock.now_ms() < deadline:
            now = clock.now_ms()
            try:
                self.transport.poll(now)
            except Exception:
                break
            self._replay_step(now, force=True)
            if not self._live and self._replay is None and (
                    self.outbox is None or not len(self.outbox) or not self._clock_set()):
                break
            clock.sleep_ms(5)
        self._requeue_inflight()
        if self.outbox is not None:
            try:
                self.outbox.close()
            except Exception as e:
                self.log.error("closing the queue: %s", e)
        try:
            self.transport.close()
        except Exception:
            pass

    # -- status -------------------------------------------------------------------
    def status(self):
        chans = {}
        if self.config is not None:
            for cid in self.config.order:
                try:
                    v, ts, err = self.scheduler.state(cid)
                except Exception:
                    v, ts, err = None, None, None
                chans[cid] = {
                    "name": self.config.channels[cid].display_name,
                    "value": v,
                    "ts_us": ts,
                    "error": err,
                }
        ob = self.outbox
        q = ob.stats() if ob is not None else {"depth": 0, "dropped": 0, "corrupted": 0}
        return {
            "connected": self.connected,
            "reason": self.reason,
            "config_last_edited": self.config.last_edited if self.config is not None else None,
            "channels": chans,
            "queue": q,
            "inflight": len(self._live) + (self._replay[3] if self._replay else 0),
            "reports": self.reports,
            "sent_live": self.sent_live,
            "delivered": self.delivered,
            "replayed": self.replayed,
            "queued": self.queued,
            "lost": self.lost,
            "queue_errors": self.queue_errors,
            "control_ok": self.control_ok,
            "control_rejected": self.control_rejected,
            "last_error": self.last_error,
        }
