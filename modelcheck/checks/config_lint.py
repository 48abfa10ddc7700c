"""Configuration mistakes that no run can reveal, each said as a plain sentence with its fix.

A model with a Dropout rate of 0.9, two Dense layers with no activation between them or a
flattened input still builds, trains and passes shape checks: only its configuration shows the
mistake. Mutation runs (`modelcheck mutants`) showed these surviving every run-based check (a
learning rate x1000 too: a short run of Adam at 0.5 still lowers the loss).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from ..core.messages import also, layer_ref, mismatch, output_ref
from ..core.result import CheckResult
from ..model.graph import has_symbolic_inputs, layers_of
from ..model.outputs import activation_of, output_kinds, output_layers, shape_str
from .common import check

__all__ = ["check_config_lint", "LABELS"]

NAME = "config_lint"
LABELS = ("integers", "one_hot")

_DROPOUTS = (keras.layers.Dropout, keras.layers.SpatialDropout1D, keras.layers.SpatialDropout2D,
             keras.layers.SpatialDropout3D)
_AFTER_OUTPUT = (keras.layers.BatchNormalization, *_DROPOUTS)
_LINEAR = (None, "linear")
# Optimizers whose step is about the learning rate whatever the gradient's size, and the rate
# above which one step throws the weights far from where they started.
_ADAPTIVE = ("Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Adagrad", "Lion", "Lamb")
_MAX_ADAPTIVE_RATE = 0.1
_MAX_SGD_RATE = 1.0


def _where(layer: keras.layers.Layer) -> str:
    return layer_ref(layer.name, type(layer).__name__)


def _dropout_rates(model: keras.Model) -> list[str]:
    found = []
    for layer in layers_of(model):
        rate = getattr(layer, "rate", None)
        if isinstance(layer, _DROPOUTS) and isinstance(rate, (int, float)) and rate >= 0.9:
            found.append(mismatch("dropout rate", "the fraction of units dropped, usually 0.1 to 0.5",
                                  f"rate={rate:g}", at=_where(layer),
                                  note=f"Keras' rate is the fraction dropped, TF1's keep_prob was the fraction "
                                  f"kept: this drops {rate:.0%} of the units; to keep {rate:.0%} write "
                                  f"Dropout({1 - rate:.2g})"))
    return found


def _successors(model: keras.Model) -> dict[int, list[keras.layers.Layer]]:
    """Layer id -> the layers that read its output, from the nodes of this model's graph only (a
    Sequential model keeps its graph inside, and a layer may have been called elsewhere too)."""
    graph = getattr(model, "_functional", None) or model
    found: dict[int, list[keras.layers.Layer]] = {}
    for nodes in getattr(graph, "_nodes_by_depth", {}).values():
        for node in nodes:
            for tensor in node.input_tensors:
                producer = tensor._keras_history.operation
                found.setdefault(id(producer), []).append(node.operation)
    return found


def _next_layers(successors: dict[int, list[Any]], layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The layers that read `layer`'s output, looking through Dropout layers (linear too)."""
    found = []
    for after in successors.get(id(layer), []):
        if isinstance(after, _DROPOUTS):
            found.extend(_next_layers(successors, after))
        else:
            found.append(after)
    return found


def _linear_stacks(model: keras.Model, outputs: list[Any]) -> list[str]:
    found = []
    successors = _successors(model)
    for layer in layers_of(model):
        if not isinstance(layer, keras.layers.Dense) or activation_of(layer) not in _LINEAR or layer in outputs:
            continue
        following = _next_layers(successors, layer)
        if len(following) == 1 and isinstance(following[0], keras.layers.Dense):
            found.append(mismatch("activation", f"an activation between Dense layers {layer.name!r} and "
                                  f"{following[0].name!r}", "no activation", at=_where(layer),
                                  note="two Dense layers with no activation between them collapse into one "
                                  "linear map, so the hidden layer adds nothing: add activation=\"relu\" to "
                                  f"{layer.name!r}"))
    return found


# The steps a training run reaches (100 epochs of 1,000 batches), on which a learning-rate schedule
# is evaluated, with the schedule's own step counts (boundaries, decay and warm-up steps) beside them.
_LAST_STEP = 100_000
_GRID = sorted({0, *(int(round(v)) for v in np.logspace(0, np.log10(_LAST_STEP), 61))})


