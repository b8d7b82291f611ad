"""The HTTP long poll against the seed-strict connector: If-Modified-Since has
one-second resolution, so the watcher asks from a second back and drops what
it has already delivered (uedge/transport/http_watch.py)."""

import time

from uedge.transport.http_watch import parse_http_date
from uedge.transport.link import STATE_READ
from uedge.transport.murano_http import MuranoHTTP


def test_parse_http_date():
    assert parse_http_date("Thu, 01 Jan 1970 00:00:10 GMT") == 10
    assert parse_http_date("Tue, 01 Dec 2026 10:33:31 GMT") == 1796121211
    assert parse_http_date("Tue Dec  1 10:33:31 2026") == 1796121211
    assert parse_http_date("1796121211") == 1796121211
    assert parse_http_date("garbage") is None and parse_http_date(None) is None


def _link(conn, tmp_path, dev):
    m = MuranoHTTP("127.0.0.1", conn.http_port, dev, tls=False, credentials_path=str(tmp_path / dev),
                   long_poll_ms=5000)
    got = []
    m.on_update = lambda alias, value, ts: got.append((alias, value, ts))
    return m, got


def _pump(m, seconds):
    end = time.time() + seconds
    while time.time() < end:
        m.poll()
        time.sleep(0.01)


def _changes(got, alias):
    return [(v, ts) for a, v, ts in got if a == alias and ts != STATE_READ]


def test_a_change_right_after_the_read_is_delivered_once(conn, tmp_path):
    for i in range(3):  # a few times: the change lands at various points of a second
        dev = "watch-%d" % i
        m, got = _link(conn, tmp_path, dev)
        m.provision()
        conn.set_resource(dev, "config_io", '{"v": 0}')
        m.connect()
        assert [(a, v) for a, v, ts in got if ts == STATE_READ] == [("config_io", '{"v": 0}')]
        conn.set_resource(dev, "config_io", '{"v": 1}')  # same second as the read, most likely
        _pump(m, 3.5)
        assert _changes(got, "config_io") and [v for v, _ts in _changes(got, "config_io")] == ['{"v": 1}']
        m.close()


def test_a_new_write_of_the_same_value_is_delivered_again(conn, tmp_path):
    m, got = _link(conn, tmp_path, "watch-same")
    m.provision()
    m.connect()
    conn.set_resource("watch-same", "data_out", '{"009": 25}')
    _pump(m, 2.5)
    first = _changes(got, "data_out")
    assert [v for v, _ts in first] == ['{"009": 25}']
    conn.set_resource("watch-same", "data_out", '{"009": 25}')
    _pump(m, 2.5)
    both = _changes(got, "data_out")
    assert [v for v, _ts in both] == ['{"009": 25}'] * 2
    assert both[1][1] > both[0][1]  # told apart by Last-Modified
    m.close()
