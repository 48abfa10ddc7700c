"""How a training check's run is reported when it did not reach its goal, shared by
overfit_batch, learns_linear (`modelcheck.checks.training`), loss_decrease and trainable.

A run still improving when its step budget ran out is "still learning" (skipped with how far it
got, or failed where the model cannot reach the goal at all); one stopped by the time budget says
so with its estimate; a model that already failed gradient_flow or finite in the session is
failed without training (`not_attempted`); and a model whose loss weights make training maximise a
loss is told so before any step (`maximising`).
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from ..core.errors import call_user_code
from ..core.messages import also, for_audience, mismatch, time_budget_fix
from ..core.result import CheckResult
from ..model import backend, loops
from ..model.engine import TrainingRun, falling_points, falling_tail, still_falling
from ..model.freezing import backbone_names, frozen_layers
from ..model.inputs import all_layers
from ..model.objective import Objective
from ..model.state import reset_states
from .common import fmt, forward, prepare_batch
from .loss_config import negative_weight, unweighted, zero_weight

__all__ = ["run_details", "stopped_note", "over_budget", "not_attempted", "still_learning", "behind_frozen_backbone",
           "maximising", "training_batch", "inference_predictions", "as_model_targets", "extension_note",
           "slow_rate_note", "EXTEND", "INFERENCE_MODE"]

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
            call_user_code("setting BatchNormalization statistics on the batch", backend.call_model, model, x,
                           training=True)
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


def as_model_targets(model: keras.Model, targets: list[np.ndarray]) -> Any:
    """Targets in the structure of the model's outputs (one array, a list or a dict)."""
    structure = getattr(model, "_outputs_struct", None)
    if structure is not None and len(keras.tree.flatten(structure)) == len(targets):
        return keras.tree.pack_sequence_as(structure, targets)
    return targets[0] if len(targets) == 1 else targets
