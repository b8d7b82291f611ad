"""Over-the-air updates (uedge.ota.updater; docs/firmware.md, docs/edge.md)."""

STATE_FILE = "ota.json"  # the updater's state: versions installed, pending, tries


def has_state(root=""):
    """True once an update has been installed here (the state file exists).
    Without one the factory image runs confirmed, so a board need not load the
    updater to start: only an update check does."""
    import os

    try:
        os.stat(root + "/" + STATE_FILE if root else STATE_FILE)
        return True
    except OSError:
        return False
