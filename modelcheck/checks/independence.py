"""Which inputs the outputs depend on: samples must not influence each other (batch
independence), and every input must influence the output (input dependence)."""

from __future__ import annotations

from typing import Any, Callable

import keras
import numpy as np
from keras import ops

from ..core.errors import SpecError, call_user_code
from ..model import backend
from ..model.outputs import flatten_outputs, output_names, shape_str
from ..model.input_domains import all_layers
from ..model.inputs import batch_size_for, input_infos, pack_inputs, synthetic_inputs
from ..model.state import reset_states
from ..core.messages import also, layer_ref, mismatch, output_ref
from ..core.result import CheckResult
from .common import check, fmt, forward, nonfinite_failure
from ..model.probe import layer_probe, x_list
from ..model.randomness import UNREWINDABLE, random_in_inference, rewinder, rewound_forward

__all__ = ["check_batch_independence", "check_input_dependence"]

BATCH = "batch_independence"
INPUTS = "input_dependence"

INFERENCE_NOTE = ("run in inference mode (training=False): BatchNormalization uses its moving statistics and "
                  "Dropout is off, so layers that mix samples only during training are not flagged")

# Calls the model (or a layer probe) on a list of input tensors; returns groups of output tensors.
GroupedCall = Callable[[list[Any]], list[list[Any]]]


def _input_label(info: Any, k: int, count: int) -> str:
    """'the input', 'input 'wide'', or 'input #2' for an input Keras named automatically."""
    if count == 1:
        return "the input"
    if info.name.startswith("keras_tensor") or info.name.startswith("input_"):
        return f"input #{k + 1} (shape {shape_str(info.shape)})"
    return f"input {info.name!r} (shape {shape_str(info.shape)})"


def _is_float(array: Any) -> bool:
    return np.issubdtype(np.asarray(array).dtype, np.floating)


def _is_float_tensor(value: Any) -> bool:
    return "float" in keras.backend.standardize_dtype(value.dtype)


def _relative(change: float, scale: float) -> float:
    if change == 0.0:
        return 0.0
    return change / scale if scale > 0 else float("inf")


def _with_rows(base: np.ndarray, other: np.ndarray, keep: int) -> np.ndarray:
    """`other` everywhere except row `keep`, which stays as in `base`."""
    mixed = np.array(other, copy=True)
    mixed[keep] = base[keep]
    return mixed


def _influence(call: GroupedCall, model: keras.Model, xs: list[np.ndarray], alt: list[np.ndarray],
               samples: list[int], rng: np.random.Generator) -> list[list[dict[int, float] | int]]:
    """How much the other samples influence each sample in `samples`, per output group and per
    input (one list of groups per sample).

    Each group gets ``{input index: relative influence}`` (0 = independent), or the number of
    rows it produced when that differs from the batch size. Float inputs are judged by the
    gradient of a random projection of sample i's outputs (rows j != i must get none), all
    samples' projections differentiated in one pass, and by redrawing the other rows; integer
    inputs by redrawing only.
    """
    batch = xs[0].shape[0]
    floats = [k for k, a in enumerate(xs) if _is_float(a)]

    def projections(tensors: list[Any]) -> tuple[list[Any], list[list[Any]]]:
        groups = call(tensors)
        totals = []
        for i in samples:
            for group in groups:
                total = ops.convert_to_tensor(0.0)
                for out in group:
                    if len(out.shape) and out.shape[0] == batch and _is_float_tensor(out):
                        weights = rng.standard_normal(tuple(out.shape[1:])).astype("float32")
                        total = total + ops.sum(ops.cast(out[i], "float32") * ops.convert_to_tensor(weights))
                totals.append(total)
        return totals, groups

    base, grads = backend.current().input_gradients(projections, xs, floats, model=model)
    return [_sample_influence(call, xs, alt, i, base, grads[n * len(base):(n + 1) * len(base)], floats)
            for n, i in enumerate(samples)]


