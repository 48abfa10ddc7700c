"""What a model is expected to be.

A `ModelSpec` is the one description of expectations that every source produces: reference
models, `modelcheck.toml` / ``[tool.modelcheck]`` spec files, the ``@modelcheck.expect``
decorator, grading assignments and snapshots. Shapes in a spec are *per sample* (no batch
dimension), as in a TOML file; the checks receive them with the batch dimension ``None`` added.

This module does not import Keras.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, Union

from .errors import SpecError
from .messages import AUDIENCES, CONFIGURER

__all__ = [
    "ModelSpec",
    "OUTPUT_KINDS",
    "Shape",
    "spec_from_mapping",
    "normalise_shapes",
    "import_builder",
    "with_batch",
    "unknown_check",
]

# "classes": a classifier's scores in either form a student may hand in, softmax probabilities or
# logits for a loss with from_logits=True (sigmoid: binary or several labels); each model's own form is
# read from its output layer (`modelcheck.model.outputs.output_kinds`), and loss_matches_output
# judges whether its loss reads that form.
OUTPUT_KINDS = ("probabilities", "binary", "logits", "regression", "classes")

Shape = tuple[Union[int, None], ...]
ShapeSpec = Union[Shape, list[Shape], dict[str, Shape]]


def _is_shape(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 0) for v in value
    )


def normalise_shapes(value: Any, key: str, where: str) -> ShapeSpec | None:
    """Accept a shape, a list of shapes or a dict name -> shape (as TOML or JSON give them); return
    tuples. A `SpecError` names `key` and `where` when `value` is none of them."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        out: dict[str, Shape] = {}
        for name, shape in value.items():
            if not _is_shape(shape):
                raise SpecError(f"{where}: `{key}.{name}` must be a list of sizes, received {shape!r}")
            out[str(name)] = tuple(shape)
        return out
    if _is_shape(value):
        return tuple(value)
    if isinstance(value, (list, tuple)) and value and all(_is_shape(s) for s in value):
        return [tuple(s) for s in value]
    raise SpecError(
        f"{where}: `{key}` must be a list of sizes such as [28, 28] (or a list of such lists "
        f"for several inputs/outputs), received {value!r}"
    )


def with_batch(shapes: ShapeSpec | None) -> Any:
    """Add the batch dimension ``None`` in front of per-sample shape(s)."""
    if shapes is None:
        return None
    if isinstance(shapes, dict):
        return {k: (None, *v) for k, v in shapes.items()}
    if isinstance(shapes, list):
        return [(None, *s) for s in shapes]
    return (None, *shapes)


