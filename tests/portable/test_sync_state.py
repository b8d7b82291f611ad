# The persisted sync state: config_io written up only when it changed since it
# was last in step with the connector, data_out applied once across restarts,
# document-level errors under channel ids. Real FileStore files in a temporary
# directory; runs under CPython (pytest) and MicroPython (mpy_runner.py).
import json
import os

from uedge.outbox.memory import MemoryOutbox
from uedge.pipeline.control import is_repeat
from uedge.sync.config_sync import FileStore, digest
from uedge.sync.errors import error_keys
from uedge.transport.link import STATE_READ

from edge_rig import Link, Log, run, start_edge

CFG = json.dumps({"last_edited": "2024-01-01T00:00:00Z", "channels": {
    "001": {"display_name": "C", "properties": {"data_type": "NUMBER"},
            "protocol_config": {"sample_rate": 1000, "report_rate": 1000, "application": "Simulated",
                                "app_specific_config": {"function": "counter", "start": 0, "step": 1}}},
    "009": {"display_name": "T", "properties": {"data_type": "TEMPERATURE", "control": True},
            "control_properties": {"range": {"min": 20, "max": 40}},
            "protocol_config": {"report_rate": 60000}},
}})

_N = [0]


def _dir():
    _N[0] += 1
    try:
        import time
        stamp = time.ticks_us()
    except AttributeError:
        import time
        stamp = int(time.time() * 1000000)
    d = "/tmp/uedge-sync-%d-%d" % (stamp, _N[0])
    os.mkdir(d)
    return d


def _store(d, text=CFG):
    p = d + "/config_io.json"
    if text is not None:
        with open(p, "w") as f:
            f.write(text)
    return FileStore(p, d + "/config_applications.json")


def _config_writes(link):
    out = []
    for s in link.sent:
        for _ts, vals in s[1]:
            if "config_io" in vals:
                out.append(vals["config_io"])
    return out


def _boot(d, link=None, reads_state=False):
    link = link or Link(ack_on_poll=True)
    if reads_state:
        link.reads_state = True
    clock, e = start_edge(link, MemoryOutbox(), FileStore(d + "/config_io.json", d + "/config_applications.json"),
                          Log(), up=True)
    run(e, clock, 3)
    return clock, link, e


def test_state_file_next_to_the_cache():
    assert FileStore("/flash/config_io.json").state_path == "/flash/config_io.sync.json"
    assert FileStore(None).state_path is None
    assert FileStore(None).load_state() == {}


def test_config_io_written_up_only_when_changed_since_in_step():
    d = _dir()
    _store(d)
    # first start: never in step -> written up; the acknowledgement records it
    _clock, link, e = _boot(d)
    assert _config_writes(link) == [CFG]
    assert e._sync.get("config_io") == digest(CFG)
    # reconnect and restart: in step, nothing written (a cloud edit made while
    # offline, which MQTT cannot show, is not overwritten)
    e._on_state(False, "down")
    e._on_state(True, "up")
    clock, link2, e2 = _boot(d)
    assert _config_writes(link2) == []
    # the local file edited while stopped: written up at the next start
    edited = CFG.replace('"C"', '"Counter"')
    _store(d, edited)
    _clock, link3, _e3 = _boot(d)
    assert _config_writes(link3) == [edited]


def test_unacknowledged_write_is_not_in_step():
    d = _dir()
    _store(d)
    link = Link(ack_on_poll=False)
    _clock, link, e = _boot(d, link)
    assert _config_writes(link) == [CFG]
    assert e._sync.get("config_io") is None  # never acknowledged
    _clock, link2, _e2 = _boot(d)
    assert _config_writes(link2) == [CFG]  # so it is written again


def test_received_config_io_is_in_step_and_read_on_connect_decides():
    d = _dir()
    _store(d)
    clock, link, e = _boot(d, reads_state=True)
    # connected over a transport that reads on connect, and the read had no
    # config_io: the local one is written up
    assert _config_writes(link) == [CFG]
    newer = CFG.replace("2024-01-01", "2025-01-01")
    link.on_update("config_io", newer, 1)
    run(e, clock, 2)
    assert e._cdigest == digest(newer) and e.store.load("config_io") == newer
    assert e._sync.get("config_io") == digest(newer)
    # restart: the read gives the same value -> nothing written
    link2 = Link(ack_on_poll=True)
    link2.reads_state = True
    clock2, e2 = start_edge(link2, MemoryOutbox(), _store(d, None), Log())
    link2.connected = True
    e2._on_state(True, "up")
    link2.on_update("config_io", newer, STATE_READ)
    run(e2, clock2, 3)
    assert _config_writes(link2) == []


def test_running_text_let_go_once_in_step_and_read_back_for_a_write_up():
    d = _dir()
    _store(d)
    _clock, link, e = _boot(d)
    assert _config_writes(link) == [CFG] and e._sync.get("config_io") == digest(CFG)
    # acknowledged: the connector holds it and the cache file keeps it
    assert e.config_text is None and e._cdigest == digest(CFG)
    # the connector lost its copy (a read on connect finds none): written up
    # again from the cache
    e._sync_read_done()
    run(e, _clock, 2)
    assert _config_writes(link) == [CFG, CFG]
    # the cache file edited under the running config: not what runs, not written
    with open(d + "/config_io.json", "w") as f:
        f.write(CFG.replace('"C"', '"X"'))
    e._sync_read_done()
    run(e, _clock, 2)
    assert _config_writes(link) == [CFG, CFG] and "cache no longer holds" in e.last_error


