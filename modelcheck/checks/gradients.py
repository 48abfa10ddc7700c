"""Gradient flow: every trainable variable gets a finite gradient that is not all zeros."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from ..core.errors import call_user_code
from ..model import backend, loops
from ..model.outputs import flatten_outputs, output_layers
from ..model.engine import own_training, preserved_weights
from ..model.freezing import ASIDE_NOTE, BACKBONE_NOTE, backbone_names, frozen_aside, frozen_layers
from ..model.graph import layers_of, upstream_layers
from ..model.inputs import batch_size_for
from ..model.loops import objective_key
from ..model.memo import remembered
from ..model.randomness import rewound_forward
from ..model.state import reset_states
from ..model.variables import variable_label, variable_owners
from ..core.messages import also, for_audience, mismatch
from ..core.result import CheckResult
from .common import SIGNS_CANCEL, check, default_batch, prepare_batch, second_batch
from .loss_config import loss_misfit, output_misfits, unweighted, zero_weight

__all__ = [
    "check_gradient_flow", "gradients", "frozen_message", "gradient_cause", "feeds_only_batchnorm",
    "batchnorm_batch_size",
]

NAME = "gradient_flow"


def gradients(model: keras.Model, x: Any, targets: list[np.ndarray], objective: Any) -> tuple[float, list[Any]]:
    """One backward pass of the objective on the backend Keras runs on: (loss, gradient per
    trainable variable as NumPy, or None where the backend knows the loss does not reach it).
    Within a session the same batch's gradients are taken once (`gradient_flow` and `finite`)."""
    def compute() -> tuple[float, list[Any]]:
        # the training-mode pass would move BatchNormalization's statistics: keep the model as it was
        with preserved_weights(model, non_trainable_only=True):
            reset_states(model)
            return call_user_code("computing gradients through the model", backend.current().gradients, model,
                                  lambda y, outputs: objective.total(y, flatten_outputs(outputs)), x, targets)

    return remembered("gradients", model, (x, targets), compute, extra=objective_key(objective))


def feeds_only_batchnorm(layer: keras.layers.Layer | None) -> bool:
    """True for a layer whose output goes only into BatchNormalization: in training mode BN
    subtracts the batch mean, so that layer's bias has a gradient of exactly zero by design."""
    consumers = [node.operation for node in getattr(layer, "_outbound_nodes", [])]
    return bool(consumers) and all(isinstance(c, keras.layers.BatchNormalization) for c in consumers)


def unlossed_outputs_fed(layer: keras.layers.Layer | None, model: keras.Model, objective: Any) -> list[str]:
    """The outputs `layer` reaches when every one of them is compiled with no loss (None in a list,
    left out of a dict) or a loss weight of 0, so that fit() never trains it; else an empty list."""
    losses = getattr(objective, "losses", [])
    if all(loss.trained and loss.weight != 0 for loss in losses):  # the usual case, nothing to read
        return []
    outputs = output_layers(model)
    if layer is None or [loss.output for loss in losses] != [getattr(out, "name", None) for out in outputs]:
        return []  # (a subclassed model's outputs, or losses this reading cannot pair with them)
    upstream = upstream_layers(model)
    reached = [loss for loss, out in zip(losses, outputs) if out is layer or id(layer) in upstream.get(id(out), set())]
    return ([loss.output for loss in reached] if reached and not any(loss.trained and loss.weight != 0 for loss in reached)
            else [])


def _unlossed_cause(unlossed: list[str], objective: Any) -> str:
    """Why a variable that feeds only the `unlossed` outputs never trains, and the fix."""
    weighted = {loss.output for loss in getattr(objective, "losses", []) if loss.trained}
    how = ("whose weight in loss_weights is 0" if set(unlossed) <= weighted else
           "which is compiled with no loss" if not set(unlossed) & weighted else
           "which is compiled with no loss or a weight of 0 in loss_weights")
    return (f"it feeds only output {', '.join(map(repr, unlossed))}, {how}, so fit() never trains it: if it should "
            "learn, give that output a loss with a weight above 0 (loss_weights can make it small), else build it "
            "outside the model that trains")


