"""The loss_decrease check: a few steps of training on one batch must lower the loss.

It runs the shared engine as the other training checks do (`modelcheck.checks.training`), and
judges a model that draws noise in training mode only (Dropout) on its loss in inference mode.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np

from ..core.messages import for_audience, mismatch
from ..core.result import CheckResult
from ..model import loops
from ..model.compiled import compiled_loss as compiled_loss_of
from ..model.engine import TrainingRun, fresh_optimizer, own_training, preserved_weights, train, train_own_step
from ..model.inputs import rows_of
from ..model.targets import other_target_kinds
from ..model.randomness import noisy_in_training
from .common import HUGE_SAMPLE, check, fmt, sample_values
from .training_report import (EXTEND, INFERENCE_MODE, as_model_targets, behind_frozen_backbone, extension_note,
                       inference_predictions, over_budget, run_details, slow_rate_note, training_batch,
                       still_learning, stopped_note)

__all__ = ["check_loss_decrease"]

LARGE_SAMPLE = 20_000


def _decrease_batch(model: keras.Model) -> int:
    values = sample_values(model)
    if values is None:
        return 32
    return 4 if values > HUGE_SAMPLE else 8 if values > LARGE_SAMPLE else 32


def _decrease(losses: list[float]) -> tuple[float, float]:
    """The mean of the last (up to) five losses, and its decrease from the first loss as a
    fraction of it (NaN when a loss is not finite)."""
    first = losses[0]
    tail = losses[-min(5, len(losses)):]
    last = float(np.mean(tail)) if all(math.isfinite(v) for v in tail) else float("nan")
    decrease = (first - last) / abs(first) if first and math.isfinite(first) and math.isfinite(last) else float("nan")
    return last, decrease


_ZERO = 1e-6  # a loss this small is 0 but for the backend's rounding (JAX and PyTorch clip to 1e-7)


def _change(decrease: float, first: float | None = None, last: float | None = None) -> str:
    """A decrease (a fraction of the first loss; negative when the loss grew) in words; `first` and
    `last`, the losses it is of, tell a loss of 0 from the start (no fraction of it) from a NaN."""
    if first is not None and abs(first) <= _ZERO and last is not None and math.isfinite(last):
        return "the loss is 0 from the first step, so it cannot fall: it gives the weights nothing to learn from" \
            if abs(last) <= _ZERO else "the loss was 0 at the first step, so it can only grow"
    if not math.isfinite(decrease):
        return "NaN"
    if abs(decrease) < 0.0005:
        return "no change"
    if decrease > 0:
        return f"a decrease of {decrease:.1%}"
    if decrease > -1:
        return f"an increase of {-decrease:.1%}"
    return f"an increase to {fmt(1 - decrease)} times the first loss"


@check("loss_decrease")
def check_loss_decrease(
    model: keras.Model,
    *,
    output: Any = None,
    steps: int = 50,
    min_decrease: float = 0.1,
    batch_size: int | None = None,
    learning_rate: float | None = None,
    x: Any = None,
    y: Any = None,
    timeout_s: float | None = 60.0,
    seed: int = 0,
) -> CheckResult:
    """Train for at most `steps` steps on one synthetic (or given) batch; the loss must fall by
    at least `min_decrease` (a fraction of the initial loss), judged on the mean of the last five
    losses. Training stops as soon as that decrease is seen (after at least six steps); a loss still
    falling at `steps` trains on (the budget doubled, up to 4x, while the steps fit in `timeout_s`),
    and one still falling short at the end is ``skipped``: it falls, only slowly. The batch
    holds `batch_size` samples: by default 32, 8 when one sample holds more than 20,000 values,
    4 when it holds more than 100,000 (an ImageNet-size image).

    Also reports the initial loss against its expected value where one is known
    (ln(n_classes) for softmax cross-entropy, ln 2 for a sigmoid unit).
    """
    name = "loss_decrease"
    batch_size = batch_size or _decrease_batch(model)
    prepared = training_batch(name, "loss", model, output=output, batch_size=batch_size, seed=seed, x=x, y=y)
    if isinstance(prepared, CheckResult):
        return prepared
    x, targets, objective, _ = prepared
    batch_size = rows_of(x)  # a model that declares its batch size gets that many (or given x, its rows)
    own = own_training(model)

    # a model that draws noise in training (Dropout) is judged on its loss in inference mode, which
    # has none: its noisy training losses let a model that does not learn pass, and one that does fail.
    # Not one compiled without a loss: the losses its layers add are not in `objective.total` (0)
    noisy = own is None and not objective.own_losses_only and noisy_in_training(model)
    judged: list[float] = []

    def decreased(run: TrainingRun) -> bool:
        if len(run.losses) <= 5:
            return False
        if not noisy:
            return _decrease(run.losses)[1] >= min_decrease
        judged.append(float(objective.total(targets, inference_predictions(model, x))))
        run.note_inference_loss(judged[-1])
        return _decrease([judged[0], judged[-1]])[1] >= min_decrease

    compiled_before = compiled_after = None  # the compiled loss around a run of the model's own step
    with preserved_weights(model):
        if noisy:
            judged.append(float(objective.total(targets, inference_predictions(model, x))))
        if own is not None:  # its own objective: judged on the loss its train_step reports
            compiled_before = _compiled_loss(model, x, targets, objective)
            run = train_own_step(model, x, as_model_targets(model, targets), max_steps=steps, stop=decreased,
                                 timeout_s=timeout_s, extend_to=EXTEND * steps,
                                 other_targets=[as_model_targets(model, kind) for kind in other_target_kinds(targets)])
            if isinstance(run, str):
                return CheckResult.skip(name, run)
            compiled_after = _compiled_loss(model, x, targets, objective)
            objective.expected_initial = None
        else:
            optimizer = fresh_optimizer(model, learning_rate=learning_rate)
            run = train(model, x, targets, objective, optimizer, max_steps=steps, stop=decreased, timeout_s=timeout_s,
                        extend_to=EXTEND * steps)
            if noisy and run.stopped not in ("converged", "over_budget", "non_finite"):
                decreased(run)
    if run.stopped == "over_budget":
        return over_budget(name, "loss decrease", run)
    details = {**run_details(run), "loss_function": f"the model's own {own}" if own else objective.describe(),
               "batch_size": batch_size,
               "initial_loss": judged[0] if noisy else run.losses[0] if run.losses else None,
               "expected_initial_loss": objective.expected_initial}
    if noisy and len(judged) > 1 and run.stopped != "non_finite":
        first, (last, decrease) = judged[0], _decrease([judged[0], judged[-1]])
        details["judged_in_inference_mode"] = INFERENCE_MODE
    else:
        first, (last, decrease) = run.losses[0], _decrease(run.losses)
    details["decrease"] = decrease
    init_note = ""
    if objective.expected_initial is not None:
        init_note = f"; initial loss {fmt(first)} (expected about {fmt(objective.expected_initial)} for an untrained model)"
    received = f"{fmt(first)} -> {fmt(last)}" + (" in inference mode" if "judged_in_inference_mode" in details else "")
    rose = _compiled_loss_rose(own, compiled_before, compiled_after, objective, min_decrease) if own else None
    if math.isfinite(decrease) and decrease >= min_decrease and rose is not None:
        return CheckResult.fail(name, rose + f" while the loss the model's own {own} reports fell ({received})",
                                expected=f"the compiled loss falling with the model's own {own}'s",
                                received=f"{fmt(compiled_before)} -> {fmt(compiled_after)}", details=details,
                                hint="a loss to be minimised with its sign flipped (return -loss) or gradients applied "
                                "with the wrong sign make training climb the compiled loss")
    if math.isfinite(decrease) and decrease >= min_decrease:
        early = f" of at most {steps}" if run.steps < steps else ""
        return CheckResult.ok(name, f"loss fell {decrease:.0%} in {run.steps}{early} steps ({received}){init_note}"
                              f"{extension_note(run, steps)}",
                              expected=f"a decrease of at least {min_decrease:.0%}", received=received, details=details)
    slow = still_learning(name, "loss decrease", run, steps, timeout_s, details) if math.isfinite(decrease) else None
    if slow is not None and decrease > 0:
        return slow
    change = _change(decrease, first, last)
    frozen = behind_frozen_backbone(name, "loss decrease", model, run, f"{received} ({change})", details,
                                    expected=f"a decrease of at least {min_decrease:.0%}", received=received)
    if frozen is not None:
        return frozen
    why = stopped_note(run, steps, timeout_s) if run.stopped in ("timeout", "non_finite") else f"after {run.steps} steps"
    guessing = _at_guessing_level(run.losses, objective.expected_initial, decrease)
    return CheckResult.fail(
        name, mismatch("loss", f"a decrease of at least {min_decrease:.0%}", f"{received} ({change})",
                       at=f"the end of training ({why})", note=f"{run.optimizer}{init_note}"),
        expected=f"a decrease of at least {min_decrease:.0%}", received=received,
        details=details,
        hint=(guessing or _zero_hint(first, last) or "a loss that grows or turns NaN usually means a learning rate too large; a flat loss means "
              "no gradient reaches the weights (frozen layers, a wrong loss for the output) or a learning rate too "
              "small.") + slow_rate_note(model))


def _compiled_loss(model: keras.Model, x: Any, targets: list[np.ndarray], objective: Any) -> float | None:
    """The compiled loss of the model's predictions in inference mode (None when it has none)."""
    if objective.own_losses_only or compiled_loss_of(model) is None:
        return None
    return float(objective.total(targets, inference_predictions(model, x)))


