"""Edge loop logic with a FakeClock and an in-process transport double.

The end-to-end behaviour against the real connector is in test_e2e.py and
test_chaos.py; these cover the decision rules quickly and deterministically.
"""
import json

from uedge.compat import FakeClock
from uedge.edge import Edge
from uedge.sync.last_edited import edited_seconds
from uedge.transport.link import STATE_READ
from uedge.outbox.memory import MemoryOutbox
from uedge.pipeline.scheduler import Scheduler
import uedge.sources.simulated  # noqa: F401


class Loopback:
    """Records what the edge sends; acks when told to."""

    def __init__(self):
        self.connected = False
        self.sent = []  # (msg_id, kind, payload)
        self.writes = []
        self.unacked = []
        self.auto_ack = True
        self._id = 0
        self.on_update = self.on_ack = self.on_state = None

    def up(self):
        self.connected = True
        self.on_state(True, "connected")

    def down(self):
        self.connected = False
        self.on_state(False, "link down")

    def poll(self, now):
        if self.auto_ack:
            self.ack_all()

    def ack_all(self):
        ids, self.unacked = self.unacked, []
        for i in ids:
            self.on_ack(i)

    def _next(self):
        if not self.connected:
            raise OSError("not connected")
        self._id += 1
        self.unacked.append(self._id)
        return self._id

    def record(self, entries):
        i = self._next()
        self.sent.append((i, "record", entries))
        return i

    def write(self, alias, value):
        i = self._next()
        self.writes.append((alias, value))
        return i

    def close(self):
        pass

    def data_in(self):
        out = []
        for _i, _k, entries in self.sent:
            for ts, vals in entries:
                out.append((ts, json.loads(vals["data_in"])))
        return out


CFG = {
    "last_edited": "2024-01-01T00:00:00Z",
    "channels": {
        "001": {
            "display_name": "Temp",
            "properties": {"data_type": "TEMPERATURE", "data_unit": "DEG_CELSIUS", "precision": 1},
            "protocol_config": {
                "sample_rate": 1000, "report_rate": 1000, "application": "Simulated",
                "app_specific_config": {"function": "counter", "start": 10, "step": 1},
                "multiplier": 2, "offset": 1,
            },
        },
        "009": {
            "display_name": "Set point",
            "properties": {"data_type": "TEMPERATURE", "data_unit": "DEG_CELSIUS", "control": True},
            "protocol_config": {"report_rate": 60000},
            "control_properties": {"range": {"min": 20, "max": 40}},
        },
    },
}


class Store:
    def __init__(self, **kw):
        self.d = dict(kw)

    def load(self, alias):
        return self.d.get(alias)

    def save(self, alias, text):
        self.d[alias] = text


def make(cfg=CFG, outbox=None, **kw):
    clock = FakeClock()
    t = Loopback()
    store = Store(config_io=json.dumps(cfg) if cfg else None)
    e = Edge(clock, Scheduler(clock), t, outbox if outbox is not None else MemoryOutbox(),
             store=store, sync_window_ms=1000, **kw)
    e.start()
    return clock, t, e, store


def run(clock, e, ms, step=100):
    end = clock.now_ms() + ms
    while clock.now_ms() < end:
        e.poll(clock.now_ms())
        clock.advance(step)


def test_edited_seconds():
    assert edited_seconds("1970-01-02T00:00:00Z") == 86400
    assert edited_seconds("2018-03-28T13:27:39+00:00 ") == edited_seconds("2018-03-28T15:27:39+02:00")
    assert edited_seconds("1638311186313") == 1638311186.313
    assert edited_seconds(1638311186) == 1638311186
    assert edited_seconds("garbage") is None


def test_offline_then_replay_in_order():
    clock, t, e, _ = make()
    run(clock, e, 5000)
    assert len(e.outbox) >= 5 and not t.sent
    t.up()
    run(clock, e, 3000)
    # replay batches keep queue order; live reports flow alongside them
    replayed = [ts for _i, _k, entries in t.sent if len(entries) > 1 for ts, _v in entries]
    assert len(replayed) >= 5 and replayed == sorted(replayed)
    got = sorted(t.data_in(), key=lambda g: g[0])
    vals = [g[1]["001"] for g in got if "001" in g[1]]
    assert vals[:3] == [21, 23, 25]  # counter 10, 11, 12 converted *2+1
    assert len(e.outbox) == 0