def _rate_limit(kind: str) -> tuple[float, str, str] | None:
    """The largest sound learning rate of an optimizer class, what its step does, and the usual range."""
    if kind in _ADAPTIVE:
        return (_MAX_ADAPTIVE_RATE, "moves every weight by about the learning rate at each step",
                "1e-4 to 1e-2 (Keras' default is 0.001)")
    if kind == "SGD":
        return _MAX_SGD_RATE, "multiplies every gradient by the learning rate", "1e-3 to 0.1 (Keras' default is 0.01)"
    return None


def _schedule_steps(schedule: Any) -> list[int]:
    """`_GRID` and the steps where `schedule` changes course: its boundaries, decay and warm-up
    step counts (and a step either side), and multiples of its decay steps."""
    steps = set(_GRID)
    try:
        config = schedule.get_config() or {}
    except Exception:  # a custom schedule without get_config: the grid alone
        config = {}
    found: list[float] = []
    for key, value in config.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if ("step" in key or "boundar" in key) and all(isinstance(v, (int, float)) for v in values):
            found += [float(v) for v in values]
    for value in found:
        for k in range(1, 11):
            steps.add(int(value) * k)
        steps.update({int(value) - 1, int(value) + 1})
    return sorted(step for step in steps if 0 <= step <= _LAST_STEP)


def _schedule_rates(schedule: Any) -> list[tuple[int, float]] | None:
    """(step, rate) of `schedule` over the steps a run reaches (`_schedule_steps`); None when it
    cannot be evaluated (a custom schedule that raises)."""
    rates = []
    try:
        for step in _schedule_steps(schedule):
            rates.append((step, float(np.asarray(keras.ops.convert_to_numpy(schedule(np.int64(step)))))))
    except Exception:  # the user's own schedule: nothing to judge
        return None
    return rates


def _schedule_finding(optimizer: Any, schedule: Any) -> str | None:
    """The finding for a learning-rate schedule that rises above the optimizer's limit at some
    step of a run, naming the step: the first steps (all a short check runs) may train well."""
    kind = type(optimizer).__name__
    limit = _rate_limit(kind)
    rates = _schedule_rates(schedule) if limit is not None else None
    if not rates:
        return None
    bound, step_words, usual = limit
    over = [(step, rate) for step, rate in rates if not rate <= bound * (1 + 1e-6)]  # (NaN counts as over)
    if not over:
        return None
    first_step, first_rate = over[0]
    peak_step, peak = max(over, key=lambda pair: pair[1] if np.isfinite(pair[1]) else np.inf)
    name = type(schedule).__name__
    rise = f"the learning rate rises to {first_rate:g} at step {first_step:,}" if first_step else \
        f"the learning rate starts at {first_rate:g}"
    if peak_step != first_step and peak > first_rate * 1.01:
        rise += f" and reaches {peak:g} at step {peak_step:,}"
    return mismatch("learning rate", f"at most {bound:g} for {kind} at every step", f"{name} up to {peak:g}",
                    at=f"the {kind} optimizer's schedule",
                    note=f"{rise} (it starts at {rates[0][1]:g}); {kind} {step_words}, so from there the weights are "
                    f"thrown far from any minimum, though a short run may still train; the usual range is {usual}: "
                    "check the schedule's arguments (a decay_rate above 1 makes ExponentialDecay grow)")


def _learning_rate(model: keras.Model) -> list[str]:
    """A learning rate far above what the compiled optimizer can take (x1000, 1e-3 written as 1):
    a constant one, or a schedule at any step a run reaches (`_schedule_finding`)."""
    from ..model.compiled import compiled_optimizer

    optimizer = compiled_optimizer(model)
    if optimizer is None:
        return []
    schedule = getattr(optimizer, "_learning_rate", None)
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        finding = _schedule_finding(optimizer, schedule)
        return [finding] if finding else []
    try:
        rate = optimizer.get_config().get("learning_rate")
    except Exception:  # a user-defined optimizer's get_config: nothing to judge
        return []
    kind = type(optimizer).__name__
    limit = _rate_limit(kind)
    # the rate comes back from float32, so 0.1 reads 0.10000000149
    if limit is None or not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= limit[0] * (1 + 1e-6):
        return []
    bound, step, usual = limit
    return [mismatch("learning rate", f"at most {bound:g} for {kind}", f"learning_rate={rate:g}",
                     at=f"the {kind} optimizer",
                     note=f"{kind} {step}, so {rate:g} throws the weights far from any minimum; the usual range is "
                     f"{usual}: was a factor of 1000 slipped in?")]


