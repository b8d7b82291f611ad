"""data_out validation: is this control request acceptable for the channel?

check_request(channel_cfg, value) -> (value, None) | (None, "message")

The value is coerced to the channel's type (data_out carries JSON, often as
strings: "true", "25.5"). Enforced: properties.control must be true, the
type, control_properties.range (numeric) and control_properties.enum.
properties.min/max describe the expected range of readings and are not
enforced for writes.
"""

from uedge.compat import json
from uedge.pipeline.convert import check_location, to_bool, to_number
from uedge.pipeline.payload import encode_data_in, json_finite
from uedge.pipeline.values import KIND_BOOLEAN, KIND_JSON, KIND_LOCATION, KIND_NUMBER, KIND_STRING, is_num, kind_of
from uedge.sources import error_text


def _fmt(v):
    if isinstance(v, float) and v == int(v) and -1e15 < v < 1e15:
        return str(int(v))
    return str(v)


def check_request(cfg, value):
    cid = cfg.id
    if not cfg.control:
        return None, "channel %s is not a control channel" % cid
    kind = kind_of(cfg)
    if kind == KIND_BOOLEAN:
        v = to_bool(value)
        if v is None:
            return None, "channel %s: expected a boolean (true/false, 1/0, on/off), got %r" % (cid, value)
    elif kind == KIND_NUMBER:
        if isinstance(value, (dict, list, tuple)) or value is None:
            return None, "channel %s: expected a number, got %r" % (cid, value)
        v = to_number(value)
        if v is None or value is True or value is False:
            return None, "channel %s: expected a number, got %r" % (cid, value)
        lo = cfg.control_min
        hi = cfg.control_max
        if lo is not None and v < lo:
            return None, "channel %s: %s is below control_properties.range.min %s" % (cid, _fmt(v), _fmt(lo))
        if hi is not None and v > hi:
            return None, "channel %s: %s is above control_properties.range.max %s" % (cid, _fmt(v), _fmt(hi))
    elif kind == KIND_STRING:
        if isinstance(value, str):
            v = value
        elif value is None or value is True or value is False or isinstance(value, (dict, list, tuple)):
            return None, "channel %s: expected a string, got %r" % (cid, value)
        else:
            v = str(value)
    elif kind == KIND_LOCATION:
        msg = check_location(value)
        if msg is not None:
            return None, "channel %s: %s" % (cid, msg)
        v = value
        if isinstance(v, (list, tuple)):
            v = {"lat": v[0], "lng": v[1]}
            msg = check_location(v)
            if msg is not None:
                return None, "channel %s: %s" % (cid, msg)
    else:  # KIND_JSON: any JSON value, but NaN and Infinity are not JSON
        if not json_finite(value):
            return None, "channel %s: NaN and Infinity are not valid JSON values" % cid
        v = value
    en = cfg.control_enum
    if en is not None and kind != KIND_JSON:
        ok = False
        for item in en:
            if kind == KIND_NUMBER:
                n = to_number(item)
                if n is not None and n == v:
                    ok = True
                    break
            elif kind == KIND_BOOLEAN:
                if to_bool(item) is v:
                    ok = True
                    break
            elif item == v:
                ok = True
                break
        if not ok:
            return None, "channel %s: %s is not one of %s" % (cid, _fmt(v), ", ".join(en))
    return v, None


def actuate(sched, channel_id, value):
    """Scheduler.actuate: write a data_out request through the channel's source.
    -> None on success (the new state is reported by the next poll) or an
    error message."""
    ch = sched.channels.get(channel_id)
    if ch is None:
        return "unknown channel %s" % channel_id
    v, err = check_request(ch.cfg, value)
    if err is not None:
        return err
    now = sched.clock.now_ms()
    slot = ch.slot
    src = slot.source
    if src is None:
        slot.retry_at = 0  # a control request is worth an immediate attempt
        src = slot.ensure_open(now, sched._open_source)
        if src is None:
            return "channel %s: %s" % (channel_id, slot.error)
    src.now_ms = now
    try:
        src.write(ch.cfg, to_raw(ch, v))
    except Exception as e:
        return "channel %s: write failed: %s" % (channel_id, error_text(e))
    # the actuated state is reported as if sampled (the scheduler echoes it)
    ch.last_value = v
    ch.last_ts_us = sched.clock.epoch_us()
    ch.last_reported = v
    ch.reported = True
    ch.last_ok_ms = now
    ch.last_error = None
    ch.werr = None
    ch.n = 0
    sched._pending[channel_id] = v
    return None


