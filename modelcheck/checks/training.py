"""Training checks: overfit one batch and learn y = 2x - 1, and what they share with loss_decrease
(`modelcheck.checks.loss_decrease`): how a run that did not reach its goal is reported.

All three run the shared engine (one compiled step loop per model, its optimizer reset
between checks), stop as soon as their verdict is known, and restore the model's weights
afterwards. Within a session, a model that already failed gradient_flow or finite fails
overfit_batch and loss_decrease without training, and a check that would overrun the model's
time budget is skipped with its estimate (see `modelcheck.model.loops`).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import numpy as np

from ..core.errors import call_user_code
from ..model import loops
from ..model.engine import (TrainingRun, falling_points, falling_tail, fresh_optimizer, own_training, preserved_weights,
                            still_falling, train)
from ..model.inputs import all_layers, batch_size_for, input_infos, pack_inputs
from ..model.state import reset_states
from ..model.outputs import shape_str
from ..model.graph import layers_of
from ..model.objective import Objective, objective_for
from ..model.randomness import random_in_inference
from ..core.messages import also, for_audience, mismatch, time_budget_fix
from ..core.result import CheckResult
from ..model.freezing import backbone_names, frozen_layers
from .loss_config import negative_weight, unweighted, zero_weight
from .common import check, default_batch, fmt, forward, nonfinite_failure, prepare_batch

__all__ = ["check_overfit_batch", "check_learns_linear", "run_details", "stopped_note", "over_budget", "not_attempted",
           "still_learning", "behind_frozen_backbone", "maximising", "training_batch", "inference_predictions", "as_model_targets",
           "extension_note", "slow_rate_note", "EXTEND", "INFERENCE_MODE"]

DOCUMENT_X = (-1.0, 0.0, 1.0, 2.0, 3.0, 4.0)
# overfit_batch and loss_decrease go on past their step budget, up to this many times it, while the
# loss is still falling (`modelcheck.model.engine.still_falling`)
EXTEND = 4
INFERENCE_MODE = ("trained in training mode; judged in inference mode (Dropout off, BatchNormalization on the "
                  "statistics of the memorised batch)")


def inference_predictions(model: keras.Model, x: Any) -> list[np.ndarray]:
    """The model's outputs in inference mode, with every BatchNormalization's moving statistics
    first set to those of batch `x` (the caller restores the weights)."""
    norms = [layer for layer in all_layers(model) if isinstance(layer, keras.layers.BatchNormalization)]
    if norms:
        momenta = [layer.momentum for layer in norms]
        try:
            for layer in norms:
                layer.momentum = 0.0
            reset_states(model)
            call_user_code("setting BatchNormalization statistics on the batch", model, x, training=True)
        finally:
            for layer, momentum in zip(norms, momenta):
                layer.momentum = momentum
    return forward(model, x)


def run_details(run: TrainingRun) -> dict[str, Any]:
    """The numbers of a training run that a result carries (loss history, steps, why it stopped,
    the step budget in effect then, its time and the part of it spent tracing the step loop)."""
    return {"loss_history": run.losses, "steps": run.steps, "stopped": run.stopped, "step_budget": run.budget,
            "seconds": round(run.seconds, 3), "tracing_s": round(run.tracing_s, 3),
            "step_s": None if run.step_s is None else round(run.step_s, 4), "optimizer": run.optimizer}


def extension_note(run: TrainingRun, max_steps: int) -> str:
    """How the step budget grew, in words ('' when it did not)."""
    if run.budget <= max_steps:
        return ""
    return f" (the budget of {max_steps} steps extended to {run.budget} while the loss kept falling)"


def _model_budget(context: loops.TrainingContext) -> str | None:
    """The model's time budget in words, for messages; None when it has none."""
    return None if context.budget_s is None else f"the model's time budget of {context.budget_s:g} s"