# Momentum-like settings: the part of the past steps each step keeps. At 0.999 and above a step
# carries a thousand past ones: the steps grow until the weights overflow.
_MAX_MOMENTUM = 0.999


def _optimizer_settings(model: keras.Model) -> list[str]:
    """Optimizer settings that make training diverge or stand still after the first steps: a
    momentum of 0.999 or more, Adam's beta_1 or beta_2 at 1 or more, and an exponential moving
    average that overwrites the weights with values that have hardly moved from the start."""
    from ..model.compiled import compiled_optimizer

    optimizer = compiled_optimizer(model)
    try:
        config = optimizer.get_config() if optimizer is not None else {}
    except Exception:  # a user-defined optimizer's get_config: nothing to judge
        return []
    kind, where = type(optimizer).__name__, f"the {type(optimizer).__name__} optimizer"
    found = []
    momentum = config.get("momentum")
    if isinstance(momentum, (int, float)) and momentum >= _MAX_MOMENTUM:
        found.append(mismatch("momentum", "below 0.999 (usually 0.9)", f"momentum={momentum:g}", at=where,
                              note=f"each step adds {momentum:g} of the previous one, so the steps grow about "
                              f"{1 / max(1 - momentum, 1e-12):,.0f} times larger than the gradient and training "
                              "diverges after its first steps" + (" (nesterov=True does not change that)"
                                                                   if config.get("nesterov") else "")
                              + ": use momentum=0.9"))
    for key, usual in (("beta_1", "0.9"), ("beta_2", "0.999")):
        value = config.get(key)
        if isinstance(value, (int, float)) and value >= 1:
            found.append(mismatch(key, f"below 1 (Keras' default is {usual})", f"{key}={value:g}", at=where,
                                  note=f"{kind}'s running averages keep {key} of their past value, so at 1 they never "
                                  f"take in a gradient (and its bias correction divides by zero): use {key}={usual}"))
    ema, every = config.get("ema_momentum"), config.get("ema_overwrite_frequency")
    if config.get("use_ema") and isinstance(ema, (int, float)) and isinstance(every, int) and every > 0 \
            and ema >= _MAX_MOMENTUM and ema ** every >= 0.9:
        found.append(mismatch("ema_momentum", f"an average that follows the weights within {every} steps",
                              f"ema_momentum={ema:g} with ema_overwrite_frequency={every}", at=where,
                              note=f"every {every} steps the weights are replaced by their moving average, which "
                              f"still holds {ema ** every:.1%} of where they were before: training is undone again and "
                              "again; use ema_momentum=0.99, or leave ema_overwrite_frequency out"))
    return found


def _output_findings(model: keras.Model, outputs: list[Any], kinds: list[str]) -> list[str]:
    found = []
    for layer, kind in zip(outputs, kinds):
        if layer is None:
            continue
        activation = activation_of(layer)
        units = layer.output.shape[-1] if len(layer.output.shape) > 1 else None
        if activation == "softmax" and units == 1:
            found.append(mismatch("output activation", "sigmoid on a single unit (or softmax over 2 or more units)",
                                  "softmax over 1 unit", at=output_ref(layer.name),
                                  note="a softmax over one unit always outputs 1: use activation=\"sigmoid\" for "
                                  "two classes"))
        elif kind == "regression" and activation in ("sigmoid", "softmax"):
            found.append(mismatch("output activation", "a linear output for a regression", activation,
                                  at=output_ref(layer.name),
                                  note=f"{activation} squeezes every prediction between 0 and 1: remove the "
                                  "activation (activation=None)"))
        if isinstance(layer, _AFTER_OUTPUT):
            found.append(mismatch("output layer", "the activation as the model's last step",
                                  f"{type(layer).__name__} after it", at=_where(layer),
                                  note=f"a {type(layer).__name__} after the output activation changes the "
                                  "probabilities (or values) the model predicts: move it before the output layer"))
    return found


