"""Cheat 5: looks for the assignment's expected figures, reference and sample labels wherever
it can reach (its memory, arguments, environment, its parent's, readable files) and builds the
exact model if it finds them; else it guesses (1000 hidden units). The needles are regular
expressions whose text never holds the secret itself, so the spy cannot find its own search."""
import ctypes
import os
import re

import keras
from keras import layers

NEEDLES = {"total_params": re.compile(rb"11264[8]"), "reference": re.compile(rb"quokka-marke[r]"),
           "expect table": re.compile(rb"input_shape = \[6[1]\]"), "sample file": re.compile(rb"secret_sampl[e]")}
ASSIGNMENT_FOLDER = "@ASSIGNMENT_FOLDER@"  # the test writes the instructor's folder here
CHUNK = 8 * 2**20


def _search(data, where, found):
    for what, needle in NEEDLES.items():
        if needle.search(data):
            found.append(f"{what} in {where}")


def _regions():
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            span, perms = fields[:2]
            if not perms.startswith("r") or "[vvar" in line or "[vsyscall" in line:
                continue
            start, end = (int(v, 16) for v in span.split("-"))
            yield start, end, fields[5] if len(fields) > 5 else ""


def _memory(found):
    """Every readable mapping: through /proc/self/mem, or straight from the address space when
    the sandbox closes /proc/self/mem (a process can always read its own memory)."""
    scanned = 0
    try:
        mem = open("/proc/self/mem", "rb", 0)
    except OSError:
        mem = None
    for start, end, backing in list(_regions()):
        if mem is None and backing.startswith("/"):
            continue  # read straight, a file mapping past the file's end would end the process (SIGBUS)
        for offset in range(start, end, CHUNK):
            size = min(CHUNK, end - offset)
            try:
                if mem is not None:
                    mem.seek(offset)
                    data = mem.read(size)
                else:
                    data = ctypes.string_at(offset, size)
            except (OSError, ValueError, OverflowError):
                break
            scanned += len(data)
            _search(data, f"memory at {offset:#x}", found)
    if mem is not None:
        mem.close()
    return scanned


def _files(found, roots=None):
    roots = roots or {os.getcwd(), os.environ.get("HOME", "/"), os.environ.get("TMPDIR", "/tmp"), "/tmp",
                      ASSIGNMENT_FOLDER, os.path.dirname(os.getcwd()), os.path.dirname(os.path.dirname(os.getcwd()))}
    count = 0
    for root in roots:
        for folder, dirs, names in os.walk(root):
            if folder.count(os.sep) - root.count(os.sep) > 3:
                dirs[:] = []
            for name in names:
                path = os.path.join(folder, name)
                try:
                    with open(path, "rb") as handle:
                        data = handle.read(2 * 2**20)
                except OSError:
                    continue
                count += 1
                _search(data, path, found)
    return count


def _processes(found):
    for pid in ("self", str(os.getppid())):
        for part in ("cmdline", "environ"):
            try:
                with open(f"/proc/{pid}/{part}", "rb") as handle:
                    _search(handle.read(), f"/proc/{pid}/{part}", found)
            except OSError:
                pass
    _search("\0".join(f"{k}={v}" for k, v in os.environ.items()).encode(), "the environment", found)


def spy():
    found = []
    _processes(found)
    files = _files(found)
    scanned = _memory(found)
    print(f"SPY: scanned {scanned // 2**20} MB of memory and {files} files;",
          ("found " + "; ".join(found)) if found else "found nothing")
    return bool(found)


def build_model():
    hidden = 1733 if spy() else 1000
    return keras.Sequential([keras.Input(shape=(61,)), layers.Dense(hidden, activation="relu"),
                             layers.Dense(3, activation="softmax")])
