"""config_io / config_applications synchronisation with the connector (a part of Edge).

The rule (two-way, as the Data IO Schema asks):
  * a local config (the cache file) runs at start, before any connection;
  * the client remembers (sync state file, FileStore.load_state) a digest of the
    config_io last known to match the connector: one received from it, or one
    written up and acknowledged. On connect:
      - over a transport that reads the current state on connect (HTTP,
        transport.reads_state): the value read decides, as an update would; no
        config_io there -> the local one is written up;
      - over MQTT (no read; Murano sends nothing on connect): the local config is
        written up only when it changed since it was last in step (a local file
        edit, first provisioning) or the local config is authoritative. Nothing
        is written because a sync window passed quietly: a cloud edit made while
        the device was offline is not overwritten (it is not seen either, until
        the cloud writes again);
  * "local authority" (the local config is locked, or local_strategy is set):
    remote edits are not applied (a rejection is reported in data_in __error)
    and the local config is written up;
  * otherwise the newer last_edited wins: a remote config at least as new as
    the local one is applied live and cached; an older remote config is
    replaced by writing the local one up;
  * an invalid remote config is rejected: the message goes to data_in __error
    (under the channel it names, see Edge._error) and the last good config keeps
    running.

FileStore is the local cache of both documents and of the sync state. ConfigSync
is a mixin of uedge.edge.Edge: it uses the Edge's store, scheduler, transport,
log and _error(). Reading and applying a document (at start, or from the
connector) is done by uedge.sync.config_update, loaded for it.
"""

from uedge.compat import digest, json, release


def state_path_for(config_io_path):
    """<dir>/<name>.sync.json next to the config_io cache (config_io.json -> config_io.sync.json)."""
    if not config_io_path:
        return None
    p = config_io_path
    if p.endswith(".json"):
        p = p[:-5]
    return p + ".sync.json"


def _write(p, text):
    tmp = p + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    try:
        import os

        os.rename(tmp, p)
    except (ImportError, OSError):
        with open(p, "w") as f:
            f.write(text)


class FileStore:
    """Local cache of config_io / config_applications (None path = no cache),
    and the sync state: what was last in step with the connector / applied
    (state_path, default next to the config_io cache)."""

    def __init__(self, config_io_path=None, config_applications_path=None, state_path=None):
        self.paths = {"config_io": config_io_path, "config_applications": config_applications_path}
        self.state_path = state_path if state_path is not None else state_path_for(config_io_path)

    def load_state(self):
        """-> dict ({} when there is none or it cannot be read)."""
        if not self.state_path:
            return {}
        try:
            with open(self.state_path) as f:
                d = json.loads(f.read())
            return d if isinstance(d, dict) else {}
        except (OSError, ValueError):
            return {}

    def save_state(self, state):
        if self.state_path:
            _write(self.state_path, json.dumps(state))

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
        if p:
            _write(p, text)

    def keeps(self, alias):
        """True when a document saved here can be loaded again (it has a file)."""
        return bool(self.paths.get(alias))


DOCUMENTS = ("config_io", "config_applications", "data_out")


