"""A link's stored credential (token or password) on disk: read, and written
so only the owner can read it (0600 where the OS has modes). Loaded when a
credential is read or saved; on a board released after (uedge.compat.release)."""


def write_secret(path, text):
    """Write a secret so only the owner can read it (0600 where the OS has modes)."""
    try:
        import os

        if hasattr(os, "open") and hasattr(os, "O_CREAT"):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.chmod(path, 0o600)
            except Exception:
                pass
            with os.fdopen(fd, "w") as f:
                f.write(text)
            return
    except ImportError:
        pass
    with open(path, "w") as f:
        f.write(text)


def read_secret(path):
    """The stored secret (stripped), or None when there is none."""
    try:
        with open(path) as f:
            return f.read().strip() or None
    except OSError:
        return None