def still_learning(name: str, what: str, run: TrainingRun, max_steps: int, timeout_s: float | None,
                   details: dict[str, Any]) -> CheckResult | None:
    """The ``skipped`` result of a run that ended (step budget, extended as far as it may go, or
    timeout) while its loss was still falling: the model learns, only slowly, so the check cannot
    judge it. None when the loss was not falling any more (a verdict can be given)."""
    if run.stopped not in ("budget", "timeout") or run.inference_fixed:
        return None
    # the two ways TrainingRun.still_falling holds, each described by what it judged
    if still_falling(run.losses):
        tail = falling_tail(run.losses)  # the steps still_falling judged: their first and last thirds
        third = len(tail) // 3
        fall = f"(mean {fmt(sum(tail[:third]) / third)} -> {fmt(sum(tail[-third:]) / third)} over the last {len(tail)})"
    else:  # falling in inference mode, its training losses too noisy to tell (Dropout)
        points = falling_points(run.inference_losses, run.steps)
        if points is None:
            return None
        (first_step, first), (last_step, last) = points
        fall = f"(in inference mode {fmt(first)} at step {first_step} -> {fmt(last)} at step {last_step})"
    extended = f"the budget of {max_steps} steps was extended to {run.budget}" if run.budget > max_steps else ""
    if run.stopped == "timeout":
        end = f"the {timeout_s:g} s timeout ended it"
    elif run.held_by is not None:  # a longer budget would have overrun a time limit
        limit = (f"the {timeout_s:g} s timeout" if run.held_by == "timeout"
                 else _model_budget(loops.current()) or "the model's time budget")
        end = f"{extended + ', but ' if extended else ''}more steps would not fit in what is left of {limit}"
    elif extended:
        end = f"{extended}, as far as it goes"
    else:
        end = f"the budget of {max_steps} steps ended it"
    fix = for_audience(loops.current().audience, configurer="Raise the step budget or the learning rate to judge it",
                       student="A model that learns faster would be judged: compile it with a larger learning rate "
                       "(how long the check trains is set by your instructor, in the assignment)")
    return CheckResult.skip(
        name, f"{what}: not judged: the loss was still falling after {run.steps} steps {fall}, so the model learns, "
        f"only slowly; {end}. {fix}", details={**details, "still_falling": True})


def behind_frozen_backbone(name: str, what: str, model: keras.Model, run: TrainingRun, got: str,
                           details: dict[str, Any], **result: Any) -> CheckResult | None:
    """The ``skipped`` result of a training check that fell short on a model whose frozen backbone
    (transfer learning) feeds the layers that train: on synthetic inputs, with the weights it has
    here, its features may hardly vary from sample to sample (a global pooling averages noise out),
    so its head cannot tell the samples apart. None for a model without one, and for a run whose
    loss became NaN (no backbone explains that)."""
    backbones = frozen_layers(model)[1]
    if not backbones or run.stopped == "non_finite":
        return None
    return CheckResult.skip(
        name, f"{what}: not judged: only the layers after the frozen backbone {backbone_names(backbones)} train, "
        "and on synthetic inputs the backbone's features can vary too little from sample to sample for them to "
        f"tell the samples apart; it reached {got}. Real samples through pretrained weights would let it be judged",
        details={**details, "frozen_backbone": [layer.name for layer in backbones]}, **result)


def maximising(name: str, objective: Objective) -> CheckResult | None:
    """The failed result of a training check whose objective maximises an output's loss (a
    negative loss weight): a falling total is then a growing loss; or trains no output at all
    (every loss weight 0). None otherwise."""
    wrong = objective.maximised()
    zero = unweighted(objective)
    if not wrong and not zero:
        return None
    lines = [negative_weight(loss) for loss in wrong] or [zero_weight(loss) for loss in zero]
    return CheckResult.fail(name, also(lines[0], lines[1:]),
                            expected="a loss to minimise", received={loss.output: loss.weight for loss in wrong or zero},
                            details={"steps": 0, "loss_history": []})


def training_batch(name: str, what: str, model: keras.Model, **batch: Any) -> CheckResult | tuple[Any, ...]:
    """What a training check trains on: `prepare_batch`'s ``(x, targets, objective, ...)`` for
    `model` (with `batch`: output, batch_size, seed, x, y), or the result that ends the check
    before any step: not attempted (`what` failed a static check first), no batch to train on, or
    a loss that a negative weight would maximise."""
    blocked = not_attempted(name, what)
    if blocked is not None:
        return blocked
    prepared = prepare_batch(name, model, fittable=True, **batch)
    if isinstance(prepared, CheckResult):
        return prepared
    maximised = maximising(name, prepared[2])
    return prepared if maximised is None else maximised


