"""Seed robustness: run one check over several seeds and pass when at least k seeds pass.

Training checks depend on the initial weights and the synthetic batch; a verdict that flips
with the seed is noise. `over_seeds` reports the pass rate and, for the training checks, the
margin to each seed's threshold, so a check that passes narrowly is visible before it flakes.

No Keras import at module import time.
"""

from __future__ import annotations

import inspect
import statistics
import time
from typing import Any, Callable, Sequence

from ..core.errors import SpecError
from ..core.registry import get_check
from ..core.result import ERROR, PASSED, SKIPPED, CheckResult
from ..core.spec import ModelSpec

__all__ = ["over_seeds", "margin", "MARGIN_MEANING", "ROBUSTNESS_OPTIONS"]

# Spec options that ask for a check to run over several seeds (stripped before each run).
ROBUSTNESS_OPTIONS = ("seeds", "min_passes")

MARGIN_MEANING = {
    "overfit_batch": "passed: share of the step budget left when the batch was memorised; failed: how far it fell "
                     "short (accuracy below 100%, or loss above the threshold, as a negative fraction)",
    "loss_decrease": "passed: share of the step budget left when the decrease was seen (training stops there); "
                     "failed: the loss decrease minus the required decrease (fractions of the initial loss)",
    "learns_linear": "the smallest share left of the error budgets (mean squared error, prediction, w and b); "
                     "negative when over a budget",
    "loss_at_init": "the smallest share left of the allowed factor, on a log scale (negative when outside it)",
}


def _share_left(value: float, budget: float) -> float:
    return (budget - value) / budget if budget else float("-inf")


def margin(check: str, result: CheckResult, options: dict[str, Any]) -> float | None:
    """How far `result` is from its threshold (positive: passed with room; negative: missed;
    -inf when the numbers are NaN), for the checks in `MARGIN_MEANING`; None for the others or
    when the numbers are missing. `options` holds the check's effective keyword arguments
    (defaults included)."""
    value = _margin(check, result, options)
    return float("-inf") if value is not None and value != value else value


def _budget(details: dict[str, Any], steps: Any) -> float:
    """The step budget a run ended under: `steps`, or more when it was extended (its loss kept falling)."""
    return float(max(float(steps), float(details.get("step_budget") or 0)))


def _margin(check: str, result: CheckResult, options: dict[str, Any]) -> float | None:
    details = result.details
    try:
        if check == "loss_decrease":
            if result.status == PASSED and details.get("stopped") == "converged":
                return _share_left(float(details["steps"]), _budget(details, options["steps"]))
            return float(details["decrease"]) - float(options["min_decrease"])
        if check == "overfit_batch":
            if result.status == PASSED:
                return _share_left(float(details["steps"]), _budget(details, options["max_steps"]))
            shortfalls = []
            if details.get("accuracy") is not None:
                shortfalls.append(float(details["accuracy"]) - 1.0)
            if details.get("loss_threshold") is not None:
                final = float(details["loss_history"][-1])
                shortfalls.append(_share_left(final, float(details["loss_threshold"])))
            return min(shortfalls) if shortfalls else None
        if check == "learns_linear":
            shares = [_share_left(float(details["mse"]), float(options["max_mse"])),
                      _share_left(abs(float(details["prediction"]) - (options["slope"] * options["predict_at"]
                                                                       + options["intercept"])),
                                  float(options["prediction_tolerance"]))]
            if details.get("single_dense"):
                tolerance = float(options["weight_tolerance"])
                shares += [_share_left(abs(float(details["w"]) - options["slope"]), tolerance),
                           _share_left(abs(float(details["b"]) - options["intercept"]), tolerance)]
            return min(shares)
        if check == "loss_at_init":
            import math

            return min((math.log(row["allowed_factor"]) - abs(math.log(row["ratio"]))) / math.log(row["allowed_factor"])
                       for row in details["outputs"])
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError):
        return None
    return None


def _resolve(check: str | Callable[..., CheckResult]) -> tuple[str, Callable[..., CheckResult]]:
    if isinstance(check, str):
        info = get_check(check)
        return info.name, info.function()
    if not callable(check):
        raise SpecError(f"over_seeds: check must be a check name or a check function, received {check!r}")
    return getattr(check, "__name__", "check").removeprefix("check_"), check


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, bool) or not isinstance(seeds, (int, list, tuple, range)):
        raise SpecError(f"over_seeds: seeds must be a number of seeds or a list of seeds, received seeds={seeds!r}")
    values = list(range(seeds)) if isinstance(seeds, int) else list(seeds)
    if not values or not all(isinstance(s, int) and not isinstance(s, bool) for s in values):
        raise SpecError(f"over_seeds: seeds must be at least one whole number, received seeds={seeds!r}")
    return values


