"""What every Modbus source does, whatever carries the bytes.

ModbusSource (a uedge Source) groups due channels by device, reads each
device with a coalesced plan, decodes with the codec, and keeps a health
record per device: a device that does not answer (timeout, CRC/frame errors,
port gone) is retried with exponential backoff while its channels report the
last error at once, so a dead device costs at most one timeout per retry and
never stalls the other devices. A Modbus exception answer means the device is
alive: it only fails the channels of that request, and a merged request that
hits ILLEGAL DATA ADDRESS is split so only the bad channel keeps failing.

Subclasses provide the transport: _device(asc) -> hashable device key,
_read_block(dev, fc, start, count) -> wire data (register bytes big-endian or
packed bits), _write_bits(dev, address, bits), _write_registers(dev, address,
data), and optionally _link_failed(dev, err) to drop a broken connection.
"""

from uedge.compat import Clock
from uedge.modbus import ModbusError, ModbusException, codec
from uedge.modbus.plan import DEFAULT_MAX_GAP, PlanCache, build
from uedge.sources import Source, SourceError


def _setting(cfg, key, default, lo, hi):
    try:
        return codec.parse_int(cfg, key, default, lo, hi)
    except ValueError as e:
        raise SourceError(str(e).replace("app_specific_config", "config_applications interface")) from None


class DeviceState:
    def __init__(self, key, label):
        self.key = key
        self.label = label
        self.failures = 0
        self.retry_at = 0
        self.last_error = None
        self.solo = set()  # channel ids never merged (bad registers)

    def down(self, now):
        return self.failures and self.retry_at > now


