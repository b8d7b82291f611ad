"""Coalescing: read many channels of one device with as few requests as possible.

Channels are sorted by table and address; neighbours are merged into one
request while the hole between them is at most `max_gap` registers (bits for
coil tables) and the request stays within the protocol's per-request maximum
(125 registers, 2000 bits) or a smaller `max_count` the device needs.
Overlapping channels (two views of the same registers) share a request.
A channel marked solo (its register answered ILLEGAL DATA ADDRESS inside a
merged block) always gets its own request, so one bad register cannot take its
neighbours down with it.
"""

from uedge.modbus.codec import INPUT_COIL, MAX_READ_BITS, MAX_READ_REGISTERS

DEFAULT_MAX_GAP = 8


class Request:
    def __init__(self, table, start, count):
        self.table = table  # = read function code
        self.start = start
        self.count = count
        self.members = []  # [(channel, spec, index in the response data)]

    def __repr__(self):
        return "Request(fc=%d, start=%d, count=%d, channels=%d)" % (
            self.table, self.start, self.count, len(self.members))


def _key(item):
    sp = item[1]
    return (sp.table, sp.address, sp.count)


def build(items, max_gap=DEFAULT_MAX_GAP, max_registers=MAX_READ_REGISTERS, max_bits=MAX_READ_BITS,
          solo=None):
    """items: [(channel, spec)] of ONE device. Returns [Request].

    solo: optional set of channel ids that must not be merged.
    """
    items = sorted(items, key=_key)
    out = []
    cur = None
    cur_alone = False
    end = 0
    for item in items:
        ch, sp = item
        limit = max_bits if sp.table <= INPUT_COIL else max_registers
        a = sp.address
        e = a + sp.count
        alone = solo is not None and ch.id in solo
        if (cur is not None and not alone and not cur_alone and cur.table == sp.table
                and a - end <= max_gap and max(end, e) - cur.start <= limit):
            if e > end:
                end = e
                cur.count = end - cur.start
        else:
            cur = Request(sp.table, a, sp.count)
            cur_alone = alone
            end = e
            out.append(cur)
        cur.members.append((ch, sp, a - cur.start))
    return out


class PlanCache:
    """Plans per set of due channels: the same set is due again and again."""

    def __init__(self, limit=8):
        self.limit = limit
        self.plans = {}

    def get(self, key):
        return self.plans.get(key)

    def put(self, key, plan):
        if len(self.plans) >= self.limit:
            self.plans.clear()
        self.plans[key] = plan

    def clear(self):
        self.plans.clear()
