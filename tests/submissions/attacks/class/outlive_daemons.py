"""Leaves CPU-eating processes behind: a double-forked setsid daemon, and a pair that
respawn each other when one dies; returns a correct model at once. (Where the seccomp filter
refuses setsid, the daemons stay in the job's process group: they still try to outlive it.)"""
import ctypes
import os


def _mark():
    """Name this process (and, by inheritance, its children) so the tests can find them."""
    ctypes.CDLL(None).prctl(15, b"mc-attacker", 0, 0, 0)  # PR_SET_NAME
    os.environ["MODELCHECK_TEST_ATTACKER"] = "1"

import time

_mark()


def _spin():
    while True:
        pass


def _respawner():
    while True:
        child = os.fork()
        if child == 0:
            continue  # the child becomes the next guardian
        while True:
            try:
                os.waitpid(child, 0)
                break  # our child died: start another
            except ChildProcessError:
                break
            except OSError:
                time.sleep(0.01)


def _leave_the_session():
    try:
        os.setsid()
    except PermissionError:
        pass


if os.fork() == 0:
    _leave_the_session()
    if os.fork() == 0:
        _spin()
    os._exit(0)
if os.fork() == 0:
    _leave_the_session()
    _respawner()


def build_model():
    import keras
    from keras import layers

    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])

