"""Run checks for a spec: build the model once per group of checks, then release it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable

from ..core.errors import InternalError, ModelcheckError, SpecError, UserCodeError
from .generated import generation_space, run_over_generated
from ..core.registry import applicable_checks, check_kwargs, get_check
from ..core.result import FAILED, CheckResult
from ..core.messages import time_budget_fix
from ..core.spec import ModelSpec

__all__ = ["ModelSession", "run_spec", "run_checks"]


class ModelSession:
    """One model built once for several checks.

    >>> with ModelSession(spec, seed=0) as session:
    ...     results = [session.run(name) for name in ("output_shape", "param_count")]

    Building is lazy (the first `run` builds). A model over ``spec.max_params`` is judged from
    its arithmetic, before any weight is allocated, and is never built. Errors in the
    user's code become results with status ``error``; `run` never raises for them.

    The training checks share one traced step loop (`modelcheck.model.loops.TrainingContext`);
    a model that fails gradient_flow or finite fails the training checks that follow without
    training; with a time budget (`model_timeout` seconds, else ``spec.model_timeout``) a check
    that would overrun it is ``skipped`` with its estimate, and with how to get it judged, worded for
    ``spec.audience`` (`modelcheck.core.messages.time_budget_fix`).
    """

    def __init__(self, spec: ModelSpec, *, seed: int = 0, overrides: dict[str, dict[str, Any]] | None = None,
                 base_dir: Path | None = None, model_timeout: float | None = None) -> None:
        self.spec = spec
        self.seed = seed
        self.overrides = overrides or {}
        self.base_dir = base_dir
        self.model_timeout = model_timeout if model_timeout is not None else spec.model_timeout
        self._model: Any = None
        self._failure: CheckResult | None = None  # why the model could not be built
        self._close_after_run = False
        self._training: Any = None  # modelcheck.model.loops.TrainingContext, made on the first run
        self._spent = 0.0  # seconds the model's checks (and its build) took so far

    def __enter__(self) -> "ModelSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def model(self) -> Any:
        """The built model (raises `UserCodeError` / `SpecError` when it cannot be built)."""
        if self._model is None:
            from ..model import loops
            from ..model.build import build_model, count_params_unallocated

            builder = self.spec.resolved_builder(self.base_dir)
            import keras

            keras.utils.set_random_seed(self.seed)
            with loops.using(self._training_context(time.perf_counter())):  # the builder's errors, for the audience
                if self.spec.max_params is not None and not isinstance(builder, keras.Model):
                    try:
                        counted = count_params_unallocated(builder, **self.spec.builder_kwargs)
                    except UserCodeError:  # it makes an optimizer: judged on the model built, as param_count does
                        counted = None
                    if counted is not None and counted["total"] > self.spec.max_params:
                        raise _OverBudget(counted["total"], self.spec.max_params)
                    keras.backend.clear_session()
                    keras.utils.set_random_seed(self.seed)
                self._model = build_model(builder, kwargs=self.spec.builder_kwargs, input_shape=self.spec.input_shape,
                                          name=getattr(builder, "__name__", "the builder") + "()")
            if self.spec.sequence_length:
                from ..model.inputs import set_sequence_length

                set_sequence_length(self._model, self.spec.sequence_length)
        return self._model

    def build_failure(self, check: str) -> CheckResult | None:
        """None once the model is built (building it on first use); else the result `check`
        reports for a model that cannot be built (error) or is over ``spec.max_params`` (failed).

        For items outside the registry (the plugin's ``architecture`` item) that share the build.
        """
        if self._failure is None and self._model is None:
            try:
                self.model()
            except _OverBudget as exc:
                self._failure = CheckResult.fail(check, str(exc), expected={"max_params": exc.budget},
                                                 received={"total": exc.total})
            except UserCodeError as exc:
                self._failure = exc.to_result(check)
            except SpecError as exc:
                self._failure = CheckResult.error(check, str(exc))
            except InternalError as exc:
                from ..checks.common import internal_error

                self._failure = internal_error(check, exc.original, exc.doing)
        if self._failure is None:
            return None
        return CheckResult(**{**self._failure.to_dict(), "check": check, "model": self.spec.id, "duration_s": 0.0})

    def run(self, check: str, **extra_kwargs: Any) -> CheckResult:
        """Run one check on the (shared) model and return its result."""
        info = get_check(check)
        start = time.perf_counter()
        if generation_space(self.spec) is not None:
            result = run_over_generated(self.spec, check, lambda spec: self._sibling(spec).run(check, **extra_kwargs))
            result.model = self.spec.id
            result.duration_s = time.perf_counter() - start
            return result
        if self.model_timeout is not None and self._spent >= self.model_timeout:
            result = CheckResult.skip(check, f"not run: the model's time budget of {self.model_timeout:g} s is spent "
                                      f"({self._spent:.3g} s used by its checks so far); "
                                      f"{time_budget_fix(self.spec.audience)}",
                                      details={"budget_s": self.model_timeout, "spent_s": self._spent})
            result.model = self.spec.id
            return result
        failure = self.build_failure(check)
        if failure is not None:
            result = failure
        else:
            kwargs = check_kwargs(self.spec, check)
            kwargs.update(self.overrides.get(check, {}))
            kwargs.update(extra_kwargs)
            kwargs = {k: v for k, v in kwargs.items() if v is not None or k in ("expected",)}
            try:
                if "seeds" in kwargs or "min_passes" in kwargs:
                    result = self._over_seeds(check, kwargs)
                else:
                    from ..model import loops

                    with loops.using(self._training_context(start)):
                        result = info.function()(self._model, seed=self.seed, **kwargs)
            except TypeError as exc:
                if "unexpected keyword argument" not in str(exc):
                    raise
                raise SpecError(f"spec {self.spec.id!r}: check {check!r} {exc}") from None
            # (a gradient_flow that fails only variables feeding outputs with no loss leaves the others to train)
            if check in _DECIDES_TRAINING and result.status == FAILED and self._training is not None \
                    and not result.details.get("only_outputs_without_loss"):
                self._training.failed.setdefault(check, result.message.splitlines()[0])
        result.model = self.spec.id
        result.duration_s = result.duration_s or (time.perf_counter() - start)
        self._spent += time.perf_counter() - start
        if self._close_after_run:
            self.close()
        return result

    def reinitialise(self, seed: int) -> bool:
        """Give the built model the initial weights (and random states) its builder gives with
        `seed`, by assigning those of a new build to its variables, and run later checks with
        `seed`: its traced step loop serves every seed. False (nothing changed) when the model
        cannot be built or the new build's variables differ in number or shape."""
        if self.build_failure("build") is not None:
            return False
        fresh = ModelSession(self.spec, seed=seed, base_dir=self.base_dir)
        try:
            other = fresh.model()
        except (ModelcheckError, UserCodeError, InternalError):
            return False
        pairs = list(zip(self._model.variables, other.variables))
        if len(self._model.variables) != len(other.variables) or any(
                tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype for a, b in pairs):
            return False
        for mine, theirs in pairs:
            mine.assign(theirs.value)
        if self._training is not None:
            self._training.memo.clear()  # computed with the old weights
        self.seed = seed
        return True

    def _training_context(self, start: float) -> Any:
        """The model's `TrainingContext`, its deadline set from the budget left at `start`."""
        from ..model import loops

        if self._training is None:
            self._training = loops.TrainingContext(jit_compile=bool(self.spec.jit_compile),
                                                   budget_s=self.model_timeout, audience=self.spec.audience)
        if self.model_timeout is not None:
            self._training.deadline = start + self.model_timeout - self._spent
        return self._training

    def _sibling(self, spec: ModelSpec) -> "ModelSession":
        """A session for one generated variant of this spec (same seed, budgets and folder)
        that releases its model after its one check."""
        sibling = ModelSession(spec, seed=self.seed, overrides=self.overrides, base_dir=self.base_dir,
                               model_timeout=self.model_timeout)
        sibling._close_after_run = True
        return sibling

    def _over_seeds(self, check: str, kwargs: dict[str, Any]) -> CheckResult:
        """Seed robustness (spec option ``seeds = N`` and ``min_passes = k``): the spec's model is
        rebuilt for each seed, so the initial weights vary as well as the data."""
        from .robustness import over_seeds

        count = kwargs.pop("seeds", 20)
        needed = kwargs.pop("min_passes", None)
        seeds = [self.seed + i for i in range(count)] if isinstance(count, int) else list(count)
        spec = self.spec
        if self.model_timeout is not None:  # the seeds share what is left of the model's budget
            spec = spec.replace(model_timeout=max(self.model_timeout - self._spent, 1e-6))
        return over_seeds(check, spec, seeds=seeds, min_passes=needed, **kwargs)

    def close(self, *, free_memory: bool = True) -> None:
        """Drop the model and free Keras' global state; `free_memory=False` skips the full garbage
        collection (a third of a second in a process holding TensorFlow) for callers that build
        many small models in a loop (mutants) and collect now and then themselves."""
        if self._training is not None:
            self._training.cache.clear()
            self._training = None
        if self._model is not None:
            import keras

            self._model = None
            keras.backend.clear_session(free_memory=free_memory)


# Static checks whose failure decides the training checks (no gradient or NaN values: training
# cannot pass), so those fail without training.
_DECIDES_TRAINING = ("gradient_flow", "finite")


class _OverBudget(ModelcheckError):
    def __init__(self, total: int, budget: int) -> None:
        from ..checks.params import over_budget_message

        self.total, self.budget = total, budget
        super().__init__(over_budget_message(total, budget, "counted before allocating any weight, so the model "
                                                            "was not built"))


def run_spec(spec: ModelSpec, *, checks: Iterable[str] | None = None, seed: int = 0,
             overrides: dict[str, dict[str, Any]] | None = None, base_dir: Path | None = None) -> list[CheckResult]:
    """Build the spec's model once and run `checks` (default: every check that applies)."""
    names = list(checks) if checks is not None else applicable_checks(spec)
    with ModelSession(spec, seed=seed, overrides=overrides, base_dir=base_dir) as session:
        return [session.run(name) for name in names]


def run_checks(model: Any, checks: Iterable[str] | None = None, *, seed: int = 0, **expectations: Any) -> list[CheckResult]:
    """Run several checks on one model (or builder) with expectations given as spec fields.

    >>> run_checks(model, output_shape=(10,), total_params=266_610, output="probabilities")
    """
    spec = ModelSpec(id=expectations.pop("id", getattr(model, "name", "model")), builder=model, **expectations)
    names = list(checks) if checks is not None else applicable_checks(spec)
    session = ModelSession(spec, seed=seed)
    return [session.run(name) for name in names]
