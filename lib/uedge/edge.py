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

The parts, each in its own place:
    config sync (ConfigSync), cache  uedge/sync/config_sync.py
    live sends, in-flight, replay    uedge/sync/delivery.py (Delivery)
    data_out requests                uedge/pipeline/control.py (loaded per request)
"""

from uedge.compat import release
from uedge.sync.config_sync import ConfigSync
from uedge.sync.delivery import Delivery
from uedge.transport.link import UpdateError

FAIL_BACKOFF_MS = 1000  # sampling, or the other steps, pause this long after raising


class Edge(ConfigSync, Delivery):
    def __init__(self, clock, scheduler, transport, outbox=None, store=None, log=None, **options):
        """options: watch, local_strategy, replay_rate, batch_items,
        batch_bytes, max_inflight, ack_timeout_ms, sync_window_ms,
        live_timestamps, need_sources, clock_ok, message_bytes, live_batch_ms
        (uedge.edge_setup.setup: their defaults and meaning; loaded for it)."""
        from uedge import edge_setup

        try:
            edge_setup.setup(self, clock, scheduler, transport, outbox, store, log, **options)
        finally:
            edge_setup = None  # noqa: F841
            release("uedge.edge_setup")

    # -- transport callbacks (may run inside transport.poll) -------------------
    def _on_link_ack(self, msg_id, conflicts=None):
        if not self._config_writes or not self._config_acked(msg_id):
            self._on_ack(msg_id, conflicts)

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
            self._sync_on_connect()
        elif not connected and was:
            self.connected_since_ms = None
            self._config_writes = {}
            self._sync_pending = False
            self.log.warning("disconnected: %s", self.reason)
            self._requeue_inflight()

# -- sending -------------------------------------------------------------
    def _error(self, key, msg):
        """An error for data_in __error: key is a channel id or a document alias
        (config_io, data_out, ...), placed under channel ids (uedge.sync.errors.error_keys)."""
        self.log.error("%s", msg)
        self.last_error = msg
        self._doc_error(key, msg)

    def _flush_errors(self, now):
        if not self._errors:
            return
        errors = self._errors
        self._errors = {}
        self._doc_errors = {}
        self._report(self.clock.epoch_us(), {}, errors, now)

    # -- updates from the connector --------------------------------------------
    def _handle_updates(self, now):
        while self._updates:
            alias, value, ts_us = self._updates.pop(0)
            if alias not in self.watch:
                continue
            try:
                if alias == "data_out":
                    self._data_out_update(value, ts_us)
                elif alias == "config_io":
                    self._on_config_io(value)
                elif alias == "config_applications":
                    self._on_config_applications(value)
            except Exception as e:  # never let one bad update stop the loop
                self._error(alias, "%s update failed: %s: %s" % (alias, type(e).__name__, e))

    def _data_out_update(self, text, ts_us):
        from uedge.pipeline import control

        try:
            control.data_out_update(self, text, ts_us)
        finally:
            release("uedge.pipeline.control")  # on a board: loaded again for the next request

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
        if self._sync_pending:
            self._sync_read_done()
        try:
            self._drop_step(now)  # before sampling: the entries ride on the next report
        except Exception as e:
            self._step_failed("drop_step", e)
        n = 0 if now >= self._sched_hold_ms else 8
        while n < 8:
            try:
                rep = self.scheduler.poll(now)
            except Exception as e:  # MemoryError, a source's bug: back off, never spin
                self._sched_hold_ms = now + FAIL_BACKOFF_MS
                self._step_failed("scheduler", e)
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
                self._doc_errors = {}
            if not rep.values and not errors:
                continue
            self.reports += 1
            self.last_report_ts_us = rep.ts_us
            try:
                self._report(rep.ts_us, rep.values, errors, now, rep.echo)
            except Exception as e:
                self.lost += 1
                self._step_failed("report", e)
        for step in self._steps if now >= self._steps_hold_ms else ():
            try:
                step(now)
            except Exception as e:  # the loop must go on whatever a step hits, never spin
                self._steps_hold_ms = now + FAIL_BACKOFF_MS
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
        if due is not None and due < self._sched_hold_ms:
            due = self._sched_hold_ms
        if due is not None and due < wake:
            wake = due
        hold = self._steps_hold_ms
        slot = self._gather_wake_ms(now)
        if slot is not None:
            slot = slot if slot > hold else hold
            wake = slot if slot < wake else wake
        if (self.outbox is not None and self.connected and self._replay is None and len(self.outbox)
                and self._clock_set()):
            r = self._next_replay_ms if self._next_replay_ms > hold else hold
            wake = r if r < wake else wake
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
        """Try to deliver what is pending, then persist the rest and close
        (uedge.sync.stop: loaded for it)."""
        from uedge.sync import stop

        try:
            stop.shutdown(self, flush_ms)
        finally:
            release("uedge.sync.stop")

    # -- status -------------------------------------------------------------------
    def status(self):
        """The loop's state for a dashboard or a status file (uedge.sync.status:
        loaded when asked; a board's loop never asks)."""
        from uedge.sync import status

        try:
            return status.status(self)
        finally:
            release("uedge.sync.status")
