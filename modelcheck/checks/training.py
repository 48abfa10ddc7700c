"""Training checks: overfit one batch and learn y = 2x - 1. How a run that did not reach its goal
is reported, which they share with loss_decrease (`modelcheck.checks.loss_decrease`), is in
`modelcheck.checks.training_report`.

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

from ..model.engine import TrainingRun, fresh_optimizer, own_training, preserved_weights, train
from ..model.inputs import batch_size_for, input_infos, pack_inputs
from ..model.outputs import shape_str
from ..model.graph import layers_of
from ..model.objective import objective_for
from ..model.randomness import random_in_inference
from ..core.messages import mismatch
from ..core.result import CheckResult
from .common import check, default_batch, fmt, forward, nonfinite_failure
from .loss_config import cross_entropy_misfit
from .training_report import (EXTEND, INFERENCE_MODE, behind_frozen_backbone, extension_note, inference_predictions,
                              over_budget, run_details, slow_rate_note, still_learning, stopped_note, training_batch)

__all__ = ["check_overfit_batch", "check_learns_linear"]

DOCUMENT_X = (-1.0, 0.0, 1.0, 2.0, 3.0, 4.0)


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
    lower_beside = objective.not_least_at_fit(targets) if regression else None
    if lower_beside is not None:
        return CheckResult.skip(name, f"memorising one batch of {batch_size} samples: not judged: the loss "
                                f"{lower_beside} is lower just beside predictions equal to their targets than at them, "
                                "so no loss value tells that the batch is memorised (a contrastive loss on a distance, "
                                "given real targets); loss_decrease judges it")
    if regression:  # the threshold is for targets of unit spread: a fraction of what predicting the mean loses
        loss_threshold = least + requested * objective.spread(targets)
        untrained = float(objective.total(targets, inference_predictions(model, x)))
        if untrained <= loss_threshold:  # reaching it proves nothing (a contrastive loss of one's own: 26.7 vs 8.77)
            return CheckResult.skip(
                name, f"memorising one batch of {batch_size} samples: not judged: the untrained model's loss, "
                f"{fmt(untrained)}, is already below the threshold {fmt(loss_threshold)} (the loss of a perfect fit, "
                f"prediction = target, {fmt(least)}, plus {fmt(requested)} scaled to the targets' spread), so reaching "
                f"it proves nothing; the loss {objective.describe()} is not least where the prediction equals the "
                "target, as a regression loss is (a contrastive loss); loss_decrease judges it",
                details={"loss_threshold": loss_threshold, "untrained_loss": untrained, "least": least})
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

    # A cross-entropy that does not fit its output (binary_crossentropy on a softmax) can lower the loss fit
    # trains (on TensorFlow, from the logits the softmax carries) while the predictions never fit: no slow learner.
    misfit = cross_entropy_misfit(model)
    with preserved_weights(model):
        optimizer = fresh_optimizer(model, learning_rate=learning_rate)
        run = train(model, x, targets, objective, optimizer, max_steps=max_steps, stop=memorised, timeout_s=timeout_s,
                    extend_to=max_steps if misfit else EXTEND * max_steps)
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
    unbounded = _unbounded_note(run, regression, accuracy)
    if unbounded is not None:
        return CheckResult.fail(
            name, mismatch(f"memorising one batch of {batch_size} samples", expected, f"{got} in inference mode",
                           at=f"the end of training ({stopped_note(run, max_steps, timeout_s)})",
                           note=f"{run.optimizer}, loss {objective.describe()}; {unbounded}"),
            expected=expected, received=got, details=details,
            hint="a loss that is minimised must have a least value: check its sign (return -loss is a gradient ascent)")
    slow = None if misfit else still_learning(name, f"memorising one batch of {batch_size} samples", run, max_steps,
                                              timeout_s, details)
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
                 f"{fmt(run.losses[0]) if run.losses else '?'} -> {fmt(run.final_loss)}" + _fixed_note(run)
                 + _added_losses_note(run)
                 + (f"; the loss does not fit the output: {misfit}" if misfit else "")),
        expected=expected, received=got, details=details,
        hint=f"a model that cannot overfit {batch_size} samples has a bug: a wrong loss for the output, a learning rate "
        "far too small or too large, frozen or disconnected layers, or too little capacity." + slow_rate_note(model),
    )


# How many times the outputs' own loss the first training loss must be before the losses the
# layers add (regularisers, add_loss) are named as what training minimised instead.
_DOMINATING = 10.0


def _added_losses_note(run: TrainingRun) -> str:
    """Why a model could not memorise its batch when the losses its layers add (kernel or activity
    regularisers, add_loss) outweighed the outputs' loss: training shrank the weights instead (an
    L2 of 10 made the first loss 146.5 against the outputs' 1.5)."""
    if not run.losses or not run.inference_losses:
        return ""
    first, outputs = run.losses[0], run.inference_losses[0][1]
    if not (math.isfinite(first) and math.isfinite(outputs) and outputs > 0 and first > _DOMINATING * outputs):
        return ""
    return (f"; the losses the layers add (kernel/activity regularisers, add_loss) outweigh the outputs' loss: the "
            f"first training loss was {fmt(first)}, the outputs' own about {fmt(outputs)}, so training lowers those "
            "instead of fitting the batch: lower their factor (an L2 of 1e-4 is usual; a VAE's KL weight likewise)")


