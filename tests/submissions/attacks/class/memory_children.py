"""Spreads 800 MB over four child processes (200 MB each, under any per-process watch)."""
import ctypes
import os


def _mark():
    """Name this process (and, by inheritance, its children) so the tests can find them."""
    ctypes.CDLL(None).prctl(15, b"mc-attacker", 0, 0, 0)  # PR_SET_NAME
    os.environ["MODELCHECK_TEST_ATTACKER"] = "1"

import time

_mark()
for _ in range(4):
    if os.fork() == 0:
        block = bytearray(200 * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(60)
        os._exit(0)
time.sleep(5)


def build_model():
    import keras
    from keras import layers

    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])

