"""config_io / config_applications synchronisation with the connector (a part of Edge).

The rule (two-way, as the Data IO Schema asks):
  * a local config (the cache file) runs at start, before any connection;
  * "local authority" (the local config is locked, or local_strategy is set):
    the local config is written up on every connect and remote edits are
    not applied (a rejection is reported in data_in __error.config_io);
  * otherwise the newer last_edited wins: a remote config at least as new as
    the local one is applied live and cached; an older remote config is
    replaced by writing the local one up. When no remote config_io arrives
    within sync_window_ms of connecting, the local one is written up;
  * an invalid remote config is rejected: the message goes to data_in
    __error.config_io and the last good config keeps running.

FileStore is the local cache of both documents. ConfigSync is a mixin of uedge.edge.Edge: it uses the Edge's store, scheduler,
transport, log and _error().
"""

import json

from uedge.config.config_io import parse_config_io
from uedge.config.json_reader import ConfigError, loads
from uedge.sources import registry_check as check_channel


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


class ConfigSync:
    def start(self):
        """Load and run the locally cached configuration (before connecting)."""
        text = self.store.load("config_applications")
        if text:
            from uedge.config import config_applications

            try:
                self.apps = config_applications.parse_config_applications(text)
            except ConfigError as e:
                self._error("config_applications", "local config_applications: %s" % e)
        text = self.store.load("config_io")
        if text:
            self._need(text)
            try:
                cfg = parse_config_io(text, check_channel)
                self._apply(cfg, self.apps)
                self.config = cfg
                self.config_text = text
                self.log.info("running local config_io: %d channels", len(cfg.order))
            except ConfigError as e:
                self._error("config_io", "local config_io: %s" % e)
            except Exception as e:  # a source failing to open
                self._error("config_io", "local config_io: %s: %s" % (type(e).__name__, e))
        if getattr(self.transport, "connected", False) and not self.connected:
            self._on_state(True, "connected")

    def _need(self, text):
        if self.need_sources is None:
            return
        try:
            apps = applications_of(text)
            if apps:
                self.need_sources(apps)
        except Exception as e:
            self.log.warning("loading sources: %s: %s", type(e).__name__, e)

    def _apply(self, cfg, apps):
        if apps is None:
            self.scheduler.apply(cfg)
        else:
            self.scheduler.apply(cfg, apps)

    def local_authority(self):
        return self.local_strategy or (self.config is not None and self.config.locked)

    def _push_config(self, why):
        if self.config_text is None:
            return
        try:
            self.transport.write("config_io", self.config_text)
            self.log.info("config_io written up (%s)", why)
        except Exception as e:
            self.last_error = "config_io write failed: %s" % e

    def _on_config_io(self, text):
        self._sync_pending = False
        if text is None or not text.strip():
            if self.config is not None:
                self._push_config("no config_io on the connector")
            return
        if self.config_text is not None and text == self.config_text:
            return
        self._need(text)
        try:
            cfg = parse_config_io(text, check_channel)
        except ConfigError as e:
            self._error("config_io", "config_io rejected, keeping the last good one: %s" % e)
            return
        if self.config is not None:
            if cfg.raw == self.config.raw:
                return
            if self.local_authority():
                self._error("config_io", "config_io rejected: the device configuration is locked")
                self._push_config("locked")
                return
            # imported here: only a remote config that differs is compared
            from uedge.sync import last_edited

            remote_t = last_edited.edited_seconds(cfg.last_edited)
            local_t = last_edited.edited_seconds(self.config.last_edited)
            if remote_t is not None and local_t is not None and remote_t < local_t:
                self._push_config("local config_io is newer")
                return
            merged = self._keep_locked_channels(cfg)
            if merged is not None:
                text = merged
                try:
                    cfg = parse_config_io(text, check_channel)
                except ConfigError as e:
                    self._error("config_io", "config_io rejected, keeping the last good one: %s" % e)
                    return
        try:
            self._apply(cfg, self.apps)
        except Exception as e:
            self._error("config_io", "config_io rejected, keeping the last good one: %s" % e)
            try:
                if self.config is not None:
                    self._apply(self.config, self.apps)
            except Exception:
                pass
            return
        self.config = cfg
        self.config_text = text
        self.store.save("config_io", text)
        self._errors.pop("config_io", None)
        # acknowledge: the connector's config_io now matches what runs here
        self._push_config("acknowledge the applied config_io")
        self.log.info("config_io applied: %d channels (last_edited %s)", len(cfg.order), cfg.last_edited)

    def _keep_locked_channels(self, cfg):
        """Channels locked on the device are read-only for the application side:
        a remote config keeps the device's version of them. Returns the merged
        config_io text, or None when the remote one leaves them alone."""
        mine = self.config.raw.get("channels") or {}
        theirs = cfg.raw.get("channels")
        if not isinstance(theirs, dict):
            return None
        kept = []
        for cid in self.config.order:
            if self.config.channels[cid].locked and theirs.get(cid) != mine.get(cid):
                theirs[cid] = mine[cid]
                kept.append(cid)
        if not kept:
            return None
        self.log.warning("config_io: locked channel(s) %s kept as configured on the device",
                         ", ".join(kept))
        return json.dumps(cfg.raw)

    def _on_config_applications(self, text):
        if text is None or not text.strip():
            return
        # imported here: a board without config_applications never loads it
        from uedge.config import config_applications

        try:
            apps = config_applications.parse_config_applications(text)
        except ConfigError as e:
            self._error("config_applications", "config_applications rejected: %s" % e)
            return
        if self.config is not None:
            try:
                self._apply(self.config, apps)
            except Exception as e:
                self._error("config_applications", "config_applications rejected: %s" % e)
                return
        self.apps = apps
        self.store.save("config_applications", text)
        self.log.info("config_applications applied")