def _runner(name: str, fn: Callable[..., CheckResult], target: Any,
            kwargs: dict[str, Any]) -> tuple[Callable[[int], CheckResult], str, dict[str, Any], Callable[[], None]]:
    """A function seed -> result, what the seed varies, the options the spec adds, and what
    releases the model afterwards."""
    import keras

    from ..core.registry import check_kwargs
    from ..model import loops
    from .runner import ModelSession

    if isinstance(target, keras.Model):
        context = loops.TrainingContext()  # one traced loop for every seed

        def on_model(seed: int) -> CheckResult:
            with loops.using(context):
                return fn(target, seed=seed, **kwargs)

        return (on_model, "the synthetic data and training only (a built model keeps its initial weights; pass its "
                "builder or spec to vary those too)", {}, context.cache.clear)
    if isinstance(target, ModelSpec):
        spec = target
    elif callable(target):
        spec = ModelSpec(id=getattr(target, "__name__", "model"), builder=target,
                         input_shape=kwargs.pop("input_shape", None))
    else:
        raise SpecError(f"over_seeds: expected a keras.Model, a builder or a ModelSpec, received {target!r}")
    options = {k: v for k, v in spec.options_for(name).items() if k not in ROBUSTNESS_OPTIONS}
    spec = spec.replace(options={**spec.options, name: options})
    shared: list[ModelSession] = []
    started = time.perf_counter()

    def run(seed: int) -> CheckResult:
        # one model whose variables take each seed's initial weights, so its traced loop serves
        # every seed; a builder whose builds differ gets a session per seed
        if not shared:
            shared.append(ModelSession(spec, seed=seed))
        elif not shared[0].reinitialise(seed):
            left = None if spec.model_timeout is None else max(spec.model_timeout - (time.perf_counter() - started), 1e-6)
            with ModelSession(spec, seed=seed, model_timeout=left) as session:
                return session.run(name, **kwargs)
        return shared[0].run(name, **kwargs)

    def close() -> None:
        for session in shared:
            session.close()

    return run, "the initial weights, the synthetic data and training", check_kwargs(spec, name), close


def over_seeds(
    check: str | Callable[..., CheckResult],
    model_or_spec: Any,
    *,
    seeds: int | Sequence[int] = 20,
    min_passes: int | None = None,
    **kwargs: Any,
) -> CheckResult:
    """Run `check` once per seed and pass when at least `min_passes` seeds pass.

    `check` is a check name (``"overfit_batch"``) or function; `model_or_spec` a
    ``keras.Model`` (only the data and training vary), a builder or a `ModelSpec` (rebuilt
    per seed, so the initial weights vary too). `seeds` is a count (seeds 0..n-1) or a list;
    `min_passes` defaults to a majority. Other keyword arguments go to the check.

    The result has the check's name; ``details`` holds ``pass_rate``, ``per_seed`` (status,
    margin, message), ``worst_margin`` / ``median_margin`` and ``margin_meaning``.

    Example::

        result = over_seeds("overfit_batch", build_model, seeds=10, min_passes=9)
        assert result.passed, result.message
        result.details["pass_rate"]   # 1.0
    """
    name, fn = _resolve(check)
    values = _seed_list(seeds)
    if "seed" in kwargs:
        raise SpecError("over_seeds: pass the seeds with seeds=..., not seed=")
    needed = len(values) // 2 + 1 if min_passes is None else min_passes
    if isinstance(needed, bool) or not isinstance(needed, int) or not 1 <= needed <= len(values):
        raise SpecError(f"over_seeds: min_passes must be a whole number from 1 to {len(values)} (the number of "
                        f"seeds), received min_passes={min_passes!r}")
    run, varies, spec_options, close = _runner(name, fn, model_or_spec, dict(kwargs))
    defaults = {k: p.default for k, p in inspect.signature(fn).parameters.items()
                if p.default is not inspect.Parameter.empty}
    options = {**defaults, **spec_options, **kwargs}
    per_seed, margins, duration = [], [], 0.0
    try:
        for seed in values:
            result = run(seed)
            duration += result.duration_s
            value = margin(name, result, options)
            if value is not None:
                margins.append(value)
            per_seed.append({"seed": seed, "status": result.status, "margin": value,
                             "message": None if result.passed else result.message})
    finally:
        close()
    statuses = [row["status"] for row in per_seed]
    passes = statuses.count(PASSED)
    details: dict[str, Any] = {
        "seeds": values, "passes": passes, "min_passes": needed, "pass_rate": passes / len(values),
        "per_seed": per_seed, "varies": varies, "margin_meaning": MARGIN_MEANING.get(name),
        "worst_margin": min(margins) if margins else None,
        "median_margin": statistics.median(margins) if margins else None,
    }
    summary = f"{name} passed on {passes} of {len(values)} seeds ({passes / len(values):.0%}; needs {needed})"
    if margins:
        worst = min(range(len(per_seed)), key=lambda i: per_seed[i]["margin"]
                    if per_seed[i]["margin"] is not None else float("inf"))
        summary += f"; worst margin {details['worst_margin']:+.3g} (seed {per_seed[worst]['seed']})"
    expected, received = f"at least {needed} of {len(values)} seeds pass", f"{passes} of {len(values)}"
    skipped = statuses.count(SKIPPED)
    if passes >= needed:
        result = CheckResult.ok(name, summary, expected=expected, received=received, details=details)
    elif all(status == SKIPPED for status in statuses):
        result = CheckResult.skip(name, per_seed[0]["message"], details=details)
    elif passes + skipped >= needed:  # the seeds that did not run (a time budget) could still make it
        first = next(row for row in per_seed if row["status"] == SKIPPED)
        result = CheckResult.skip(name, f"{summary}; {skipped} seed(s) did not run, so the verdict is open: "
                                  f"seed {first['seed']}: {first['message']}", details=details)
    else:
        first = next(row for row in per_seed if row["status"] != PASSED)
        status_word = "error" if first["status"] == ERROR else "failure"
        text = f"{summary}; first {status_word} (seed {first['seed']}): {first['message']}"
        result = CheckResult(check=name, status=ERROR if passes == 0 and all(s == ERROR for s in statuses)
                             else "failed", message=text, expected=expected, received=received, details=details)
    result.duration_s = duration
    return result