def _compiled_loss_rose(own: str, before: float | None, after: float | None, objective: Any,
                        min_decrease: float) -> str | None:
    """The `mismatch` message when training with the model's own `own` (its train_step or
    compute_loss) made the compiled loss rise by `min_decrease` or more: a compute_loss returning
    -loss lowered its own loss from -1.50 to -1.69 while the cross-entropy it wraps rose."""
    if before is None or after is None or not (math.isfinite(before) and math.isfinite(after)) or before <= 0:
        return None
    if after < before * (1 + min_decrease):
        return None
    return mismatch("compiled loss", f"a fall with the model's own {own}",
                    f"{fmt(before)} -> {fmt(after)} (a rise of {after / before - 1:.0%})",
                    at=f"the model's own {own}", note=f"the compiled loss is {objective.describe()}")


def _zero_hint(first: float, last: float) -> str | None:
    """The hint for a loss that is 0 before any step and stays there; None otherwise."""
    if abs(first) > _ZERO or abs(last) > _ZERO:
        return None
    return ("a loss of 0 before any training means the loss does not fit the output: categorical cross-entropy "
            "over a single unit is always 0, for one; loss_matches_output names the fit.")


_GUESSING_TAIL = 10  # the last losses that must each be lower than the one before


def _at_guessing_level(losses: list[float], expected: float | None, decrease: float) -> str | None:
    """The hint for a loss that fell to about its untrained value (guessing every class alike:
    ln(n_classes)) and still falls at every step, slowly: a model that may only learn slowly on
    this batch (a small network on inputs scaled to [0, 1]), not a broken one. None otherwise."""
    tail = losses[-_GUESSING_TAIL:]
    if (expected is None or not expected or not decrease > 0 or len(tail) < _GUESSING_TAIL
            or abs(tail[-1] - expected) > 0.01 * abs(expected) or any(b >= a for a, b in zip(tail, tail[1:]))):
        return None
    more = for_audience(loops.current().audience, configurer="give loss_decrease more steps (steps=...) or a larger "
                        "learning rate", student="compile the model with a larger learning rate (how many steps "
                        "loss_decrease trains is set by your instructor, in the assignment)")
    return (f"the loss fell to about the loss of guessing every class alike ({fmt(expected)}) and still falls at "
            "every step, slowly: the model may learn, only slowly on this batch. If overfit_batch passes (it trains "
            f"longer), {more}; if the loss stays there, the model cannot tell the classes apart (an input it ignores, "
            "features that vanish).")