class ModbusSource(Source):
    writable = True
    max_registers = codec.MAX_READ_REGISTERS

    def __init__(self, application, interface, app_config):
        Source.__init__(self, application, interface, app_config)
        cfg = self.app_config
        self.max_gap = _setting(cfg, "max_gap", DEFAULT_MAX_GAP, 0, 125)
        self.max_count = _setting(cfg, "max_count", codec.MAX_READ_REGISTERS, 1, codec.MAX_READ_REGISTERS)
        self.backoff_ms = _setting(cfg, "retry_ms", 1000, 0, 3600000)
        self.backoff_max_ms = _setting(cfg, "retry_max_ms", 30000, 0, 3600000)
        # The scheduler sets now_ms (its clock, ms) before each call; used
        # standalone, the source keeps its own non-wrapping clock.
        self.now_ms = None
        self._clock = Clock()
        self.devices = {}
        self.plans = PlanCache()
        self._last_chs = None
        self._last_plan = None
        self.requests = 0  # read requests sent, for diagnostics and benchmarks

    def _now(self):
        n = self.now_ms
        if n is None or callable(n):
            return self._clock.now_ms()
        return n

    # -- per-channel settings -----------------------------------------------

    @classmethod
    def parse_channel(cls, asc):
        """(device key, codec.Spec); raises ValueError naming the key."""
        raise NotImplementedError

    @classmethod
    def check_channel(cls, channel_id, app_specific_config):
        try:
            cls.parse_channel(app_specific_config or {})
        except ValueError as e:
            return str(e)
        return None

    def _settings(self, ch):
        st = ch.source_state
        if st is None or st[0] is not ch.app_specific_config:
            try:
                dev, sp = self.parse_channel(ch.app_specific_config or {})
                st = (ch.app_specific_config, dev, sp, None)
            except ValueError as e:
                st = (ch.app_specific_config, None, None, "channel %s: %s" % (ch.id, e))
            ch.source_state = st
        return st

    def _device_state(self, dev):
        d = self.devices.get(dev)
        if d is None:
            d = DeviceState(dev, self.device_label(dev))
            self.devices[dev] = d
        return d

    def device_label(self, dev):
        return "unit %s" % (dev,)

    # -- reading -------------------------------------------------------------

    def _plan(self, channels):
        # The same due set comes back tick after tick (the scheduler even
        # refills the same list): compare by identity first, allocation-free.
        last = self._last_chs
        n = len(channels)
        if last is not None and len(last) == n:
            i = 0
            while i < n and last[i] is channels[i]:
                i += 1
            if i == n:
                return self._last_plan, None
        # Keyed by object identity, not channel id: a re-applied config_io
        # brings new ChannelConfig objects. The plan holds the channels, so
        # their ids cannot be reused while it is cached.
        key = tuple(id(ch) for ch in channels)
        plan = self.plans.get(key)
        if plan is None:
            plan, bad = self._build_plan(channels)
            if bad:
                return plan, bad
            self.plans.put(key, plan)
        self._last_chs = list(channels)
        self._last_plan = plan
        return plan, None

    def _build_plan(self, channels):
        groups = {}
        order = []  # devices in order of first appearance (MicroPython dicts are unordered)
        bad = {}
        for ch in channels:
            _asc, dev, sp, err = self._settings(ch)
            if err is not None:
                bad[ch.id] = err
                continue
            g = groups.get(dev)
            if g is None:
                g = groups[dev] = []
                order.append(dev)
            g.append((ch, sp))
        plan = []
        for dev in order:
            items = groups[dev]
            d = self._device_state(dev)
            plan.append((d, build(items, self.max_gap, self.max_count, codec.MAX_READ_BITS, d.solo)))
        return plan, bad

    def _forget_plans(self):
        self.plans.clear()
        self._last_chs = None
        self._last_plan = None

    def read_many(self, channels, values, errors):
        plan, bad = self._plan(channels)
        if bad:
            errors.update(bad)
        for d, requests in plan:
            now = self._now()
            if d.down(now):
                msg = "%s (retry in %d ms)" % (d.last_error, d.retry_at - now)
                for req in requests:
                    for m in req.members:
                        errors[m[0].id] = msg
                continue
            self._read_device(d, requests, values, errors)

    def _read_device(self, d, requests, values, errors):
        for i in range(len(requests)):
            req = requests[i]
            try:
                self.requests += 1
                data = self._read_block(d.key, req.table, req.start, req.count)
            except ModbusException as e:
                if len(req.members) > 1 and e.code in (2, 3):
                    self._split(d, req, values, errors)
                else:
                    self._fail_members(d, req, e, errors)
                self._alive(d)
                continue
            except ModbusError as e:
                self._link_down(d, e)
                msg = d.last_error
                for r in requests[i:]:
                    for m in r.members:
                        errors[m[0].id] = msg
                return
            self._alive(d)
            for ch, sp, index in req.members:
                try:
                    values[ch.id] = codec.decode(sp, data, index)
                except (ValueError, IndexError) as e:
                    errors[ch.id] = "%s %s %d: %s" % (d.label, codec.RANGE_NAMES[sp.table], sp.address + 1, e)

    def _split(self, d, req, values, errors):
        # Find the channel(s) whose registers the device refuses; from now on
        # they are read alone and their neighbours are merged without them.
        for ch, sp, _index in req.members:
            try:
                self.requests += 1
                data = self._read_block(d.key, sp.table, sp.address, sp.count)
                values[ch.id] = codec.decode(sp, data, 0)
            except ModbusException as e:
                d.solo.add(ch.id)
                errors[ch.id] = self._exc_msg(d, sp, e)
            except ModbusError as e:
                self._link_down(d, e)
                errors[ch.id] = d.last_error
                return
            except ValueError as e:
                errors[ch.id] = "%s: %s" % (d.label, e)
        self._forget_plans()

    def _exc_msg(self, d, sp, e):
        return "%s %s register %d: %s" % (d.label, codec.RANGE_NAMES[sp.table], sp.address + 1, e)

    def _fail_members(self, d, req, e, errors):
        for ch, sp, _index in req.members:
            errors[ch.id] = self._exc_msg(d, sp, e)

    def _alive(self, d):
        d.failures = 0
        d.last_error = None

    def _link_down(self, d, e):
        d.failures += 1
        delay = self.backoff_ms << min(d.failures - 1, 16)
        if delay > self.backoff_max_ms:
            delay = self.backoff_max_ms
        d.retry_at = self._now() + delay
        d.last_error = "%s: %s" % (d.label, e)
        try:
            self._link_failed(d.key, e)
        except Exception:
            pass

    def _link_failed(self, dev, err):
        pass

    def read(self, channel):
        values = {}
        errors = {}
        self.read_many([channel], values, errors)
        if channel.id in errors:
            raise SourceError(errors[channel.id])
        return values[channel.id]

    # -- writing -------------------------------------------------------------

    def write(self, channel, value):
        _asc, dev, sp, err = self._settings(channel)
        if err is not None:
            raise SourceError(err)
        d = self._device_state(dev)
        if not sp.writable():
            raise SourceError("channel %s: register_range %s is read-only"
                              % (channel.id, codec.RANGE_NAMES[sp.table]))
        from uedge.modbus import encode

        try:
            if sp.is_bits():
                bits = encode.encode_bits(sp, value)
                self._write_bits(dev, sp.address, bits)
            else:
                data = encode.encode(sp, value)
                if sp.mask is not None:
                    old = self._read_block(dev, sp.table, sp.address, sp.count)
                    data = encode.merge_masked(sp, old, data)
                self._write_registers(dev, sp.address, data)
        except ValueError as e:
            raise SourceError("channel %s: %s" % (channel.id, e)) from None
        except ModbusException as e:
            raise SourceError(self._exc_msg(d, sp, e)) from None
        except ModbusError as e:
            self._link_down(d, e)
            raise SourceError(d.last_error) from None
        self._alive(d)

    # -- transport (subclasses) ----------------------------------------------

    def _read_block(self, dev, fc, start, count):
        raise NotImplementedError

    def _write_bits(self, dev, address, bits):
        raise NotImplementedError

    def _write_registers(self, dev, address, data):
        raise NotImplementedError
