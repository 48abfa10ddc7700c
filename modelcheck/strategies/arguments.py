"""Strategies for a model builder's keyword arguments (`builder_kwargs`, `build_model_kwargs`)."""

from __future__ import annotations

from typing import Any, Collection, Mapping

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from ._validation import _check_range


def builder_kwargs(space: Mapping[str, Any], *, log_scale: Collection[str] = ()) -> st.SearchStrategy[dict]:
    """Keyword arguments for a model builder, drawn from a plain description of their space.

    Each value of `space` is either a pair ``[low, high]`` (integers: every integer in between;
    floats: uniform; either log-uniform when the name is in `log_scale`, integers staying
    integers), a list of other length
    (one of its items), or a single value (always that value). This is the form a spec file
    uses: ``hypothesis = { n_hidden = [0, 3], n_neurons = [1, 99] }``.

    >>> builder_kwargs({"n_hidden": [0, 3], "learning_rate": [3e-4, 3e-2]},
    ...                log_scale=["learning_rate"]).example()  # doctest: +SKIP
    {'n_hidden': 2, 'learning_rate': 0.0041}
    """
    if not isinstance(space, Mapping):
        raise InvalidArgument(f"space={space!r} must be a mapping from argument name to its range")
    unknown = [name for name in log_scale if name not in space]
    if isinstance(log_scale, str) or unknown:
        raise InvalidArgument(f"log_scale={log_scale!r} must name arguments of space; unknown: {unknown}")
    fields = {}
    for name, value in space.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidArgument(f"space key {name!r} must be a keyword argument name")
        fields[name] = _argument_strategy(name, value, name in log_scale)
    return st.fixed_dictionaries(fields)


def _argument_strategy(name: str, value: Any, log: bool) -> st.SearchStrategy[Any]:
    is_number = lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)  # noqa: E731
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(map(is_number, value)):
        low, high = value
        if low > high:
            raise InvalidArgument(f"space[{name!r}]={value!r}: low must not exceed high")
        if isinstance(low, int) and isinstance(high, int) and not log:
            return st.integers(low, high)
        if log:
            if low <= 0:
                raise InvalidArgument(f"space[{name!r}]={value!r}: a log-scale range must be positive")
            if isinstance(low, int) and isinstance(high, int):  # n_neurons: integers, log-uniform
                return _log_uniform(float(low), float(high)).map(lambda v: min(high, max(low, round(v))))
            return _log_uniform(float(low), float(high))
        return st.floats(float(low), float(high))
    if isinstance(value, (list, tuple)):
        if not value:
            raise InvalidArgument(f"space[{name!r}]=[] must not be empty")
        return st.sampled_from(list(value))
    return st.just(value)


def _log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    import math

    exponent = st.floats(math.log(low), math.log(high))
    return exponent.map(lambda e: min(high, max(low, math.exp(e))))


def build_model_kwargs(
    *,
    n_hidden: tuple[int, int] = (0, 3),
    n_neurons: tuple[int, int] = (1, 99),
    learning_rate: tuple[float, float] = (3e-4, 3e-2),
    input_shape: tuple[int, ...] = (8,),
) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments of document 003's ``build_model(n_hidden, n_neurons, learning_rate, input_shape)``.

    The defaults are the document's search space: ``n_hidden`` in 0..3, ``n_neurons`` in 1..99,
    ``learning_rate`` log-uniform in [3e-4, 3e-2]; each range can be narrowed with a
    ``(low, high)`` pair. ``input_shape`` is fixed (the data decides it), ``(8,)`` by default.

    >>> build_model_kwargs(n_hidden=(1, 2)).example()  # doctest: +SKIP
    {'n_hidden': 1, 'n_neurons': 17, 'learning_rate': 0.0012, 'input_shape': (8,)}
    """
    _check_range("n_hidden", n_hidden, integer=True, low=0)
    _check_range("n_neurons", n_neurons, integer=True, low=1)
    _check_range("learning_rate", learning_rate, integer=False, low=1e-12)
    if not isinstance(input_shape, (tuple, list)) or not input_shape or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in input_shape
    ):
        raise InvalidArgument(f"input_shape={input_shape!r} must be a non-empty tuple of integers >= 1")
    return builder_kwargs(
        {"n_hidden": list(n_hidden), "n_neurons": list(n_neurons),
         "learning_rate": [float(v) for v in learning_rate], "input_shape": [tuple(input_shape)]},
        log_scale=["learning_rate"],
    )
