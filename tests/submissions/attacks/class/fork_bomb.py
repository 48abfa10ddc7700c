"""Starts sleeping processes until the system refuses one."""
import ctypes
import os


def _mark():
    """Name this process (and, by inheritance, its children) so the tests can find them."""
    ctypes.CDLL(None).prctl(15, b"mc-attacker", 0, 0, 0)  # PR_SET_NAME
    os.environ["MODELCHECK_TEST_ATTACKER"] = "1"

import time

_mark()
children = []
while True:
    pid = os.fork()
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    children.append(pid)


def build_model():
    import keras
    from keras import layers

    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])

