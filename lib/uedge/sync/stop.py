"""Edge.shutdown(): the last delivery attempt, the queue persisted, the link
closed. Loaded when the loop stops (a host's exit, a board's restart) and
released after: a running loop does not hold its code."""


def shutdown(edge, flush_ms=5000):
    """Edge.shutdown: try to deliver what is pending, then persist the rest and close."""
    if edge._stopping:
        return
    edge._stopping = True
    clock = edge.clock
    deadline = clock.now_ms() + flush_ms
    _gather_flush(edge, clock.now_ms())
    while edge.connected and clock.now_ms() < deadline:
        now = clock.now_ms()
        try:
            edge.transport.poll(now)
        except Exception:
            break
        edge._replay_step(now, force=True)
        if not edge._live and edge._replay is None and (
                edge.outbox is None or not len(edge.outbox) or not edge._clock_set()):
            break
        clock.sleep_ms(5)
    edge._requeue_inflight()
    if edge.outbox is not None:
        try:
            edge.outbox.close()
        except Exception as e:
            edge.log.error("closing the queue: %s", e)
    try:
        edge.transport.close()
    except Exception:
        pass


def _gather_flush(edge, now):
    """Send what gathered now (record slots, a live batch)."""
    if edge._slot is not None:
        from uedge.sync import record_slots

        record_slots.flush(edge, now)
    if edge._batch is not None:
        from uedge.sync import live_batch

        live_batch.flush(edge, now)
