"""Does the model have the reference solution's architecture?

Both models are described with the snapshot format (`modelcheck.snapshot.serialize.architecture`)
and put in a canonical form before they are compared, so that equivalent ways of writing the
same network are equal:

- an ``Activation``, ``ReLU()`` (default arguments) or ``Softmax()`` layer right after a layer
  whose own activation is linear is folded into that layer: ``Dense(300, activation="relu")`` =
  ``Dense(300)`` + ``Activation("relu")`` = ``Dense(300)`` + ``ReLU()``; elsewhere it stays an
  ``Activation`` layer; an axis given as a positive number is the same as its negative form
  (``Softmax(axis=1)`` on a (None, 10) output is ``Softmax()``, ``Concatenate(axis=1)`` of
  rank-2 tensors is ``Concatenate()``), and messages show it as written;
- names never matter; input layers are left out; connections are positions (layer k reads
  layer i), so Sequential, functional and subclassed models of one chain are equal;
- a nested model (a ``keras.Model`` used as a layer) is replaced by its layers, so a network
  written with nested blocks equals the flat one;
- every call of a layer counts: a layer with weights called again (sharing its weights) is one
  layer with several calls, compared call by call; a layer without weights called again is
  the same as a new one; a subclassed model's layers are counted with one forward pass;
- input shapes are compared without the batch size;
- the operations a functional model calls between its layers (``keras.ops.relu(x)``,
  ``x * 2.0``) count: an activation (``keras.ops.relu``, ``keras.ops.softmax`` over the last
  axis, ``sigmoid``, ``tanh``, ``gelu`` exact, ``leaky_relu`` with its default slope...) is an
  ``Activation`` layer, folded as above; ``keras.ops.concatenate([a, b], axis=-1)`` is
  ``Concatenate()``, ``keras.ops.add(a, b)`` (or ``a + b``) is ``Add()``, and the like; any other
  operation is an entry of its own, named by the operation, its constant operands compared:
  ``layer 2 (operation multiply): an operation multiply (keras.ops.multiply or the *
  operator), with arguments (<tensor>, 2.0), not in the reference solution``.

How the form is built: `modelcheck.checks.reference_form`.

The layer lists are aligned as the snapshot diff aligns them (`modelcheck.snapshot.diff.align`),
and each difference is worded for a student:
``layer 2 (Dense 300): activation relu expected, none received``,
``layer 2 (Dense 8): called 3 times, once expected (calling a layer again reuses its weights;
the reference solution calls it once)``.
"""

from __future__ import annotations

from typing import Any, Sequence

import keras

from ..core.errors import SpecError
from ..core.messages import for_audience, mismatch
from ..core.result import CheckResult
from ..model import loops
from ..model.build import build_model
from ..snapshot.diff import align, format_value
from .common import check
from .dtype_kinds import dtype_kind, narrower
from .reference_form import IGNORE_GROUPS, OPERATION, canonical_architecture
from .reference_model import model_form

__all__ = ["check_matches_reference", "canonical_architecture", "IGNORE_GROUPS"]

NAME = "matches_reference"
_SHOWN_KEYS = {"kernel_size": "kernel size", "pool_size": "pool size", "use_bias": "bias", "rate": "rate"}
# how a student writes an operation with a Python operator
_OPERATORS = {"add": "+", "subtract": "-", "multiply": "*", "true_divide": "/", "divide": "/", "floor_divide": "//",
              "mod": "%", "power": "**", "matmul": "@", "negative": "unary -", "greater": ">", "less": "<",
              "greater_equal": ">=", "less_equal": "<=", "equal": "==", "not_equal": "!=", "logical_not": "~"}


def _describe(layer: dict[str, Any]) -> str:
    config = layer["config"]
    if layer["class"].startswith(OPERATION):
        return layer["class"]
    parts = [layer["class"]]
    if "units" in config:
        parts.append(str(config["units"]))
    elif "filters" in config:
        parts.append(str(config["filters"]))
    elif layer["class"] == "Activation":
        parts.append(str(config.get("activation")))
    elif "rate" in config:
        parts.append(format_value(config["rate"]))
    if "kernel_size" in config:
        parts.append("x".join(str(k) for k in config["kernel_size"]))
    return " ".join(parts)


def _shown(key: str, value: Any) -> str:
    if key == "activation" and value in ("linear", None):
        return "none"
    if isinstance(value, list) and all(isinstance(v, int) for v in value) and key != "inputs":
        return "x".join(str(v) for v in value) if key in ("kernel_size", "pool_size", "strides") else \
            format_value(value)
    return format_value(value)


