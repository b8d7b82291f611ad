"""Log setup of the gateway daemon: console or syslog handlers, and the core's log adapter."""

import logging
import os
import sys

from uedge_host import settings as settings_mod

log = logging.getLogger("uedge")


_log_handlers = []


def setup_logging(level, env=None):
    """Log to stderr, stdout or a size-rotated file (EDGED_LOG_FILENAME)."""
    dest, max_bytes, backups = settings_mod.log_settings(env)
    if dest.lower() == "stdout":
        h = logging.StreamHandler(sys.stdout)
    elif dest.lower() == "stderr":
        h = logging.StreamHandler(sys.stderr)
    else:
        d = os.path.dirname(os.path.abspath(dest))
        os.makedirs(d, exist_ok=True)
        # only for a log file: logging.handlers brings socket, pickle, queue, ...
        from logging.handlers import RotatingFileHandler

        h = RotatingFileHandler(dest, maxBytes=max_bytes, backupCount=backups)
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in _log_handlers:
        root.removeHandler(old)
        old.close()
    del _log_handlers[:]
    root.addHandler(h)
    _log_handlers.append(h)
    root.setLevel(getattr(logging, level, logging.INFO))
    return h


class CoreLog:
    """logging adapter for the portable edge loop."""

    def __init__(self, logger):
        self.error = logger.error
        self.warning = logger.warning
        self.info = logger.info
        self.debug = logger.debug
