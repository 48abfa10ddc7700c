"""Argument checks shared by the strategies: each raises `InvalidArgument` naming the argument."""

from __future__ import annotations

from typing import Any, Collection, Sequence

from hypothesis.errors import InvalidArgument


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
        high is not None and value > high
    ):
        wanted = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise InvalidArgument(f"{name}={value!r} must be {wanted}")


def _check_choices(name: str, values: Any, allowed: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Collection) or not values:
        raise InvalidArgument(f"{name}={values!r} must be a non-empty collection of {list(allowed)}")
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise InvalidArgument(f"{name}={values!r} contains {unknown!r}; allowed values: {list(allowed)}")
    return tuple(values)


def _check_range(name: str, value: Any, *, integer: bool, low: float, high: float | None = None) -> tuple:
    kinds = (int,) if integer else (int, float)
    ok = (
        isinstance(value, (tuple, list)) and len(value) == 2
        and all(isinstance(v, kinds) and not isinstance(v, bool) for v in value)
        and low <= value[0] <= value[1] and (high is None or value[1] <= high)
    )
    if not ok:
        kind = "integers" if integer else "numbers"
        bound = f">= {low}" + ("" if high is None else f" and <= {high}")
        raise InvalidArgument(f"{name}={value!r} must be a pair (low, high) of {kind}, low <= high, {bound}")
    return tuple(value)
