"""Snapshot files: one readable JSON file per model in ``__modelcheck_snapshots__/``.

A file holds ``{"architecture": {...}, "format": 1, "model": "<model id>"}`` in the canonical
text of `serialize.to_json`, so the same model always writes the same bytes. Files are written
atomically (a temporary file renamed over the old one) and only when their text changes.

No Keras import.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable

from ..core.errors import SpecError
from ..core.files import write_atomic
from .serialize import FORMAT_VERSION, to_json

__all__ = [
    "SNAPSHOT_DIR",
    "snapshot_path",
    "read_snapshot",
    "snapshot_text",
    "write_snapshot",
    "find_orphans",
    "delete_snapshots",
]

SNAPSHOT_DIR = "__modelcheck_snapshots__"
_SUFFIX = ".json"


def _file_name(model_id: str) -> str:
    """A portable file name for `model_id` (characters other than letters, digits, ``._-`` become ``_``)."""
    if not model_id:
        raise SpecError("a snapshot needs a non-empty model id")
    return re.sub(r"[^A-Za-z0-9._-]", "_", model_id) + _SUFFIX


def snapshot_path(base_dir: Path | str, model_id: str) -> Path:
    """Where the snapshot of `model_id` lives: ``<base_dir>/__modelcheck_snapshots__/<id>.json``.

    `base_dir` is the folder of the file that declares the model (spec file or test module).
    """
    return Path(base_dir) / SNAPSHOT_DIR / _file_name(model_id)


def read_snapshot(path: Path | str) -> dict[str, Any] | None:
    """The stored architecture, or None when the file does not exist.

    Raises:
        SpecError: the file is not a snapshot (bad JSON, e.g. a merge conflict, or wrong format).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(
            f"snapshot {path} is not valid JSON (line {exc.lineno}: {exc.msg}); fix it, delete it, "
            "or re-run pytest with --modelcheck-snapshot-update to rewrite it"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("architecture"), dict):
        raise SpecError(
            f"snapshot {path} has no \"architecture\" table; re-run pytest with "
            "--modelcheck-snapshot-update to rewrite it"
        )
    if data.get("format") != FORMAT_VERSION:
        raise SpecError(
            f"snapshot {path} has format {data.get('format')!r}, this modelcheck reads format "
            f"{FORMAT_VERSION}; re-run pytest with --modelcheck-snapshot-update to rewrite it"
        )
    return data["architecture"]


def snapshot_text(architecture: dict[str, Any], model_id: str) -> str:
    """The exact text a snapshot file holds."""
    return to_json({"architecture": architecture, "format": FORMAT_VERSION, "model": model_id})


def write_snapshot(path: Path | str, architecture: dict[str, Any], model_id: str) -> bool:
    """Write the snapshot (creating the folder); return True when the file's text changed."""
    path = Path(path)
    text = snapshot_text(architecture, model_id)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, text)  # two pytest-xdist workers never leave a half-written file behind
    return True


def find_orphans(base_dir: Path | str, model_ids: Iterable[str]) -> list[Path]:
    """Snapshot files in ``<base_dir>/__modelcheck_snapshots__`` that belong to none of `model_ids`.

    Pass the ids of every model *declared* for `base_dir` (not only the selected ones), or a
    ``-k`` run would call the others' snapshots orphans. Sorted, for stable reports.
    """
    folder = Path(base_dir) / SNAPSHOT_DIR
    if not folder.is_dir():
        return []
    wanted = {_file_name(model_id) for model_id in model_ids}
    return sorted(p for p in folder.glob("*" + _SUFFIX) if p.is_file() and p.name not in wanted)


def delete_snapshots(paths: Iterable[Path | str]) -> list[Path]:
    """Delete snapshot files (and the folder once empty); return the paths deleted."""
    deleted = []
    for raw in paths:
        path = Path(raw)
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        deleted.append(path)
        try:
            path.parent.rmdir()
        except OSError:  # not empty yet: other snapshots remain
            pass
    return deleted
