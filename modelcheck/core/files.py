"""Writing files atomically: a reader (another xdist worker, a browser, an interrupted run)
sees the old file or the new one, never half of one."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path | str, text: str, *, newline: str = "\n", mode: int = 0o644) -> Path:
    """Write `text` (UTF-8; lone surrogates replaced) to `path` through a temporary file in the same
    folder and an atomic rename; the folder is created when missing. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", errors="replace", newline=newline) as out:
            out.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
