"""``@modelcheck.expect(...)``: declare a builder's expectations next to its code.

    import modelcheck

    @modelcheck.expect(input_shape=(None, 784), output_shape=(None, 10), total_params=266_610,
                       output="probabilities")
    def build_classifier():
        ...

The decorator returns the function unchanged, with a `ModelSpec` attached; ``pytest
--modelcheck`` collects such builders from the Python modules it collects (``test_*.py`` and
``modelcheck_*.py``). Shapes are written the way Keras prints them, with the batch dimension
``None`` first; the spec stores them per sample.

This module does not import Keras.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence, TypeVar

from ...core.errors import SpecError
from ...core.registry import CHECK_NAMES
from ...core.spec import ModelSpec, unknown_check

__all__ = ["expect", "spec_of", "SPEC_ATTRIBUTE"]

SPEC_ATTRIBUTE = "__modelcheck_spec__"

F = TypeVar("F", bound=Callable[..., Any])


def _per_sample(value: Any, key: str, where: str) -> Any:
    """Drop the leading batch ``None`` from a shape, a list of shapes or a dict of shapes."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {name: _per_sample(shape, f"{key}[{name!r}]", where) for name, shape in value.items()}
    if isinstance(value, (list, tuple)) and value and all(isinstance(s, (list, tuple)) for s in value):
        return [_per_sample(shape, f"{key}[{i}]", where) for i, shape in enumerate(value)]
    if isinstance(value, (list, tuple)) and len(value) >= 1 and value[0] is None:
        return tuple(value[1:])
    raise SpecError(
        f"{where}: `{key}` takes a shape as Keras prints it, with the batch dimension None "
        f"first, e.g. {key}=(None, 10); received {key}={value!r}"
    )


def expect(
    *,
    id: str | None = None,
    input_shape: Any = None,
    output_shape: Any = None,
    layer_output_shapes: Mapping[str, Sequence[int | None]] | Sequence[Sequence[int | None]] | None = None,
    total_params: int | None = None,
    trainable_params: int | None = None,
    non_trainable_params: int | None = None,
    layer_params: Mapping[str, int] | Sequence[int] | None = None,
    output: str | Sequence[str] | Mapping[str, str] | None = None,
    checks: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    max_params: int | None = None,
    builder_kwargs: Mapping[str, Any] | None = None,
) -> Callable[[F], F]:
    """Attach the expectations of a builder function; the function itself is unchanged.

    Every argument is keyword-only and optional; only what you give is checked.

    Examples:
        ``@expect(output_shape=(None, 10), total_params=266_610)``: one output of 10 values.
        ``@expect(output_shape=[(None, 1), (None, 5)])``: two outputs.
        ``@expect(checks=["output_shape", "param_count"])``: only these checks.
        ``@expect(options={"overfit_batch": {"max_steps": 200}})``: options for one check.

    Args:
        id: name of the model in test ids and reports; defaults to the function's name.
        input_shape / output_shape / layer_output_shapes: shapes with the batch dimension
            ``None`` first, as Keras prints them.
        total_params / trainable_params / non_trainable_params: expected parameter counts.
        layer_params: expected parameter count per layer (by name, or in layer order).
        output: ``"probabilities"``, ``"binary"``, ``"logits"``, ``"regression"`` or ``"classes"``
            (probabilities or logits, whichever the model gives).
        checks: the checks to run (default: every check that applies).
        options: keyword options per check.
        max_params: a parameter budget, judged before any weight is allocated.
        builder_kwargs: keyword arguments passed to the builder.
    """
    if checks is not None:
        if isinstance(checks, str):
            raise SpecError(f"@expect: `checks` takes a list of names, received checks={checks!r}; "
                            f"write checks=[{checks!r}]")
        for name in checks:
            if name not in CHECK_NAMES:
                raise SpecError(f"@expect: {unknown_check(name, CHECK_NAMES, '`checks`')}")
    for name in options or {}:
        if name not in CHECK_NAMES:
            raise SpecError(f"@expect: `options` names no check {name!r}; "
                            f"known checks are {', '.join(CHECK_NAMES)}")

    def decorate(fn: F) -> F:
        if not callable(fn):
            raise SpecError(f"@expect decorates a builder function, received {fn!r}")
        where = f"@expect on {getattr(fn, '__qualname__', fn)!r}"
        layer_shapes: Any = layer_output_shapes
        if isinstance(layer_shapes, Mapping):
            layer_shapes = {k: _per_sample(v, f"layer_output_shapes[{k!r}]", where)
                            for k, v in layer_shapes.items()}
        elif layer_shapes is not None:
            layer_shapes = [_per_sample(v, f"layer_output_shapes[{i}]", where)
                            for i, v in enumerate(layer_shapes)]
        spec = ModelSpec(
            id=id or fn.__name__,
            builder=fn,
            builder_kwargs=dict(builder_kwargs or {}),
            source=f"{fn.__module__}:{fn.__qualname__}",
            input_shape=_per_sample(input_shape, "input_shape", where),
            output_shape=_per_sample(output_shape, "output_shape", where),
            layer_output_shapes=layer_shapes,
            total_params=total_params,
            trainable_params=trainable_params,
            non_trainable_params=non_trainable_params,
            layer_params=dict(layer_params) if isinstance(layer_params, Mapping) else (
                list(layer_params) if layer_params is not None else None),
            output=list(output) if isinstance(output, (list, tuple)) else output,
            checks=tuple(checks) if checks is not None else None,
            options={k: dict(v) for k, v in (options or {}).items()},
            max_params=max_params,
        )
        setattr(fn, SPEC_ATTRIBUTE, spec)
        return fn

    return decorate


def spec_of(obj: object) -> ModelSpec | None:
    """The spec attached by `expect`, or None for anything else."""
    spec = getattr(obj, SPEC_ATTRIBUTE, None) if callable(obj) else None
    return spec if isinstance(spec, ModelSpec) else None