def over_budget(name: str, what: str, run: TrainingRun) -> CheckResult:
    """The ``skipped`` result of a check whose next steps would overrun the model's time budget."""
    context = loops.current()
    left = context.seconds_left()
    if run.estimate_s is None:
        estimate = "the step loop could not even be traced"
    elif run.trace_layers is not None:
        estimate = (f"tracing its step loop would take about {run.estimate_s:.3g} s "
                    f"({run.trace_layers} layers)")
    else:
        estimate = (f"its remaining steps would take about {run.estimate_s:.3g} s more "
                    f"({run.step_s:.3g} s per step)")
    budget = _model_budget(context) or "the time budget"
    return CheckResult.skip(
        name, f"{what}: not finished within {budget}: after {run.steps} steps ({run.seconds:.3g} s, "
        f"{run.tracing_s:.3g} s of it tracing) {estimate}, and {max(0.0, left or 0.0):.3g} s are left; "
        f"{time_budget_fix(context.audience, then=' to run it')}",
        details={**run_details(run), "estimate_s": run.estimate_s, "budget_s": context.budget_s})


_GIST_CHARS = 200


def _gist(message: str) -> str:
    """The first clause of a check's message (what was expected, what was received, where), at most
    `_GIST_CHARS` characters: the check's own result says the rest."""
    clause = message.split("; ", 1)[0]
    if len(clause) <= _GIST_CHARS:
        return clause
    return clause[:_GIST_CHARS].rsplit(" ", 1)[0] + " ..."


def not_attempted(name: str, what: str) -> CheckResult | None:
    """A failed result for a training check when a static check already failed the model in this
    session (no gradient, NaN values): training cannot pass, so it is not run. None otherwise."""
    failed = loops.current().failed
    if not failed:
        return None
    check, message = next(iter(failed.items()))
    return CheckResult.fail(
        name, mismatch(what, "a model that trains", "not attempted",
                       note=f"{check} already failed ({_gist(message)}; see its result)"),
        expected="a model that trains", received="not attempted",
        details={"steps": 0, "not_attempted": check, "loss_history": []},
        hint=f"fix what {check} reports first; this check then trains the model.")


def stopped_note(run: TrainingRun, max_steps: int, timeout_s: float | None) -> str:
    """Why a run ended, in words: the timeout, a NaN loss, or within the step budget."""
    if run.stopped == "timeout":
        return f"stopped by the {timeout_s:g} s timeout after {run.steps} steps"
    if run.stopped == "non_finite":
        return f"the loss became NaN/Inf at step {next(i for i, v in enumerate(run.losses) if not math.isfinite(v))}"
    return f"within the budget of {max(max_steps, run.budget)} steps"


# Optimizers whose Keras default learning rate is known to barely move a model: (the class, the rate
# below which to say so, what to write instead)
_SLOW_DEFAULTS = (("Adadelta", 0.1, "the paper's form, and Keras 2's default, is learning_rate=1.0"),)


def slow_rate_note(model: keras.Model) -> str:
    """A sentence for a failure's hint when the compiled optimizer is one whose usual learning rate
    is known to barely move a model (Adadelta at Keras' default 0.001), else ""."""
    from ..model.compiled import compiled_optimizer

    optimizer = compiled_optimizer(model)
    for kind, below, instead in _SLOW_DEFAULTS:
        if type(optimizer).__name__ != kind:
            continue
        try:
            rate = float(optimizer.get_config()["learning_rate"])
        except (TypeError, ValueError, KeyError):  # a schedule: nothing to say
            return ""
        if rate < below:
            return f" {kind} at learning_rate={rate:g} barely moves the weights: {instead}."
    return ""


