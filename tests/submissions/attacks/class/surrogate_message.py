"""Raises an exception whose message holds a lone surrogate and terminal escapes, after
printing bytes that are not UTF-8."""
import ctypes
import os


def _mark():
    """Name this process (and, by inheritance, its children) so the tests can find them."""
    ctypes.CDLL(None).prctl(15, b"mc-attacker", 0, 0, 0)  # PR_SET_NAME
    os.environ["MODELCHECK_TEST_ATTACKER"] = "1"

import sys

_mark()
sys.stdout.buffer.write(b"\xff\xfe not utf-8 \x1b[2J\n")
sys.stdout.flush()


def build_model():
    raise ValueError("bad \udcff\ud800 \x1b[31mred\x1b[0m \u202e")
