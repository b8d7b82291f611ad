"""Log output of the gateway daemon, and the core's log adapter.

The daemon writes its own log lines, in the format of the logging package
("2026-01-01 12:00:00,123 INFO uedge.edge: connected (...)"), to stderr,
stdout or a file rotated by size (EDGED_LOG_FILENAME, EDGED_LOG_MAX_BYTES,
EDGED_LOG_MAX_BACKUPS; rotated as logging.handlers.RotatingFileHandler does).
It does not import logging: that package and what it brings (traceback,
linecache, tokenize, string, ...) are about 0.6 MB of a daemon's memory.

Libraries that do log through the logging package (pymodbus, python-can,
loaded with the fieldbus sources) are joined to the same output by
bridge_stdlib(): a handler on the root logger that writes through here, at
the daemon's level. setup_logging() installs that bridge at once when the
logging package is already loaded (a host program, tests).
"""

import os
import sys
import time

from uedge_host import settings as settings_mod

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL"}

_state = {"level": 20, "out": None, "bridge": None}
_loggers = {}


def _write_line(text):
    out = _state["out"]
    if out is None:
        sys.stderr.write(text)
        return
    out.write(text)


def _line(levelno, name, msg):
    t = time.time()
    return "%s,%03d %s %s: %s\n" % (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)),
                                    int(t * 1000) % 1000, _NAMES.get(levelno, "Level %d" % levelno),
                                    name, msg)


class Logger:
    """The part of logging.Logger the daemon uses: debug/info/warning/error/critical(msg, *args)."""

    def __init__(self, name):
        self.name = name

    def isEnabledFor(self, levelno):
        return levelno >= _state["level"]

    def log(self, levelno, msg, *args):
        if levelno < _state["level"]:
            return
        if args:
            try:
                msg = msg % args
            except (TypeError, ValueError) as e:
                msg = "%r %% %r (bad log format: %s)" % (msg, args, e)
        try:
            _write_line(_line(levelno, self.name, msg))
        except (OSError, ValueError):
            pass  # a full disk or a closed stream must not stop the daemon

    def debug(self, msg, *args):
        if _state["level"] <= 10:
            self.log(10, msg, *args)

    def info(self, msg, *args):
        if _state["level"] <= 20:
            self.log(20, msg, *args)

    def warning(self, msg, *args):
        self.log(30, msg, *args)

    def error(self, msg, *args):
        self.log(40, msg, *args)

    def critical(self, msg, *args):
        self.log(50, msg, *args)


def getLogger(name="uedge"):
    lg = _loggers.get(name)
    if lg is None:
        lg = _loggers[name] = Logger(name)
    return lg


class StreamOut:
    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        self.stream.write(text)
        self.stream.flush()

    def close(self):
        pass


class RotatingOut:
    """A log file rotated by size: name -> name.1 -> ... -> name.<backups>, like
    logging.handlers.RotatingFileHandler (no rotation when backups or max_bytes is 0)."""

    def __init__(self, path, max_bytes, backups):
        self.path = os.path.abspath(path)
        self.max_bytes = max_bytes
        self.backups = backups
        self.f = open(self.path, "a", encoding="utf-8")

    def write(self, text):
        f = self.f
        if f is None:
            return
        if self.max_bytes > 0 and self.backups > 0:
            if f.tell() + len(text.encode("utf-8")) >= self.max_bytes:
                self._rotate()
                f = self.f
        f.write(text)
        f.flush()

    def _rotate(self):
        self.f.close()
        for i in range(self.backups - 1, 0, -1):
            src = "%s.%d" % (self.path, i)
            if os.path.exists(src):
                os.replace(src, "%s.%d" % (self.path, i + 1))
        os.replace(self.path, self.path + ".1")
        self.f = open(self.path, "a", encoding="utf-8")

    def close(self):
        if self.f is not None:
            self.f.close()
            self.f = None


def setup_logging(level, env=None):
    """Log to stderr, stdout or a size-rotated file (EDGED_LOG_FILENAME) at level
    (a name of LEVELS) -> the output (close() it to stop writing there)."""
    dest, max_bytes, backups = settings_mod.log_settings(env)
    if dest.lower() == "stdout":
        out = StreamOut(sys.stdout)
    elif dest.lower() == "stderr":
        out = StreamOut(sys.stderr)
    else:
        d = os.path.dirname(os.path.abspath(dest))
        os.makedirs(d, exist_ok=True)
        out = RotatingOut(dest, max_bytes, backups)
    old = _state["out"]
    _state["out"] = out
    _state["level"] = LEVELS.get(str(level).upper(), 20)
    if old is not None:
        old.close()
    if "logging" in sys.modules:
        bridge_stdlib()
    return out


def bridge_stdlib():
    """Lines logged through the logging package (by libraries) go to the same
    output, at the daemon's level."""
    import logging

    b = _state["bridge"]
    root = logging.getLogger()
    if b is None:
        class Bridge(logging.Handler):
            def emit(self, record):
                try:
                    msg = record.getMessage()
                    if record.exc_info:
                        msg += "\n" + logging.Formatter().formatException(record.exc_info)
                    _write_line(_line(record.levelno, record.name, msg))
                except Exception:
                    self.handleError(record)

        b = _state["bridge"] = Bridge()
    if b not in root.handlers:
        root.addHandler(b)
    root.setLevel(_state["level"])
    return b


class CoreLog:
    """logging adapter for the portable edge loop."""

    def __init__(self, logger):
        self.error = logger.error
        self.warning = logger.warning
        self.info = logger.info
        self.debug = logger.debug