@check("overfit_batch")
def check_overfit_batch(
    model: keras.Model,
    *,
    output: Any = None,
    batch_size: int | None = None,
    max_steps: int = 500,
    loss_threshold: float = 0.05,
    learning_rate: float | None = None,
    timeout_s: float | None = 60.0,
    seed: int = 0,
) -> CheckResult:
    """Train on one small synthetic batch until the model has memorised it.

    Classification outputs must reach 100% batch accuracy; when any output is a regression
    (or logits with real targets), the loss must also fall below `loss_threshold`, meant for
    targets of unit spread and scaled to the spread of the targets used (an instructor's labels in
    their own units; see `Objective.spread`). Uses a
    fresh copy of the model's compiled optimizer, else Adam; `learning_rate` overrides its
    rate. The batch holds `batch_size` samples: by default 8, or 4 when one sample holds more
    than 100,000 values (an ImageNet-size image). ``details["loss_history"]`` holds the loss at
    every step. A model whose loss is still falling at `max_steps` trains on (the budget doubled, up
    to 4x) while the steps fit in `timeout_s`, and is ``skipped`` rather than failed if it is still
    falling at the end: it learns, only slowly.
    """
    name = "overfit_batch"
    batch_size = batch_size_for(model, batch_size or default_batch(model))
    prepared = training_batch(name, f"memorising one batch of {batch_size} samples", model, output=output,
                              batch_size=batch_size, seed=seed)
    if isinstance(prepared, CheckResult):
        return prepared
    x, targets, objective, _ = prepared
    own = own_training(model)
    if own is not None:
        return CheckResult.skip(name, f"the model overrides {own}, so it trains an objective of its own and memorising "
                                "a batch has no target to judge; loss_decrease judges its own loss")
    if objective.own_losses_only:
        return CheckResult.skip(name, "the model is compiled without a loss, so it trains the losses its layers add "
                                "(add_loss), whose least value modelcheck cannot know, and memorising a batch has no "
                                "target to judge; loss_decrease judges those losses")
    labelled = next((loss for loss in objective.losses if loss.per_sample_labels), None)
    if labelled is not None:
        return CheckResult.skip(name, f"the loss {labelled.name} takes one label per sample, not a target per output "
                                "(metric learning), and its least value modelcheck cannot know, so memorising a batch "
                                "has no target to judge; loss_decrease judges that loss")
    regression = any(loss.judged_by_value for loss in objective.losses)
    requested = loss_threshold
    least = objective.least(targets) if regression else 0.0  # not 0 for every loss: Poisson, cosine similarity
    if regression:  # the threshold is for targets of unit spread: a fraction of what predicting the mean loses
        loss_threshold = least + requested * objective.spread(targets)
    judged: dict[str, Any] = {}

    def memorised(run: TrainingRun) -> bool:
        # judged in inference mode, as the model is used: Dropout off, BatchNormalization on
        # statistics of this batch (its moving averages lag far behind after a few steps)
        predictions = inference_predictions(model, x)
        judged["loss"] = float(objective.total(targets, predictions))
        judged["accuracy"] = objective.accuracy(targets, predictions)
        run.note_inference_loss(judged["loss"])
        if regression and not judged["loss"] <= loss_threshold:
            return False
        return judged["accuracy"] is None or judged["accuracy"] >= 1.0

    with preserved_weights(model):
        optimizer = fresh_optimizer(model, learning_rate=learning_rate)
        run = train(model, x, targets, objective, optimizer, max_steps=max_steps, stop=memorised, timeout_s=timeout_s,
                    extend_to=EXTEND * max_steps)
        if run.stopped == "over_budget":
            return over_budget(name, f"memorising one batch of {batch_size} samples", run)
        if run.stopped != "converged":
            memorised(run)
    accuracy, final_loss = judged.get("accuracy"), judged.get("loss", run.final_loss)
    details = {**run_details(run), "loss_function": objective.describe(), "batch_size": batch_size,
               "accuracy": accuracy, "loss_threshold": loss_threshold if regression else None,
               "mode": INFERENCE_MODE, "inference_loss": final_loss}
    expected = "100% batch accuracy" if not regression else f"loss below {fmt(loss_threshold)}"
    if regression and not math.isclose(loss_threshold - least, requested, rel_tol=1e-3):
        percent = " and to a loss in percent" if any(loss.percent for loss in objective.losses) else ""
        expected += (f" (the threshold {fmt(requested)} for targets of unit spread, scaled to these targets' "
                     f"spread{percent}{f', above the loss of a perfect fit, {fmt(least)}' if least else ''})")
    elif regression and least:
        expected += f" (the loss of a perfect fit, {fmt(least)}, plus {fmt(requested)})"
    if regression and accuracy is not None:
        expected += " and 100% batch accuracy"
    got = f"loss {fmt(final_loss)}" + (f", accuracy {accuracy:.0%}" if accuracy is not None else "")
    if run.stopped == "converged":
        return CheckResult.ok(name, f"memorised a batch of {batch_size} in {run.steps} steps ({got} in inference mode) "
                              f"with {run.optimizer}{extension_note(run, max_steps)}", expected=expected, received=got,
                              details=details)
    slow = still_learning(name, f"memorising one batch of {batch_size} samples", run, max_steps, timeout_s, details)
    if slow is not None:
        return slow
    drawing = random_in_inference(model, x)
    if drawing is not None:
        return CheckResult.skip(name, f"memorising one batch of {batch_size} samples: not judged: {drawing} draws new "
                                "random values at every call, in inference mode too (a variational autoencoder's "
                                "sampling, Monte-Carlo Dropout), so the model's output for a batch is not fixed and "
                                f"need not reproduce it; it reached {got}", expected=expected, received=got,
                                details=details)
    frozen = behind_frozen_backbone(name, f"memorising one batch of {batch_size} samples", model, run,
                                    f"{got} in inference mode", details, expected=expected, received=got)
    if frozen is not None:
        return frozen
    return CheckResult.fail(
        name,
        mismatch(f"memorising one batch of {batch_size} samples", expected, f"{got} in inference mode",
                 at=f"the end of training ({stopped_note(run, max_steps, timeout_s)})",
                 note=f"{run.optimizer}, loss {objective.describe()}; the loss went "
                 f"{fmt(run.losses[0]) if run.losses else '?'} -> {fmt(run.final_loss)}" + _fixed_note(run)),
        expected=expected, received=got, details=details,
        hint=f"a model that cannot overfit {batch_size} samples has a bug: a wrong loss for the output, a learning rate "
        "far too small or too large, frozen or disconnected layers, or too little capacity." + slow_rate_note(model),
    )


