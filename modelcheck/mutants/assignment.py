"""The reference solution of an assignment: from ``reference = "solution.py"`` in its ``[assignment]``
table (relative to the assignment file) or from ``--reference module:builder`` / ``file.py:builder``;
and what grading gives every submission, so that each mutant is checked as a submission would be.

No Keras import at import time.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable

from ..core.errors import SpecError, call_user_code
from ..core.spec import import_builder
from .pool import register_file_module

__all__ = ["load_for_mutants", "resolve_reference", "graded_like_submissions", "InstructorData", "assignment_mutants"]


def load_for_mutants(path: str | Path, *, own_reference: bool = False) -> tuple[Any, str | None]:
    """The parsed assignment and its ``reference`` key (None when it has none). With `own_reference`
    (``--reference`` given) the file its ``reference`` names need not exist: it is not used."""
    from ..grading.assignment import load_assignment, parse_assignment

    if not own_reference:
        assignment = load_assignment(path)
        return assignment, assignment.reference
    path = Path(path)
    if not path.is_file():
        return load_for_mutants(path)  # which says what is wrong with the file
    assignment = parse_assignment(path.read_text(encoding="utf-8"), where=str(path), base_dir=path.parent)
    unused = Path(assignment.reference).name if assignment.reference else None
    for name, source in assignment.instructor_files().items():
        if name != unused and not source.is_file():
            raise SpecError(f"{path}: the file {name} it names does not exist beside it")
    return assignment, assignment.reference


def _on_path(*folders: Path) -> None:
    """Put `folders` first on ``sys.path`` (once each), as Python does for a script's own folder: a
    reference solution imports the course's modules beside it or beside the assignment
    (``from course_layers import Scale``), as a submission does in grading. Spawned workers inherit it."""
    for folder in reversed(folders):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


def _import_file(path: Path, attr: str, where: str, *, course: Path | None = None) -> Callable[..., Any]:
    if not path.is_file():
        raise SpecError(f"{where}: the reference solution {path} does not exist")
    _on_path(path.parent, *([course] if course is not None else []))
    name = "modelcheck_reference_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SpecError(f"{where}: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    register_file_module(name, str(path))
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
            return _import_file(Path(target).resolve(), attr, "--reference",
                                course=Path(assignment_path).resolve().parent)
        return import_builder(option, base_dir=Path.cwd(), where="--reference")
    if reference is None:
        raise SpecError(f"{where}: no reference solution; add reference = \"solution.py\" to [assignment] "
                        "or pass --reference module:builder")
    folder = Path(assignment_path).resolve().parent
    return _import_file((folder / reference).resolve(), assignment.builder, where, course=folder)


@dataclass(frozen=True)
class InstructorData:
    """The instructor's samples (or input ranges) that grading attaches to every submission, attached
    to the reference and to each mutant (plain values, so it goes to worker processes)."""

    sample: Path | None = None
    input_range: Any = None

    def __call__(self, model: Any) -> None:
        from ..grading.instructor import load_samples, samples_fit
        from ..model.inputs import set_instructor_data

        if self.sample is not None:
            x, y = load_samples(self.sample, model)
            if samples_fit(x, model):
                set_instructor_data(model, x=x, y=y)
            else:  # as grading does: output_shape reports the inputs, the rest judge on values like the samples'
                set_instructor_data(model, input_range=[[float(a.min()), float(a.max())] for a in x])
        elif self.input_range is not None:
            set_instructor_data(model, input_range=self.input_range)


def graded_like_submissions(assignment: Any, assignment_path: str | Path,
                            builder: Callable[..., Any]) -> tuple[Any, dict[str, dict[str, Any]], InstructorData]:
    """The spec, per-check overrides and instructor data that grading gives each submission
    (`modelcheck.grading.instructor.prepared_spec`), computed once from the reference `builder`:
    it fills in `[expect]`'s missing figures and is what `matches_reference` compares with."""
    import keras

    from ..grading.instructor import figures_from_reference
    from ..model.build import build_model
    from ..snapshot.serialize import architecture

    spec = assignment.spec.replace(builder=builder, builder_kwargs=dict(assignment.builder_kwargs))
    keras.utils.set_random_seed(assignment.seed)
    reference = build_model(builder, kwargs=assignment.builder_kwargs, input_shape=assignment.spec.input_shape,
                            name=f"the reference solution's {getattr(builder, '__name__', assignment.builder)}()")
    spec = spec.replace(**figures_from_reference(spec, reference))
    overrides = {"matches_reference": {"reference": architecture(reference)}}
    keras.backend.clear_session()
    folder = Path(assignment_path).parent
    sample = (folder / assignment.sample).resolve() if assignment.sample else None
    return spec, overrides, InstructorData(sample, assignment.input_range)


def assignment_mutants(assignment_path: str | Path, *, reference: str | None = None, workers: int = 1) -> Any:
    """The `MutationReport` of an assignment: its checks with its points on every mutant of its
    reference solution (`reference`: ``module:builder`` or ``file.py:builder`` instead of the
    assignment's own), each mutant checked as grading checks a submission."""
    import contextlib

    from .run import Helpers, run_mutants

    with contextlib.ExitStack() as stack:
        # started first: they import TensorFlow while this process reads the assignment and its reference
        helpers = stack.enter_context(Helpers(workers - 1)) if workers > 1 else None
        assignment, key = load_for_mutants(assignment_path, own_reference=bool(reference))
        builder = resolve_reference(assignment, assignment_path, reference=key, option=reference)
        spec, overrides, data = graded_like_submissions(assignment, assignment_path, builder)
        return run_mutants(spec, points=assignment.points, seed=assignment.seed, workers=workers,
                           overrides=overrides, prepare=data, helpers=helpers)