def _sample_influence(call: GroupedCall, xs: list[np.ndarray], alt: list[np.ndarray], i: int,
                      base: list[list[np.ndarray]], grads_per_group: list[list[np.ndarray | None]],
                      floats: list[int]) -> list[dict[int, float] | int]:
    """`_influence` for sample `i`, from the gradients of its projections (one per output group)."""
    batch = xs[0].shape[0]
    results: list[dict[int, float] | int] = []
    for group, grads in zip(base, grads_per_group):
        rows = {int(o.shape[0]) for o in group if o.ndim}
        if rows and rows != {batch}:
            results.append(max(rows - {batch}))
            continue
        leaks: dict[int, float] = {}
        for k, grad in zip(floats, grads):
            if grad is None:
                continue
            norms = np.sqrt(np.sum(np.square(grad).reshape(batch, -1), axis=1))
            others = float(np.max(np.delete(norms, i))) if batch > 1 else 0.0
            leaks[k] = _relative(others, float(norms[i]))
        results.append(leaks)
    for k in range(len(xs)):
        changed = list(xs)
        changed[k] = _with_rows(xs[k], alt[k], i)
        to_numpy = backend.current().to_numpy
        for g, group in enumerate(call([ops.convert_to_tensor(a) for a in changed])):
            if not isinstance(results[g], dict):
                continue
            diff, scale = 0.0, 0.0
            for before, after in zip(base[g], group):
                if before.ndim and _is_float(before):
                    diff = max(diff, float(np.max(np.abs(to_numpy(after)[i] - before[i]))))
                    scale = max(scale, float(np.max(np.abs(before[i]))))
            leak = _relative(diff, scale)
            results[g][k] = max(results[g].get(k, 0.0), leak)  # type: ignore[union-attr]
    return results


def _model_call(model: keras.Model, rewind: Callable[[], None]) -> GroupedCall:
    def call(tensors: list[Any]) -> list[list[Any]]:
        rewind()
        return [flatten_outputs(backend.call_model(model, pack_inputs(model, tensors)))]

    return call


def _probe_call(model: keras.Model, rewind: Callable[[], None]) -> tuple[GroupedCall, list[keras.layers.Layer]] | None:
    probe = layer_probe(model)
    if probe is None:
        return None

    def call(tensors: list[Any]) -> list[list[Any]]:
        rewind()
        return probe.split(flatten_outputs(backend.call_model(probe.model, pack_inputs(model, tensors))))

    return call, probe.layers


def _mixing_layer(model: keras.Model, xs: list[np.ndarray], alt: list[np.ndarray], i: int, rtol: float,
                  seed: int, rewind: Callable[[], None]) -> tuple[keras.layers.Layer, str] | None:
    """The first layer whose output mixes samples, with what it does; None if unknown."""
    found = _probe_call(model, rewind)
    if found is None:
        return None
    call, layers = found
    (groups,) = call_user_code("running the model layer by layer", _influence, call, model, xs, alt, [i],
                               np.random.default_rng(seed))
    for layer, result in zip(layers, groups):
        if isinstance(result, int):
            return layer, f"turns a batch of {xs[0].shape[0]} samples into {result} rows"
        if any(value > rtol for value in result.values()):
            return layer, f"makes sample {i}'s output depend on other samples (relative influence " \
                          f"{fmt(max(result.values()))})"
    return None