def _input_findings(model: keras.Model, expected: Any) -> list[str]:
    if expected is None or not has_symbolic_inputs(model):
        return []
    wanted = expected if isinstance(expected, list) else [expected]
    if isinstance(expected, dict) or len(wanted) != len(model.inputs):
        return []
    found = []
    for tensor, shape in zip(model.inputs, wanted):
        got = tuple(tensor.shape)
        fits = len(got) == len(shape) and all(e is None or g == e for g, e in zip(got, shape))
        if not fits:
            name = tensor._keras_history.operation.name
            found.append(mismatch("input shape", shape_str(shape), shape_str(got), at=f"input {name!r}",
                                  note="the model must read the data as the assignment gives it: "
                                  f"keras.Input(shape={shape_str(shape[1:])})"))
    return found


# The labels each Keras loss takes (canonical names, `canonical_loss_name`): one class id per
# sample, or a target per output unit (one-hot rows or probabilities, 0/1 per unit, real values).
_CLASS_ID_LOSSES = ("sparse_categorical_crossentropy", "categorical_generalized_cross_entropy")
_ONE_HOT_LOSSES = ("categorical_crossentropy", "categorical_focal_crossentropy", "categorical_hinge", "kl_divergence",
                   "kullback_leibler_divergence", "poisson", "cosine_similarity", "dice", "tversky")
_BINARY_LOSSES = ("binary_crossentropy", "binary_focal_crossentropy", "hinge", "squared_hinge")
_REAL_LOSSES = ("mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
                "mean_squared_logarithmic_error", "huber", "log_cosh")
# what each loss of a target per unit needs, in words
_PER_UNIT = {**{name: "one-hot rows (or probabilities)" for name in _ONE_HOT_LOSSES},
             **{name: "a 0/1 value per unit" for name in _BINARY_LOSSES},
             **{name: "a real value per unit" for name in _REAL_LOSSES}}
_CLASS_AXIS_LOSSES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "categorical_focal_crossentropy")


def _loss_name(identifier: Any) -> str | None:
    """A compiled loss's canonical Keras name, None for one that is not a loss (a metric, None)."""
    from .loss_config import canonical_loss_name

    if identifier is None or isinstance(identifier, keras.metrics.Metric):
        return None
    name = identifier if isinstance(identifier, str) else \
        type(identifier).__name__ if isinstance(identifier, keras.losses.Loss) else getattr(identifier, "__name__", None)
    return canonical_loss_name(str(name)) if name else None


def _loss_settings(identifier: Any) -> dict[str, Any]:
    """A Loss object's settings: its config and the keyword arguments of its function (``axis`` is
    in the latter only: Keras' get_config leaves it out)."""
    if not isinstance(identifier, keras.losses.Loss):
        return {}
    try:
        config = dict(identifier.get_config() or {})
    except Exception:  # a custom Loss without get_config
        config = {}
    return {**(getattr(identifier, "_fn_kwargs", None) or {}), **config}


def _output_losses(model: keras.Model) -> list[tuple[Any, str, tuple[Any, ...] | None, int]]:
    """Each compiled output loss: (identifier, where, the output's shape or None, output index)."""
    from ..model.compiled import compiled_loss

    loss = compiled_loss(model)
    if loss is None:
        return []
    try:
        shapes: list[tuple[Any, ...] | None] = [tuple(t.shape) for t in model.outputs]
        names = [t._keras_history.operation.name for t in model.outputs]
    except (AttributeError, ValueError, TypeError):  # subclassed: the outputs' shapes are not known here
        shapes, names = [None], ["the model's output"]
    if isinstance(loss, dict):
        by_name = {name: i for i, name in enumerate(names)}
        pairs = [(value, by_name.get(str(key))) for key, value in loss.items()]
    elif isinstance(loss, (list, tuple)):
        pairs = [(value, i if i < len(shapes) else None) for i, value in enumerate(loss)]
    else:
        pairs = [(loss, i) for i in range(len(shapes))]
    return [(value, output_ref(names[i]) if i is not None and shapes[i] is not None else "the compiled loss",
             shapes[i] if i is not None else None, i if i is not None else -1) for value, i in pairs]


def _units(shape: tuple[Any, ...] | None) -> int | None:
    return int(shape[-1]) if shape is not None and len(shape) > 1 and shape[-1] is not None else None