def _kind(cls: str) -> str:
    """A canonical class for a student: ``a Dense layer``, ``an operation multiply (keras.ops.multiply
    or the * operator)``."""
    if not cls.startswith(OPERATION):
        return f"a {cls} layer"
    name = cls[len(OPERATION):]
    ways = [f"keras.ops.{name}"] if hasattr(keras.ops, name) else []
    ways += [f"the {_OPERATORS[name]} operator"] if name in _OPERATORS else []
    ways += ["indexing x[...]"] if name == "get_item" else []
    return f"an {cls}" + (f" ({' or '.join(ways)})" if ways else "")


def _times(n: int) -> str:
    return {0: "never", 1: "once", 2: "twice"}.get(n, f"{n} times")


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 < 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _source_text(source: Any, layers: list[dict[str, Any]]) -> str:
    if isinstance(source, list):
        return f"the {_ordinal(source[1])} call of layer {source[0] + 1} ({_describe(layers[source[0]])})"
    return source if isinstance(source, str) else f"layer {source + 1} ({_describe(layers[source])})"


def _calls(layer: dict[str, Any]) -> list[Any]:
    """The sources of each call of a canonical layer (None where unknown)."""
    return layer["calls"] if "calls" in layer else [layer["sources"]]


def _index(source: Any) -> int | None:
    return source if isinstance(source, int) else source[0] if isinstance(source, list) else None


def _calls_line(where: str, want: int, got: int) -> str:
    """A layer called more or fewer times than the reference solution calls it, for a student."""
    if got == 0:
        why = f"a layer that is never called does nothing; the reference solution calls it {_times(want)}"
    elif want == 0:
        why = "the reference solution defines this layer but never calls it"
    elif got > want:
        why = f"calling a layer again reuses its weights; the reference solution calls it {_times(want)}"
    else:
        why = (f"the reference solution calls this same layer {_times(want)}, so every call uses the same "
               "weights; a new layer for each call has weights of its own")
    called = "never called" if got == 0 else f"called {_times(got)}"
    return f"{where}: {called}, {_times(want) if want else 'no call'} expected ({why})"


def _dtype_note(kind: str) -> str:
    """Why a layer of dtype kind `kind` cannot do what the reference's float layer does, with the fix."""
    if kind.startswith("quantized"):
        return ("model.quantize() stores the kernels as frozen low-precision values that training cannot change: "
                "build and train the float model, and quantize it afterwards, outside build_model")
    if kind == "bool":
        return "the layer turns every value it reads into True or False: leave dtype out (float32)"
    return "the layer rounds every value it reads to a whole number: leave dtype out (float32)"


def _dtype_line(where: str, want: Any, got: Any) -> str | None:
    """The line for a layer whose dtype policy is narrower than the reference's (None: a float policy)."""
    want, got = want or "float", got or "float"
    if not narrower(want, got):
        return None
    def words(kind: str) -> str:
        if kind.startswith("quantized"):
            return f"weights {kind.replace('quantized', 'quantized to')}"
        return "float weights" if got.startswith("quantized") else f"dtype {kind}"

    return (f"{where}: {words(want)} expected (as in the reference solution), {words(got)} received; "
            f"{_dtype_note(got)}")


def _input_dtype_lines(reference: dict[str, Any], received: dict[str, Any]) -> list[str]:
    """A line per input whose dtype holds less than the reference's (bool or int for float
    pixels): the model sees values other than the data's. Inputs with no recorded dtype are not judged."""
    lines = []
    count = min(len(reference["inputs"]), len(received["inputs"]))
    wanted = reference.get("input_dtypes") or ["float32"] * count
    got = received.get("input_dtypes") or ["float32"] * count
    for n, (want, have) in enumerate(zip(wanted, got)):
        if narrower(dtype_kind(want), dtype_kind(have)):
            what = "True or False" if dtype_kind(have) == "bool" else "whole numbers"
            lines.append(f"input {n + 1}: dtype {want} expected (as in the reference solution), {have} received; it turns "
                         f"every value it reads into {what}, so inputs in [0, 1] become 0 or 1 and it cannot learn "
                         f"from them: leave dtype out of keras.Input (float32)")
    return lines