@dataclass
class ModelSpec:
    """The expectations for one model.

    Attributes:
        id: short identifier, used in test ids and reports.
        builder: a callable returning a fresh ``keras.Model`` (or a ``"pkg.mod:func"`` string,
            resolved by `import_builder`).
        builder_kwargs: keyword arguments for the builder.
        source: where the model comes from (document and section, or spec file).
        input_shape: per-sample input shape(s); needed to build subclassed models.
        output_shape: per-sample output shape(s): a shape, a list (several outputs) or a dict
            by output name. ``None`` inside a shape is a wildcard.
        layer_output_shapes: per-sample output shape per layer, by layer name or position.
        total_params / trainable_params / non_trainable_params: expected counts.
        layer_params: expected parameter count per layer: a dict by layer name, or a list in
            the order of ``model.layers`` (input layers excluded).
        output: kind of output, one of `OUTPUT_KINDS` (or one per output).
        checks: the checks to run; ``None`` means every check that applies.
        options: keyword options per check, e.g. ``{"overfit_batch": {"max_steps": 300}}``.
        reasons: why a check is (or is not) applied, shown in reports.
        max_params: a parameter budget judged before weights are allocated.
        sequence_length: the length synthetic inputs get where the input shape says ``None``
            (default: long enough for the model's convolutions and poolings, at least 8).
        known_fault: for a model kept as a document printed it, the erratum in one sentence;
            checks are expected to fail on it.
        model_timeout: the seconds all of the model's checks may take together; a check that
            would overrun it is skipped with its estimate (``--modelcheck-model-timeout`` wins).
        jit_compile: compile the training checks' step loop with XLA (default off: on CPU its
            compile time exceeds what it saves on every model of the benchmark).
        audience: who reads the checks' hints (`modelcheck.core.messages.AUDIENCES`): ``"configurer"``
            (the default: whoever writes the spec, told which setting to change) or ``"student"``
            (grading: told what to change in the model; no spec file sets it).
        extra: anything else a source wants to carry (kept, not interpreted).
    """

    id: str
    builder: Callable[..., Any] | str | None = None
    builder_kwargs: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    input_shape: ShapeSpec | None = None
    output_shape: ShapeSpec | None = None
    layer_output_shapes: dict[str, Shape] | list[Shape] | None = None
    total_params: int | None = None
    trainable_params: int | None = None
    non_trainable_params: int | None = None
    layer_params: dict[str, int] | list[int] | None = None
    output: str | list[str] | dict[str, str] | None = None
    checks: tuple[str, ...] | None = None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    max_params: int | None = None
    sequence_length: int | None = None
    known_fault: str | None = None
    model_timeout: float | None = None
    jit_compile: bool | None = None
    audience: str = CONFIGURER
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"spec {self.id!r}"
        if not isinstance(self.id, str) or not self.id:
            raise SpecError(f"a spec needs a non-empty string id, received {self.id!r}")
        self.input_shape = normalise_shapes(self.input_shape, "input_shape", where)
        self.output_shape = normalise_shapes(self.output_shape, "output_shape", where)
        kinds = self.output if isinstance(self.output, (list, tuple)) else (
            list(self.output.values()) if isinstance(self.output, dict) else [self.output]
        )
        for kind in kinds:
            if kind is not None and kind not in OUTPUT_KINDS:
                raise SpecError(f"{where}: `output` must be one of {', '.join(OUTPUT_KINDS)}; received {kind!r}")
        for key in ("total_params", "trainable_params", "non_trainable_params", "max_params", "sequence_length"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise SpecError(f"{where}: `{key}` must be a whole number >= 0, received {value!r}")
        if self.model_timeout is not None and (isinstance(self.model_timeout, bool)
                                               or not isinstance(self.model_timeout, (int, float))
                                               or not self.model_timeout > 0):
            raise SpecError(f"{where}: `model_timeout` must be a number of seconds > 0, received {self.model_timeout!r}")
        if self.jit_compile is not None and not isinstance(self.jit_compile, bool):
            raise SpecError(f"{where}: `jit_compile` must be true or false, received {self.jit_compile!r}")
        if self.audience not in AUDIENCES:
            raise SpecError(f"{where}: `audience` must be one of {', '.join(AUDIENCES)}; received {self.audience!r}")
        if self.checks is not None:
            self.checks = tuple(self.checks)

    def options_for(self, check: str) -> dict[str, Any]:
        """The keyword options the spec gives for `check` (a copy)."""
        return dict(self.options.get(check, {}))

    def wants(self, check: str) -> bool:
        """True when `check` is selected explicitly, or no explicit list was given."""
        return self.checks is None or check in self.checks

    def replace(self, **changes: Any) -> "ModelSpec":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def resolved_builder(self, base_dir: Path | None = None) -> Callable[..., Any]:
        """The builder as a callable (importing ``"pkg.mod:func"`` strings)."""
        if self.builder is None:
            raise SpecError(f"spec {self.id!r} has no builder")
        if callable(self.builder):
            return self.builder
        return import_builder(str(self.builder), base_dir=base_dir, where=f"spec {self.id!r}")


def import_builder(target: str, *, base_dir: Path | None = None, where: str = "spec") -> Callable[..., Any]:
    """Import ``"package.module:function"``, with `base_dir` first on ``sys.path``.

    A target that cannot be imported is a `SpecError` naming it; an exception raised *while
    importing the user's module* is their error and propagates as a `UserCodeError`.
    """
    from .errors import UserCodeError, call_user_code

    if ":" not in target:
        raise SpecError(f"{where}: builder must look like \"package.module:function\", received {target!r}")
    module_name, _, attr = target.partition(":")
    if base_dir is not None and str(base_dir) not in sys.path:
        sys.path.insert(0, str(base_dir))
    try:
        module = call_user_code(f"importing {module_name}", importlib.import_module, module_name)
    except UserCodeError as exc:
        missing = exc.original
        if isinstance(missing, ModuleNotFoundError) and missing.name and (
            module_name == missing.name or module_name.startswith(missing.name + ".")
        ):
            raise SpecError(
                f"{where}: cannot import module {module_name!r} for builder {target!r}"
                + (f" (looked in {base_dir}); check the module path, relative to that folder" if base_dir
                   else "; check the module path")
            ) from None
        raise
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SpecError(f"{where}: module {module_name!r} has no attribute {part!r} (builder {target!r})")
        obj = getattr(obj, part)
    if not callable(obj):
        raise SpecError(f"{where}: builder {target!r} is not callable")
    return obj


# Keys a spec mapping (TOML table) may hold, and the Python type each takes.
_MAPPING_KEYS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "builder": (str,),
    "builder_kwargs": (dict,),
    "kwargs": (dict,),
    "source": (str,),
    "input_shape": (list, dict),
    "output_shape": (list, dict),
    "layer_output_shapes": (dict, list),
    "total_params": (int,),
    "trainable_params": (int,),
    "non_trainable_params": (int,),
    "layer_params": (dict, list),
    "output": (str, list, dict),
    "checks": (list,),
    "options": (dict,),
    "max_params": (int,),
    "sequence_length": (int,),
    "model_timeout": (int, float),
    "jit_compile": (bool,),
    "hypothesis": (dict,),
}


