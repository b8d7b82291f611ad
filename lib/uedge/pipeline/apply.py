"""Scheduler.apply (uedge.pipeline.scheduler): a new config_io live.

Loaded for one apply and, on a board, released after: the code that builds
the channels and their sources is not held while the loop runs.
"""

from uedge.config.model import ConfigIO
from uedge.pipeline.channel import Channel
from uedge.sources import Slot, registry_check


def apply(sched, config_io, config_applications=None):
    """See Scheduler.apply."""
    if config_applications is not None:
        if not hasattr(config_applications, "interface_config"):  # not parsed yet
            # imported here: a board without config_applications never loads it
            from uedge.config import config_applications as ca

            config_applications = ca.parse_config_applications(config_applications)
        sched.config_applications = config_applications
    if not isinstance(config_io, ConfigIO):
        from uedge.config.load import parse_io  # a text or document: the edge loop passes a ConfigIO

        config_io = parse_io(config_io, registry_check)
    apps = sched.config_applications
    now = sched.clock.now_ms()
    old_slots = sched._slots
    used = []
    new_slots = []
    channels = {}
    order = []
    for cfg in config_io:
        app = cfg.application
        itf = cfg.interface if app is not None else None
        acfg = apps.interface_config(app, itf) if (apps is not None and app is not None) else {}
        slot = None
        for s in new_slots:
            if s.same(app, itf, acfg):
                slot = s
                break
        if slot is None:
            for s in old_slots:
                if s not in used and s.same(app, itf, acfg):
                    slot = s
                    used.append(s)
                    break
            if slot is None:
                slot = Slot(app, itf, acfg)
            slot.channels = []
            new_slots.append(slot)
        old = sched.channels.get(cfg.id)
        if old is not None and old.slot is slot and old.cfg.same(cfg):
            ch = old
        else:
            ch = Channel(cfg, now)
            if app is None:
                ch.timeout = None  # virtual channels have no reads to time out
                if ch.plain:
                    ch.plain = 1 if ch.on_change else 2
            if old is not None:
                ch.last_value = old.last_value
                ch.last_ts_us = old.last_ts_us
                ch.last_error = old.last_error
        ch.slot = slot
        slot.channels.append(ch)
        channels[cfg.id] = ch
        order.append(ch)
    for s in old_slots:
        if s not in used and s not in new_slots:
            s.close()
    for cid in list(sched._pending):
        if cid not in channels:
            del sched._pending[cid]
    for s in new_slots:
        s.bounds()
    sched._slots = new_slots
    sched.channels = channels
    sched._order = order
    sched.config_io = config_io
    sched._recompute()
    return config_io
