"""The firmware holds the TLS handshake's block from the edge loop's start,
once the config_io cache is loaded (settings tls_reserve), on the 32-bit
MicroPython unix port."""
import os
import sys

import pytest
from fw_helpers import MICROPYTHON, ROOT, run_fw_script

sys.path.insert(0, os.path.join(ROOT, "firmware"))
from uedge_fw import settings as settings_mod  # noqa: E402


SCRIPT = """
import sys
sys.path[:0] = [%(lib)r, %(fw)r, %(board)r]
from uedge_fw import app, settings, start
from uedge.compat import Clock
from uedge.transport import net
for proto, tls, reserve in (("mqtt", True, None), ("http", True, 8192), ("mqtt", False, None), ("mqtt", True, 0)):
    net.tls_reserve(0)
    s = dict(settings.DEFAULTS, device_id="d1", host="127.0.0.1", port=1, protocol=proto, tls=tls, secrets={})
    if reserve is not None:
        s["tls_reserve"] = reserve
    start.make_transport(s, Clock())
    made = net.tls_reserved()
    app.reserve_tls(s)
    print("held", proto, tls, made, net.tls_reserved())
"""


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="no MicroPython unix port")
def test_the_reserve_is_held_from_the_edge_loops_start_not_from_the_transport():
    out = [ln for ln in run_fw_script(SCRIPT) if ln.startswith("held")]
    default = settings_mod.DEFAULTS["tls_reserve"]
    assert out == ["held mqtt True 0 %d" % default, "held http True 0 8192", "held mqtt False 0 0",
                   "held mqtt True 0 0"], out


TOP = """
import gc, sys, uctypes
sys.path[:0] = [%(lib)r]
from uedge.transport import net
held = []
for _ in range(3):
    net.tls_reserve(0)
    net.tls_reserve(16384)
    block = net._RESERVE[0]
    after = bytearray(2048)  # what the edge loop allocates next
    held.append(after)
    # the buffers' addresses (a bytearray's object and its data are two blocks)
    print("below", uctypes.addressof(after) < uctypes.addressof(block), len(block))
"""


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="no MicroPython unix port")
def test_the_reserve_sits_above_what_is_allocated_after_it():
    # first fit would put the block at the start of the free run and the
    # loop's data above it; placed at the top, the data goes below
    out = [ln for ln in run_fw_script(TOP) if ln.startswith("below")]
    assert out == ["below True 16384"] * 3, out
