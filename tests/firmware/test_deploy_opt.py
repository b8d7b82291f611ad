"""tools/deploy.py --opt (make build/flash OPT=N, default 3): the board's .mpy
files compiled with mpy-cross -O3 carry no line numbers and no asserts; OPT=0
keeps both for debugging."""
import os
import subprocess
import sys

import pytest
from fw_helpers import ROOT

sys.path.insert(0, os.path.join(ROOT, "tools"))
import deploy  # noqa: E402

MICROPYTHON = os.path.join(ROOT, ".venv", "bin", "micropython")


def _total(sizes):
    return sum(v for k, v in sizes.items() if k.endswith(".mpy"))


def test_opt_3_is_the_default_and_builds_smaller_mpy_files_than_0(tmp_path):
    assert deploy.OPT[0] == 3
    try:
        opt = deploy.build("rp2040", str(tmp_path / "o3"), quiet=True)
        deploy.set_opt(0)
        plain = deploy.build("rp2040", str(tmp_path / "o0"), quiet=True)
    finally:
        deploy.set_opt(3)
    assert sorted(plain) == sorted(opt)
    assert _total(opt) < _total(plain)
    assert deploy.OPT[0] == 3
    with pytest.raises(SystemExit):
        deploy.set_opt(4)


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="no MicroPython unix port")
def test_opt_3_drops_asserts_and_line_numbers(tmp_path):
    src = tmp_path / "probe_mod.py"
    src.write_text("def f():\n    assert False, 'kept'\n    raise ValueError('x')\n")
    for level, lines in ((0, True), (3, False)):
        d = tmp_path / ("o%d" % level)
        d.mkdir()
        deploy.compile_one(str(src), str(d / "probe_mod.mpy"), "x86", source_name="probe_mod", opt=level)
        r = subprocess.run([MICROPYTHON, "-c", "import sys\nimport probe_mod\ntry:\n    probe_mod.f()\n"
                            "except Exception as e:\n    sys.print_exception(e, sys.stdout)\n"],
                           capture_output=True, text=True, timeout=30, env=dict(os.environ, MICROPYPATH=str(d)))
        out = r.stdout
        assert r.returncode == 0, out + r.stderr
        if lines:
            assert "AssertionError: kept" in out and "line 2" in out
        else:
            assert "ValueError: x" in out and "line 3" not in out


@pytest.mark.skipif(not os.path.exists(MICROPYTHON), reason="no MicroPython unix port")
def test_long_string_constants_are_qstrs_shared_by_all_modules(tmp_path):
    """tools/mpbuild.py builds mpy-cross with MPY_CROSS_CFLAGS: a string constant
    longer than stock's 10 characters is a qstr in the .mpy, so two modules that
    hold the same message load one interned string (stock: one str object each)."""
    text = "a string constant longer than ten characters"
    for name in ("probe_a", "probe_b"):
        src = tmp_path / (name + ".py")
        src.write_text("S = %r\n" % text)
        deploy.compile_one(str(src), str(tmp_path / (name + ".mpy")), "x86", source_name=name)
        src.unlink()
    r = subprocess.run([MICROPYTHON, "-c", "import probe_a, probe_b\nprint(probe_a.S == probe_b.S, probe_a.S is probe_b.S)"],
                       capture_output=True, text=True, timeout=30, env=dict(os.environ, MICROPYPATH=str(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["True", "True"]