def test_running_text_held_only_while_it_may_be_needed():
    d = _dir()
    _store(d)
    # started from the cache: the text is not held, the write-up reads it back
    _clock, link, e = _boot(d, Link(ack_on_poll=False))
    assert e.config_text is None and _config_writes(link) == [CFG]
    # received from the connector: held until the connector holds it
    newer = CFG.replace("2024-01-01", "2025-01-01")
    e._running(newer)
    assert e.config_text == newer
    e._in_step()
    assert e.config_text is None and e._cdigest == digest(newer)
    # authoritative (locked): held, written up on every connect
    locked = json.loads(CFG)
    locked["locked"] = True
    _store(d, json.dumps(locked))
    _clock, link, e = _boot(d)
    assert e.local_authority() and e._sync.get("config_io") == digest(json.dumps(locked))
    assert e.config_text == json.dumps(locked)  # written up on every connect


def _set_state(e, cid, v):
    e.scheduler.channels[cid].slot.source.states[cid] = v


def _source_state(e, cid):
    return e.scheduler.channels[cid].slot.source.states[cid]


def test_data_out_applied_once_across_restarts():
    d = _dir()
    _store(d)
    clock, link, e = _boot(d)
    link.on_update("data_out", '{"009":25}', 1700000000000000)
    run(e, clock, 2)
    assert e.control_ok == 1
    # restart; the valve was set by hand meanwhile
    clock, link, e = _boot(d)
    _set_state(e, "009", 21)
    link.on_update("data_out", '{"009":25}', STATE_READ)  # HTTP: the read on connect
    link.on_update("data_out", '{"009":25}', 1700000000000000)  # MQTT: the same write again
    run(e, clock, 2)
    assert e.control_ok == 0
    assert _source_state(e, "009") == 21  # not set back
    # a new request with the same value (a new write time) is carried out
    link.on_update("data_out", '{"009":25}', 1700000005000000)
    run(e, clock, 2)
    assert e.control_ok == 1
    assert _source_state(e, "009") == 25


def test_is_repeat():
    assert not is_repeat(None, "a", STATE_READ)
    assert is_repeat(["a", 5], "a", STATE_READ)
    assert is_repeat(["a", 5], "a", 5)
    assert not is_repeat(["a", 5], "a", 6)
    assert not is_repeat(["a", 5], "b", STATE_READ)
    assert not is_repeat(["a", 5], "a", None)  # no time known: a new request


class _Cfg:
    def __init__(self):
        from uedge.config.config_io import parse_config_io

        self.c = parse_config_io(CFG)

    def __getattr__(self, name):
        return getattr(self.c, name)


def test_document_errors_go_under_channel_ids():
    cfg = _Cfg()
    assert error_keys("009", "x", cfg) == ["009"]
    assert error_keys("config_io", "config_io rejected: channel 002: bad unit", cfg) == ["002"]
    assert sorted(error_keys("config_io", "config_io rejected: locked", cfg)) == ["001", "009"]
    assert error_keys("data_out", "data_out is not JSON", cfg) == ["009"]  # the control channels
    assert error_keys("config_io", 'channel "__error": reserved name', None) == ["config_io"]


def test_backoff_is_capped_for_failures_that_are_no_refusal():
    from uedge.transport.link import RETRY_CAP_MS, DeviceLink

    link = DeviceLink("mqtt", "h", 1, "d", "token", None, False, None, None, None, None, None,
                      1000, 60000, 30000, 1000, None)
    delays = [link.retry_after(0) for _ in range(20)]  # e.g. an hour of timeouts
    assert max(delays) <= RETRY_CAP_MS == 8000 and min(delays[5:]) >= RETRY_CAP_MS // 2
    link.backoff.reset()
    refused = [link.retry_after(0, True) for _ in range(10)]
    assert min(refused) >= 30000 and max(refused) <= 60000 and refused[-1] > RETRY_CAP_MS


def test_digest_is_sha256_prefix():
    # the digests stored in <config_io>.sync.json stay the same whichever
    # sha256 implementation computes them (a gateway's _hashlib, hashlib)
    import binascii

    try:
        import hashlib
    except ImportError:
        return
    text = '{"a": 1, "b": "\u00e9"}'
    want = binascii.hexlify(hashlib.sha256(text.encode()).digest()).decode()[:32]
    assert digest(text) == want
    assert digest(text.encode()) == want


class _TextStore:
    def __init__(self, text):
        self.text = text

    def load(self, alias):
        return self.text if alias == "config_io" else None

    def save(self, alias, text):
        pass


def test_need_sources_told_the_applications_before_parsing():
    seen = []
    two = json.loads(CFG)
    two["channels"]["002"] = {"display_name": "M", "properties": {"data_type": "NUMBER"},
                              "protocol_config": {"application": "Modbus_TCP", "report_rate": 1000}}
    for text in (json.dumps(two), CFG[:-1]):  # a valid document, and one no parser reads
        del seen[:]
        log = Log()
        start_edge(Link(), MemoryOutbox(), _TextStore(text), log, need_sources=seen.append)
        if text == CFG[:-1]:
            # the names are scanned, not parsed: the driver a broken document
            # names is loaded (harmless), and the document is reported
            assert seen == [["Simulated"]] and log.errors
        else:
            assert seen == [["Simulated", "Modbus_TCP"]]