@check(BATCH)
def check_batch_independence(
    model: keras.Model,
    *,
    batch_size: int = 4,
    rtol: float = 1e-5,
    seed: int = 0,
) -> CheckResult:
    """Each sample's output must depend on that sample's input only.

    In inference mode, backpropagate a random projection of one sample's output and look at
    the gradient on every input row: rows of other samples must get none. Integer inputs
    (token ids) cannot be differentiated, so every input is also checked by redrawing the
    other samples' rows and watching the sample's output. Catches a reshape or transpose that
    moves values across the batch axis, or an ``ops.mean(x, axis=0)``. A failure names the
    first layer that mixes samples (functional and Sequential models).

    Example::

        result = check_batch_independence(model)
        assert result.passed, result.message
    """
    if batch_size < 2:
        raise SpecError(f"check_batch_independence needs batch_size >= 2, received batch_size={batch_size}")
    batch_size = batch_size_for(model, batch_size)
    if batch_size < 2:
        return CheckResult.skip(BATCH, "not judged: the model takes batches of exactly 1 sample (a fixed batch size), "
                                "and telling whether samples influence each other needs at least 2 "
                                "in one batch", details={"batch_size": batch_size})
    xs = x_list(synthetic_inputs(model, batch_size, seed))
    alt = x_list(synthetic_inputs(model, batch_size, seed + 1))
    outputs = forward(model, pack_inputs(model, xs))
    failure = nonfinite_failure(BATCH, model, outputs)
    if failure is not None:
        return failure
    infos = input_infos(model)
    names = [info.name for info in infos]
    methods = {name: ("gradient and redrawing other samples" if _is_float(a) else "redrawing other samples (integer input)")
               for name, a in zip(names, xs)}
    details: dict[str, Any] = {"mode": INFERENCE_NOTE, "batch_size": batch_size, "methods": methods, "rtol": rtol}
    expected = "each sample's output depends on its own input only"
    bad_rows = [int(o.shape[0]) for o in outputs if o.ndim and o.shape[0] != batch_size]
    worst: dict[str, float] = {}
    culprit_sample = None
    rewind = rewinder(model)
    if not bad_rows:
        samples = sorted({0, batch_size - 1})
        per_sample = call_user_code("differentiating the model's outputs with respect to its inputs",
                                    _influence, _model_call(model, rewind), model, xs, alt, samples,
                                    np.random.default_rng(seed))
        for i, (leaks,) in zip(samples, per_sample):
            if isinstance(leaks, int):  # the batch size changed only when called on tensors
                bad_rows = [leaks]
                break
            for k, value in leaks.items():
                worst[names[k]] = max(worst.get(names[k], 0.0), value)
                if value > rtol and culprit_sample is None:
                    culprit_sample = (i, k)
    details["influence"] = worst
    if not bad_rows and culprit_sample is None:
        return CheckResult.ok(BATCH, f"samples do not influence each other (largest relative influence "
                              f"{fmt(max(worst.values(), default=0.0))} over {batch_size} samples, inference mode)",
                              expected=expected, received=worst, details=details)
    i = culprit_sample[0] if culprit_sample else 0
    if not bad_rows:
        drawing = random_in_inference(model, pack_inputs(model, xs), rewound=True)
        if drawing is not None:
            return CheckResult.skip(BATCH, f"{drawing} {UNREWINDABLE}; so a change of sample {i}'s output cannot "
                                    "be told from a new draw", details=details)
    if bad_rows:
        what, wanted, got = "rows in the output", f"{batch_size} (one per sample)", bad_rows[0]
        received: Any = f"{bad_rows[0]} output rows for {batch_size} samples"
    else:
        k = culprit_sample[1]  # type: ignore[index]
        what = f"output of sample {i}"
        wanted = f"no change when {_input_label(infos[k], k, len(infos))} of the other samples changes"
        got = f"a relative change of {fmt(worst[names[k]])}"
        received = worst
    mixing = _mixing_layer(model, xs, alt, i, rtol, seed, rewind)
    at, note = "the model's output", "samples of a batch influence each other"
    if mixing is not None:
        layer, does = mixing
        at = layer_ref(layer.name, type(layer).__name__)
        note += f"; it is the first layer that {does}"
        details["culprit_layer"] = layer.name
    elif not bad_rows:  # (a subclassed model is not read layer by layer) a suspect the user can look at
        norms = [layer_ref(layer.name, type(layer).__name__) for layer in all_layers(model)
                 if isinstance(layer, keras.layers.BatchNormalization)]
        if norms:
            note += (f"; a BatchNormalization called with training=True in call() normalises with the batch's own "
                     f"statistics: look at {', '.join(norms[:3])}{' and others' if len(norms) > 3 else ''}")
    return CheckResult.fail(
        BATCH, mismatch(what, wanted, got, at=at, note=note),
        expected=expected, received=received, details=details,
        hint="axis 0 is the batch: a reshape or transpose must keep it first and untouched "
        "(layers.Reshape and layers.Permute never touch it; ops.reshape(x, (-1, ...)) or ops.transpose "
        "with axis 0 moved do), and a statistic over axis=0 (ops.mean(x, axis=0)) mixes samples.",
    )


