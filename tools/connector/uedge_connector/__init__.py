"""uedge local IoT Connector: a Murano-compatible device endpoint (MQTT, HTTPS)
with SQLite history and an admin API, so edge clients can be run and tested
without a cloud account. The command line entry is uedge_connector.cli.main
(`uedge connector`, `python -m uedge_connector`)."""
