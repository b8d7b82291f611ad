# How the edge loop takes updates from the link: oversized values, repeated
# control requests, invalid JSON values.
import json

from uedge.transport.link import STATE_READ, UpdateError
from uedge.outbox.memory import MemoryOutbox

from edge_rig import Log, Store, run, start_edge

CFG = json.dumps({"last_edited": "2024-01-01T00:00:00Z", "channels": {
    "001": {"display_name": "C", "properties": {"data_type": "NUMBER"},
            "protocol_config": {"sample_rate": 1000, "report_rate": 1000, "application": "Simulated",
                                "app_specific_config": {"function": "counter", "start": 0, "step": 1}}},
    "009": {"display_name": "T", "properties": {"data_type": "TEMPERATURE", "control": True},
            "control_properties": {"range": {"min": 20, "max": 40}},
            "protocol_config": {"report_rate": 60000}},
    "010": {"display_name": "J", "properties": {"data_type": "JSON", "control": True},
            "protocol_config": {"report_rate": 60000}},
}})


class _Link:
    def __init__(self):
        self.connected = True
        self.sent = []
        self.on_update = self.on_ack = self.on_state = None

    def poll(self, now):
        pass

    def record(self, entries):
        self.sent.append(("record", entries))

    def write(self, alias, value):
        self.sent.append(("write", alias, value))

    def close(self):
        pass

    def data_in(self):
        out = []
        for s in self.sent:
            if s[0] == "record":
                for _ts, vals in s[1]:
                    out.append(json.loads(vals["data_in"]))
            elif s[1] == "data_in":
                out.append(json.loads(s[2]))
        return out


def _edge():
    link = _Link()
    clock, e = start_edge(link, MemoryOutbox(), Store(CFG), Log(), up=True)
    return clock, link, e


def test_oversized_config_io_is_reported_and_the_remote_one_is_not_overwritten():
    clock, link, e = _edge()
    del link.sent[:]  # (the first connect wrote the local config up: never in step before)
    e._sync_pending = True  # as after an HTTP connect, whose read brings the oversized value
    link.on_update("config_io", UpdateError("update of 120000 bytes exceeds the device's limit of 65536"), None)
    run(e, clock, 50)  # well past the sync window
    # a document-level error goes under the channel ids (__error is keyed by channel)
    errs = [d["__error"]["001"] for d in link.data_in() if "__error" in d and "001" in d["__error"]]
    assert errs and "exceeds the device's limit of 65536" in errs[0]
    # the last good config keeps running and is not pushed over the remote one
    assert not [s for s in link.sent if s[0] == "write" and s[1] == "config_io"]
    assert "001" in e.config.channels


def _set_state(e, cid, v):
    e.scheduler.channels[cid].slot.source.states[cid] = v


def test_repeated_control_request_by_long_poll_is_carried_out():
    clock, link, e = _edge()
    for _ in range(2):
        link.on_update("data_out", '{"009":25}', None)  # HTTP long poll: no timestamp
        run(e, clock, 2)
        _set_state(e, "009", 20)  # changed locally between the requests
    assert e.control_ok == 2
    assert e.scheduler.state("009")[0] == 25


def test_data_out_read_at_reconnect_is_not_carried_out_again():
    clock, link, e = _edge()
    link.on_update("data_out", '{"009":25}', None)
    run(e, clock, 2)
    assert e.control_ok == 1
    link.sent.clear()
    link.on_update("data_out", '{"009":25}', STATE_READ)  # the same request read at reconnect
    run(e, clock, 2)
    assert e.control_ok == 1
    assert ("write", "data_out", '{"009":25}') in link.sent  # still acknowledged
    assert any(d.get("009") == 25 for d in link.data_in())  # and its state echoed
    link.on_update("data_out", '{"009":30}', STATE_READ)  # a new request read at reconnect
    run(e, clock, 2)
    assert e.control_ok == 2


def _bad_constant(name):
    raise ValueError("invalid JSON constant " + name)


def _strict(text):
    try:
        return json.loads(text, parse_constant=_bad_constant)
    except TypeError:  # MicroPython: no keyword arguments (and no NaN either)
        return json.loads(text)


def test_data_out_with_nan_never_reaches_data_in():
    clock, link, e = _edge()
    link.on_update("data_out", '{"010":{"a":NaN}}', None)
    run(e, clock, 3)
    assert e.control_ok == 0
    for s in link.sent:
        if s[0] == "record" or s[1] == "data_in":
            text = s[1][0][1]["data_in"] if s[0] == "record" else s[2]
            _strict(text)
    assert e.last_error and ("NaN" in e.last_error or "not JSON" in e.last_error)


def test_data_out_handling_is_loaded_per_request_on_a_board():
    # uedge.pipeline.control is imported for a data_out and, on MicroPython,
    # released after it (its bytecode is not held between requests); the
    # next request loads it again and is carried out the same way
    import sys

    from uedge.compat import MICROPYTHON

    clock, link, e = _edge()
    from uedge.compat import release

    release("uedge.pipeline.control")  # whatever an earlier test loaded
    for v in (25, 30):
        link.on_update("data_out", '{"009":%d}' % v, None)
        run(e, clock, 2)
        assert e.scheduler.state("009")[0] == v
        assert ("uedge.pipeline.control" in sys.modules) is not MICROPYTHON
    assert e.control_ok == 2