def _change(before: list[np.ndarray], after: list[np.ndarray]) -> list[float]:
    """The change of each output relative to its own variation across the samples of the batch
    (an absolute or max-relative change misses the tiny but real outputs of deep untrained nets)."""
    changes = []
    for b, a in zip(before, after):
        if not _is_float(b):
            changes.append(float(np.any(a != b)))
            continue
        if not b.size:
            changes.append(0.0)
            continue
        b64, a64 = b.astype("float64"), a.astype("float64")
        variation = float(np.max(np.ptp(b64, axis=0))) if b.ndim and b.shape[0] > 1 else 0.0
        scale = variation if variation > 0 else float(np.max(np.abs(b64)))
        changes.append(_relative(float(np.max(np.abs(a64 - b64))), scale))
    return changes


def _gradient_reaches(model: keras.Model, xs: list[np.ndarray], seed: int) -> set[int]:
    """The float inputs on which a random projection of the outputs has a non-zero gradient: a
    real dependence even where a saturated softmax rounds every output to the same value."""
    floats = [k for k, a in enumerate(xs) if _is_float(a)]
    if not floats:
        return set()
    rng = np.random.default_rng(seed)

    def projection(tensors: list[Any]) -> tuple[list[Any], None]:
        reset_states(model)
        outputs = flatten_outputs(backend.call_model(model, pack_inputs(model, tensors)))
        dtype = "float32" if backend.name() == "jax" else "float64"  # JAX runs in float32 unless x64 is on
        total = ops.convert_to_tensor(0.0, dtype)
        for out in outputs:
            if _is_float_tensor(out):
                weights = rng.standard_normal(tuple(out.shape)).astype(dtype)
                total = total + ops.sum(ops.cast(out, dtype) * ops.convert_to_tensor(weights))
        return [total], None

    _, (grads,) = backend.current().input_gradients(projection, xs, floats, model=model)
    return {k for k, g in zip(floats, grads) if g is not None and bool(np.any(g != 0))}


