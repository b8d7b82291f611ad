import json
import os

from uedge_host import status
from uedge_host.daemon import write_status


def _sample(pid):
    return {"device": "0001", "endpoint": "mqtts://h", "transport": "mqtts", "pid": pid,
            "updated": 1000.0, "connected": True, "reason": "connected",
            "queue": {"depth": 7, "bytes": 300, "dropped": 2, "strategy": "oldest", "corrupted": 1},
            "reports": 10, "delivered": 3, "replayed": 1, "queued": 7, "lost": 0, "inflight": 0,
            "control_ok": 1, "control_rejected": 1, "last_error": "boom",
            "config_last_edited": "2026-01-01T00:00:00Z",
            "channels": {"001": {"name": "Temp", "value": 21.5, "ts_us": 999000000, "error": None},
                         "002": {"name": "P", "value": None, "ts_us": None, "error": "timeout"}}}


def test_render_running_and_stopped():
    text = status.render(_sample(os.getpid()), now=1001.0)
    assert "running, pid" in text and "connection connected" in text
    assert "7 reports waiting" in text and "2 dropped" in text and "1 damaged" in text
    assert "21.5" in text and "timeout" in text and "last error boom" in text
    text = status.render(_sample(2 ** 22 + 12345), now=1001.0)  # no such process
    assert "not running" in text


def test_show_reads_atomic_file(tmp_path, capsys):
    p = str(tmp_path / "s.json")
    assert status.show(p) == 1  # no file yet: clear message, exit 1
    write_status(p, _sample(os.getpid()))
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert status.show(p, as_json=True) == 0
    assert json.loads(capsys.readouterr().out)["device"] == "0001"


def test_render_shows_http_merging_and_conflicts():
    st = _sample(os.getpid())
    assert "merged" not in status.render(st, now=1001.0)  # MQTT: nothing merged, no line
    st.update({"merged": 540, "merged_reports": 54, "conflicts": 2})
    text = status.render(st, now=1001.0)
    assert "540 samples merged into the report of their second (54 reports)" in text
    assert "2 reports already stored (HTTP 409)" in text
