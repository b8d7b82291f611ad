# Coalescing: neighbours merge, gaps and the per-request maximum split.
from uedge.modbus import codec, plan


class Ch:
    def __init__(self, cid):
        self.id = cid


def items(specs):
    out = []
    for i, kw in enumerate(specs):
        asc = {"register_range": "HOLDING_REGISTER"}
        asc.update(kw)
        out.append((Ch("%03d" % i), codec.parse(asc)))
    return out


def test_fifty_neighbours_are_one_request():
    its = items([{"register": 1 + 2 * i, "register_count": 2,
                  "evaluation_mode": "floating point: ieee754"} for i in range(50)])
    reqs = plan.build(its)
    assert len(reqs) == 1
    assert reqs[0].start == 0 and reqs[0].count == 100 and len(reqs[0].members) == 50
    assert [m[2] for m in reqs[0].members][:3] == [0, 2, 4]


def test_max_count_splits():
    its = items([{"register": 1 + i} for i in range(300)])
    reqs = plan.build(its)
    assert [r.count for r in reqs] == [125, 125, 50]
    reqs = plan.build(its, max_registers=64)
    assert max(r.count for r in reqs) == 64 and len(reqs) == 5


def test_gap_splits_and_tables_never_mix():
    its = items([{"register": 1}, {"register": 10}, {"register": 30},
                 {"register": 2, "register_range": "INPUT_REGISTER"}])
    reqs = plan.build(its, max_gap=8)
    assert [(r.table, r.start, r.count) for r in reqs] == [(3, 0, 10), (3, 29, 1), (4, 1, 1)]
    reqs = plan.build(its, max_gap=0)
    assert len(reqs) == 4


def test_overlapping_channels_share_a_request():
    its = items([{"register": 5, "register_count": 2}, {"register": 6}, {"register": 5}])
    reqs = plan.build(its)
    assert len(reqs) == 1 and reqs[0].start == 4 and reqs[0].count == 2


def test_coils_merge_by_bits():
    its = items([{"register_range": "HOLDING_COIL", "register": 1 + 3 * i} for i in range(20)])
    reqs = plan.build(its)
    assert len(reqs) == 1 and reqs[0].table == 1 and reqs[0].count == 58


def test_solo_channels_stay_alone():
    its = items([{"register": 1}, {"register": 2}, {"register": 3}])
    reqs = plan.build(its, solo={"001"})
    assert [(r.start, r.count) for r in reqs] == [(0, 1), (1, 1), (2, 1)]
