"""Assignment files: what every submission must build, what each check is worth, the limits.

    [assignment]
    name = "fashion_mlp"
    builder = "build_model"          # the function every submission defines

    [expect]                         # the model's expectations (a modelcheck spec)
    input_shape = [28, 28]
    output_shape = [10]
    total_params = 266610
    output = "probabilities"

    [points]                         # which checks run, in this order, and their worth
    output_shape = 1
    param_count = 2

    [visibility]                     # Gradescope visibility per check (default "visible")
    param_count = "after_published"

    [options.learns_linear]          # keyword options of one check
    slope = 2.0

    [limits]
    timeout_s = 120                  # per phase of a submission (build, check)
    memory_mb = 4096                 # every process of the job, its tmpfs and shared memory
    max_processes = 512              # tasks: processes and threads
    disk_mb = 512                    # the job's tmpfs, its only writable folder

    [data]                           # instructor samples every check that runs the model uses
    sample = "sample.npz"            # arrays x and y, or one per input/output name

Beside `[assignment]`'s name and builder: ``reference = "solution.py"`` (the instructor's own
builder, trusted: `matches_reference` compares with it and it fills in `[expect]`'s missing
shapes and counts) and ``custom_objects = ["course_layers:Attention"]`` (classes the clean
check process may import to load models). Files are named relative to the assignment file.

Secrets: the build job (the student's code) receives only `build_params()`; `[expect]` (but
its input shape, which any assignment states), `[points]`, the reference and the samples reach
only the clean check job, through the files `write_instructor_files` puts in its folder.

Unknown keys and wrong types are `SpecError`s naming the key. No Keras import here.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..core.errors import SpecError
from ..core.registry import CHECK_NAMES
from ..core.spec import ModelSpec, unknown_check
from .sandbox import Limits

__all__ = ["Assignment", "load_assignment", "parse_assignment", "VISIBILITIES", "ASSIGNMENT_FILE"]

ASSIGNMENT_FILE = "assignment.toml"  # the name the check job reads the assignment under

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")

_INT = (int,)
_NUMBER = (int, float)
_TABLES: dict[str, dict[str, tuple[type, ...]]] = {
    "assignment": {"name": (str,), "builder": (str,), "builder_kwargs": (dict,), "seed": _INT,
                   "description": (str,), "trust_submission_measurements": (bool,), "reference": (str,),
                   "custom_objects": (list,)},
    "expect": {"input_shape": (list, dict), "output_shape": (list, dict), "layer_output_shapes": (dict, list),
               "total_params": _INT, "trainable_params": _INT, "non_trainable_params": _INT,
               "layer_params": (dict, list), "output": (str, list, dict), "max_params": _INT,
               "input_range": (list, dict)},
    "data": {"sample": (str,)},
    "limits": {"timeout_s": _NUMBER, "memory_mb": _INT, "output_kb": _INT, "file_mb": _INT,
               "max_processes": _INT, "disk_mb": _INT},
}


@dataclass(frozen=True)
class Assignment:
    """A parsed assignment file.

    Attributes:
        name: the assignment's name (the spec id).
        builder: the function name every submission must define.
        spec: the expectations, as the one `ModelSpec` the checks take (its builder is
            filled in per submission).
        points: check name -> points, in the order the checks run.
        visibility: check name -> Gradescope visibility.
        limits: time, memory and output limits per phase of a submission.
        seed: the seed of every check.
        trust_submission_measurements: count verdicts measured inside the submission's own
            process (models that cannot be loaded safely); off by default, as such verdicts
            cannot be verified.
        text: the file's text (only the clean check job reads it, from its own folder).
        reference: the reference solution's file (relative to `base_dir`), or None.
        custom_objects: ``"module:Class"`` entries the check job may import to load models.
        sample: the instructor's sample file (``.npz``), or None.
        input_range: bounds of synthetic float inputs (``[low, high]``, per input as a list
            or a dict by input name), or None.
        base_dir: the assignment file's folder (None for text parsed without a file).
    """

    name: str
    builder: str
    spec: ModelSpec
    points: dict[str, float]
    visibility: dict[str, str]
    limits: Limits
    seed: int = 0
    builder_kwargs: dict[str, Any] = field(default_factory=dict)
    trust_submission_measurements: bool = False
    description: str = ""
    text: str = ""
    where: str = "assignment"
    reference: str | None = None
    custom_objects: tuple[str, ...] = ()
    sample: str | None = None
    input_range: Any = None
    base_dir: Path | None = None

    @property
    def checks(self) -> list[str]:
        return list(self.points)

    @property
    def max_score(self) -> float:
        return float(sum(self.points.values()))

    def build_params(self) -> dict[str, Any]:
        """All that the build job (the student's code) receives: the builder's name and keyword
        arguments, the seed, the course's `custom_objects` (its own modules, not secret) and the
        input shape, which builds a model written without ``keras.Input`` (Keras' own guides write
        ``Sequential([Dense(...), ...])``). Never the rest of `[expect]`, `[points]`, the reference or
        the samples; with ``trust_submission_measurements`` also the assignment's text, as the build
        job then measures models the clean process cannot load."""
        params: dict[str, Any] = {"builder": self.builder, "builder_kwargs": self.builder_kwargs, "seed": self.seed,
                                  "custom_objects": list(self.custom_objects)}
        if self.spec.input_shape is not None:
            params["input_shape"] = self.spec.input_shape
        if self.trust_submission_measurements:
            params.update(assignment=self.text, where=self.where)
        return params

    def instructor_files(self) -> dict[str, Path]:
        """The files the clean check job needs beside the assignment: name -> source path."""
        if self.base_dir is None:
            return {}
        own = {Path(name).name: self.base_dir / name for name in (self.reference, self.sample) if name}
        return {**own, **self.course_files()}

    def course_files(self) -> dict[str, Path]:
        """The course's own modules (those ``custom_objects`` names): name -> source path. Not
        secret: the build job gets them too, so a submission can import the course's layers."""
        if self.base_dir is None:
            return {}
        names = dict.fromkeys(_module_file(entry) for entry in self.custom_objects)
        return {Path(name).name: self.base_dir / name for name in names}

    def write_instructor_files(self, folder: Path) -> Path:
        """Write the assignment and its instructor files into ``folder/instructor`` (the clean
        check job's own folder); return that folder."""
        target = folder / "instructor"
        target.mkdir(exist_ok=True)
        (target / ASSIGNMENT_FILE).write_text(self.text, encoding="utf-8")
        for name, source in self.instructor_files().items():
            (target / name).write_bytes(source.read_bytes())
        return target


def _type_name(types: tuple[type, ...]) -> str:
    names = {int: "whole number", float: "number", str: "string", bool: "true/false",
             list: "list", dict: "table"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _checked(table: Mapping[str, Any], allowed: Mapping[str, tuple[type, ...]], where: str) -> dict[str, Any]:
    for key, value in table.items():
        if key not in allowed:
            raise SpecError(f"{where}: unknown key `{key}`; allowed keys are {', '.join(sorted(allowed))}")
        types = allowed[key]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            raise SpecError(f"{where}: `{key}` must be a {_type_name(types)}, received {value!r}")
    return dict(table)


def _module_file(entry: str) -> str:
    """``"course_layers:Attention"`` -> ``"course_layers.py"``."""
    return entry.partition(":")[0] + ".py"


def _valid_range(value: Any, where: str) -> None:
    pairs = value.values() if isinstance(value, dict) else (
        value if value and isinstance(value[0], list) else [value])
    for pair in pairs:
        if (not isinstance(pair, list) or len(pair) != 2 or
                not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in pair) or pair[0] >= pair[1]):
            raise SpecError(f"{where} [expect]: `input_range` must be [low, high] with low < high (or one such pair "
                            f"per input), received {value!r}")


def _known_check(name: str, key: str) -> None:
    if name not in CHECK_NAMES:
        raise SpecError(f"{key}: {unknown_check(name, CHECK_NAMES)}")


def _table(data: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise SpecError(f"{where}: `{name}` must be a table ([{name}]), received {value!r}")
    return value


def parse_assignment(text: str, *, where: str = "assignment", base_dir: Path | None = None) -> Assignment:
    """Parse an assignment file's text; `where` names it in error messages; `base_dir` is the
    folder its instructor files (reference, samples, custom objects) are read from."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{where}: not valid TOML: {exc}") from None
    sections = ("assignment", "expect", "points", "visibility", "options", "limits", "data")
    for key in data:
        if key not in sections:
            raise SpecError(f"{where}: unknown section `[{key}]`; allowed sections are "
                            f"{', '.join(f'[{s}]' for s in sections)}")
    head = _checked(_table(data, "assignment", where), _TABLES["assignment"], f"{where} [assignment]")
    for key in ("name", "builder"):
        if key not in head:
            raise SpecError(f"{where} [assignment]: missing `{key}`")
    if not head["builder"].isidentifier():
        raise SpecError(f"{where} [assignment]: `builder` must be a function name such as "
                        f"\"build_model\", received {head['builder']!r}")
    expect = _checked(_table(data, "expect", where), _TABLES["expect"], f"{where} [expect]")
    input_range = expect.pop("input_range", None)
    if input_range is not None:
        _valid_range(input_range, where)
    instructor_data = _checked(_table(data, "data", where), _TABLES["data"], f"{where} [data]")
    custom_objects = head.get("custom_objects", [])
    for entry in custom_objects:
        if not isinstance(entry, str) or entry.count(":") != 1 or not all(
                part.isidentifier() for part in entry.split(":")):
            raise SpecError(f"{where} [assignment]: `custom_objects` entries look like \"module:Class\", the "
                            f"module a file beside the assignment (\"course_layers:Attention\" for "
                            f"course_layers.py), received {entry!r}")
    reference = head.get("reference")
    if reference is not None and not reference.endswith(".py"):
        raise SpecError(f"{where} [assignment]: `reference` is the Python file of your own {head.get('builder', 'builder')}"
                        f"() (\"solution.py\"), received {reference!r}; a notebook: save it as a .py script "
                        "(Jupyter: File > Download as > Python)")
    points: dict[str, float] = {}
    if "matches_reference" in _table(data, "points", where) and "reference" not in head:
        raise SpecError(f"{where}: `matches_reference` needs a reference solution: add "
                        f"`reference = \"solution.py\"` to [assignment]")
    for check, value in _table(data, "points", where).items():
        _known_check(check, f"{where} [points]")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise SpecError(f"{where} [points]: `{check}` must be a number >= 0, received {value!r}")
        points[check] = float(value)
    if not points:
        raise SpecError(f"{where}: `[points]` lists no check; add e.g. `output_shape = 1`")
    visibility: dict[str, str] = {}
    for check, value in _table(data, "visibility", where).items():
        if check not in points:
            raise SpecError(f"{where} [visibility]: `{check}` is not a check listed in [points]")
        if value not in VISIBILITIES:
            raise SpecError(f"{where} [visibility]: `{check}` must be one of {', '.join(VISIBILITIES)}, "
                            f"received {value!r}")
        visibility[check] = value
    options: dict[str, dict[str, Any]] = {}
    for check, value in _table(data, "options", where).items():
        _known_check(check, f"{where} [options]")
        if not isinstance(value, dict):
            raise SpecError(f"{where} [options]: `{check}` must be a table ([options.{check}]), received {value!r}")
        options[check] = dict(value)
    limits_table = _checked(_table(data, "limits", where), _TABLES["limits"], f"{where} [limits]")
    for key, value in limits_table.items():
        if value <= 0:
            raise SpecError(f"{where} [limits]: `{key}` must be > 0, received {value!r}")
    limits = Limits(**{k: (float(v) if k == "timeout_s" else v) for k, v in limits_table.items()})
    if isinstance(expect.get("layer_output_shapes"), dict):
        expect["layer_output_shapes"] = {k: tuple(v) for k, v in expect["layer_output_shapes"].items()}
    spec = ModelSpec(id=head["name"], source=where, checks=tuple(points), options=options,
                     builder_kwargs=dict(head.get("builder_kwargs", {})), **expect)
    return Assignment(
        name=head["name"], builder=head["builder"], spec=spec, points=points,
        visibility={c: visibility.get(c, "visible") for c in points}, limits=limits,
        seed=head.get("seed", 0), builder_kwargs=dict(head.get("builder_kwargs", {})),
        trust_submission_measurements=head.get("trust_submission_measurements", False),
        description=head.get("description", ""), text=text, where=where, reference=head.get("reference"),
        custom_objects=tuple(custom_objects), sample=instructor_data.get("sample"), input_range=input_range,
        base_dir=base_dir,
    )


def load_assignment(path: str | Path) -> Assignment:
    """Read and parse an assignment file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read the assignment file {path}: {exc.strerror}") from None
    assignment = parse_assignment(text, where=str(path), base_dir=path.parent)
    for name, source in assignment.instructor_files().items():
        if not source.is_file():
            raise SpecError(f"{path}: the file {source.name} it names ({name}) does not exist beside it")
    return assignment
