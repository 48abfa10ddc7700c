"""The ``architecture`` check: compare a model with its stored snapshot, or write it.

`check_architecture` is the one entry point of the pytest plugin's architecture item; it is
also usable on its own::

    result = check_architecture(model, snapshot_file=Path("__modelcheck_snapshots__/mlp.json"),
                                update=False, model_id="mlp")
    assert result.passed, result.describe()
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable

from ..core.errors import SpecError
from ..core.messages import mismatch
from ..core.result import CheckResult
from .diff import compare
from .serialize import architecture
from .store import read_snapshot, snapshot_path, write_snapshot

__all__ = ["CHECK_NAME", "UPDATE_OPTION", "check_architecture"]

CHECK_NAME = "architecture"
UPDATE_OPTION = "--modelcheck-snapshot-update"


def _is_model(model: Any) -> bool:
    import keras

    return isinstance(model, keras.Model)


def _same_architecture(path: Path, current: dict[str, Any], declared: Iterable[str]) -> list[Path]:
    """The other snapshots in `path`'s folder that hold `current` exactly, but those of the
    `declared` models (built the same on purpose); unreadable ones are left out."""
    if not path.parent.is_dir():
        return []
    taken = {path.name} | {snapshot_path(path.parent.parent, model_id).name for model_id in declared}
    found = []
    for other in sorted(path.parent.glob("*" + path.suffix)):
        try:
            stored = read_snapshot(other) if other.name not in taken else None
        except SpecError:
            continue
        if stored is not None and compare(stored, current).equal:
            found.append(other)
    return found


def check_architecture(
    model: Any,
    *,
    snapshot_file: Path | str,
    update: bool,
    model_id: str | None = None,
    declared: Iterable[str] = (),
) -> CheckResult:
    """Compare `model`'s architecture with the snapshot in `snapshot_file`.

    Args:
        model: a built ``keras.Model``.
        snapshot_file: the model's snapshot (see `snapshot_path`).
        update: write the snapshot when it is missing or differs, and pass.
        model_id: the model's id, stored in the file and set on the result
            (default: the file's stem).
        declared: the ids of the other models whose snapshots share the folder: a missing
            snapshot names another file of the same architecture (a renamed model's) only when
            it is none of theirs.

    Returns:
        A `CheckResult` named ``"architecture"``: passed when the snapshot matches (or was
        written with `update`); failed when it is missing or differs, with the diff lines in
        ``details["diff"]`` and in the message; error when the model is not a Keras model or
        the file is not a snapshot. ``details["snapshot_file"]`` is the path;
        ``details["snapshot_written"]`` / ``details["snapshot_updated"]`` say what `update` did.
    """
    start = time.perf_counter()
    path = Path(snapshot_file)
    model_id = model_id or path.stem
    common: dict[str, Any] = {"model": model_id}

    def finish(result: CheckResult) -> CheckResult:
        result.details.setdefault("snapshot_file", str(path))
        result.duration_s = time.perf_counter() - start
        return result

    if not _is_model(model):
        return finish(CheckResult.error(
            CHECK_NAME,
            mismatch("model to snapshot", "a keras.Model", type(model).__name__, at=f"model {model_id!r}"),
            hint="the builder must return the model, e.g. `return keras.Sequential([...])`",
            **common,
        ))
    current = architecture(model)
    try:
        stored = read_snapshot(path)
    except SpecError as exc:
        if not update:
            return finish(CheckResult.error(CHECK_NAME, str(exc), **common))
        write_snapshot(path, current, model_id)
        return finish(CheckResult.ok(
            CHECK_NAME, f"unreadable snapshot {path.name} rewritten", details={"snapshot_updated": True}, **common
        ))

    totals = current.get("totals")
    if stored is None:
        if update:
            write_snapshot(path, current, model_id)
            return finish(CheckResult.ok(
                CHECK_NAME, f"snapshot {path.name} written", received=totals,
                details={"snapshot_written": True}, **common,
            ))
        twins = _same_architecture(path, current, declared)
        renamed = ""
        if twins:
            names = ", ".join(twin.name for twin in twins[:3]) + (f" and {len(twins) - 3} more" if len(twins) > 3 else "")
            renamed = (f"; {names} in the same folder hold{'s' if len(twins) == 1 else ''} this very architecture: if "
                       f"the model was renamed, rename {'that file' if len(twins) == 1 else 'its file'} to {path.name} "
                       "to keep its history")
        return finish(CheckResult.fail(
            CHECK_NAME,
            mismatch("architecture snapshot", f"a stored snapshot {path.name}", "no snapshot file",
                     at=f"model {model_id!r}", note=f"{path} does not exist{renamed}"),
            received=totals,
            hint=f"Re-run pytest with {UPDATE_OPTION} to create it",
            details={"same_architecture": [str(twin) for twin in twins]},
            **common,
        ))

    diff = compare(stored, current)
    if diff.equal:
        # Same architecture; with `update`, still rewrite a file whose text drifted (model id).
        details = {"snapshot_updated": True} if update and write_snapshot(path, current, model_id) else {}
        return finish(CheckResult.ok(
            CHECK_NAME, f"architecture matches snapshot {path.name}", expected=totals, received=totals,
            details=details, **common,
        ))
    lines = list(diff.lines)
    if update:
        write_snapshot(path, current, model_id)
        return finish(CheckResult.ok(
            CHECK_NAME,
            f"snapshot {path.name} updated ({_changes(lines)})",
            expected=stored.get("totals"),
            received=totals,
            details={"snapshot_updated": True, "diff": lines},
            **common,
        ))
    body = "\n".join("  " + line for line in lines)
    return finish(CheckResult.fail(
        CHECK_NAME,
        mismatch("architecture", f"the one stored in {path.name}", _changes(lines), at=f"model {model_id!r}")
        + f"\n{body}",
        expected=stored.get("totals"),
        received=totals,
        details={"diff": lines},
        hint=f"If the change is intended, re-run pytest with {UPDATE_OPTION} to accept it",
        **common,
    ))


_SUMMARY_LINES = ("total params", "trainable params", "non-trainable params", "    ")


def _changes(lines: list[str]) -> str:
    """``"3 changes"``: totals and nested-model detail lines are not changes of their own."""
    count = sum(1 for line in lines if not line.startswith(_SUMMARY_LINES))
    return f"{count} change" + ("" if count == 1 else "s")
