"""A reconnect that finds no heap: the TLS handshake's ENOMEM is a MemoryError
(uedge.transport.net), the link counts such attempts in a row and forgets them
once connected (DeviceLink.memory_failures), and a board that was connected
since boot restarts after MEMORY_RESTART_AFTER of them (uedge_fw.app)."""
import os
import sys
import types

import pytest
from fw_helpers import MICROPYTHON, ROOT, run_fw_script

from uedge.compat import FakeClock

sys.path.insert(0, os.path.join(ROOT, "firmware"))

ENOMEM = """
import sys
sys.path[:0] = [%(lib)r]
from uedge.transport import net

class Ctx:
    verify_mode = None
    def __init__(self, proto):
        pass
    def wrap_socket(self, sock, server_hostname=None):
        raise OSError(12)

class FakeTLS:
    PROTOCOL_TLS_CLIENT = 0
    CERT_REQUIRED = 2
    CERT_NONE = 0
    SSLContext = Ctx

net.set_tls(FakeTLS)
net.tls_reserve(4096)
try:
    net._wrap_tls(object(), "localhost", {"verify": False})
except MemoryError as e:
    print("memory", e, net.tls_reserved())
"""


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="no MicroPython unix port")
def test_a_handshake_without_heap_is_a_memory_error_and_the_reserve_is_taken_again():
    out = run_fw_script(ENOMEM)
    assert out == ["memory no heap for the TLS handshake (ENOMEM) 4096"], out


def test_the_link_counts_connects_without_heap_until_one_succeeds():
    from uedge.transport.murano_mqtt import MuranoMQTT

    link = MuranoMQTT("127.0.0.1", 1, "d1", tls=False, clock=FakeClock(0))
    link._secret = "t" * 40
    fail = [True]

    def connect():
        if fail[0]:
            raise MemoryError("no heap for the TLS handshake (ENOMEM)")
        link._up()
        return True

    link.connect = connect
    now = 0
    for n in (1, 2, 3):
        link.poll(now)
        assert link.memory_failures == n and link.last_error == "out of memory"
        now += 600000  # past any backoff
    fail[0] = False
    link.poll(now)
    assert link.memory_failures == 0 and link.last_error is None


def _app(monkeypatch):
    monkeypatch.setitem(sys.modules, "machine", types.ModuleType("machine"))
    from uedge_fw import app

    return app


def test_a_board_restarts_only_after_being_connected_since_boot(monkeypatch):
    app = _app(monkeypatch)
    a = app.App(types.SimpleNamespace(NAME="test"), FakeClock(0))
    a.edge = types.SimpleNamespace(transport=types.SimpleNamespace(memory_failures=app.MEMORY_RESTART_AFTER))
    assert not a.memory_restart_due()  # the boot heap never had room: back off, no reset loop
    a.connected_once = True
    assert a.memory_restart_due()
    a.edge.transport.memory_failures -= 1
    assert not a.memory_restart_due()
