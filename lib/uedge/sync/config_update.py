"""The config documents of uedge.sync.config_sync.ConfigSync (a part of Edge):
the cached ones at start, config_io and config_applications from the
connector. The rules are in config_sync's docstring.

ConfigSync imports this module for one document and, on a board, releases it
afterwards. The functions take the Edge (the methods they were, with `edge` for self):
its store, scheduler, transport, config, log and _error().
"""

from uedge.compat import digest, json
from uedge.config.load import applications_of, parse_io
from uedge.config.model import ConfigError
from uedge.sources import registry_check as check_channel


def start(edge, _text=None):
    """Load and run the locally cached configuration (before connecting)."""
    edge._load_sync()
    text = edge.store.load("config_applications")
    if text:
        from uedge.config import config_applications

        try:
            edge.apps = config_applications.parse_config_applications(text)
        except ConfigError as e:
            edge._error("config_applications", "local config_applications: %s" % e)
    text = edge.store.load("config_io")
    if text:
        _need(edge, text)
        h = digest(text)
        # the cache keeps the text: the parse takes the only reference to it
        # (see load.parse_io), so it goes before the model is built, and
        # it is read back only when it has to be written up (ConfigSync._text)
        box = [text]
        if edge._cached():
            text = None
        try:
            cfg = parse_io(box, check_channel, True)
            edge._apply(cfg, edge.apps)
            edge.config = cfg
            edge._running(text, h)
            if text is None and edge.local_authority():
                edge.config_text = edge._text()  # written up on every connect: kept
            edge.log.info("running local config_io: %d channels", len(cfg.order))
        except ConfigError as e:
            edge._error("config_io", "local config_io: %s" % e)
        except Exception as e:  # a source failing to open
            edge._error("config_io", "local config_io: %s: %s" % (type(e).__name__, e))


def _need(edge, text):
    if edge.need_sources is None:
        return
    try:
        apps = applications_of(text)
        if apps:
            edge.need_sources(apps)
    except Exception as e:
        edge.log.warning("loading sources: %s: %s", type(e).__name__, e)


def on_config_io(edge, text):
    edge._sync_pending = False
    if text is None or not text.strip():
        if edge.config is not None:
            edge._push_config("no config_io on the connector")
        return
    if edge._cdigest is not None and digest(text) == edge._cdigest:
        edge._in_step()  # what runs (its text may be let go: compared by digest)
        return
    _need(edge, text)
    try:
        cfg = parse_io(text, check_channel)
    except ConfigError as e:
        edge._error("config_io", "config_io rejected, keeping the last good one: %s" % e)
        return
    merged = None
    if edge.config is not None:
        if cfg.same(edge.config):
            edge._in_step()
            return
        if edge.local_authority():
            edge._error("config_io", "config_io rejected: the device configuration is locked")
            edge._push_config("locked")
            return
        # imported here: only a remote config that differs is compared
        from uedge.sync import last_edited

        remote_t = last_edited.edited_seconds(cfg.last_edited)
        local_t = last_edited.edited_seconds(edge.config.last_edited)
        if remote_t is not None and local_t is not None and remote_t < local_t:
            edge._push_config("local config_io is newer")
            return
        merged = _keep_locked_channels(edge, cfg, text)
        if merged is not None:
            text = merged
            try:
                cfg = parse_io(text, check_channel)
            except ConfigError as e:
                edge._error("config_io", "config_io rejected, keeping the last good one: %s" % e)
                return
    try:
        edge._apply(cfg, edge.apps)
    except Exception as e:
        edge._error("config_io", "config_io rejected, keeping the last good one: %s" % e)
        try:
            if edge.config is not None:
                edge._apply(edge.config, edge.apps)
        except Exception:
            pass
        return
    edge.config = cfg
    edge._running(text)
    edge.store.save("config_io", text)
    if merged is None:
        edge._in_step()  # the connector holds what runs from now on
    edge._clear_doc_errors("config_io")
    # acknowledge: the connector's config_io now matches what runs here
    edge._push_config("acknowledge the applied config_io", text)
    edge.log.info("config_io applied: %d channels (last_edited %s)", len(cfg.order), cfg.last_edited)


def _keep_locked_channels(edge, cfg, text):
    """Channels locked on the device are read-only for the application side:
    a remote config keeps the device's version of them. Returns the merged
    config_io text, or None when the remote one leaves them alone.
    (A ChannelConfig keeps its document object only when locked; the
    remote text, already validated, is read again for the merge.)"""
    mine = edge.config.channels
    kept = []
    for cid in edge.config.order:
        c = mine[cid]
        if c.locked and c.raw is not None:
            o = cfg.channels.get(cid)
            if o is None or not o.same(c):
                kept.append(cid)
    if not kept:
        return None
    doc = json.loads(text)
    theirs = doc.get("channels")
    for cid in kept:
        theirs[cid] = mine[cid].raw
    edge.log.warning("config_io: locked channel(s) %s kept as configured on the device",
                     ", ".join(kept))
    return json.dumps(doc)


def on_config_applications(edge, text):
    if text is None or not text.strip():
        return
    # imported here: a board without config_applications never loads it
    from uedge.config import config_applications

    try:
        apps = config_applications.parse_config_applications(text)
    except ConfigError as e:
        edge._error("config_applications", "config_applications rejected: %s" % e)
        return
    if edge.config is not None:
        try:
            edge._apply(edge.config, apps)
        except Exception as e:
            edge._error("config_applications", "config_applications rejected: %s" % e)
            return
    edge.apps = apps
    edge.store.save("config_applications", text)
    edge.log.info("config_applications applied")
