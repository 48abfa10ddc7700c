"""Run a check over builder arguments that Hypothesis generates.

A spec asks for it with a ``hypothesis`` table: every key but the options below is a keyword
argument of the builder with its range, in the form `modelcheck.strategies.builder_kwargs`
reads (``[low, high]``, a list of choices, or one value)::

    [[model]]
    builder = "mypkg.models:build_model"
    output_shape = [1]
    checks = ["output_shape", "gradient_flow"]
    hypothesis = { n_hidden = [0, 3], n_neurons = [1, 99], learning_rate = [3e-4, 3e-2],
                   log_scale = ["learning_rate"], max_examples = 10 }

A failure is shrunk by Hypothesis to a small set of arguments and reported as the builder call
that fails, e.g. ``build_model(n_hidden=0, n_neurons=1) fails output_shape: ...``.
"""

from __future__ import annotations

from typing import Any, Callable

from ..core.errors import SpecError
from ..core.result import CheckResult
from ..core.spec import ModelSpec

__all__ = ["GENERATION_OPTIONS", "run_over_generated", "generation_space"]

# keys of the hypothesis table that configure the search instead of naming an argument
GENERATION_OPTIONS = ("max_examples", "log_scale")
DEFAULT_EXAMPLES = 10


def generation_space(spec: ModelSpec) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The spec's (argument space, search options), or None when it asks for no generation."""
    table = spec.extra.get("hypothesis")
    if not table:
        return None
    if not isinstance(table, dict):
        raise SpecError(f"spec {spec.id!r}: `hypothesis` must be a table of argument ranges, received {table!r}")
    space = {k: v for k, v in table.items() if k not in GENERATION_OPTIONS}
    options = {k: v for k, v in table.items() if k in GENERATION_OPTIONS}
    if not space:
        raise SpecError(f"spec {spec.id!r}: `hypothesis` names no builder argument; "
                        "write e.g. hypothesis = {{ n_hidden = [0, 3] }}")
    return space, options


def _call(name: str, kwargs: dict[str, Any]) -> str:
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def run_over_generated(spec: ModelSpec, check: str, run_one: Callable[[ModelSpec], CheckResult]) -> CheckResult:
    """Run `check` through `run_one` on models built from generated builder arguments.

    `run_one(spec_with_kwargs)` builds the model and returns the check's result. Passes when
    every generated example passes (skips count as passes); otherwise the result of the
    smallest failing example Hypothesis finds, with its arguments in the message and
    ``details["failing_kwargs"]``. Generation is derandomised, so the same spec draws the same
    examples on every run (and every pytest-xdist worker).
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import InvalidArgument

    from ..strategies import builder_kwargs

    found = generation_space(spec)
    assert found is not None
    space, options = found
    builder_name = getattr(spec.builder, "__name__", None) or str(spec.builder).rpartition(":")[2]
    try:
        strategy = builder_kwargs(space, log_scale=tuple(options.get("log_scale", ())))
    except InvalidArgument as exc:
        raise SpecError(f"spec {spec.id!r}: `hypothesis`: {exc}") from None
    examples = int(options.get("max_examples", DEFAULT_EXAMPLES))
    failures: list[tuple[dict[str, Any], CheckResult]] = []
    tried: list[dict[str, Any]] = []

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None, print_blob=False,
              phases=(Phase.explicit, Phase.generate, Phase.shrink),
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def property_(kwargs: dict[str, Any]) -> None:
        tried.append(kwargs)
        result = run_one(spec.replace(builder_kwargs={**spec.builder_kwargs, **kwargs}, extra={}))
        if result.status in ("failed", "error"):
            failures.append((kwargs, result))
            raise AssertionError(result.message)

    try:
        property_()
    except AssertionError:
        kwargs, result = failures[-1]  # Hypothesis replays the shrunk example last
        result.message = f"{_call(builder_name, kwargs)} fails {check}: {result.message}"
        result.details = {**result.details, "failing_kwargs": kwargs, "examples_tried": len(tried)}
        return result
    return CheckResult.ok(
        check,
        f"passed for {len(tried)} generated argument sets of {builder_name}"
        f" ({', '.join(f'{k} in {v}' for k, v in space.items())})",
        expected=space, received={"examples": len(tried)}, details={"examples_tried": len(tried)},
    )
