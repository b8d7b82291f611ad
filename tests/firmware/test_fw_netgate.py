"""DeviceLink.gate (the board sets it to its network's state, uedge_fw.app):
while it says the network is down, a transport's poll() makes no connect
attempt; once it is up, the next poll does."""
import pytest

from uedge.compat import FakeClock


class Net:
    up = False


def _links():
    from uedge.transport.murano_http import MuranoHTTP
    from uedge.transport.murano_mqtt import MuranoMQTT

    # nothing listens on port 1: an attempt fails at once (connection refused)
    return [MuranoMQTT("127.0.0.1", 1, "d1", tls=False, timeout_ms=500, clock=FakeClock(0)),
            MuranoHTTP("127.0.0.1", 1, "d1", tls=False, timeout_ms=500, clock=FakeClock(0))]


@pytest.mark.parametrize("i", [0, 1], ids=["mqtt", "http"])
def test_no_connect_attempt_while_the_gate_is_shut(i):
    link = _links()[i]
    link._secret = "t" * 40  # provisioned: poll goes straight to connecting
    net = Net()
    link.gate = lambda: net.up
    for _ in range(3):
        link.poll(0)
    assert link.attempts == 0 and not link.connected
    net.up = True
    link.poll(0)
    assert link.attempts == 1 and not link.connected and link.last_error
