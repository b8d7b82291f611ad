"""Delivery of reports: live sends, in-flight tracking, outbox replay (a part of Edge).

A report goes live when connected (tracked until the transport acknowledges
it) or into the outbox. Queued reports are replayed in order, in batches,
rate limited, and deleted only when acknowledged. Unacknowledged sends are
queued again when the link drops or their acknowledgement is late; a batch the
connector refuses is split in halves down to single reports.

A transport with a coarse record API (HTTP: whole seconds, record_res_us > 1)
keeps one data_in point per slot (second). Live reports are then gathered per
slot and sent once the slot is over, with the slot's own timestamp, through
the record API: a retry lands on the same point, never on a second one with
its arrival time. Reports of one slot are merged (the later value of a channel
wins, __error entries are combined); every channel value replaced that way is
counted in `merged` (per channel too), never hidden in `delivered`.

Counters, per report: delivered (stored), merged_reports (folded into another
report of its slot), conflicts (its slot already held a point at the
connector: HTTP 409, not stored again), lost (refused by the connector, or
neither sent nor queued: queuing off, queue errors), dropped (the queue's cap,
kept by the outbox).

Delivery is a mixin of uedge.edge.Edge: it uses the Edge's transport, outbox,
log and counters.
"""


from uedge.compat import json, release
from uedge.sync.slots import Slots, message_cost

DROP_ERROR_EVERY_MS = 60000


