"""Delivery of reports: live sends, in-flight tracking, outbox replay (a part of Edge).

A report goes live when connected (tracked until the transport acknowledges
it) or into the outbox. Queued reports are replayed in order, in batches,
rate limited, and deleted only when acknowledged. Unacknowledged sends are
queued again when the link drops or their acknowledgement is late; a batch the
connector refuses is split in halves down to single reports.

Delivery is a mixin of uedge.edge.Edge: it uses the Edge's transport, outbox,
log and counters.
"""


import json


def merge_reports(a, b):
    """Two data_in reports of one record slot as one (the HTTP record API keeps
    one value per second): the later value of a channel wins."""
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


class Delivery:
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

    def _requeue_inflight(self):
        """Unacknowledged sends may be lost with the connection: queue them."""
        if self._live:
            items = sorted(self._live.values())
            self._live = {}
            for ts_us, payload, _sent in items:
                self._queue(ts_us, payload)
        self._replay = None  # still in the outbox, peeked again later

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
                records[-1] = (records[-1][0], {"data_in": merge_reports(records[-1][1]["data_in"], payload)})
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