def test_unacked_requeued_on_disconnect():
    clock, t, e, _ = make()
    t.up()
    t.auto_ack = False
    run(clock, e, 3000)
    sent = len(t.sent)
    assert sent >= 3 and len(e.outbox) == 0
    t.down()
    assert len(e.outbox) == sent  # nothing acknowledged is lost
    t.auto_ack = True
    t.up()
    run(clock, e, 2000)
    assert len(e.outbox) == 0


def test_data_out_ack_actuate_echo_and_reject():
    clock, t, e, _ = make()
    t.up()
    run(clock, e, 1500)
    t.on_update("data_out", '{"009": 25}', None)
    t.on_update("data_out", '{"009": 99}', None)
    run(clock, e, 300)
    assert ("data_out", '{"009": 25}') in t.writes  # acknowledged by writing back
    assert ("data_out", '{"009": 99}') in t.writes
    reports = [g[1] for g in t.data_in()]
    assert any(r.get("009") == 25 for r in reports)
    errs = [r["__error"]["009"] for r in reports if "__error" in r and "009" in r["__error"]]
    assert errs and "40" in errs[0]
    assert not any(r.get("009") == 99 for r in reports)
    assert e.scheduler.state("009")[0] == 25


def test_config_sync_rules():
    clock, t, e, store = make()
    t.up()
    run(clock, e, 1500)  # sync window passes with no remote config: local written up
    assert [w for w in t.writes if w[0] == "config_io"]
    t.writes.clear()
    # older remote -> local pushed, not applied
    old = dict(CFG, last_edited="2020-01-01T00:00:00Z", channels={})
    t.on_update("config_io", json.dumps(old), None)
    run(clock, e, 200)
    assert "001" in e.config.channels
    assert [w for w in t.writes if w[0] == "config_io"]
    # invalid remote -> rejected, last good kept; the document-level error goes
    # under each channel id (data_in __error is keyed by channel)
    t.on_update("config_io", '{"channels": {"x": 1}}', None)
    run(clock, e, 1200)
    errs = [r["__error"] for _ts, r in t.data_in() if "__error" in r]
    assert any("config_io rejected" in x.get("001", "") and "config_io rejected" in x.get("009", "")
               for x in errs)
    assert not any("config_io" in x for x in errs)
    assert "001" in e.config.channels
    # newer remote -> applied live and cached
    new = json.loads(json.dumps(CFG))
    new["last_edited"] = "2025-01-01T00:00:00Z"
    del new["channels"]["001"]
    t.on_update("config_io", json.dumps(new), None)
    run(clock, e, 200)
    assert list(e.config.channels) == ["009"]
    assert json.loads(store.d["config_io"])["last_edited"] == "2025-01-01T00:00:00Z"


def test_locked_local_config_wins():
    cfg = dict(CFG, locked=True)
    clock, t, e, _ = make(cfg)
    t.up()
    run(clock, e, 200)
    assert [w for w in t.writes if w[0] == "config_io"]
    new = dict(CFG, last_edited="2030-01-01T00:00:00Z", channels={})
    t.on_update("config_io", json.dumps(new), None)
    run(clock, e, 1200)
    assert "001" in e.config.channels


def test_drop_strategy_reported():
    clock, t, e, _ = make(outbox=MemoryOutbox(cap_items=3, strategy="oldest"))
    run(clock, e, 6000)
    assert len(e.outbox) == 3 and e.outbox.dropped >= 2
    assert e.status()["queue"]["dropped"] == e.outbox.dropped


