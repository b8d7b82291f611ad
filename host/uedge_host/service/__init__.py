"""Service definitions for running `uedge go` under systemd or supervisord.

uedge.service: systemd unit; uedge.conf: supervisord [program:uedge] section.
uedge-ota.service / uedge-ota.conf: the same with gateway OTA: the daemon runs
from /opt/uedge/current, and `python -m uedge_host.ota boot` (from
/opt/uedge/factory) runs before every start to count unconfirmed starts and
roll back.
All of them send SIGTERM to stop, which makes the daemon deliver what it can and
persist the rest of its queue before exiting. See docs/edge.md.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    """Installed location of a service file ("uedge.service", "uedge.conf",
    "uedge-ota.service", "uedge-ota.conf")."""
    return os.path.join(HERE, name)