def _output_lines(reference: dict[str, Any], received: dict[str, Any], new: list[dict[str, Any]],
                  mapped_source: Any) -> list[str]:
    """Lines for a model with another number of outputs than the reference's, or whose outputs
    come from other layers (``outputs`` of the canonical form; one output when absent)."""
    want = reference.get("outputs")
    got = received.get("outputs")
    n_want, n_got = len(want) if want is not None else 1, len(got) if got is not None else 1
    if n_want != n_got:
        listed = f": {', '.join(_source_text(s, new) for s in got)}" if got else ""
        return [f"outputs: {n_want} expected, {n_got} received{listed} (the model must output what the "
                f"reference solution outputs, and nothing else: pass only those to keras.Model(inputs, outputs))"]
    if want is None or got is None:
        return []
    lines = []
    for n, (a, b) in enumerate(zip(want, got)):
        expected = mapped_source(a)
        if expected != b and _index(expected) is not None:
            lines.append(f"output {n + 1}: {_source_text(expected, new)} expected, {_source_text(b, new)} received")
    return lines


def _missing_at(steps: list[tuple[int | None, int | None]], k: int, new: list[dict[str, Any]]) -> str:
    """Where the reference's layer of alignment step `k`, which the student's model lacks, belongs:
    before the student's next layer, or after their last one (not "layer N", which names the
    student's own layer N on the next line)."""
    after = next((j for _, j in steps[k + 1:] if j is not None), None)
    if after is not None:
        return f"before layer {after + 1} ({_describe(new[after])})"
    before = next((j for _, j in reversed(steps[:k]) if j is not None), None)
    return f"after layer {before + 1} ({_describe(new[before])})" if before is not None else "layer 1"


def _takes_input(want: Any, got: Any) -> bool:
    """Whether an input of shape `got` takes the reference's inputs of shape `want`, batch size
    aside: a size the model leaves open (None: sequences of any length) takes any, as `output_shape`
    reads it."""
    if not want or not got or len(want) != len(got):
        return want == got
    return all(b is None or a == b for a, b in zip(want[1:], got[1:]))