@check(INPUTS)
def check_input_dependence(
    model: keras.Model,
    *,
    batch_size: int = 8,
    rtol: float = 1e-6,
    seed: int = 0,
) -> CheckResult:
    """Every input must change the output, and every output must change with the input.

    Redraws one input at a time (new random values or token ids) and compares the outputs
    with those on the original batch, relative to each output's own variation across the
    samples (`rtol`); where no change is measurable (a deep untrained network whose softmax
    rounds every output to 1/n), a float input still counts when the outputs have a non-zero
    gradient with respect to it. Names the input the model ignores (for multi-input
    models, often a ``concatenate([a, a])`` instead of ``[a, b]``) and any output that does not
    depend on the input at all (all-zero kernels, dead ReLUs, a layer multiplying by 0).

    Example::

        result = check_input_dependence(two_input_model)
        assert result.passed, result.message
    """
    batch_size = batch_size_for(model, batch_size)
    xs = x_list(synthetic_inputs(model, batch_size, seed))
    alt = x_list(synthetic_inputs(model, batch_size, seed + 1))
    forward_rewound = rewound_forward(model)
    added: list[list[np.ndarray]] = []  # the losses layers add (add_loss), one list per call

    def run(arrays: list[np.ndarray]) -> list[np.ndarray]:
        outputs = forward_rewound(pack_inputs(model, arrays))
        added.append([np.asarray(keras.ops.convert_to_numpy(loss)).reshape(-1) for loss in model.losses])
        return outputs

    base = run(xs)
    base_added = added[0]
    failure = nonfinite_failure(INPUTS, model, base)
    if failure is not None:
        return failure
    details = {"batch_size": batch_size, "rtol": rtol, "mode": "inference (training=False)"}
    if max(_change(base, run(xs)), default=0.0) > rtol:
        drawing = random_in_inference(model, pack_inputs(model, xs), rewound=True) or "the model"
        return CheckResult.skip(INPUTS, f"{drawing} {UNREWINDABLE}; so the effect of an input cannot be told from "
                                "a new draw", details=details)
    infos = input_infos(model)
    outs = output_names(model)
    outs = outs if len(outs) == len(base) else [f"output_{i}" for i in range(len(base))]
    table: dict[str, dict[str, float]] = {}
    through_losses: list[str] = []  # inputs that change only the losses layers add: a CTC model's labels
    for k, info in enumerate(infos):
        changed = list(xs)
        changed[k] = alt[k]
        table[info.name] = dict(zip(outs, _change(base, run(changed))))
        if max(_change(base_added, added[-1]), default=0.0) > rtol:
            through_losses.append(info.name)
    details["relative_change"] = table
    details["changes_added_losses"] = through_losses
    unmeasured = [k for k, info in enumerate(infos)
                  if max(table[info.name].values()) <= rtol and info.name not in through_losses]
    reached = call_user_code("differentiating the outputs with respect to the inputs", _gradient_reaches,
                             model, xs, seed) if unmeasured else set()
    details["dependence_by_gradient"] = [infos[k].name for k in sorted(reached)]
    ignored = [infos[k] for k in unmeasured if k not in reached]
    constant = [name for name in outs if max(table[i.name][name] for i in infos) <= rtol] if ignored else []
    problems = []
    if len(infos) == 1 and ignored:
        problems.append(mismatch("effect of the input", "a different output when the input changes",
                                 "the same output whatever the input", at="the input",
                                 note="when every input value is redrawn, no output changes"))
    else:
        problems += [mismatch("effect of the input", "a different output when the input changes", "the same output",
                              at=_input_label(info, infos.index(info), len(infos)), note="the model ignores that input")
                     for info in ignored]
        if len(outs) > 1:
            problems += [mismatch("effect of the inputs", "a change when the inputs change", "no change",
                                  at=output_ref(name), note="this output does not depend on any input")
                         for name in constant if len(ignored) < len(infos)]
    expected = "every input changes the output"
    if problems:
        return CheckResult.fail(
            INPUTS, also(problems[0], problems[1:]), expected=expected,
            received={"ignored_inputs": [i.name for i in ignored], "constant_outputs": constant}, details=details,
            hint="check that every keras.Input reaches the outputs (e.g. concatenate([a, b]), not [a, a]); an "
            "output that ignores every input comes from all-zero kernels, dead ReLUs or a multiplication by 0.")
    only_losses = [name for name in through_losses if max(table[name].values()) <= rtol]
    smallest = min((min(row.values()) for name, row in table.items() if name not in only_losses), default=0.0)
    message = f"each of the {len(infos)} input(s) changes the output (smallest relative change {fmt(smallest)})"
    if reached:  # a change of 0 passed: say what showed the dependence instead
        names = ", ".join(repr(infos[k].name) for k in sorted(reached))
        message += (f"; {names} changed no output value measurably on this batch, but the outputs' gradient "
                    "with respect to it is not zero (the outputs of an untrained model can round to the same "
                    "values for every input, as a saturated or nearly uniform softmax does)")
    if only_losses:
        message = (f"each of the {len(infos)} input(s) changes the output or the losses its layers add: "
                   f"{', '.join(map(repr, only_losses))} only the losses (add_loss), as a CTC model's labels do")
    return CheckResult.ok(INPUTS, message, expected=expected, received=table, details=details)