def test_coarse_record_resolution_merges_per_second():
    clock = FakeClock()
    t = Loopback()
    t.record_ts_divisor = 1000000  # like the HTTP record API
    cfg = json.loads(json.dumps(CFG))
    cfg["channels"]["001"]["protocol_config"]["sample_rate"] = 250
    cfg["channels"]["001"]["protocol_config"]["report_rate"] = 250
    e = Edge(clock, Scheduler(clock), t, MemoryOutbox(), store=Store(config_io=json.dumps(cfg)))
    e.start()
    assert e.live_timestamps is True  # live reports carry their second too
    run(clock, e, 3000)  # offline: 12 reports, gathered per second before queueing
    assert 2 <= len(e.outbox) <= 3
    t.up()
    run(clock, e, 500)
    replayed = [entries for _i, _k, entries in t.sent if len(entries) > 1][0]
    secs = [ts // 1000000 for ts, _v in replayed]
    assert len(secs) == len(set(secs)) >= 2  # one point per second
    last = json.loads(replayed[0][1]["data_in"])
    assert last["001"] == 2 * 13 + 1  # the last value of that second wins
    assert e.merged >= 6 and e.status()["channels"]["001"]["merged"] == e.merged_by_channel["001"]


def test_config_applications_applied_to_sources():
    opened = []
    clock = FakeClock()

    def open_source(application, interface, app_config):
        from uedge.sources import default_open_source

        opened.append((application, interface, dict(app_config)))
        return default_open_source(application, interface, app_config)

    cfg = json.loads(json.dumps(CFG))
    cfg["channels"]["001"]["protocol_config"]["interface"] = "sim0"
    t = Loopback()
    e = Edge(clock, Scheduler(clock, open_source), t, MemoryOutbox(),
             store=Store(config_io=json.dumps(cfg)))
    e.start()
    t.up()
    run(clock, e, 500)
    assert opened[-1] == ("Simulated", "sim0", {})
    apps = {"last_edited": "2024-01-02T00:00:00Z", "applications": {"Simulated": {
        "application_display_name": "Sim", "app_specific_config_options": {"gain": 2},
        "interfaces": [{"interface": "sim0", "speed": 9600}]}}}
    t.on_update("config_applications", json.dumps(apps), None)
    run(clock, e, 500)
    # the source was reopened with its interface settings merged over the options
    assert opened[-1] == ("Simulated", "sim0", {"gain": 2, "interface": "sim0", "speed": 9600})
    n = len(opened)
    t.on_update("config_applications", '{"applications": {"Modbus_RTU": {"interfaces": [{"baud_rate": 7}]}}}', None)
    run(clock, e, 1200)
    errs = [r["__error"] for _ts, r in t.data_in() if "__error" in r]
    assert any("baud_rate" in x.get("001", "") for x in errs)
    assert len(opened) == n  # rejected: nothing reopened


def test_data_out_reread_not_actuated_twice():
    clock, t, e, _ = make()
    t.up()
    run(clock, e, 300)
    t.on_update("data_out", '{"009": 25}', None)
    run(clock, e, 200)
    n = e.control_ok
    t.writes.clear()
    before = len(t.sent)
    t.on_update("data_out", '{"009": 25}', STATE_READ)  # the HTTP transport re-reads on reconnect
    run(clock, e, 200)
    assert e.control_ok == n  # not actuated again ...
    assert t.writes == [("data_out", '{"009": 25}')]  # ... but acknowledged
    echoed = [json.loads(v["data_in"]) for _i, _k, en in t.sent[before:] for _ts, v in en]
    assert {"009": 25} in echoed  # ... and its state echoed
    t.on_update("data_out", '{"009": 25}', 1700000009000000)  # a new request, same value
    run(clock, e, 200)
    assert e.control_ok == n + 1


def test_sources_loaded_on_demand():
    asked = []
    cfg = json.loads(json.dumps(CFG))
    cfg["channels"]["002"] = {"display_name": "M", "properties": {"data_type": "NUMBER"},
                              "protocol_config": {"application": "Modbus_TCP",
                                                  "app_specific_config": {}}}
    clock = FakeClock()
    t = Loopback()
    e = Edge(clock, Scheduler(clock), t, MemoryOutbox(), store=Store(config_io=json.dumps(cfg)),
             need_sources=asked.append)
    e.start()
    assert asked == [["Simulated", "Modbus_TCP"]]


def test_locked_channel_kept_on_remote_edit():
    cfg = json.loads(json.dumps(CFG))
    cfg["channels"]["001"]["properties"]["locked"] = True
    clock, t, e, store = make(cfg)
    t.up()
    run(clock, e, 200)
    new = json.loads(json.dumps(CFG))
    new["last_edited"] = "2030-01-01T00:00:00Z"
    new["channels"]["001"]["display_name"] = "Renamed by the app"
    del new["channels"]["009"]
    t.on_update("config_io", json.dumps(new), None)
    run(clock, e, 200)
    assert e.config.last_edited == "2030-01-01T00:00:00Z"  # the rest of the edit applies
    assert "009" not in e.config.channels
    assert e.config.channels["001"].display_name == "Temp"  # the locked channel does not
    pushed = [json.loads(v) for a, v in t.writes if a == "config_io"][-1]
    assert pushed["channels"]["001"]["display_name"] == "Temp"
    assert json.loads(store.d["config_io"])["channels"]["001"]["display_name"] == "Temp"
