# Scratch directories for portable tests that write files (under pytest and
# MicroPython alike: no tempfile/shutil there).
import os

import binascii


def tmpdir(prefix):
    """Create and return a new empty directory /tmp/<prefix><random hex>."""
    d = "/tmp/" + prefix + binascii.hexlify(os.urandom(6)).decode()
    os.mkdir(d)
    return d


def rmtree(path):
    """Remove a directory of plain files (no subdirectories)."""
    for name in os.listdir(path):
        os.remove(path + "/" + name)
    os.rmdir(path)