def gradient_cause(layer: keras.layers.Layer | None, variable: Any, model: keras.Model, problem: str,
                   objective: Any = None) -> str:
    """The likely cause, in plain words, of a variable getting no (`"none"`), an all-zero
    (`"zero"`) or a non-finite gradient; with the `objective`, an output it alone feeds that has no loss."""
    kind = type(layer).__name__ if layer is not None else "?"
    if problem == "none":
        unlossed = unlossed_outputs_fed(layer, model, objective)
        if unlossed:
            return _unlossed_cause(unlossed, objective)
        if kind == "Lambda":
            return "a Lambda layer cuts the graph (stop_gradient, a NumPy call or a cast to integers)"
        return ("it is not connected to the loss: a layer after it cuts the gradient "
                "(stop_gradient in a Lambda, an integer cast, argmax) or it is never used")
    if problem == "zero":
        unlossed = unlossed_outputs_fed(layer, model, objective)
        if unlossed:  # a loss weight of 0 multiplies the gradient by zero
            return _unlossed_cause(unlossed, objective)
        # read only for an output layer's variables: a misfit loss starves the head it trains
        at_output = layer is not None and any(layer is out for out in output_layers(model))
        misfit = output_misfits(model).get(layer.name) if at_output else None
        if misfit:
            return (f"it gives output {layer.name!r}, whose loss gives no gradient because it does not fit the "
                    f"output: {misfit}")
        zero_init = [l.name for l in layers_of(model)
                     if type(getattr(l, "kernel_initializer", None)).__name__ == "Zeros"]
        if zero_init:
            return (f"layer(s) {', '.join(repr(n) for n in zero_init)} start with all-zero weights, "
                    "so every unit computes the same thing and no gradient reaches back: use the default "
                    "initializer (glorot_uniform / he_normal)")
        return ("its units are dead (every ReLU input negative), a later layer multiplies it by zero, or its "
                "input never varies (a recurrent layer over a single step, a kernel that only sees padding)")
    return "the loss or an activation overflows: check the learning rate and the loss function"


# BatchNormalization in training mode maps 2 values of a channel to about -1 and +1 (1 value to its
# beta) whatever they are, so nothing before it gets a gradient: a batch of 2 on EfficientNet's 1 x 1
# maps (32 x 32 images) made every earlier kernel's gradient exactly zero, a false alarm.
MIN_BATCHNORM_VALUES = 4


