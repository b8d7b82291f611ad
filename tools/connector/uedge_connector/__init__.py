"""uedge local IoT Connector: a Murano-compatible device endpoint (MQTT, HTTPS)
with SQLite history and an admin API, so edge clients can be run and tested
without a cloud account. `main(argv)` is the command line entry."""

from .cli import main

__all__ = ["main"]
