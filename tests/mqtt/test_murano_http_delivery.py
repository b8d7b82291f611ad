"""The edge loop over MuranoHTTP: every report delivered once, whatever the
connector answers (new credentials, refusals, retries)."""

import json
import time
from urllib.parse import parse_qsl

import pytest
from httpdev import TOKEN, DeviceAPI

from uedge.compat import Clock
from uedge.edge import Edge
from uedge.transport.murano_http import MuranoHTTP
from uedge.outbox.memory import MemoryOutbox
from uedge.pipeline.scheduler import Scheduler
import uedge.sources.simulated  # noqa: F401

NEW_TOKEN = "9" * 40

CFG = json.dumps({"last_edited": "2024-01-01T00:00:00Z", "channels": {
    "001": {"display_name": "C", "properties": {"data_type": "NUMBER"},
            "protocol_config": {"sample_rate": 50, "report_rate": 50, "application": "Simulated",
                                "app_specific_config": {"function": "counter", "start": 0, "step": 1}}},
}})


class Store:
    def load(self, alias):
        return CFG if alias == "config_io" else None

    def save(self, alias, text):
        pass


class Log:
    def __init__(self):
        self.lines = []

    def error(self, msg, *args):
        self.lines.append(msg % args if args else msg)

    warning = info = debug = error


@pytest.fixture
def api():
    a = DeviceAPI()
    yield a
    a.close()


def make_edge(api, tmp_path, **kw):
    (tmp_path / "token").write_text(TOKEN)
    m = MuranoHTTP("127.0.0.1", api.port, "0001", tls=False, credentials_path=str(tmp_path / "token"),
                   long_poll_ms=1000, backoff_base_ms=100, backoff_cap_ms=400, auth_backoff_ms=200,
                   record_ts_divisor=1000, watch=())
    clock = Clock()
    e = Edge(clock, Scheduler(clock), m, MemoryOutbox(cap_items=0), store=Store(), log=Log(), **kw)
    e.start()
    return m, e


def run(e, seconds, until=None):
    deadline = time.time() + seconds
    while time.time() < deadline:
        e.poll()
        if until is not None and until():
            return True
        time.sleep(0.005)
    return False


def delivered_values(api):
    """Counter values of every data_in the server stored (answered 2xx)."""
    out = []
    for q in list(api.requests):
        if q["method"] != "POST" or not (q["status"] and 200 <= q["status"] < 300):
            continue
        alias = None
        for k, v in parse_qsl(q["body"].decode()):
            if q["path"] == "/onep:v1/stack/alias":
                if k == "data_in":
                    out.append(json.loads(v).get("001"))
            elif k == "alias":
                alias = v
            elif alias == "data_in":
                out.append(json.loads(v).get("001"))
    return [v for v in out if v is not None]


def watch_states(m):
    """Record the link's state changes (the Edge still gets them)."""
    states = []
    edge_cb = m.on_state

    def cb(up, why):
        states.append(up)
        edge_cb(up, why)

    m.on_state = cb
    return states


def drained(e):
    return not e._live and e._replay is None and not len(e.outbox)


def test_new_credentials_no_request_with_the_old_token_and_no_duplicates(api, tmp_path):
    m, e = make_edge(api, tmp_path)
    run(e, 0.6)
    assert e.connected and e.delivered > 3
    api.token = NEW_TOKEN  # the device was re-provisioned: the old token is refused
    assert run(e, 5, lambda: not e.connected)
    run(e, 0.5)  # offline: reports queue
    n_old = len(api.requests)
    m.set_credentials(NEW_TOKEN)
    assert run(e, 10, lambda: e.connected and drained(e) and e.reports > 0 and len(api.requests) > n_old + 3)
    run(e, 0.3, lambda: False)
    assert run(e, 5, lambda: drained(e))
    after = [q for q in api.requests[n_old:] if q["method"] == "POST"]
    assert after and all(q["headers"].get("X-Exosite-CIK") == NEW_TOKEN for q in after)
    got = delivered_values(api)
    assert sorted(got) == list(range(len(got))), "lost or duplicated: %s" % got
    assert len(got) >= e.delivered - 1
    e.shutdown(flush_ms=0)