def batchnorm_batch_size(model: keras.Model) -> int:
    """The smallest batch with which every BatchNormalization of `model` (in training mode)
    normalises at least MIN_BATCHNORM_VALUES values per channel (its input's positions times
    the batch); 1 when the model has none or their input shapes are unknown."""
    needed = 1
    for layer in layers_of(model):
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        try:
            shape = tuple(layer.input.shape)
        except (AttributeError, ValueError):
            continue  # a shared layer or a subclassed model: no single input shape
        axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
        kept = {a % len(shape) for a in axes} | {0}
        positions = int(np.prod([d or 1 for i, d in enumerate(shape) if i not in kept]))
        needed = max(needed, -(-MIN_BATCHNORM_VALUES // positions))
    return needed


def frozen_message(frozen: list[keras.layers.Layer]) -> str:
    """The failure message for layers frozen with ``trainable = False`` (allowed only on request:
    ``allow_frozen``, which a graded student cannot set, so they are told to ask)."""
    fix = for_audience(loops.current().audience,
                       configurer="set trainable=True, or pass allow_frozen=True if freezing is intended",
                       student="make every layer trainable (remove trainable=False), or ask your instructor if "
                       "freezing is intended")
    return mismatch("trainable layers", "every layer with weights trainable", "frozen (trainable=False)",
                    at=", ".join(f"layer {l.name!r} ({l.count_params():,} weights)" for l in frozen),
                    note=f"frozen weights never learn: {fix} (transfer learning)")


def _zero_by_coincidence(model: keras.Model, labels: list[str], *, output: Any, batch_size: int,
                         seed: int) -> list[str]:
    """Those of `labels` (variables with an all-zero gradient) whose gradient is not zero on a
    `second_batch`; a variable that truly gets no gradient (dead units, zero weights) stays at zero."""
    if not labels:
        return []
    prepared = second_batch(NAME, model, output=output, batch_size=batch_size, seed=seed)
    if isinstance(prepared, CheckResult):
        return []
    x, targets, objective, _ = prepared
    return _with_gradient(model, labels, gradients(model, x, targets, objective)[1])


def _with_gradient(model: keras.Model, labels: list[str], grads: list[Any]) -> list[str]:
    """Those of `labels` whose variable has a finite gradient that is not all zeros in `grads`
    (one per trainable variable)."""
    owners = variable_owners(model)
    nonzero = {variable_label(owners.get(id(variable)), variable) for variable, grad in zip(model.trainable_variables, grads)
               if grad is not None and np.all(np.isfinite(grad)) and np.any(grad != 0)}
    return [label for label in labels if label in nonzero]


def _constant_starts(model: keras.Model) -> dict[str, str]:
    """Layers that start as a chosen constant on purpose, each with how: a zero kernel and a bias
    initialised to something else (keras.io's PointNet starts its transform as the identity
    matrix this way), Keras' LoRA (``enable_lora``), whose B factor starts at zero as in the
    LoRA paper, so that fine-tuning starts from the pretrained layer, or a normalization whose
    scale starts at zero (a residual block that starts as the identity). A student's zero
    initialisation leaves the bias at zero as well."""
    starts = {}
    for layer in layers_of(model):
        if getattr(layer, "lora_enabled", False):
            starts[layer.name] = "its LoRA adapter's B factor starts at zero, as in the LoRA paper"
        elif (type(getattr(layer, "kernel_initializer", None)).__name__ == "Zeros" and getattr(layer, "use_bias", False)
              and type(getattr(layer, "bias_initializer", None)).__name__ != "Zeros"):
            starts[layer.name] = "a zero kernel, its bias set"
        elif (getattr(layer, "scale", False) is True
              and type(getattr(layer, "gamma_initializer", None)).__name__ == "Zeros"):
            starts[layer.name] = ("its scale (gamma) starts at zero, so the residual branch it ends starts as "
                                  "nothing (the zero-initialised residual of Goyal et al.)")
    return starts


def _zero_at_start_only(model: keras.Model, labels: list[str], x: Any, targets: list[np.ndarray], objective: Any,
                        grads: list[Any]) -> list[str]:
    """Those of `labels` (variables with an all-zero gradient) that get one after a single small
    gradient step of the whole model, in a model with a layer that starts as a constant on purpose
    (`_constant_starts`): that layer's kernel learns, and from the second step on the gradient
    reaches the layers before it."""
    if not labels or not _constant_starts(model):
        return []
    with preserved_weights(model):
        for variable, grad in zip(model.trainable_variables, grads):
            if grad is not None and np.all(np.isfinite(grad)):
                value = keras.ops.convert_to_numpy(variable.value)
                variable.assign((value - _PROBE_STEP * np.asarray(grad)).astype(value.dtype))
        _, after = gradients(model, x, targets, objective)
    return _with_gradient(model, labels, after)


# The learning rate of the one plain gradient step `_zero_at_start_only` takes.
_PROBE_STEP = 0.01


def cancels_out(model: keras.Model, layer: keras.layers.Layer | None, variable: Any, x: Any,
                shared_only: bool = True) -> bool:
    """True for a variable of a layer called more than once (a siamese tower; any layer's without
    `shared_only`) that no output depends on: moved far from its value, it leaves every output as it
    was, as a tower's last bias does when the distance between two of its calls is taken (it
    cancels). Dead units would wake."""
    if layer is None or (shared_only and len(getattr(layer, "_inbound_nodes", [])) < 2):
        return False
    run = rewound_forward(model)
    before = run(x)
    saved = keras.ops.convert_to_numpy(variable.value)
    shifted = saved + np.random.default_rng(0).standard_normal(saved.shape) * max(1.0, 10 * float(np.max(np.abs(saved))))
    try:
        variable.assign(shifted.astype(saved.dtype))
        after = run(x)
    finally:
        variable.assign(saved)
    return all(np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(after, before))


def _bias_may_cancel(variable: Any, norm: float, norms_by_path: dict[str, float]) -> bool:
    """A bias whose gradient is zero or rounding noise (a millionth of its kernel's) while its
    kernel learns: a bias added alike to every value that a softmax normalises together (a
    pointer's or an attention pooling's scores, one per step; MultiHeadAttention's key bias, the
    same for every key) cancels there, so its gradient is zero up to rounding, exactly zero on some
    batches and backends. `cancels_out` confirms it."""
    if variable.name != "bias" or not variable.path.endswith("bias"):
        return False
    kernel_norm = norms_by_path.get(variable.path[:-len("bias")] + "kernel", 0.0)
    return kernel_norm > 0.0 and norm <= 1e-6 * kernel_norm


# When no trainable variable gets a gradient, the output layer's own bias gets none either: the loss
# gives none where the model's prediction is.
_NOTHING_FROM_THE_LOSS = ("the loss gives no gradient at the model's output: its value does not change with the "
                          "prediction there (binary_crossentropy clips probabilities to [1e-7, 1 - 1e-7], so an output "
                          "without sigmoid far outside 0..1 gets none; a loss that ignores y_pred; an output that "
                          "passes through argmax, round or a cast), or the output layer's own units are dead (a relu "
                          "output whose inputs are all negative)")


_NAMED = 6  # variables named in one message before "and N more"


def _grouped(problems: list[tuple[str, str, str]], trainable: int, loss: str,
             model: keras.Model | None = None) -> list[str]:
    """One message per kind of problem and cause, naming its variables (up to six: the first
    five, how many more, and the last); one about the loss when every trainable variable gets an
    all-zero gradient, naming how the compiled loss misfits `model`'s output when it does."""
    if len(problems) == trainable > 1 and all(got == "an all-zero gradient" for _, got, _ in problems):
        misfit = loss_misfit(model) if model is not None else None
        cause = (f"the loss gives no gradient at the model's output, because it does not fit the output: {misfit}"
                 if misfit else _NOTHING_FROM_THE_LOSS)
        return [mismatch("gradient", "a finite, non-zero gradient", "an all-zero gradient",
                         at=f"every trainable variable ({trainable})", note=f"{cause} (loss {loss})")]
    groups: dict[tuple[str, str], list[str]] = {}
    for label, got, cause in problems:
        groups.setdefault((got, cause), []).append(label)
    messages = []
    for (got, cause), labels in groups.items():
        if len(labels) == 1:
            where = f"variable {labels[0]}"
        elif len(labels) <= _NAMED:
            where = f"variables {', '.join(labels)}"
        else:  # the last too: in a chain, the one next to where the gradient stops
            where = (f"variables {', '.join(labels[:_NAMED - 1])} and {len(labels) - _NAMED} more up to "
                     f"{labels[-1]}")
        messages.append(mismatch("gradient", "a finite, non-zero gradient", got, at=where, note=f"{cause} (loss {loss})"))
    return messages


@check(NAME)
def check_gradient_flow(
    model: keras.Model,
    *,
    output: Any = None,
    batch_size: int | None = None,
    allow_frozen: bool = False,
    seed: int = 0,
) -> CheckResult:
    """Run one backward pass on a synthetic batch and check every trainable variable.

    The loss is the model's compiled loss if it has one, otherwise a loss suited to each
    output (cross-entropy for softmax/sigmoid, MSE otherwise). Every trainable variable must
    get a finite gradient that is not all zeros. A layer frozen with ``trainable = False``
    fails too, unless `allow_frozen` (transfer learning freezes layers on purpose), or it is frozen
    on purpose (`modelcheck.model.freezing`): a backbone ahead of the layers that train, or a whole
    network the model's ``call`` never uses (a distiller's teacher, a target network). The batch
    holds `batch_size` samples: 8, or 4 of ImageNet's size, raised where BatchNormalization
    would see too few values per channel.

    ``details["grad_norms"]`` holds the gradient norm per variable (``layer/kernel``).

    Example::

        result = check_gradient_flow(model)
        assert result.passed, result.message
    """
    own = own_training(model)
    if own == "train_step":
        return CheckResult.skip(NAME, "the model overrides train_step, so its gradients come from an objective of its "
                                "own that modelcheck cannot differentiate apart from it; loss_decrease trains it "
                                "with its own train_step")
    asked = batch_size = batch_size_for(model, batch_size or default_batch(model))
    batch_size = batch_size_for(model, max(batch_size, batchnorm_batch_size(model)))  # a fixed batch stays
    prepared = prepare_batch(NAME, model, output=output, batch_size=batch_size, seed=seed)
    if isinstance(prepared, CheckResult):
        return prepared
    x, targets, objective, _ = prepared
    loss, grads = gradients(model, x, targets, objective)
    owners = variable_owners(model)
    norms: dict[str, float] = {}
    problems: list[tuple[str, str, str]] = []  # (variable, what it gets, the likely cause)
    exempt: list[str] = []  # biases cancelled by a following BatchNormalization
    cancelled: list[str] = []  # variables of a shared layer whose calls' outputs are subtracted
    shifted: list[str] = []  # biases that shifted change no output (added alike to all a softmax normalises)
    unlossed: list[str] = []  # variables that feed only outputs compiled with no loss
    norms_by_path = {v.path: float(np.linalg.norm(g)) for v, g in zip(model.trainable_variables, grads) if g is not None}
    for variable, grad in zip(model.trainable_variables, grads):
        layer = owners.get(id(variable))
        label = variable_label(layer, variable)
        if grad is None:
            norms[label] = 0.0
            problems.append((label, "no gradient", gradient_cause(layer, variable, model, "none", objective)))
            if unlossed_outputs_fed(layer, model, objective):
                unlossed.append(label)
            continue
        value = grad
        norm = float(np.linalg.norm(value))
        norms[label] = norm
        if variable.name == "bias" and feeds_only_batchnorm(layer):
            exempt.append(label)
            continue
        if not np.all(np.isfinite(value)):
            problems.append((label, "a NaN/Inf gradient", gradient_cause(layer, variable, model, "nonfinite")))
        elif _bias_may_cancel(variable, norm, norms_by_path) and cancels_out(model, layer, variable, x,
                                                                                     shared_only=False):
            shifted.append(label)
        elif norm == 0.0 and cancels_out(model, layer, variable, x):
            cancelled.append(label)
        elif norm == 0.0:
            problems.append((label, "an all-zero gradient", gradient_cause(layer, variable, model, "zero", objective)))
            if unlossed_outputs_fed(layer, model, objective):
                unlossed.append(label)
    coincidences = _zero_by_coincidence(model, [label for label, got, _ in problems if got == "an all-zero gradient"],
                                        output=output, batch_size=batch_size, seed=seed)
    problems = [problem for problem in problems if problem[0] not in coincidences]
    at_start = _zero_at_start_only(model, [label for label, got, _ in problems if got == "an all-zero gradient"],
                                   x, targets, objective, grads)
    problems = [problem for problem in problems if problem[0] not in at_start]
    frozen, backbones = frozen_layers(model)
    aside = frozen_aside(model)
    details = {"grad_norms": norms, "exempt_biases_before_batchnorm": exempt, "loss": loss, "loss_function": objective.describe(), "batch_size": batch_size}
    if coincidences:
        details["zero_on_first_batch_only"] = coincidences
    if cancelled:
        details["cancelled_in_shared_layers"] = cancelled
    if shifted:
        details["biases_no_output_depends_on"] = shifted
    if at_start:
        details["zero_at_the_initial_weights_only"] = at_start
    if batch_size != asked:
        details["batch_size_note"] = (f"raised from {asked} so that every BatchNormalization normalises at least "
                                      f"{MIN_BATCHNORM_VALUES} values per channel")
    if backbones:
        details["frozen_backbones"] = [layer.name for layer in backbones]
    if aside:
        details["frozen_aside"] = [layer.name for layer in aside]
    if not model.trainable_variables and not frozen:  # (a backbone is one only ahead of a layer that trains)
        return CheckResult.fail(NAME, mismatch("trainable variables", "at least one", "none", at="the whole model",
                                               note="the model cannot learn"),
                                expected="trainable variables", received=0, details=details)
    messages = _grouped(problems, len(model.trainable_variables), objective.describe(), model)
    if problems and unweighted(objective):  # every loss weighted by 0: the cause, not the layers, is told
        zero = [zero_weight(loss) for loss in unweighted(objective)]
        count = f"{len(problems)} trainable variable{'s' if len(problems) > 1 else ''}"
        messages = [zero[0] + f" ({count} get no gradient, {problems[0][0]} first)", *zero[1:]]
    if frozen and not allow_frozen:
        messages.append(frozen_message(frozen))
    if not model.trainable_variables and not messages:
        allowed = for_audience(loops.current().audience, configurer="(allow_frozen=True)",
                               student="(which the assignment allows)")
        return CheckResult.skip(NAME, f"every layer is frozen {allowed}: no trainable variable to check",
                                details=details)
    if problems and {label for label, _, _ in problems} == set(unlossed) and not (frozen and not allow_frozen):
        # the outputs that have a loss still train: the training checks run on them (session.runner)
        details["only_outputs_without_loss"] = unlossed
    if messages:
        return CheckResult.fail(
            NAME, also(messages[0], messages[1:]),
            expected="a finite, non-zero gradient for every trainable variable",
            received={label: norms.get(label) for label in norms},
            details=details,
        )
    checked = {label: norm for label, norm in norms.items()
               if label not in exempt and label not in coincidences and label not in cancelled
               and label not in at_start and label not in shifted} or norms
    exempted = len(set(exempt) | set(cancelled) | set(shifted))  # (these get none, by design)
    counted = f"{len(norms) - exempted} of {len(norms)}" if exempted else f"all {len(norms)}"
    return CheckResult.ok(
        NAME, f"{counted} trainable variables get a finite, non-zero gradient "
        f"(smallest norm {min(checked.values()):.3g} at {min(checked, key=checked.get)})"
        + (f"; {len(exempt)} bias(es) before BatchNormalization exempt: BN cancels them" if exempt else "")
        + (f"; {', '.join(cancelled)} exempt: no output depends on them, since the outputs of their shared layer's "
           "calls are subtracted (a siamese distance) and they cancel" if cancelled else "")
        + (f"; {', '.join(shifted)} exempt: no output depends on them: shifted, they change no output (a "
           "normalisation after them cancels a bias added alike to every value it normalises together, as a "
           "softmax or a BatchNormalization does), so their gradient is zero up to rounding (use_bias=False leaves "
           "them out)" if shifted else "")
        + (f"; {', '.join(at_start)} got a zero gradient at the initial weights only, behind layers that start as "
           "a chosen constant and learn ("
           + "; ".join(f"{name!r}: {how}" for name, how in _constant_starts(model).items())
           + "): one step later the gradient reaches them" if at_start else "")
        + (f"; {', '.join(coincidences)} got a zero gradient on the first batch only, not on a second "
           f"({SIGNS_CANCEL})" if coincidences else "")
        + (f"; backbone {backbone_names(backbones)} not checked: {BACKBONE_NOTE}"
           if backbones else "")
        + (f"; frozen network {backbone_names(aside)} not checked: {ASIDE_NOTE}" if aside else ""),
        expected="finite, non-zero gradients", received=norms, details=details,
    )
