"""config_lint's findings on the optimizer: a learning rate (constant, or a schedule at any step a
run reaches) far above what the optimizer can take, and momentum-like settings that make training
diverge or stand still after its first steps. A short training check cannot see either: a run of
Adam at 0.5 may still lower the loss over its few steps, and a schedule may rise only later.
"""

from __future__ import annotations

import contextlib
from typing import Any

import keras
import numpy as np

from ..core.messages import mismatch

__all__ = ["learning_rate_findings", "optimizer_findings"]

# Optimizers whose step is about the learning rate whatever the gradient's size, and the rate
# above which one step throws the weights far from where they started.
_ADAPTIVE = ("Adam", "AdamW", "Adamax", "Nadam", "RMSprop", "Lion", "Lamb")
_MAX_ADAPTIVE_RATE = 0.1
# Adagrad divides by the root of all past squared gradients: its steps shrink as training goes on,
# and rates up to 0.5 are in common use (word embeddings, linear models)
_MAX_ADAGRAD_RATE = 0.5
_MAX_SGD_RATE = 1.0

# The steps a training run reaches (100 epochs of 1,000 batches), on which a learning-rate schedule
# is evaluated, with the schedule's own step counts (boundaries, decay and warm-up steps) beside them.
_LAST_STEP = 100_000
_GRID = sorted({0, *(int(round(v)) for v in np.logspace(0, np.log10(_LAST_STEP), 61))})


def _rate_limit(kind: str) -> tuple[float, str, str] | None:
    """The largest sound learning rate of an optimizer class, what its step does, and the usual range."""
    if kind in _ADAPTIVE:
        return (_MAX_ADAPTIVE_RATE, "moves every weight by about the learning rate at each step",
                "1e-4 to 1e-2 (Keras' default is 0.001)")
    if kind == "Adagrad":
        return (_MAX_ADAGRAD_RATE, "moves every weight by up to the learning rate at its first steps",
                "1e-3 to 0.5 (Keras' default is 0.001)")
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
        with _uncompiled():
            for step in _schedule_steps(schedule):
                rates.append((step, float(np.asarray(keras.ops.convert_to_numpy(schedule(np.int64(step)))))))
    except Exception:  # the user's own schedule: nothing to judge
        return None
    return rates


def _uncompiled() -> Any:
    """On JAX, ``jax.disable_jit()``: an eager ``ops.cond`` (CosineDecay's warm-up) compiles its branches
    anew at every call, so the 68 steps of a schedule took 25 s there (1.8 s so, 0.05 s on TensorFlow)."""
    if keras.backend.backend() != "jax":
        return contextlib.nullcontext()
    import jax

    return jax.disable_jit()


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
    if first_step:
        rise += f" (it starts at {rates[0][1]:g})"
    return mismatch("learning rate", f"at most {bound:g} for {kind} at every step", f"{name} up to {peak:g}",
                    at=f"the {kind} optimizer's schedule",
                    note=f"{rise}; {kind} {step_words}, so from there the weights are "
                    f"thrown far from any minimum, though a short run may still train; the usual range is {usual}: "
                    "check the schedule's arguments (a decay_rate above 1 makes ExponentialDecay grow)")


def learning_rate_findings(model: keras.Model) -> list[str]:
    """A learning rate far above what the compiled optimizer can take (x1000, 1e-3 written as 1):
    a constant one, or a schedule at any step a run reaches (`_schedule_finding`); a constant rate
    of 0 or below."""
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
    if isinstance(rate, (int, float)) and not isinstance(rate, bool) and rate <= 0:
        return [mismatch("learning rate", "above 0", f"learning_rate={rate:g}", at=f"the {kind} optimizer",
                         note="a rate of 0 never moves the weights" if rate == 0 else
                         "a negative rate moves the weights uphill, so the loss rises: drop the minus sign")]
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


def optimizer_findings(model: keras.Model) -> list[str]:
    """Optimizer settings that make training diverge or stand still after the first steps: a
    momentum of 0.999 or more, Adam's beta_1 or beta_2 at 1 or more, and an exponential moving
    average that never moves (ema_momentum of 1 or more) or overwrites the weights with values that
    have hardly moved from the start."""
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
    if config.get("use_ema") and isinstance(ema, (int, float)) and ema >= 1:
        # (a short training check judges the weights it trains, not the average fit() puts in their place)
        found.append(mismatch("ema_momentum", "below 1 (Keras' default is 0.99)", f"ema_momentum={ema:g}", at=where,
                              note="the moving average keeps ema_momentum of its past value, so at 1 it never "
                              "leaves the initial weights, and at the end of fit() Keras copies it into the model: "
                              "the trained model is the untrained one; use ema_momentum=0.99"))
    elif config.get("use_ema") and isinstance(ema, (int, float)) and isinstance(every, int) and every > 0 \
            and ema >= _MAX_MOMENTUM and ema ** every >= 0.9:
        found.append(mismatch("ema_momentum", f"an average that follows the weights within {every} steps",
                              f"ema_momentum={ema:g} with ema_overwrite_frequency={every}", at=where,
                              note=f"every {every} steps the weights are replaced by their moving average, which "
                              f"still holds {ema ** every:.1%} of where they were before: training is undone again and "
                              "again; use ema_momentum=0.99, or leave ema_overwrite_frequency out"))
    return found
