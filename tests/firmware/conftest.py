"""Fixtures of the firmware tests; their helpers are in fw_helpers.py."""

from fw_helpers import connector  # noqa: F401  (the fixture)