# How far below zero, in multiples of its first value, a classifier's loss must fall before it is
# taken for a loss without a least value rather than a slow learner.
_UNBOUNDED = 10.0


def _unbounded_note(run: TrainingRun, regression: bool, accuracy: float | None) -> str | None:
    """Why a classifier's run that did not memorise its batch is no slow learner: its loss fell far
    below zero and kept falling (a cross-entropy of one's own returning -loss went from -1.5 to -507
    in 2,000 steps, 'still falling' and skipped, while the accuracy fell)."""
    if regression or accuracy is None or accuracy >= 1.0 or not run.losses:
        return None
    first, last = run.losses[0], run.final_loss
    if not (math.isfinite(first) and math.isfinite(last)) or last >= -_UNBOUNDED * max(abs(first), 1e-3):
        return None
    return (f"the loss went {fmt(first)} -> {fmt(last)}, below zero without a bound, while the batch accuracy is "
            f"{accuracy:.0%}: training maximises what the loss should minimise")


def _fixed_note(run: TrainingRun) -> str:
    """What to make of a training loss that fell while the loss measured in inference mode never moved."""
    if not run.inference_fixed:
        return ""
    first, last = (run.losses[0], run.final_loss) if run.losses else (0.0, 0.0)
    # a training loss as flat may also mean that no weight moved (SGD with global_clipnorm=1e-6)
    still = "" if first - last > 1e-3 * max(1.0, abs(first)) else (
        ", or the weights barely move (a learning rate or a gradient clipping norm far too small)")
    return (f" in training, but in inference mode it stayed at {fmt(run.inference_losses[-1][1])} at every measurement: "
            "what the model outputs does not change with the weights it trains (a softmax over a single unit, for "
            f"one, outputs 1 whatever they are){still}")


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
                                expected="one input of one number per sample", received=str(exc),
                                details={"applies": False})  # pytest skips it where --modelcheck-checks added it
    y_train = (slope * np.asarray(x, dtype="float32") + intercept).reshape(-1, 1)
    predictions = forward(model, x_train)
    failure = nonfinite_failure(name, model, predictions)
    if failure is not None:
        return failure
    if len(predictions) != 1 or int(np.prod(predictions[0].shape[1:])) != 1:
        received_shape = ", ".join(shape_str((None, *p.shape[1:])) for p in predictions)
        return CheckResult.fail(name, mismatch("output shape", "(None, 1)", received_shape, at="the model's outputs",
                                               note="learns_linear needs one output number per sample"),
                                expected="(None, 1)", received=received_shape,
                                details={"applies": False})
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
