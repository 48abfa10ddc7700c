"""The reference solution of an assignment: from ``reference = "solution.py"`` in its ``[assignment]``
table (relative to the assignment file) or from ``--reference module:builder`` / ``file.py:builder``.

No Keras import here.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any, Callable

from ..core.errors import SpecError, call_user_code
from ..core.spec import import_builder

__all__ = ["load_for_mutants", "resolve_reference"]


def load_for_mutants(path: str | Path) -> tuple[Any, str | None]:
    """The parsed assignment and its ``reference`` key (None when it has none)."""
    from ..grading.assignment import load_assignment

    assignment = load_assignment(path)
    return assignment, assignment.reference


def _import_file(path: Path, attr: str, where: str) -> Callable[..., Any]:
    if not path.is_file():
        raise SpecError(f"{where}: the reference solution {path} does not exist")
    name = "modelcheck_reference_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SpecError(f"{where}: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    call_user_code(f"importing the reference solution {path.name}", spec.loader.exec_module, module)
    builder = getattr(module, attr, None)
    if not callable(builder):
        raise SpecError(f"{where}: {path} defines no function {attr!r}")
    return builder


def resolve_reference(assignment: Any, assignment_path: str | Path, *, reference: str | None,
                      option: str | None) -> Callable[..., Any]:
    """The reference builder: `option` (``module:builder`` or ``path.py:builder``, relative to the
    current folder) wins over the assignment's `reference` file, which defines the assignment's builder."""
    where = str(assignment_path)
    if option:
        target, sep, attr = option.rpartition(":")
        if not sep or not attr:
            raise SpecError(f"--reference: expected module:builder or file.py:builder, received {option!r}")
        if target.endswith(".py") or "/" in target:
            return _import_file(Path(target).resolve(), attr, "--reference")
        return import_builder(option, base_dir=Path.cwd(), where="--reference")
    if reference is None:
        raise SpecError(f"{where}: no reference solution; add reference = \"solution.py\" to [assignment] "
                        "or pass --reference module:builder")
    return _import_file((Path(assignment_path).parent / reference).resolve(), assignment.builder, where)