class ConfigSync:
    def _doc_error(self, key, msg):
        """Record a pending __error entry (uedge.sync.errors.error_keys); -> the keys used."""
        if key not in DOCUMENTS:
            self._errors[key] = msg
            return [key]
        from uedge.sync import errors  # a document's error: loaded for it

        try:
            keys = errors.error_keys(key, msg, self.config)
        finally:
            release("uedge.sync.errors")
        for k in keys:
            self._errors[k] = msg
        self._doc_errors[key] = keys
        return keys

    def _clear_doc_errors(self, key):
        for k in self._doc_errors.pop(key, ()):
            self._errors.pop(k, None)

    # -- the sync state (persisted by the store when it can)
    def _load_sync(self):
        f = getattr(self.store, "load_state", None)
        try:
            self._sync = f() if f is not None else {}
        except Exception as e:
            self.log.warning("sync state unreadable (%s): starting without it", e)
            self._sync = {}

    def _set_sync(self, key, value):
        if self._sync.get(key) == value:
            return
        self._sync[key] = value
        f = getattr(self.store, "save_state", None)
        if f is None:
            return
        try:
            f(self._sync)
        except Exception as e:  # a full or read-only flash must not stop the loop
            self.last_error = "sync state not saved: %s" % e

    def _in_step(self):
        """The connector holds the running config_io (received, or written and acknowledged)."""
        self._set_sync("config_io", self._cdigest)
        self._drop_text()

    def _local_changed(self):
        return self._cdigest is not None and self._sync.get("config_io") != self._cdigest

    def _running(self, text, h=None):
        """The config_io text that runs from now on (None: the cache file
        holds it), and its digest h (computed from text when not given). A
        text received stays in RAM while it may have to be written up; see
        _drop_text."""
        self.config_text = text
        self._cdigest = digest(text) if h is None else h

    def _drop_text(self):
        """Once the connector holds the running config_io, its text (a board's
        largest object after the TLS buffers) is let go when the cache file
        keeps it and the local config is not authoritative: no connect writes
        it up again then. The rare write-up that still needs it (the connector
        lost its copy, or sent an older one) reads it back (_text)."""
        if self.config_text is not None and self._cached() and not self.local_authority():
            self.config_text = None

    def _cached(self):
        """True when the store keeps config_io where it can load it again."""
        keeps = getattr(self.store, "keeps", None)  # a store of one's own may not say
        return keeps is not None and keeps("config_io")

    def _text(self):
        """The running config_io text: held, else read back from the cache
        (None when the cache no longer holds what runs)."""
        t = self.config_text
        if t is None and self._cdigest is not None:
            t = self.store.load("config_io")
            if t is not None and digest(t) != self._cdigest:
                t = None
        return t

    def _config_acked(self, msg_id):
        """on_ack for a config_io write -> True when msg_id was one."""
        h = self._config_writes.pop(msg_id, None)
        if h is None:
            return False
        self._set_sync("config_io", h)
        if h == self._cdigest:
            self._drop_text()
        return True

    def _sync_on_connect(self):
        """What to do with config_io when the link comes up (see the module doc)."""
        if self.config is None or "config_io" not in self.watch:
            return
        if getattr(self.transport, "reads_state", False):
            # the connect-time read is delivered with the connection: decided
            # by _on_config_io, or by _sync_read_done when there is none
            self._sync_pending = True
        elif self.local_authority():
            self._push_config("local configuration is authoritative")
        elif self._local_changed():
            self._push_config("changed here since it was last in step with the connector")
        else:
            self.log.info("config_io as last in step with the connector: not written up")

    def _sync_read_done(self):
        """After the updates of the poll in which the link came up: no config_io was read."""
        self._sync_pending = False
        if self.connected:
            self._push_config("no config_io on the connector")

    # -- the documents, from the store at start or from the connector: handled
    #    in uedge.sync.config_update, loaded for one document and released
    #    after it on a board (a steady loop does not hold that code)

    def start(self):
        """Load and run the locally cached configuration (before connecting)."""
        self._config_update("start", None)
        if getattr(self.transport, "connected", False) and not self.connected:
            self._on_state(True, "connected")

    def _on_config_io(self, text):
        self._config_update("on_config_io", text)

    def _on_config_applications(self, text):
        self._config_update("on_config_applications", text)

    def _config_update(self, step, text):
        from uedge.sync import config_update

        try:
            getattr(config_update, step)(self, text)
        finally:
            release("uedge.sync.config_update")
            release("uedge.config.load")  # what it loads the documents with

    def _apply(self, cfg, apps):
        if apps is None:
            self.scheduler.apply(cfg)
        else:
            self.scheduler.apply(cfg, apps)

    def local_authority(self):
        return self.local_strategy or (self.config is not None and self.config.locked)

    def _push_config(self, why, text=None):
        """Write the running config_io up (text: it, when the caller has it)."""
        try:
            if text is None:
                text = self._text()
                if text is None:
                    if self._cdigest is not None:
                        self.last_error = "config_io write skipped: the cache no longer holds the running one"
                    return
            msg_id = self.transport.write("config_io", text)
            if msg_id is not None:
                self._config_writes[msg_id] = self._cdigest
            self.log.info("config_io written up (%s)", why)
        except Exception as e:  # a MemoryError reading it back included
            self.last_error = "config_io write failed: %s" % e
