"""What a grading job may read, and whether a job under its own uid can still import Python.

A job's mount namespace binds only `readable_roots` (the system, the Python installation, installed
packages and modelcheck itself), never the folders the grader was started from. A job runs under a
uid of its own only where that uid can enter those folders (`roots_open_to_others`, or without
namespaces `python_open_to_others`): a Python installed under a private home would fail its imports.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

__all__ = ["python_open_to_others", "roots_open_to_others", "readable_roots"]


def python_open_to_others() -> bool:
    """True when another uid can import from every folder on ``sys.path``.

    A job process under its own uid imports modules the zygote did not preload (a student's
    ``model.summary()`` imports `rich`); with Python installed under a private home
    (``/root`` is 0700) it cannot, so the uid layer is left out and Landlock alone confines.
    """
    for entry in sys.path:
        path = Path(entry or ".").resolve()
        if not path.exists():
            continue
        for folder in (path, *path.parents):
            if not os.stat(folder).st_mode & stat.S_IXOTH:
                return False
    return True


def roots_open_to_others(roots: list[str]) -> bool:
    """True when another uid can enter each of `roots` (inside a job's own root, the folders
    above them are created open, so a private ``/root`` does not matter)."""
    return all(os.stat(root).st_mode & stat.S_IXOTH for root in roots if os.path.isdir(root))


_SYSTEM_READABLE = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/proc", "/sys", "/dev",
                    "/opt", "/var/lib", "/run")


def readable_roots() -> list[str]:
    """What a job process may read: the system, the Python installation, installed packages
    and modelcheck itself; not the folders the grader was started from (submissions, outputs)."""
    import site

    import modelcheck

    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(),
             str(Path(modelcheck.__file__).resolve().parent)}
    if site.ENABLE_USER_SITE and site.USER_SITE:
        roots.add(site.USER_SITE)
    for entry in sys.path:  # installed locations only: never the current folder
        if entry and Path(entry).is_absolute() and ("site-packages" in entry or entry.startswith(sys.base_prefix)):
            roots.add(entry)
    return sorted(r for r in {*roots, *_SYSTEM_READABLE} if os.path.exists(r))