def to_raw(ch, value):
    """Inverse of channel ch's numeric conversion, for writing a control value."""
    if ch.kind == KIND_NUMBER and ch.converts and is_num(value):
        if ch.scale == 0:
            return value
        raw = (value - ch.bias) / ch.scale
        if isinstance(value, int) and raw == int(raw):
            return int(raw)
        return raw
    return value


def is_repeat(last, value_digest, ts_us):
    """Is a data_out delivery the request last applied (last = [digest, ts_us])?

    ts_us is the connector's time of the data_out write (the MQTT topic's
    timestamp, the HTTP long poll's Last-Modified), STATE_READ (0) for the value
    read on connect (no time: the same value is taken for the same request), or
    None (unknown: always a new request). A new request with the same value
    has a new time and is applied again.
    """
    if last is None or ts_us is None or last[0] != value_digest:
        return False
    return ts_us == 0 or ts_us == last[1]


# -- data_out handling of uedge.edge.Edge --------------------------------------
#
# Edge._data_out_update imports this module when a request arrives and, on a
# board, releases it afterwards: its bytecode is not held between requests.
# What was last applied is kept in the edge's sync state (persisted by the
# store: a file on a gateway and on a board's flash), so a restart never
# carries out a request again. Uses the Edge's transport, scheduler, config,
# log, _set_sync() and _send_live().


def data_out_update(edge, text, ts_us):
    """Acknowledge, validate and actuate one data_out delivery (once)."""
    from uedge.compat import digest

    d = digest(text)
    if is_repeat(edge._sync.get("data_out"), d, ts_us):
        # the request already carried out (the HTTP read on connect, or a
        # repeated delivery of the same write): its state is echoed only
        edge.log.info("data_out already applied (%s): not actuated again",
                      "read on connect" if ts_us == 0 else "same write")
        on_data_out(edge, text, actuate=False)
        return
    # recorded before actuating: a restart in between never repeats it
    edge._set_sync("data_out", [d, ts_us or 0])
    on_data_out(edge, text)


def on_data_out(edge, text, actuate=True):
    # 1. acknowledge receipt by writing the same value back
    try:
        edge.transport.write("data_out", text)
    except Exception as e:
        edge.last_error = "data_out acknowledge failed: %s" % e
    # 2. validate and actuate each request
    try:
        reqs = json.loads(text)
    except ValueError:
        edge._error("data_out", "data_out is not JSON: %s" % text[:80])
        return
    if not isinstance(reqs, dict):
        edge._error("data_out", "data_out must be a JSON object of channel: value")
        return
    chans = edge.config.channels if edge.config is not None else {}
    if not actuate:
        states = {}
        for cid in reqs:
            if cid in chans:
                v = edge.scheduler.state(cid)[0]
                if v is not None:
                    states[cid] = v
        if states:
            edge._send_live(edge.clock.epoch_us(), encode_data_in(states, None), edge.clock.now_ms())
        return
    for cid in reqs:
        cfg = chans.get(cid)
        if cfg is None:
            _reject(edge, cid, "channel %s is not in config_io" % cid)
            continue
        value, err = check_request(cfg, reqs[cid])
        if err is None:
            err = edge.scheduler.actuate(cid, value)
        if err is not None:
            _reject(edge, cid, err)
        else:
            edge.control_ok += 1
            edge.log.info("channel %s set to %r", cid, value)
    # 3. the new states go out with the next scheduler poll (actuate queues them)


def _reject(edge, cid, msg):
    edge.control_rejected += 1
    edge.log.warning("channel %s: control request rejected: %s", cid, msg)
    edge.last_error = msg
    edge._errors[cid] = msg
