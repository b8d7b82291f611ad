"""Service definitions for running `uedge go` under systemd or supervisord.

uedge.service: systemd unit; uedge.conf: supervisord [program:uedge] section.
Both send SIGTERM to stop, which makes the daemon deliver what it can and
persist the rest of its queue before exiting. See docs/edge.md.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    """Installed location of a service file ("uedge.service" or "uedge.conf")."""
    return os.path.join(HERE, name)