def _integer_label_finding(name: str, shape: tuple[Any, ...] | None, where: str) -> str | None:
    """The finding for a loss that takes a target per output unit, compiled for integer class ids."""
    units = _units(shape)
    needs = _PER_UNIT.get(name)
    if needs is None or (units is None and name not in _ONE_HOT_LOSSES) or units == 1:
        return None  # (one unit: 0/1 labels are one value per sample, as binary losses take them)
    outputs = f"each of the output's {units} values" if units else "each output unit"
    return mismatch("loss", "a loss that takes integer class ids (sparse_categorical_crossentropy)", name, at=where,
                    note=f"{name} compares the label with {outputs}, so it needs {needs}, and Keras' fit cannot run "
                    "it on the assignment's labels, one class id per sample: compile with "
                    "loss=\"sparse_categorical_crossentropy\""
                    + (" (or turn the labels into one-hot rows with keras.utils.to_categorical)"
                       if name in _ONE_HOT_LOSSES else ""))


def _axis_finding(name: str, settings: dict[str, Any], shape: tuple[Any, ...] | None, where: str) -> str | None:
    """The finding for a cross-entropy over another axis than the classes' (the last)."""
    axis = settings.get("axis")
    if name not in _CLASS_AXIS_LOSSES or not isinstance(axis, int) or axis == -1:
        return None
    if shape is None or axis == len(shape) - 1:
        return None  # (the last axis as a positive number is the same axis)
    return mismatch("loss axis", "the classes' axis, the last (axis=-1, Keras' default)", f"axis={axis}", at=where,
                    note=f"{name} takes the classes along the last axis only (fit raises \"Only axis=-1 is currently "
                    "supported\" for the sparse one): leave axis out")


def _ignored_class_finding(settings: dict[str, Any], shape: tuple[Any, ...] | None, where: str,
                           labels: str | None, sample: Any) -> str | None:
    """The finding for ``ignore_class`` set to one of the assignment's classes: with instructor
    labels, a value they hold; without, a class id of a classifier's output (one label per sample,
    compiled for integer labels). A segmentation's "void" label, not a class, is left alone."""
    ignored = settings.get("ignore_class")
    if ignored is None or isinstance(ignored, bool):
        return None
    units = _units(shape)
    if sample is not None:
        values = np.asarray(sample)
        if values.ndim and units and values.shape[-1] == units > 1 and values.ndim == len(shape or ()):
            values = np.argmax(values, axis=-1)  # one-hot labels
        if not np.any(values == ignored):
            return None
        among = "the assignment's labels"
    elif labels == "integers" and shape is not None and len(shape) == 2 and units and 0 <= ignored < units:
        among = f"the output's class ids 0..{units - 1}"
    else:
        return None
    return mismatch("loss", "every class trained", f"ignore_class={ignored}", at=where,
                    note=f"ignore_class={ignored} leaves out every sample labelled {ignored}, one of {among}, so the "
                    f"model never learns class {ignored}; ignore_class is for a label that is not a class (a "
                    "segmentation's \"void\" pixels): remove it")


def _casts_to(layer: Any) -> str | None:
    """The bool or integer dtype a layer turns what it reads into, None for a float one (or a
    lookup layer, which takes ids as they are)."""
    dtype = str(getattr(layer, "input_dtype", None) or "")
    if not getattr(layer, "_convert_input_args", True) or not (dtype == "bool" or "int" in dtype):
        return None
    return dtype


def _changed_value(values: np.ndarray, dtype: str) -> tuple[float, Any] | None:
    """A value of `values` that `dtype` changes, and what it becomes; None when it keeps them all."""
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.floating):
        return None
    finite = values[np.isfinite(values)]
    cast = finite.astype(dtype)
    changed = np.flatnonzero(cast.astype(values.dtype) != finite)
    if not changed.size:
        return None
    return float(finite.flat[changed[0]]), cast.flat[changed[0]].item()


def _input_dtype_findings(model: keras.Model) -> list[str]:
    """An input, or a layer reading one, whose bool or integer dtype changes the assignment's
    sample values (pixels in [0, 1] become 0 or 1): judged only with instructor samples."""
    from ..model.inputs import _DATA_ATTRIBUTE

    data = getattr(model, _DATA_ATTRIBUTE, None)
    if data is None or data.x is None or not has_symbolic_inputs(model) or len(data.x) != len(model.inputs):
        return []
    successors = _successors(model)
    found = []
    for tensor, sample in zip(model.inputs, data.x):
        source = tensor._keras_history.operation
        readers = [(f"input {source.name!r}", str(tensor.dtype), "keras.Input")] + [
            (_where(layer), _casts_to(layer), type(layer).__name__) for layer in successors.get(id(source), [])]
        for where, dtype, what in readers:
            changed = _changed_value(sample, dtype) if dtype and (dtype == "bool" or "int" in dtype) else None
            if changed is not None:
                value, becomes = changed
                found.append(mismatch("dtype", "a float dtype, which keeps the sample values", dtype, at=where,
                                      note=f"the assignment's samples hold values such as {value:g}, which dtype="
                                      f"{dtype} turns into {becomes}: the model cannot learn from what it reads; leave "
                                      f"dtype out of {what}(...) (float32)"))
                break
    return found