def unknown_check(name: Any, known: Sequence[str], where: str = "") -> str:
    """The sentence for a check name that is not one of `known`, with the nearest known name:
    "unknown check 'gradient_flows' in `checks`; did you mean 'gradient_flow'? known checks are ..."."""
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return (f"unknown check {name!r}{' in ' + where if where else ''}; "
            f"{f'did you mean {close[0]!r}? ' if close else ''}known checks are {', '.join(known)}")


def spec_from_mapping(
    data: Mapping[str, Any],
    *,
    where: str,
    known_checks: Sequence[str] | None = None,
    extra_keys: Mapping[str, tuple[type, ...]] | None = None,
) -> ModelSpec:
    """Build a spec from a TOML-style table, rejecting unknown keys and wrong types.

    `where` names the file (and table) for error messages. Keys in `extra_keys` are accepted
    and kept in ``spec.extra``.
    """
    allowed = dict(_MAPPING_KEYS)
    allowed.update(extra_keys or {})
    for key, value in data.items():
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            suggestion = f"did you mean {close[0]!r}? " if close else ""
            raise SpecError(
                f"{where}: unknown key {key!r} (value {value!r}); {suggestion}"
                f"allowed keys are {', '.join(sorted(allowed))}"
            )
        types = allowed[key]
        if isinstance(value, bool) and bool not in types or not isinstance(value, types):
            names = " or ".join(t.__name__ for t in types)
            raise SpecError(f"{where}: `{key}` must be a {names}, received {value!r} ({type(value).__name__})")
    if "builder" not in data:
        raise SpecError(f"{where}: missing `builder = \"package.module:function\"`")
    checks = data.get("checks")
    if checks is not None and known_checks is not None:
        for name in checks:
            if name not in known_checks:
                raise SpecError(f"{where}: {unknown_check(name, known_checks, '`checks`')}")
    options = data.get("options", {})
    for name, value in options.items():
        if known_checks is not None and name not in known_checks:
            raise SpecError(f"{where}: `options.{name}` names no check; known checks are {', '.join(known_checks)}")
        if not isinstance(value, dict):
            raise SpecError(f"{where}: `options.{name}` must be a table of keyword options, received {value!r}")
    builder = data["builder"]
    fields = {
        "id": data.get("id") or builder.rpartition(":")[2],
        "builder": builder,
        "builder_kwargs": dict(data.get("builder_kwargs", data.get("kwargs", {}))),
        "source": data.get("source", where),
        "checks": tuple(checks) if checks is not None else None,
        "options": {k: dict(v) for k, v in options.items()},
        "extra": {k: data[k] for k in data if k in (extra_keys or {}) or k == "hypothesis"},
    }
    for key in (
        "input_shape", "output_shape", "layer_output_shapes", "total_params", "trainable_params",
        "non_trainable_params", "layer_params", "output", "max_params", "sequence_length", "model_timeout",
        "jit_compile",
    ):
        if key in data:
            fields[key] = data[key]
    if isinstance(fields.get("layer_output_shapes"), dict):
        fields["layer_output_shapes"] = {k: tuple(v) for k, v in fields["layer_output_shapes"].items()}
    try:
        return ModelSpec(**fields)
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None