class Delivery(Slots):
    # -- counters added to the Edge's ------------------------------------------
    def _delivery_init(self):
        self.merged = 0  # channel values replaced by a later one of their slot
        self.merged_reports = 0
        self.merged_by_channel = {}
        self.conflicts = 0
        self._slot = None  # [slot, ts_us, values, errors, n reports]
        # the first slot after start goes at once (first data_in without waiting
        # for its second to end); the rest of that second is counted as merged
        self._slot_early = True
        self._slot_sent = None
        self._drops_seen = self.outbox.dropped if self.outbox is not None else 0
        self._drop_error_ms = 0
        self._refused_channels = {}  # channels of reports the queue refused (latest)
        # reports produced while the very first connect attempt runs in the
        # background (gateway: BackgroundConnect.busy), held in memory like
        # in-flight ones, at most max_inflight (_hold); None: not holding
        self._held = [] if hasattr(self.transport, "busy") else None
        if self.message_bytes is None:
            bb = self.batch_bytes
            self.message_bytes = 65536 if bb <= 65536 else bb

    # -- acknowledgements -----------------------------------------------------------
    def _on_ack(self, msg_id, conflicts=None):
        """conflicts: slots (record timestamps) of the message the connector
        already held a point at (409): not stored again, counted."""
        if msg_id in self._live:
            del self._live[msg_id]
            more = self._live_more.pop(msg_id, None) if self._live_more else None
            n = 1 + len(more) if more else 1
            if conflicts:
                self.conflicts += n
            else:
                self.delivered += n
            return
        r = self._replay
        if r is not None and r[0] == msg_id:
            self._replay = None
            self._replay_done(r, conflicts)
            return
        # acknowledged before send() returned (synchronous transports); acks
        # of messages already given up on (re-queued) are ignored
        if self._sending:
            self._early_acks[msg_id] = conflicts or True

    def _replay_done(self, r, conflicts):
        self._replay_ok()
        self._outbox_ack(r[1])
        c = 0
        if conflicts:
            secs = r[5]
            for ts in conflicts:
                if ts in secs:
                    c += 1
        n = r[3] - c
        self.conflicts += c
        self.delivered += n
        self.replayed += n
        st = r[4]
        self.merged_reports += st[0]
        self.merged += st[1]
        mc = self.merged_by_channel
        for k in st[2]:
            mc[k] = mc.get(k, 0) + st[2][k]
        if c:
            self.log.warning("%d queued reports were already stored at the connector (HTTP 409), not sent again", c)

    def _on_reject(self, msg_id, status=None, body=None):
        """The connector refused a message for good (HTTP 4xx).

        A live report is dropped. A replay batch is never dropped whole: it is
        sent again in halves, down to single reports, so that only a report
        the connector refuses on its own (400) or that is too large alone
        (413) is dropped.
        """
        from uedge.sync import reject

        try:
            reject.on_reject(self, msg_id, status)
        finally:
            release("uedge.sync.reject")

    def _requeue_inflight(self):
        """Unacknowledged sends may be lost with the connection: queue them."""
        if self._held is not None:
            self._release_held(self.clock.now_ms())
        items = self._batch or []  # a live batch not sent yet goes with them, in order
        self._batch = None
        if self._live:
            for v in self._live.values():
                items.append((v[0], v[1]))
            for m in self._live_more:
                items.extend(self._live_more[m])
            self._live = {}
            self._live_more = {}
        if items:
            items.sort()
            for ts_us, payload in items:
                self._queue(ts_us, payload)
        self._replay = None  # still in the outbox, peeked again later

    # -- the queue ------------------------------------------------------------------
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
        # refused by the cap ("latest", or larger than the cap): counted by the
        # outbox in `dropped`, reported per channel once the link is up
        rc = self._refused_channels
        if len(rc) < 256:
            try:
                d = json.loads(payload)
                for k in d:
                    if k != "__error":
                        rc[k] = True
            except (ValueError, TypeError):
                pass
        return False

    def _drop_step(self, now):
        """Reports dropped by the queue's cap become an __error entry for each
        affected channel (at most once a minute, while connected, so that the
        entry itself is not dropped with them)."""
        ob = self.outbox
        if ob is None or ob.dropped == self._drops_seen or not self.connected or now < self._drop_error_ms:
            return
        n = ob.dropped - self._drops_seen
        self._drops_seen = ob.dropped
        self._drop_error_ms = now + DROP_ERROR_EVERY_MS
        chans = self._refused_channels
        self._refused_channels = {}
        if ob.strategy == "oldest" or not chans:
            # the oldest reports went: they carried the channels of the config
            chans = self.config.order if self.config is not None else ()
        msg = "queue full: %d reports dropped (strategy %s, %d dropped in all)" % (n, ob.strategy, ob.dropped)
        for cid in chans:
            self._errors[cid] = msg
        self.log.warning("%s", msg)

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

    # -- sending ----------------------------------------------------------------------
    def _send_live(self, ts_us, payload, now):
        if self._held is not None and self._hold(ts_us, payload):
            return True
        if not self._live_room():
            return self._queue(ts_us, payload)
        return self._transmit(ts_us, payload, None, now)

    def _live_room(self):
        """Connected, with room for another message in flight."""
        return self.connected and len(self._live) < self.max_inflight

    def _transmit(self, ts_us, payload, more, now):
        """Send a report live, with more [(ts_us, payload)] after it in the same
        message (a live batch, uedge.sync.live_batch: only with timestamps)."""
        t = self.transport
        self._sending = True
        try:
            if self.live_timestamps and self._clock_set():
                entries = [(ts_us, {"data_in": payload})]
                for ts, p in more or ():
                    entries.append((ts, {"data_in": p}))
                msg = t.record(entries)
            else:
                msg = t.write("data_in", payload)
        except Exception as e:  # connection dropped under us
            self.last_error = "send failed: %s" % e
            for ts, p in more or ():
                self._queue(ts, p)
            return self._queue(ts_us, payload)
        finally:
            self._sending = False
        n = 1 + len(more) if more else 1
        self.sent_live += n
        early = self._early_acks.pop(msg, None) if msg is not None else True
        if early is not None:
            self._early_acks.clear()
            if early is True:
                self.delivered += n
            else:
                self.conflicts += n
        else:
            self._live[msg] = (ts_us, payload, now)
            if more:
                self._live_more[msg] = more
        return True

    def _replay_step(self, now, force=False):
        if self._held is not None:
            self._held_step(now)
        ob = self.outbox
        if ob is None or self._replay is not None or not self.connected or not len(ob):
            if self._replay_cap and ob is not None and not len(ob):
                self._replay_cap = 0  # drained: the next replay starts with full batches
                self._replay_limit = self.batch_items
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
            self._replay_short(e)
            self._next_replay_ms = now + 1000
            return
        if not batch:
            return
        # the message stays within message_bytes once encoded
        form = res > 1
        cost = 0
        cut = len(batch)
        i = 0
        for _key, _ts, payload in batch:
            c = message_cost(payload, form)
            if i and cost + c > self.message_bytes:
                cut = i
                break
            cost += c
            i += 1
        nxt = None
        if cut < len(batch):
            nxt = batch[cut]
            del batch[cut:]
            more = True
        elif len(batch) > want:
            nxt = batch.pop()
            more = True
        if res > 1 and more:
            sid = batch[-1][1] // res
            if nxt is None or nxt[1] // res == sid:
                # the slot may go on in the next batch: send it whole, then
                # (the connector keeps one value per slot: halves would clash)
                j = len(batch)
                while j > 0 and batch[j - 1][1] // res == sid:
                    j -= 1
                if j > 0:
                    del batch[j:]
        self._replay_send(now, batch, res)

    def _send_batch(self, now, entries, keys, stats, secs):
        self._sending = True
        try:
            msg = self.transport.record(entries)
        except Exception as e:
            self.last_error = "replay failed: %s" % e
            self._replay_short(e)
            self._next_replay_ms = now + 1000
            return
        finally:
            self._sending = False
        self._next_replay_ms = now + self.replay_interval_ms
        r = [msg, keys, now, len(entries), stats, secs]
        early = self._early_acks.pop(msg, None) if msg is not None else True
        if early is not None:
            self._early_acks.clear()
            self._replay_done(r, None if early is True else early)
        else:
            self._replay = r

    def _replay_short(self, e):
        """A replay that ran out of memory goes on in batches of half the size,
        and no larger until the queue is empty, so a board short of heap still
        drains its queue (without a failure every other batch)."""
        if isinstance(e, MemoryError) and self._replay_limit > 1:
            self._replay_limit //= 2
            self._replay_cap = self._replay_limit

    def _replay_ok(self):
        top = self._replay_cap or self.batch_items
        if self._replay_limit < top:  # back to full batches step by step
            self._replay_limit = min(top, self._replay_limit * 2)

    def _check_timeouts(self, now):
        if not self.ack_timeout_ms:
            return
        limit = now - self.ack_timeout_ms
        live = self._live
        late = None  # nothing allocated, nothing asked of the transport, while none is late
        for m in live:
            if live[m][2] < limit:
                if late is None:
                    late = []
                late.append(m)
        r = self._replay
        if late is None and (r is None or r[2] >= limit):
            return
        # a transport that can take back what it has not sent yet (a request
        # waiting behind retries) is asked to: the report then goes once
        cancel = getattr(self.transport, "cancel", None)
        for m in late or ():
            ts_us, payload, _sent = live.pop(m)
            if cancel is not None:
                cancel(m)
            self._queue(ts_us, payload)
            for ts, p in self._live_more.pop(m, None) or ():
                self._queue(ts, p)
        r = self._replay
        if r is not None and r[2] < limit:
            if cancel is not None:
                cancel(r[0])
            self._replay = None
