import configparser

from uedge_host.service import path


def _read(name):
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.optionxform = str
    with open(path(name)) as f:
        cp.read_file(f)
    return cp


def test_systemd_unit():
    cp = _read("uedge.service")
    svc = cp["Service"]
    assert svc["ExecStart"].split()[0].endswith("/uedge") and svc["ExecStart"].endswith(" go")
    assert svc["KillSignal"] == "SIGTERM" and int(svc["TimeoutStopSec"]) > 5
    assert svc["Restart"] == "always"
    assert cp["Install"]["WantedBy"] == "multi-user.target"


def test_supervisord_program():
    cp = _read("uedge.conf")
    prog = cp["program:uedge"]
    assert prog["command"].endswith(" go")
    assert prog["stopsignal"] == "TERM" and int(prog["stopwaitsecs"]) > 5
    assert prog["autorestart"] == "true"