def _fixed_note(run: TrainingRun) -> str:
    """What to make of a training loss that fell while the loss measured in inference mode never moved."""
    if not run.inference_fixed:
        return ""
    return (f" in training, but in inference mode it stayed at {fmt(run.inference_losses[-1][1])} at every measurement: "
            "what the model outputs does not change with the weights it trains (a softmax over a single unit, for "
            "one, outputs 1 whatever they are)")


def as_model_targets(model: keras.Model, targets: list[np.ndarray]) -> Any:
    """Targets in the structure of the model's outputs (one array, a list or a dict)."""
    structure = getattr(model, "_outputs_struct", None)
    if structure is not None and len(keras.tree.flatten(structure)) == len(targets):
        return keras.tree.pack_sequence_as(structure, targets)
    return targets[0] if len(targets) == 1 else targets


def _reshape_x(model: keras.Model, values: Sequence[float]) -> Any:
    infos = input_infos(model)
    if len(infos) != 1:
        raise ValueError(f"{len(infos)} inputs")
    shape = [1 if d is None else d for d in infos[0].shape[1:]]
    if math.prod(shape) != 1:
        raise ValueError(f"input shape {shape_str(infos[0].shape)}")
    if infos[0].kind in ("string", "text"):
        raise ValueError("an input of strings")
    return pack_inputs(model, [np.asarray(values, dtype="float32").reshape((len(values), *shape))])


def _single_dense(model: keras.Model) -> keras.layers.Dense | None:
    weighted = [layer for layer in layers_of(model) if layer.weights]
    if len(weighted) == 1 and isinstance(weighted[0], keras.layers.Dense) and weighted[0].units == 1:
        return weighted[0]
    return None


