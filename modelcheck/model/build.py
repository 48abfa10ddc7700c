"""Build models from users' builders (their errors become `UserCodeError`), and count
parameters before any weight is allocated."""

from __future__ import annotations

import inspect
from typing import Any, Callable
from unittest import mock

import keras
import numpy as np

from ..core.errors import UserCodeError, call_user_code
from ..core.messages import for_audience
from .counting import param_counts
from .graph import has_symbolic_inputs, layers_of
from .inputs import DEFAULT_SEQUENCE_LENGTH
from .loops import current

__all__ = ["build_model", "count_params_unallocated"]

def _is_model(obj: Any) -> bool:
    return isinstance(obj, keras.Model)


def _describe(obj: Any) -> str:
    if obj is None:
        return "None"
    return f"a {type(obj).__module__}.{type(obj).__qualname__}"


def build_model(
    builder: Callable[..., Any] | keras.Model,
    *,
    kwargs: dict[str, Any] | None = None,
    input_shape: Any = None,
    name: str = "the builder",
) -> keras.Model:
    """Call `builder(**kwargs)` and return a built ``keras.Model``.

    A model instance is returned as it is (built if needed). Errors in the user's code and
    results that are not usable models raise `UserCodeError` with a hint, worded for the run
    context's audience (grading's build job builds for a student, who sets no builder_kwargs nor
    input_shape). `input_shape` (per sample; a list for several inputs) builds subclassed models
    that were never called.
    """
    if _is_model(builder):
        model = builder
    else:
        if not callable(builder):
            raise UserCodeError(f"{name} is {_describe(builder)}, not a function that returns a keras.Model")
        _require_bindable(builder, kwargs or {}, name)
        model = call_user_code(f"{name}", builder, **(kwargs or {}))
    if not _is_model(model):
        hint = "end the function with `return model`." if model is None else (
            "return the keras.Model itself (not a layer, a list or a history)."
        )
        raise UserCodeError(f"{name} returned {_describe(model)}; expected a keras.Model", hint=hint)
    _ensure_built(model, input_shape, name)
    return model


def _require_bindable(builder: Callable[..., Any], kwargs: dict[str, Any], name: str) -> None:
    """Raise `UserCodeError` with the fix when `builder` cannot be called with `kwargs` (a
    parameter without a default that nothing gives, an argument it does not take): Python's
    TypeError alone does not say where the arguments come from."""
    try:
        signature = inspect.signature(builder)
    except (TypeError, ValueError):  # a builtin or C callable: Python's own error will do
        return
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        arguments = ", ".join(f"{key}={value!r}" for key, value in kwargs.items())
        function = name.removesuffix("()")  # the grader names the builder "build_model()"
        raise UserCodeError(
            f"{name} cannot be called with {arguments or 'no arguments'}: {exc}",
            hint=for_audience(
                current().audience,
                configurer="give the builder's parameters default values, or pass them as builder_kwargs "
                "(a spec file's `builder_kwargs = { units = 64 }`, @modelcheck.expect(builder_kwargs={...}))",
                student=f"the grader calls {function}({arguments}): take exactly these arguments, and give every "
                "other parameter a default value" if kwargs else f"the grader calls {function}() with no arguments: "
                f"give every parameter a default value (def {function}(input_shape=(...), ...):)"),
        ) from None


def _ensure_built(model: keras.Model, input_shape: Any, name: str) -> None:
    if has_symbolic_inputs(model):
        return
    if model.built and model.get_build_config():
        _create_weights(model, name)
        return
    if input_shape is None:
        raise UserCodeError(
            f"the model from {name} has no input shape, so its weights do not exist yet",
            hint="start the model with `keras.Input(shape=(...))` (Sequential: as the first item), " + for_audience(
                current().audience, configurer="or give `input_shape` in the spec so modelcheck can build it.",
                student="or call `model.build((None, ...))` before returning it: the assignment gives the grader "
                "no input shape to build it on"),
        )
    call_user_code(f"building the model from {name} on inputs of shape {input_shape}", model,
                   _zeros_for(input_shape))


def _create_weights(model: keras.Model, name: str) -> None:
    """Run a subclassed model that ``model.build(shape)`` marked built once on zeros of that shape,
    when its layers hold no weights yet: Keras' build() of a model without its own build method
    creates none (its summary shows "0 (unbuilt)" until fit() calls it), and an instructor's
    reference built so counted 0 parameters. A layer its call() never runs stays unbuilt (the
    parameter checks name it); a call that fails is left to the checks, which run the model."""
    if not any(not layer.built for layer in layers_of(model)):
        return
    shape = model.get_build_config().get("input_shape")
    try:
        per_sample = ({key: tuple(value)[1:] for key, value in shape.items()} if isinstance(shape, dict)
                      else [tuple(s)[1:] for s in shape] if shape and isinstance(shape[0], (list, tuple))
                      else tuple(shape)[1:])
        call_user_code(f"building the weights of the model from {name}", model, _zeros_for(per_sample))
    except (UserCodeError, TypeError, ValueError, IndexError):
        pass


def _zeros_for(input_shape: Any) -> Any:
    """A batch of 2 zeros per input for per-sample `input_shape`: one array, a tuple of arrays
    (a list of shapes) or a dict of arrays by input name (a dict of shapes)."""
    def zeros(shape: Any) -> np.ndarray:
        return np.zeros((2, *[DEFAULT_SEQUENCE_LENGTH if d is None else d for d in shape]), "float32")

    if isinstance(input_shape, dict):
        return {key: zeros(shape) for key, shape in input_shape.items()}
    if isinstance(input_shape, list):
        return zeros(input_shape[0]) if len(input_shape) == 1 else tuple(zeros(s) for s in input_shape)
    return zeros(input_shape)


def _not_compiled(model: keras.Model, *args: Any, **kwargs: Any) -> None:
    """compile() while parameters are counted unallocated: nothing to do."""


def count_params_unallocated(builder: Callable[..., Any], **kwargs: Any) -> dict[str, Any]:
    """Build `builder(**kwargs)` without allocating weights and return its parameter counts.

    Inside ``keras.StatelessScope`` Keras defers variable initialisation, so a
    14-million-parameter model costs its layer objects only. Call
    ``keras.backend.clear_session()`` afterwards to drop the deferred variables. Returns ``{"total", "trainable",
    "non_trainable", "layers": {name: count}}``. The builder's ``model.compile(...)`` is skipped: it holds
    no parameter, and the variables of its optimizer start from values, which the scope refuses; an
    optimizer the builder makes itself (``Adam(1e-3)``) still raises `UserCodeError` here.
    """
    # initialize_variables=False: by default the scope allocates every deferred variable on exit.
    # The deferred variables stay registered in Keras' global state until clear_session().
    with keras.StatelessScope(initialize_variables=False), mock.patch.object(keras.Model, "compile", _not_compiled):
        model = build_model(builder, kwargs=kwargs)
        counted: dict[str, Any] = param_counts(model)
        counted["layers"] = {layer.name: layer.count_params() for layer in layers_of(model) if layer.built}
    return counted
