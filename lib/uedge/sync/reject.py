"""Delivery._on_reject (uedge.sync.delivery): a message the connector
refused for good (HTTP 4xx). Loaded for one refusal and, on a board,
released after; an MQTT loop never loads it."""


def on_reject(edge, msg_id, status=None):
    """Delivery._on_reject (HTTP only: MQTT has no refusal of a message)."""
    if msg_id in edge._live:
        ts_us, payload, _sent = edge._live.pop(msg_id)
        more = edge._live_more.pop(msg_id, None) if edge._live_more else None
        edge.lost += 1 + len(more) if more else 1
        edge.last_error = "report rejected by the connector (HTTP %s), dropped: %s" % (status, payload[:120])
    elif edge._replay is not None and edge._replay[0] == msg_id:
        r = edge._replay
        edge._replay = None
        n = len(r[1])
        if n > 1:
            edge._replay_limit = n // 2
            edge._next_replay_ms = 0
            edge.log.warning("%d queued reports refused together (HTTP %s): sending them in halves", n, status)
            return
        edge._outbox_ack(r[1])
        edge.lost += 1
        edge.last_error = "queued report rejected by the connector (HTTP %s), dropped" % (status,)
    else:
        return
    edge.log.error("%s", edge.last_error)
