"""Which variables training changes: every trainable one must move, and the variables of
frozen layers must not (statistics such as BatchNormalization's moving mean may)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from ..model.engine import TrainingRun, fresh_optimizer, own_training, preserved_weights, train, train_own_step
from ..model.targets import other_target_kinds
from ..model.inputs import batch_size_for
from ..core.messages import also, layer_ref, mismatch
from ..core.result import CheckResult
from .common import SIGNS_CANCEL, check, fmt, prepare_batch, second_batch
from ..model.freezing import BACKBONE_NOTE, backbone_names, frozen_layers
from .gradients import cancels_out, feeds_only_batchnorm, frozen_message, gradient_cause, gradients
from ..model.variables import variable_labels
from .training_report import as_model_targets, over_budget, run_details, stopped_note

__all__ = ["check_trainable_changes"]

NAME = "trainable_changes"


def _seed_states(model: keras.Model) -> set[int]:
    """Random generator states (Dropout...): they advance every step and are not weights."""
    states = set()
    for layer in model._flatten_layers(include_self=True):
        for generator in getattr(layer, "_seed_generators", []):
            states.add(id(generator.state))
    return states


def _values(model: keras.Model) -> dict[int, np.ndarray]:
    return {id(v): np.array(keras.ops.convert_to_numpy(v)) for v in model.variables}


# Why a variable the model's own train_step left unchanged did not move: modelcheck cannot tell
# its gradient apart from the objective that train_step computes.
_OWN_STEP_CAUSE = ("the model's own train_step did not update it: does it compute the gradients of this variable "
                   "and apply them (optimizer.apply_gradients(zip(grads, self.trainable_variables)))?")


def _train_few(model: keras.Model, x: Any, targets: list[np.ndarray], objective: Any, *, steps: int,
               learning_rate: float | None, timeout_s: float | None) -> TrainingRun | str:
    """A few steps as `fit` would take them: with the model's own ``train_step`` when it overrides
    one (a GAN's trains its generator there, which the compiled loss never reaches), else with the
    shared engine on a fresh optimizer; or why the model's own step cannot run (a sentence)."""
    if own_training(model) == "train_step":
        return train_own_step(model, x, as_model_targets(model, targets), max_steps=steps, timeout_s=timeout_s,
                              other_targets=[as_model_targets(model, kind) for kind in other_target_kinds(targets)],
                              require_loss=False)  # a GAN's logs hold d_loss and g_loss: its steps still count
    return train(model, x, targets, objective, fresh_optimizer(model, learning_rate=learning_rate), max_steps=steps,
                 timeout_s=timeout_s)


def _kernel_moved(layer: keras.layers.Layer | None, before: dict[int, np.ndarray], after: dict[int, np.ndarray]) -> bool:
    """Whether the kernel beside a bias moved (as gradient_flow asks its kernel for a gradient
    before it takes a bias's zero for one a softmax cancels: a layer never called has neither)."""
    kernel = getattr(layer, "kernel", None)
    return kernel is not None and id(kernel) in before and not np.array_equal(before[id(kernel)], after[id(kernel)])


def _still_unchanged(model: keras.Model, variables: list[Any], *, output: Any, batch_size: int, seed: int, steps: int,
                     learning_rate: float | None, timeout_s: float | None) -> list[Any]:
    """Those of `variables` that the same few steps on a `second_batch` leave unchanged too (a few
    small steps can keep the signs of MAE's residuals balanced, and a bias with them)."""
    prepared = second_batch(NAME, model, output=output, batch_size=batch_size, seed=seed)
    if isinstance(prepared, CheckResult):
        return variables
    x, targets, objective, _ = prepared
    with preserved_weights(model):
        before = _values(model)
        run = _train_few(model, x, targets, objective, steps=steps, learning_rate=learning_rate, timeout_s=timeout_s)
        after = _values(model)
    if isinstance(run, str) or run.stopped == "over_budget":
        return variables
    return [v for v in variables if np.array_equal(before[id(v)], after[id(v)])]


@check(NAME)
def check_trainable_changes(
    model: keras.Model,
    *,
    output: Any = None,
    steps: int = 5,
    batch_size: int = 8,
    learning_rate: float | None = None,
    allow_frozen: bool = False,
    timeout_s: float | None = 30.0,
    seed: int = 0,
) -> CheckResult:
    """Train a few steps with the shared engine and compare every variable before and after.

    Every trainable variable must change. A layer frozen with ``trainable = False`` fails
    (a layer frozen by mistake never learns) unless `allow_frozen`; then its variables must
    stay exactly as they were. Non-trainable variables of trainable layers are statistics
    (BatchNormalization's moving mean and variance) and may change. The model's weights are
    restored afterwards. ``details["changes"]`` holds the relative change of each variable.

    Example::

        result = check_trainable_changes(model, steps=5)
        assert result.passed, result.message
    """
    batch_size = batch_size_for(model, batch_size)
    prepared = prepare_batch(NAME, model, output=output, batch_size=batch_size, seed=seed)
    if isinstance(prepared, CheckResult):
        return prepared
    x, targets, objective, _ = prepared
    labels = variable_labels(model)
    skip = _seed_states(model)
    trainable = {id(v) for v in model.trainable_variables}
    with preserved_weights(model):
        before = _values(model)
        run = _train_few(model, x, targets, objective, steps=steps, learning_rate=learning_rate, timeout_s=timeout_s)
        after = _values(model)
    if isinstance(run, str):
        return CheckResult.skip(NAME, run)
    if run.stopped == "over_budget":
        return over_budget(NAME, "training a few steps", run)
    problems: list[str] = []
    notes: list[str] = []
    changes: dict[str, float] = {}
    statistics: list[str] = []
    unchanged: list[Any] = []
    cancelled: list[str] = []  # as gradient_flow exempts them: a siamese tower's last bias, a bias a softmax cancels
    for variable in model.variables:
        key = id(variable)
        if key in skip:
            continue
        layer, label = labels[key]
        old, new = before[key], after[key]
        moved = not np.array_equal(old, new)
        scale = float(np.linalg.norm(old)) or 1.0
        changes[label] = float(np.linalg.norm(new.astype("float64") - old)) / scale if moved else 0.0
        if key in trainable:
            if not moved:
                if variable.name == "bias" and feeds_only_batchnorm(layer):
                    notes.append(f"{label} did not change: the BatchNormalization right after {layer.name!r} "
                                 "subtracts the batch mean, so the bias gets no gradient (use_bias=False saves it)")
                elif cancels_out(model, layer, variable, x) or (
                        variable.name == "bias" and _kernel_moved(layer, before, after)
                        and cancels_out(model, layer, variable, x, shared_only=False)):
                    cancelled.append(label)
                else:
                    unchanged.append(variable)
        elif layer is not None and not layer.trainable:
            if moved:
                problems.append(mismatch("frozen variable", "no change", f"a relative change of {fmt(changes[label])}",
                                         at=f"variable {label} of the frozen {layer_ref(layer.name)}",
                                         note="a frozen layer must keep its values"))
        elif moved:
            statistics.append(label)
    if unchanged:
        confirmed = _still_unchanged(model, unchanged, output=output, batch_size=batch_size, seed=seed, steps=steps,
                                     learning_rate=learning_rate, timeout_s=timeout_s)
        kept = {id(v) for v in confirmed}
        notes.extend(f"{labels[id(v)][1]} did not change on the first batch only, and did on a second ({SIGNS_CANCEL})"
                     for v in unchanged if id(v) not in kept)
        unchanged = confirmed
    if unchanged:
        own_step = own_training(model) == "train_step"
        _, grads = ([], []) if own_step else gradients(model, x, targets, objective)
        by_id = {id(v): g for v, g in zip(model.trainable_variables, grads)}
        causes: dict[str, list[str]] = {}  # one sentence per cause, naming every variable it explains
        for variable in unchanged:
            layer, label = labels[id(variable)]
            grad = by_id.get(id(variable))
            kind = "none" if grad is None else ("zero" if not np.any(keras.ops.convert_to_numpy(grad)) else "tiny")
            why = (_OWN_STEP_CAUSE if own_step else "its gradient is too small to move it in a few steps" if kind == "tiny"
                   else gradient_cause(layer, variable, model, kind, objective))
            causes.setdefault(why, []).append(label)
        for why, names in causes.items():
            subject = f"variable {names[0]}" if len(names) == 1 else f"variables {', '.join(names)}"
            problems.append(mismatch("trainable variable", "a change", f"no change after {run.steps} training steps",
                                     at=subject, note=why))
    frozen, backbones = frozen_layers(model)
    if frozen and not allow_frozen:
        problems.append(frozen_message(frozen))
    if cancelled:
        notes.append(f"{', '.join(cancelled)} did not change, by design: shifted, they change no output (the outputs of "
                     "a shared layer's calls subtracted, as in a siamese distance, or a bias a softmax cancels)")
    if backbones:
        notes.append(f"backbone {backbone_names(backbones)} kept its values: {BACKBONE_NOTE}")
    details = {**run_details(run), "loss_function": objective.describe(), "changes": changes,
               "statistics_changed": statistics, "notes": notes, "frozen_layers": [l.name for l in frozen + backbones]}
    expected = "every trainable variable changes; frozen layers keep their values"
    if run.stopped in ("non_finite", "timeout"):  # (a timeout only stops a run with steps missing: _run_chunks)
        problems.append(mismatch("training", f"{steps} steps with a finite loss", stopped_note(run, steps, timeout_s),
                                 at="the training run"))
    if problems:
        return CheckResult.fail(NAME, also(problems[0], problems[1:]), expected=expected,
                                received={"unchanged": [labels[id(v)][1] for v in unchanged],
                                          "frozen": [l.name for l in frozen]}, details=details)
    moved = sum(1 for v in model.trainable_variables if changes.get(labels[id(v)][1], 0.0) > 0)
    extra = f"; {len(statistics)} statistic(s) updated" if statistics else ""
    counted = f"{moved} of {len(model.trainable_variables)}" if cancelled else f"all {moved}"
    exempt = f"; {', '.join(cancelled)} exempt: no output depends on them" if cancelled else ""
    return CheckResult.ok(NAME, f"{counted} trainable variables changed in {run.steps} steps with "
                          f"{run.optimizer}{extra}{exempt}", expected=expected, received=changes, details=details)