def test_transport_queue_is_emptied_when_the_link_drops(api, tmp_path):
    (tmp_path / "token").write_text(TOKEN)
    m = MuranoHTTP("127.0.0.1", api.port, "0001", tls=False, credentials_path=str(tmp_path / "token"),
                   long_poll_ms=1000, watch=())
    states = []
    m.on_state = lambda up, why: states.append(up)
    m.connect()
    m.write("data_in", '{"001":1}')
    m.write("data_in", '{"001":2}')
    api.token = NEW_TOKEN
    deadline = time.time() + 5
    while m.connected and time.time() < deadline:
        m.poll()
        time.sleep(0.005)
    assert states[-1] is False
    assert m.pending() == 0  # handed back to the owner through on_state(False), not re-sent
    m.set_credentials(NEW_TOKEN)
    m.backoff.reset()
    m.poll()
    assert m.connected
    mid = m.write("data_in", '{"001":3}')
    acks = []
    m.on_ack = acks.append
    deadline = time.time() + 5
    while mid not in acks and time.time() < deadline:
        m.poll()
        time.sleep(0.005)
    assert acks == [mid]
    assert api.requests[-1]["headers"]["X-Exosite-CIK"] == NEW_TOKEN
    m.close()


def values_in(body):
    out = []
    for k, v in parse_qsl(body.decode()):
        if k not in ("alias",) and v.startswith("{"):
            out.append(json.loads(v).get("001"))
    return out


def start_offline(api, tmp_path, seconds=0.8, **kw):
    """An edge that cannot connect for a while (its token is refused): reports queue."""
    api.token = NEW_TOKEN
    m, e = make_edge(api, tmp_path, **kw)
    run(e, seconds)
    assert not e.connected and len(e.outbox) >= 8
    api.token = TOKEN
    return m, e


def test_bad_record_in_a_batch_drops_only_that_record(api, tmp_path):
    api.reject = lambda path, body: 400 if 5 in values_in(body) else None
    m, e = start_offline(api, tmp_path)
    states = watch_states(m)
    assert run(e, 10, lambda: e.connected and drained(e) and e.reports > 25)
    got = delivered_values(api)
    assert 5 not in got
    assert sorted(got) == [v for v in range(max(got) + 1) if v != 5]
    assert e.lost == 1 and "HTTP 400" in e.last_error
    assert any("rejected by the connector (HTTP 400)" in line for line in e.log.lines)
    assert False not in states  # the link stayed up
    e.shutdown(flush_ms=0)


def test_batch_too_large_is_split(api, tmp_path):
    api.reject = lambda path, body: 413 if path.endswith("/record") and len(values_in(body)) > 3 else None
    m, e = start_offline(api, tmp_path)
    assert run(e, 10, lambda: e.connected and drained(e) and e.reports > 25)
    got = delivered_values(api)
    assert sorted(got) == list(range(max(got) + 1))
    assert e.lost == 0
    e.shutdown(flush_ms=0)


def test_server_busy_is_retried_without_losing_or_repeating(api, tmp_path):
    refused = []

    def busy(path, body):
        if len(refused) < 3:
            refused.append(path)
            return 503 if len(refused) < 3 else 429
        return None

    api.reject = busy
    m, e = make_edge(api, tmp_path)
    states = watch_states(m)
    assert run(e, 10, lambda: len(refused) == 3)
    assert run(e, 15, lambda: drained(e) and e.reports > 40 and e.delivered >= e.reports - 1)
    got = delivered_values(api)
    assert sorted(got) == list(range(max(got) + 1))
    assert e.lost == 0 and False not in states
    e.shutdown(flush_ms=0)


def test_bad_live_report_is_dropped(api, tmp_path):
    api.reject = lambda path, body: 400 if 3 in values_in(body) else None
    m, e = make_edge(api, tmp_path)
    assert run(e, 5, lambda: e.reports > 10 and drained(e))
    got = delivered_values(api)
    assert 3 not in got and e.lost == 1
    assert sorted(got) == [v for v in range(max(got) + 1) if v != 3]
    e.shutdown(flush_ms=0)