@check("learns_linear")
def check_learns_linear(
    model: keras.Model,
    *,
    slope: float = 2.0,
    intercept: float = -1.0,
    x: Sequence[float] = DOCUMENT_X,
    steps: int = 500,
    learning_rate: float = 0.01,
    max_mse: float = 1e-3,
    predict_at: float = 5.0,
    prediction_tolerance: float = 0.05,
    weight_tolerance: float = 0.05,
    timeout_s: float | None = 60.0,
    seed: int = 0,
) -> CheckResult:
    """The experiment of document 002: learn y = slope * x + intercept from six points.

    Trains with SGD (`learning_rate`) on mean squared error for `steps` full-batch steps,
    then requires: mean squared error at most `max_mse` on the points, the prediction at
    `predict_at` within `prediction_tolerance` of the line, and for a single Dense(1) model,
    w and b within `weight_tolerance` of slope and intercept. A model that cannot represent a
    line (ReLU or sigmoid output, no bias) fails. Details hold the data, the loss history,
    the predictions and the learned w and b.
    """
    name = "learns_linear"
    try:
        x_train = _reshape_x(model, x)
        x_new = _reshape_x(model, [predict_at])
    except ValueError as exc:
        return CheckResult.fail(name, mismatch("input", "one input of one number per sample", str(exc),
                                               at="the model's inputs", note="learns_linear feeds it x = -1, 0, ..., 4"),
                                expected="one input of one number per sample", received=str(exc))
    y_train = (slope * np.asarray(x, dtype="float32") + intercept).reshape(-1, 1)
    predictions = forward(model, x_train)
    failure = nonfinite_failure(name, model, predictions)
    if failure is not None:
        return failure
    if len(predictions) != 1 or int(np.prod(predictions[0].shape[1:])) != 1:
        received_shape = ", ".join(shape_str((None, *p.shape[1:])) for p in predictions)
        return CheckResult.fail(name, mismatch("output shape", "(None, 1)", received_shape, at="the model's outputs",
                                               note="learns_linear needs one output number per sample"),
                                expected="(None, 1)", received=received_shape)
    objective = objective_for(model, predictions, output="regression", use_compiled=False)
    y_target = [y_train.reshape(predictions[0].shape)]
    with preserved_weights(model):
        optimizer = keras.optimizers.SGD(learning_rate=learning_rate)
        run = train(model, x_train, y_target, objective, optimizer, max_steps=steps, timeout_s=timeout_s)
        if run.stopped == "over_budget":
            return over_budget(name, "learning a line", run)
        fitted = forward(model, x_train)[0].reshape(-1)
        at_new = float(forward(model, x_new)[0].reshape(-1)[0])
        dense = _single_dense(model)
        if dense is not None:
            w = float(keras.ops.convert_to_numpy(dense.kernel).reshape(-1)[0])
            b = float(keras.ops.convert_to_numpy(dense.bias).reshape(-1)[0]) if dense.use_bias else 0.0
        else:
            w, b = (float(v) for v in np.polyfit(np.asarray(x, dtype="float64"), fitted.astype("float64"), 1))
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged model overflows: reported as such below
        mse = float(np.mean((fitted.astype("float64") - y_train.reshape(-1)) ** 2))
    target_new = slope * predict_at + intercept
    learned = f"y = {w:.4g}x {'-' if b < 0 else '+'} {abs(b):.4g}"
    details = {**run_details(run), "x": list(map(float, x)), "y": y_train.reshape(-1).tolist(),
               "predictions": fitted.tolist(), "w": w, "b": b, "mse": mse, "predict_at": predict_at,
               "prediction": at_new, "single_dense": dense is not None, "slope": slope, "intercept": intercept}
    expected = {"mse": max_mse, "prediction": target_new, "w": slope, "b": intercept}
    received = {"mse": mse, "prediction": at_new, "w": w, "b": b}
    problems = []
    points = ", ".join(f"{v:g}" for v in x)
    line = f"y = {slope:g}x {'-' if intercept < 0 else '+'} {abs(intercept):g}"
    if not math.isfinite(mse) or mse > max_mse:
        problems.append(f"mean squared error {fmt(mse)} on the six points (expected at most {fmt(max_mse)})")
    if not abs(at_new - target_new) <= prediction_tolerance:
        problems.append(f"predicts {at_new:.4g} at x = {predict_at:g} (expected {target_new:g} ± {prediction_tolerance:g})")
    if dense is not None and not (abs(w - slope) <= weight_tolerance and abs(b - intercept) <= weight_tolerance):
        problems.append(f"w = {w:.4g}, b = {b:.4g} (expected {slope:g} and {intercept:g} ± {weight_tolerance:g})")
    if dense is not None and not dense.use_bias:
        problems.append("the Dense layer has no bias (use_bias=False), so the line must pass through 0")
    if problems:
        return CheckResult.fail(
            name, mismatch("learned line", line, learned, at=f"the points x = {points}",
                           note="; ".join(problems) + f" after {run.steps} SGD steps"),
            expected=expected, received=received, details=details,
            hint="a line needs a linear output (no ReLU/sigmoid on the last layer) and a bias; "
            "a loss that explodes needs a smaller learning rate.")
    return CheckResult.ok(name, f"learned {learned} (mse {fmt(mse)}; predicts {at_new:.4g} at x = {predict_at:g}) "
                          f"in {run.steps} SGD steps", expected=expected, received=received, details=details)


# loss_decrease trains on 32 samples, on 8 when a sample is large and on 4 when it is an image
# of ImageNet's size: there one step of 32 costs seconds, and a few samples show a decrease as
# well (the targets come from a teacher the model can match).
