"""Output shapes, finite outputs and the kind of output, on a real forward pass."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from ..model.compiled import compiled_loss, per_output
from ..model.outputs import (activation_of, innermost_output_layer, output_keys, output_kinds, output_layers,
                             output_names, shape_str, softmax_axes)
from ..model.targets import class_axis
from ..model.graph import has_symbolic_inputs, layers_of
from ..model.inputs import input_infos, rows_of, synthetic_inputs
from ..core.messages import for_audience, layer_ref, mismatch, output_ref
from ..model import loops
from ..core.result import CheckResult
from .common import check, fmt, forward, nonfinite_failure, pair_per_layer

__all__ = ["check_output_shape"]

NAME = "output_shape"
_TOLERANCE = 1e-3
# What an output kind without a squashing activation is, in a graded student's words.
_UNBOUNDED = {"logits": "raw scores (logits), which its loss turns into probabilities itself",
              "regression": "values of any size (a regression), not values squeezed into a range"}


def _matches(expected: tuple[Any, ...], received: tuple[Any, ...]) -> bool:
    """Shapes agree, with None in either as a wildcard."""
    return len(expected) == len(received) and all(
        e is None or r is None or e == r for e, r in zip(expected, received)
    )


def _batch_dimension_note(expected: tuple[Any, ...], received: tuple[Any, ...]) -> str | None:
    """The fix when `expected` is `received` without its batch dimension (``(10,)`` for
    ``(None, 10)``): the checks take shapes as Keras prints them, batch first; or with it twice
    (``(None, None, 10)``): a shape as Keras prints it given where shapes are per sample (run_checks, a spec)."""
    if expected and expected[0] is not None and len(expected) + 1 == len(received) \
            and _matches((None, *expected), received):
        return (f"the expected shape has no batch dimension: write {shape_str((None, *expected))}, "
                "as Keras prints shapes (spec files take them per sample, without it)")
    if len(expected) == len(received) + 1 and expected[:2] == (None, None) and _matches(expected[1:], received):
        return (f"the expected shape has the batch dimension twice: where shapes are given per sample (a spec "
                f"file, an assignment's [expect], mc.run_checks), write {shape_str(expected[2:])}, not "
                f"{shape_str(expected[1:])}")
    return None


def _expected_list(expected: Any, names: list[str], keys: list[str] | None = None) -> list[tuple[Any, ...] | None]:
    """`expected` as one shape (or None) per output; a dict's by output name, or by the key of a
    dict output (`keys`, in the order of `names`), as fit's loss dicts and predict() use them.
    Raises KeyError with the first key that is neither."""
    if expected is None:
        return [None] * len(names)
    if isinstance(expected, dict):
        keys = keys if keys is not None and len(keys) == len(names) else names
        unknown = [k for k in expected if k not in names and k not in keys]
        if unknown:
            raise KeyError(unknown[0])
        return [tuple(expected[n]) if n in expected else tuple(expected[k]) if k in expected else None
                for n, k in zip(names, keys)]
    if expected and isinstance(expected[0], (list, tuple)):
        return [tuple(s) for s in expected]
    return [tuple(expected)]


def _kind_problem(kind: str, values: np.ndarray, layer: keras.layers.Layer | None,
                  loss: Any = None) -> tuple[str, str, str, str] | None:
    """Why `values` are not outputs of `kind`: (what, expected, received, note); None when they are.
    Probabilities sum to 1 over the axis the output's compiled `loss` reads the classes along: the
    last, or a categorical cross-entropy's `axis` where the output's softmax is over it too (a
    pointer's softmax over its steps, axis 1)."""
    if kind in ("probabilities", "binary"):
        low, high = float(values.min()), float(values.max())
        question = f"is the {'softmax' if kind == 'probabilities' else 'sigmoid'} missing?"
        if low < -_TOLERANCE or high > 1 + _TOLERANCE:
            return "output values", "values between 0 and 1", f"values from {fmt(low)} to {fmt(high)}", question
        if kind == "probabilities":
            last = values.ndim - 1
            softmax = softmax_axes(layer, values.ndim) if values.ndim > 1 else None
            axis = class_axis(loss, values.ndim) if softmax == (class_axis(loss, values.ndim),) else last
            sums = values.sum(axis=axis)
            worst = float(sums.flat[np.argmax(np.abs(sums - 1).ravel())])
            if abs(worst - 1) > _TOLERANCE * max(1, values.shape[axis] / 10):
                if softmax is not None and softmax != (axis,):  # there is a softmax, over another axis
                    question = (f"the softmax normalises over axis {', '.join(map(str, softmax))}, not over the "
                                "classes' axis, the last: apply it over the classes (Softmax() or axis=-1)")
                over = "the last axis" if axis == last else f"axis {axis}, the classes' axis of the loss"
                return "output values", f"probabilities that sum to 1 over {over}", f"a sum of {fmt(worst)}", \
                    question
        if activation_of(layer) == "linear" and getattr(innermost_output_layer(layer), "trainable_weights", None):
            # a trainable affine map of its inputs: its values on this batch lie in [0, 1] (and sum to 1: weights
            # chosen so, or luck), but they are raw scores, unbounded on other inputs and after training
            squash = "softmax" if kind == "probabilities" else "sigmoid"
            return "output activation", f"{squash} ({kind} outputs)", \
                f"none (raw scores, from {fmt(low)} to {fmt(high)} on this batch)", question
        return None
    activation = activation_of(layer)
    if activation in ("softmax", "sigmoid"):
        return ("output activation", f"none ({kind} outputs are unbounded)", activation,
                for_audience(loops.current().audience,
                             configurer=f"remove the {activation}, or declare the output as "
                             f"{'probabilities' if activation == 'softmax' else 'binary'}",
                             student=f"remove the {activation} (the output layer takes no activation): the "
                             f"assignment expects {_UNBOUNDED.get(kind, f'{kind} outputs')}"))
    return None


@check(NAME)
def check_output_shape(
    model: keras.Model,
    expected: Any = None,
    *,
    output: Any = None,
    layer_shapes: dict[str, tuple[Any, ...]] | list[tuple[Any, ...]] | None = None,
    inputs: Any = None,
    batch_size: int = 4,
    seed: int = 0,
) -> CheckResult:
    """Check the model's output shape(s) statically and on a real forward pass.

    Args:
        model: a ``keras.Model`` or a builder returning one.
        expected: the expected output shape with batch dimension, e.g. ``(None, 10)``; a list
            of shapes for several outputs, or a dict by output name. ``None`` is a wildcard.
        output: the expected kind of output: ``"probabilities"`` (softmax), ``"binary"``
            (sigmoid), ``"logits"``, ``"regression"`` or ``"classes"`` (a classifier in the form its
            output layer gives: probabilities, binary or logits); one per output, or a dict by name.
        layer_shapes: expected output shapes of layers, by layer name or in layer order.
        inputs: the expected input shape(s) with batch dimension, like `expected` (a shape, a
            list for several inputs, or a dict by input name).
        batch_size: the size of the synthetic batch (a model whose inputs declare a batch size gets that size).
        seed: seeds the synthetic input.

    Outputs must also be finite. Example::

        result = check_output_shape(model, (None, 10), output="probabilities")
    """
    input_failure = _check_input_shapes(model, inputs)
    if input_failure is not None:
        return input_failure
    names = output_names(model)
    layers = output_layers(model)
    x = synthetic_inputs(model, batch_size, seed, declared=_declared_inputs(model, inputs))
    batch_size = rows_of(x)  # the rows fed: a model that declares its batch size gets that many
    outputs = forward(model, x)
    if len(names) != len(outputs):
        names = [f"output_{i}" for i in range(len(outputs))]
        layers = [None] * len(outputs)
    received = [tuple(None if i == 0 else d for i, d in enumerate(o.shape)) for o in outputs]
    details: dict[str, Any] = {"outputs": {n: list(s) for n, s in zip(names, received)}, "batch_size": batch_size}

    failure = nonfinite_failure(NAME, model, outputs)
    if failure is not None:
        failure.details.update(details)
        return failure

    keys = output_keys(model) if isinstance(expected, dict) else None
    try:
        wanted = _expected_list(expected, names, keys)
    except KeyError as exc:
        known = f"one of {', '.join(map(repr, names))}" + (
            f" (or of the output dict's keys {', '.join(map(repr, keys))})" if keys and keys != names else "")
        return CheckResult.fail(NAME, mismatch("output name", known, repr(exc.args[0]), at="the expected output shapes"),
                                expected=names, received=exc.args[0], details=details)
    if expected is not None and len(wanted) != len(received):
        return CheckResult.fail(
            NAME,
            mismatch("number of outputs", len(wanted), f"{len(received)} ({', '.join(names)})",
                     at="the model's outputs"),
            expected=len(wanted), received=len(received), details=details,
        )
    for name, want, got, out in zip(names, wanted, received, outputs):
        if out.shape[0] != batch_size:
            return CheckResult.fail(
                NAME,
                mismatch("rows in the output", f"{batch_size} (one per input sample)", out.shape[0],
                         at=output_ref(name), note="a Reshape or Flatten mixes the batch dimension"),
                expected=batch_size, received=int(out.shape[0]), details=details,
            )
        if want is not None and not _matches(want, got):
            return CheckResult.fail(
                NAME,
                mismatch("output shape", shape_str(want), shape_str(got), at=output_ref(name),
                         note=_batch_dimension_note(tuple(want), got)),
                expected=list(want), received=list(got), details=details,
            )

    layer_failure = _check_layer_shapes(model, layer_shapes, details)
    if layer_failure is not None:
        return layer_failure

    if output is not None:
        kinds = output_kinds(model, output, n_outputs=len(outputs))
        losses = per_output(compiled_loss(model), names, len(outputs))
        for name, kind, layer, out, loss in zip(names, kinds, layers, outputs, losses):
            problem = _kind_problem(kind, out, layer, loss)
            if problem is not None:
                what, wanted_text, got_text, note = problem
                return CheckResult.fail(NAME, mismatch(what, wanted_text, got_text, at=output_ref(name), note=note),
                                        expected=kind, received={"min": float(out.min()), "max": float(out.max())},
                                        details=details)

    shown = ", ".join(shape_str(s) for s in received)
    return CheckResult.ok(NAME, f"output shape {shown} as expected" if expected is not None else f"output shape {shown}",
                          expected=expected, received=[list(s) for s in received], details=details)


def _check_layer_shapes(model: keras.Model, layer_shapes: Any, details: dict[str, Any]) -> CheckResult | None:
    if layer_shapes is None:
        return None
    layers = layers_of(model)
    pairs = pair_per_layer(NAME, layer_shapes, layers, "the expected layer shapes", details)
    if isinstance(pairs, CheckResult):
        return pairs
    layer_details = details.setdefault("layers", {})
    for layer, want in pairs:
        try:
            got = tuple(layer.output.shape)
        except (AttributeError, ValueError):
            continue  # shared layers or subclassed models have no single output shape
        layer_details[layer.name] = list(got)
        if not _matches(tuple(want), got):
            return CheckResult.fail(
                NAME, mismatch("output shape", shape_str(tuple(want)), shape_str(got),
                               at=layer_ref(layer.name, type(layer).__name__)),
                expected=list(want), received=list(got), details=details)
    return None



def _check_input_shapes(model: keras.Model, inputs: Any) -> CheckResult | None:
    """A failed result when the model's inputs are not the expected ones (a model on flat
    784-vectors where the assignment says 28 x 28); None when they are or none are expected."""
    if inputs is None:
        return None
    infos = input_infos(model)
    names = [info.name for info in infos]
    received = [tuple(info.shape) for info in infos]
    wanted = _declared_inputs(model, inputs)
    if isinstance(inputs, dict):
        unknown = [n for n in names if n not in inputs]
        if unknown and len(inputs) == len(names) and has_symbolic_inputs(model):
            # Keras feeds a dict of arrays by input name: a model named otherwise cannot take them
            return CheckResult.fail(NAME, mismatch("input names", ", ".join(map(repr, inputs)),
                                                   ", ".join(map(repr, names)), at="the model's inputs",
                                                   note="inputs are fed by name: name each keras.Input as expected, "
                                                   f"e.g. keras.Input(shape, name={next(iter(inputs))!r})"),
                                    expected=list(inputs), received=names)
        count = len(inputs)
    else:
        count = len(wanted)
    if count != len(received):
        return CheckResult.fail(NAME, mismatch("number of inputs", count, f"{len(received)} ({', '.join(names)})",
                                               at="the model's inputs"),
                                expected=count, received=len(received))
    shown = _input_layer_names(model, names)
    for name, want, got in zip(shown, wanted, received):
        if want is not None and not _matches(want, got):
            return CheckResult.fail(NAME, mismatch("input shape", shape_str(want), shape_str(got), at=f"input {name!r}",
                                                   note=_batch_dimension_note(tuple(want), got) or for_audience(
                                                       loops.current().audience,
                                                       configurer="the model must take the inputs declared for it",
                                                       student="the model must take the inputs the assignment describes")),
                                    expected=list(want), received=list(got))
    return None


def _declared_inputs(model: keras.Model, inputs: Any) -> list[tuple[Any, ...] | None] | None:
    """The declared shape of each of the model's inputs, in `input_infos` order (None for one not
    declared); None when no input is declared."""
    if inputs is None:
        return None
    names = [info.name for info in input_infos(model)]
    if isinstance(inputs, dict):
        return [tuple(inputs[n]) if n in inputs else None for n in names]
    return _expected_list(inputs, names)


def _input_layer_names(model: keras.Model, names: list[str]) -> list[str]:
    """The names of the model's input layers, as config_lint and the layer list name them (an
    unnamed input's tensor is 'keras_tensor', its layer 'input_layer'); `names` for a subclassed model."""
    if not has_symbolic_inputs(model) or len(model.inputs) != len(names):
        return names
    shown = []
    for tensor, name in zip(model.inputs, names):
        history = getattr(tensor, "_keras_history", None)
        shown.append(history.operation.name if history is not None else name)
    return shown
