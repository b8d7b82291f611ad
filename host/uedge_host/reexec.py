"""`uedge go` in an interpreter without site (uedge_host.cli calls it)."""

import os
import sys

# -- the daemon in an interpreter without site ----------------------------------------
# `uedge go` runs for months: it does not need what site.py sets up at start in a
# virtual env (the .pth files: setuptools' distutils hack, editable-install
# finders with importlib.util and contextlib; about 1 MB). The program entry
# starts the daemon again with -S, the directories of uedge and uedge_host in
# front of sys.path; the site directories are added (site.main(), .pth files
# and all) the first time a config_io needs a fieldbus library (daemon.need_sources).
# UEDGE_SITE=1 in the environment keeps the usual start.

_CHILD = """import sys
sys.argv[0] = %r
if sys.path and sys.path[0] == "":
    del sys.path[0]  # -c puts the working directory first; the daemon does not import from it
sys.path[:0] = %r
from uedge_host.cli import main
sys.exit(main())
"""


def exec_without_site(argv):
    """Replace this process by `python -S` running the same command line;
    returns (doing nothing) when that is not possible or not wanted."""
    if (sys.flags.no_site or sys.flags.isolated or sys.flags.ignore_environment
            or not sys.executable or os.environ.get("UEDGE_SITE")):
        return
    import uedge

    dirs = []
    for f in (uedge.__file__, __file__):
        d = os.path.dirname(os.path.dirname(os.path.abspath(f)))
        if d not in dirs:
            dirs.append(d)
    flags = ["-S"]
    for k, v in sys._xoptions.items():
        flags.append("-X%s" % k if v is True else "-X%s=%s" % (k, v))
    flags += ["-W" + w for w in sys.warnoptions]
    if sys.flags.optimize:
        flags.append("-" + "O" * sys.flags.optimize)
    if sys.flags.dont_write_bytecode:
        flags.append("-B")
    if sys.flags.no_user_site:
        flags.append("-s")  # site.main() later (fieldbus drivers) must skip the user site too
    if sys.flags.bytes_warning:
        flags.append("-" + "b" * sys.flags.bytes_warning)
    code = _CHILD % (sys.argv[0], dirs)
    try:
        os.execv(sys.executable, [sys.executable] + flags + ["-c", code] + list(argv))
    except OSError:
        return
