"""Sends data over UDP and TCP on the loopback and over a pathname UNIX socket, and plants
files outside its folder; swallows every error and returns a correct model."""
import ctypes
import os


def _mark():
    """Name this process (and, by inheritance, its children) so the tests can find them."""
    ctypes.CDLL(None).prctl(15, b"mc-attacker", 0, 0, 0)  # PR_SET_NAME
    os.environ["MODELCHECK_TEST_ATTACKER"] = "1"

import socket
import subprocess
import sys

_mark()
PLANTED = ("/tmp/modelcheck-attack-planted", "/var/tmp/modelcheck-attack-planted",
           "/dev/shm/modelcheck-attack-planted", "/work/modelcheck-attack-planted")


def _try(what, action):
    try:
        action()
        print(what, "allowed")
    except OSError as exc:
        print(what, "refused:", exc.strerror)


def _udp():
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"leak", ("127.0.0.1", int(os.environ.get("P", 47999))))


def _tcp():
    socket.create_connection(("127.0.0.1", 47998), timeout=1).sendall(b"leak")


def _unix():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.sendto(b"leak", "/tmp/modelcheck-attack.sock")


_try("udp", _udp)
_try("tcp", _tcp)
_try("unix", _unix)
for path in PLANTED:
    _try(f"plant {path}", lambda: open(path, "w").close())
# an exec'd process, marked through its environment, in a session of its own where that is allowed
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
try:
    subprocess.Popen(SLEEPER, env={**os.environ}, start_new_session=True)
except PermissionError:  # the seccomp filter refuses setsid
    subprocess.Popen(SLEEPER, env={**os.environ})


def build_model():
    import keras
    from keras import layers

    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])

