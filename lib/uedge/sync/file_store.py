"""The local cache of config_io / config_applications, and what a config_io needs loaded."""

from uedge.config.json_reader import ConfigError, loads


class FileStore:
    """Local cache of config_io / config_applications (None path = no cache)."""

    def __init__(self, config_io_path=None, config_applications_path=None):
        self.paths = {"config_io": config_io_path, "config_applications": config_applications_path}

    def load(self, alias):
        p = self.paths.get(alias)
        if not p:
            return None
        try:
            with open(p) as f:
                return f.read()
        except OSError:
            return None

    def save(self, alias, text):
        p = self.paths.get(alias)
        if not p:
            return
        tmp = p + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        try:
            import os

            os.rename(tmp, p)
        except (ImportError, OSError):
            with open(p, "w") as f:
                f.write(text)


def applications_of(text):
    """Application names a config_io text uses ([] when it cannot be read)."""
    try:
        doc = loads(text)
        chans = doc.get("channels")
    except (ConfigError, AttributeError):
        return []
    apps = []
    if isinstance(chans, dict):
        for cid in chans:
            ch = chans[cid]
            pc = ch.get("protocol_config") if isinstance(ch, dict) else None
            app = pc.get("application") if isinstance(pc, dict) else None
            if isinstance(app, str) and app not in apps:
                apps.append(app)
    return apps