def differences(reference: dict[str, Any], received: dict[str, Any], *,
                allow_extra: Sequence[str] = ()) -> list[str]:
    """The differences of two canonical architectures, one line each, in the student's layer order.

    Input shapes are compared without the batch size, which is not part of an architecture (see `_takes_input`)."""
    lines = []
    for n, (want, got) in enumerate(zip(reference["inputs"], received["inputs"])):
        if not _takes_input(want, got):
            lines.append(f"input {n + 1}: shape {format_value(want[1:] if want else want)} expected, "
                         f"{format_value(got[1:] if got else got)} received")
    if len(reference["inputs"]) != len(received["inputs"]):
        lines.append(f"inputs: {len(reference['inputs'])} expected, {len(received['inputs'])} received")
    lines += _input_dtype_lines(reference, received)
    old, new = reference["layers"], received["layers"]

    def keyed(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:  # names never matter in the alignment
        return [{"name": f"#{i}", "class": l["class"], "config": l["config"]} for i, l in enumerate(layers)]

    steps = align(keyed(old), keyed(new))
    mapped = {i: j for i, j in steps if i is not None and j is not None}
    removed = {i for i, j in steps if j is None}
    inserted = {j for i, j in steps if i is None}
    # layers called a different number of times, or whose calls a subclassed model does not tell:
    # which of their calls a layer reads is not compared
    recalled = {j for i, j in mapped.items() if len(_calls(old[i])) != len(_calls(new[j]))
                or None in _calls(old[i]) or None in _calls(new[j])}

    def mapped_source(source: Any) -> Any:
        if isinstance(source, list):
            k = mapped.get(source[0], source[0])
            return k if k in recalled else [k, source[1]]
        return mapped.get(source, source) if isinstance(source, int) else source

    def own_source(source: Any) -> Any:
        return source[0] if isinstance(source, list) and source[0] in recalled else source

    for k, (i, j) in enumerate(steps):
        if j is None:
            what = _kind(old[i]["class"]) if old[i]["class"].startswith(OPERATION) else _describe(old[i])
            activation = old[i]["config"].get("activation") if old[i]["class"] != "Activation" else None
            what += f" with activation {activation}" if activation not in (None, "linear") else ""
            lines.append(f"{_missing_at(steps, k, new)}: {what} expected (as in the reference solution), missing")
            continue
        inside = f"; inside the nested {' inside '.join(new[j]['inside'])}" if new[j].get("inside") else ""
        if i is None:
            if new[j]["class"] not in allow_extra:
                what = ""
                if new[j]["class"].startswith(OPERATION):  # what the student wrote: its operands, its axis...
                    settings = ", ".join(f"{key.replace('_', ' ')} {_shown(key, value)}"
                                         for key, value in sorted(new[j]["config"].items()))
                    what = _kind(new[j]["class"]) + (f", with {settings}, " if settings else " ")
                lines.append(f"layer {j + 1} ({_describe(new[j])}{inside}): {what}not in the reference solution")
            continue
        a, b = old[i], new[j]
        where = f"layer {j + 1} ({_describe(b)}{inside})"
        if a["class"] != b["class"]:
            lines.append(f"{where}: {_kind(a['class'])} expected, {_kind(b['class'])} received")
            continue
        for key in sorted(set(a["config"]) | set(b["config"])):
            x, y = a["config"].get(key), b["config"].get(key)
            if key == "dtype":
                line = _dtype_line(where, x, y)
                lines += [line] if line else []
            elif x != y:
                x, y = (layer.get("written", {}).get(key, value) for layer, value in ((a, x), (b, y)))
                lines.append(f"{where}: {_SHOWN_KEYS.get(key, key.replace('_', ' '))} {_shown(key, x)} expected, "
                             f"{_shown(key, y)} received")
        want_calls, got_calls = _calls(a), _calls(b)
        if len(want_calls) != len(got_calls):
            lines.append(_calls_line(where, len(want_calls), len(got_calls)))
        for n, (want_sources, got_sources) in enumerate(zip(want_calls, got_calls)):
            if n and len(want_calls) != len(got_calls) or want_sources is None or got_sources is None:
                continue
            if any(_index(s) in removed for s in want_sources) or any(_index(s) in inserted for s in got_sources):
                continue
            expected = [mapped_source(s) for s in want_sources]
            if expected != [own_source(s) for s in got_sources]:
                call = f", {_ordinal(n + 1)} call" if len(got_calls) > 1 else ""
                lines.append(f"{where}{call}: reads " + ", ".join(_source_text(s, new) for s in expected)
                             + " expected, " + ", ".join(_source_text(s, new) for s in got_sources) + " received")
    if not removed and not inserted:  # (a missing or extra layer is said already, and moves what outputs)
        lines += _output_lines(reference, received, new, mapped_source)
    elif len(reference.get("outputs") or [0]) != len(received.get("outputs") or [0]):
        lines += _output_lines(reference, received, new, mapped_source)
    return lines


# The activations a classifier's output may give in place of the reference's, as logits of the same scores.
_LOGITS_OF = {"softmax": (None, "linear", "log_softmax"), "sigmoid": (None, "linear")}


def _declared_kinds(model: keras.Model, output: Any) -> list[Any]:
    if isinstance(output, dict):
        from ..model.outputs import output_names

        return [output.get(name) for name in output_names(model)]
    return list(output) if isinstance(output, (list, tuple)) else [output]


def _output_layers(form: dict[str, Any]) -> list[int | None]:
    """The index of the layer that gives each output of a canonical form (the last layer when the
    form lists no outputs)."""
    sources = form.get("outputs")
    if sources is None:
        return [len(form["layers"]) - 1] if form["layers"] else [None]
    return [_index(source) for source in sources]


def _as_reference_scores(want: dict[str, Any], got: dict[str, Any], kinds: list[Any]) -> dict[str, Any]:
    """`got` with the activation of each output declared ``"classes"`` written as the reference's
    where it gives the logits of the same scores (a linear Dense(10) for a Dense(10, softmax))."""
    mine, theirs = _output_layers(got), _output_layers(want)
    if len(kinds) == 1 and len(mine) > 1:
        kinds = kinds * len(mine)
    layers = list(got["layers"])
    for kind, j, i in zip(kinds, mine, theirs):
        if kind != "classes" or i is None or j is None or i >= len(want["layers"]) or j >= len(layers):
            continue
        reference = want["layers"][i]["config"].get("activation")
        config = layers[j]["config"]
        if "activation" in config and config.get("activation") in _LOGITS_OF.get(reference, ()):
            layers[j] = {**layers[j], "config": {**config, "activation": reference}}
    return {**got, "layers": layers}


def _layer_line(layer: dict[str, Any]) -> str:
    """One canonical layer in a few words: ``Dense 300 relu``, ``Conv2D 16 3x3 relu``."""
    activation = layer["config"].get("activation")
    shown = isinstance(activation, str) and activation != "linear" and layer["class"] != "Activation"
    return _describe(layer) + (f" {activation}" if shown else "")


def summary(form: dict[str, Any]) -> dict[str, Any]:
    """A canonical architecture as a student reads it, never nested deeper than a list of words:
    ``{"inputs": ["(28, 28)"], "layers": ["Flatten", "Dense 300 relu", ...]}`` (a layer's full
    configuration, a quantizer's nested in a Dense layer's, can nest deeper than a report may)."""
    return {"inputs": [format_value(shape[1:] if shape else shape) for shape in form["inputs"]],
            "layers": [_layer_line(layer) for layer in form["layers"]]}


def _reference_form(reference: Any, ignore: Sequence[str], seed: int,
                    pass_through: Sequence[str] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    if isinstance(reference, dict):
        return reference, canonical_architecture(reference, ignore=ignore, pass_through=pass_through)
    if isinstance(reference, keras.Model) or callable(reference):
        return model_form(build_model(reference, name="the reference builder"), ignore=ignore, seed=seed,
                          pass_through=pass_through)
    raise SpecError(f"{NAME}: `reference` must be a keras.Model, a builder or an architecture() dict; "
                    f"received {type(reference).__name__}")


@check(NAME)
def check_matches_reference(
    model: keras.Model,
    reference: Any = None,
    *,
    ignore: Sequence[str] = (),
    allow_extra: Sequence[str] = (),
    output: Any = None,
    seed: int = 0,
) -> CheckResult:
    """Compare the model's architecture with a reference solution's.

    Args:
        model: a ``keras.Model`` or a builder returning one.
        reference: the reference solution: a ``keras.Model``, a builder, or its
            `modelcheck.snapshot.serialize.architecture` dict.
        ignore: what not to compare: configuration keys (``"use_bias"``, ``"Dropout.rate"``) or
            groups (``"initializers"``, ``"regularizers"``, ``"constraints"``,
            ``"dropout_rate"``, ``"activations"``).
        allow_extra: layer classes that do not count (``["Dropout"]``): the model may add them, leave
            out the reference's or set them otherwise.
        output: the declared kind of output(s) (`modelcheck.core.spec.OUTPUT_KINDS`): an output
            declared ``"classes"`` may give logits where the reference applies its softmax or
            sigmoid (no activation, or log_softmax for a softmax); `loss_matches_output` judges the loss.

    Layer types, their configuration (units, filters, kernel sizes, strides, padding,
    activations...), order, connections and how many times each layer is called are compared; equivalent forms are equal (see the
    module docstring) and names never matter. Example::

        check_matches_reference(model, reference=build_solution, allow_extra=["Dropout"])
    """
    if reference is None:
        given = for_audience(loops.current().audience, configurer="no reference solution was given (`reference=`)",
                             student="the assignment gives no reference solution (your instructor's setting)")
        return CheckResult.skip(NAME, f"{given}, so there is nothing to compare the architecture with")
    # a class allowed extra does not count on either side: a student may add it, leave out the
    # reference's, or set it otherwise (an instructor whose reference has Dropout(0.3) and who allows
    # Dropout does not mean to take points from a student without it, or with Dropout(0.5))
    ref_arch, want = _reference_form(reference, ignore, seed, pass_through=allow_extra)
    _, got = model_form(model, ignore=ignore, pass_through=allow_extra,
                        seed=seed, input_order=[str(item.get("name")) for item in ref_arch.get("inputs") or []])
    got = _as_reference_scores(want, got, _declared_kinds(model, output))
    lines = differences(want, got, allow_extra=allow_extra)
    expected, received = summary(want), summary(got)
    details = {"reference": expected, "received": received, "differences": lines}
    if not lines:
        return CheckResult.ok(NAME, f"the architecture matches the reference solution ({len(got['layers'])} layers)",
                              details=details)
    first = lines[0]
    at, _, _ = first.partition(": ")
    at = at.removeprefix("before ").removeprefix("after ")
    head = mismatch("architecture", "the reference solution's", f"{len(lines)} difference{'s' * (len(lines) > 1)}",
                    at=at)
    return CheckResult.fail(NAME, head + "\n" + "\n".join(lines), expected=expected, received=received, details=details,
                            hint="build the layers the assignment describes, in its order, with its sizes and "
                            "activations")
