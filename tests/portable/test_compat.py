from uedge.compat import FakeClock, Clock, MICROPYTHON


def test_fake_clock_moves_only_when_told():
    c = FakeClock(start_ms=0, epoch_us=1000000)
    assert c.now_ms() == 0
    c.advance(1500)
    assert c.now_ms() == 1500
    assert c.epoch_us() == 1000000 + 1500000


def test_real_clock_is_monotonic_and_epoch_is_recent():
    c = Clock()
    a = c.now_ms()
    b = c.now_ms()
    assert b >= a
    assert c.epoch_us() > 1600000000 * 1000000
    assert MICROPYTHON in (True, False)