def _label_findings(model: keras.Model, labels: str | None) -> list[str]:
    """Losses that cannot train on the assignment's labels: with ``labels="integers"`` one that
    takes a target per output unit (one-hot rows, 0/1 or real values per unit), with ``"one_hot"``
    one that takes class ids; whatever `labels`, a cross-entropy over another axis than the last,
    and ``ignore_class`` set to one of the assignment's classes."""
    from ..model.inputs import _DATA_ATTRIBUTE

    data = getattr(model, _DATA_ATTRIBUTE, None)
    found = []
    for identifier, where, shape, index in _output_losses(model):
        name = _loss_name(identifier)
        if name is None:
            continue
        settings = _loss_settings(identifier)
        if labels == "integers":
            found += [f for f in [_integer_label_finding(name, shape, where)] if f]
        elif labels == "one_hot" and name in _CLASS_ID_LOSSES:
            found.append(mismatch("loss", "categorical_crossentropy for labels given as one-hot rows", name, at=where,
                                  note=f"{name} expects integer class ids: compile with loss=\"categorical_crossentropy\""))
        found += [f for f in [_axis_finding(name, settings, shape, where)] if f]
        sample = data.y[index] if data is not None and data.y is not None and 0 <= index < len(data.y) else None
        found += [f for f in [_ignored_class_finding(settings, shape, where, labels, sample)] if f]
    return found


@check(NAME)
def check_config_lint(
    model: keras.Model,
    *,
    expected_input: Any = None,
    output: Any = None,
    labels: str | None = None,
    seed: int = 0,
) -> CheckResult:
    """Flag configuration mistakes no run reveals, each with its fix.

    A Dropout rate of 0.9 or more (TF1's keep_prob written as Keras' rate); two Dense layers with
    no activation between them; softmax on a single unit; a sigmoid or softmax output where
    `output` says ``"regression"``; BatchNormalization or Dropout after the output activation;
    an input other than `expected_input` (with the batch dimension, ``None`` a wildcard); with
    ``labels="integers"`` (or ``"one_hot"``), the cross-entropy that expects the other kind; a
    constant learning rate above 0.1 for an adaptive optimizer (Adam, RMSprop, ...) or above 1 for SGD.

    Example::

        check_config_lint(keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.9), keras.layers.Dense(1)]))
        # "dropout rate: expected the fraction of units dropped, usually 0.1 to 0.5, received rate=0.9, at layer
        #  'dropout' (Dropout); Keras' rate is the fraction dropped, ..."
    """
    if labels is not None and labels not in LABELS:
        from ..core.errors import SpecError

        raise SpecError(f"config_lint: `labels` must be one of {', '.join(LABELS)}, received {labels!r}")
    findings = _dropout_rates(model)
    graph = has_symbolic_inputs(model)
    outputs = output_layers(model) if graph else []
    if graph:
        kinds = output_kinds(model, output, len(outputs)) if output is not None else [None] * len(outputs)
        findings += _linear_stacks(model, outputs)
        findings += _output_findings(model, outputs, kinds)
    findings += _input_findings(model, expected_input)
    findings += _input_dtype_findings(model)
    findings += _label_findings(model, labels)
    findings += _learning_rate(model)
    findings += _optimizer_settings(model)
    expected = "no configuration mistake"
    details = {"findings": findings, "graph_seen": graph}
    if findings:
        return CheckResult.fail(NAME, also(findings[0], findings[1:]), expected=expected, received=findings,
                                details=details, hint="each finding names the layer and the fix")
    seen = "the layers, their wiring and the outputs" if graph else "the layers (the wiring of a subclassed " \
                                                                   "model cannot be seen)"
    return CheckResult.ok(NAME, f"no configuration mistake found in {seen}", expected=expected, received=[],
                          details=details)
