"""Edge.status(): the edge loop's state as one dict (the gateway's dashboard
and status file, `uedge-host status`). Loaded when asked for and, on a
board, released after: a board's loop never builds it."""


def status(edge):
    chans = {}
    cfg = edge.config
    if cfg is not None:
        state = edge.scheduler.state
        merged = edge.merged_by_channel
        names = cfg.channels
        for cid in cfg.order:
            v, ts, err = state(cid)
            chans[cid] = {"name": names[cid].display_name, "value": v, "ts_us": ts, "error": err,
                          "merged": merged.get(cid, 0)}
    ob = edge.outbox
    q = ob.stats() if ob is not None else {"depth": 0, "dropped": 0, "corrupted": 0}
    return {
        "connected": edge.connected,
        "reason": edge.reason,
        "config_last_edited": cfg.last_edited if cfg is not None else None,
        "channels": chans,
        "queue": q,
        "inflight": len(edge._live) + sum(len(m) for m in edge._live_more.values())
        + (edge._replay[3] if edge._replay else 0),
        "reports": edge.reports,
        "sent_live": edge.sent_live,
        "delivered": edge.delivered,
        "replayed": edge.replayed,
        "queued": edge.queued,
        "lost": edge.lost,
        "merged": edge.merged,
        "merged_reports": edge.merged_reports,
        "conflicts": edge.conflicts,
        "queue_errors": edge.queue_errors,
        "control_ok": edge.control_ok,
        "control_rejected": edge.control_rejected,
        "last_error": edge.last_error,
    }
