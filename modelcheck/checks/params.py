"""Parameter counts: total, trainable, non-trainable, per layer, and a budget.

A layer is counted by its weights (`modelcheck.model.counting`), so a layer that was never built
(a subclassed model's layer its ``call`` never uses) counts 0, as ``model.summary()`` shows it
("0 (unbuilt)"), and the result says which layers those are."""

from __future__ import annotations

import numbers
from typing import Any

import keras

from ..analytic import format_count, layer_arithmetic
from ..model.counting import param_counts, weight_count
from ..model.graph import layers_of
from ..core.errors import SpecError
from ..core.messages import layer_ref, mismatch
from ..core.result import CheckResult
from .common import check, pair_per_layer

__all__ = ["check_param_count", "explain_layer", "over_budget_message"]

NAME = "param_count"
_MAX_LAYERS_SHOWN = 8


def _count(layer: keras.layers.Layer) -> int:
    """The layer's parameters: 0 for a layer never built (``count_params`` raises on one)."""
    return weight_count(layer.weights)


def _unbuilt(layer: keras.layers.Layer) -> bool:
    """A layer never built, so without weights (a subclassed model's layer its call() never ran)."""
    return not getattr(layer, "built", True) and not layer.weights


_UNBUILT = "0 (unbuilt: never called, so it holds no weights yet)"


def explain_layer(layer: keras.layers.Layer) -> str:
    """``dense: (784 + 1) x 300 = 235,500``, the plain count for layers without a formula, or
    ``dense_1 (Dense): 0 (unbuilt: ...)`` for a layer never built."""
    if _unbuilt(layer):
        return f"{layer.name} ({type(layer).__name__}): {_UNBUILT}"
    arithmetic = layer_arithmetic(layer)
    if arithmetic is not None:
        return f"{layer.name}: {arithmetic.formula}"
    return f"{layer.name} ({type(layer).__name__}): {format_count(_count(layer))}"


def _breakdown(layers: list[keras.layers.Layer]) -> str:
    shown = [explain_layer(layer) for layer in layers if _count(layer)][:_MAX_LAYERS_SHOWN]
    more = sum(1 for layer in layers if _count(layer)) - len(shown)
    return "; ".join(shown) + (f"; and {more} more layers" if more > 0 else "")


def _frozen_note(model: keras.Model) -> str:
    frozen = [layer.name for layer in layers_of(model) if not layer.trainable and _count(layer)]
    return f"frozen layers: {', '.join(frozen)}; " if frozen else ""


def _unbuilt_note(layers: list[keras.layers.Layer]) -> str:
    """``; layer 'dense_1' (Dense) is unbuilt ...`` for the layers never built, or nothing."""
    unbuilt = [layer for layer in layers if _unbuilt(layer)]
    if not unbuilt:
        return ""
    if len(unbuilt) == 1:
        subject = (f"{layer_ref(unbuilt[0].name, type(unbuilt[0]).__name__)} is unbuilt: the model's call() never "
                   "ran it, so it holds no weights yet and counts 0")
    else:
        subject = (f"layers {', '.join(f'{layer.name!r} ({type(layer).__name__})' for layer in unbuilt)} are "
                   "unbuilt: the model's call() never ran them, so they hold no weights yet and count 0")
    return f"; {subject} (model.summary() shows '0 (unbuilt)')"


def over_budget_message(total: int, max_params: int, note: str) -> str:
    """The failure of a model whose `total` parameters exceed `max_params`."""
    return mismatch("parameters", f"at most {format_count(max_params)}", format_count(total), at="the whole model",
                    note=note)


def check_param_count(model: Any, *, max_params: int | None = None, **kwargs: Any) -> CheckResult:
    """Check parameter counts against expectations.

    Args:
        model: a ``keras.Model`` or a builder returning one. For a builder with `max_params`,
            the budget is judged inside ``keras.StatelessScope`` before any weight is
            allocated, and a model over it is never built.
        total / trainable / non_trainable: expected counts (``None``: not checked).
        per_layer: expected count per layer, by layer name or in layer order (input layers
            excluded). A mismatch names the first layer that differs with its arithmetic,
            e.g. ``dense: (784 + 1) x 300 = 235,500``.
        max_params: a budget the total must not exceed.
        seed: unused (no randomness); accepted so every check takes it.

    Example::

        check_param_count(model, total=266_610, per_layer={"dense": 235_500})
    """
    _require_counts(max_params=max_params, **kwargs)
    if max_params is not None and callable(model) and not isinstance(model, keras.Model):
        over = _over_budget_unallocated(model, max_params)
        if over is not None:
            return over
    return _check_param_count(model, max_params=max_params, **kwargs)


def _is_count(value: Any) -> bool:
    """A whole number >= 0, NumPy's integers included (a count computed with np.prod)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0


def _require_counts(**given: Any) -> None:
    """Raise `SpecError` (the caller's mistake, not a failed check nor modelcheck's error) for an
    expected count that is not a whole number >= 0: ``total="266610"``, ``per_layer=[0, 1.5]``."""
    for key in ("total", "trainable", "non_trainable", "max_params"):
        value = given.get(key)
        if value is not None and not _is_count(value):
            raise SpecError(f"check_param_count: `{key}` must be a whole number >= 0, received {value!r}")
    per_layer = given.get("per_layer")
    values = per_layer.values() if isinstance(per_layer, dict) else per_layer
    if per_layer is not None and (not isinstance(per_layer, (dict, list, tuple)) or not all(map(_is_count, values))):
        raise SpecError("check_param_count: `per_layer` must be a list of whole numbers in layer order or a dict "
                        f"layer name -> whole number, received {per_layer!r}")


def _over_budget_unallocated(builder: Any, max_params: int) -> CheckResult | None:
    from ..core.errors import UserCodeError
    from ..model.build import count_params_unallocated

    try:
        counted = count_params_unallocated(builder)
    except UserCodeError:
        return None  # the full check reports the builder's error with its hint
    finally:
        keras.backend.clear_session(free_memory=False)
    if counted["total"] <= max_params:
        return None
    biggest = sorted(counted["layers"].items(), key=lambda item: -item[1])[:3]
    return CheckResult.fail(
        NAME,
        over_budget_message(counted["total"], max_params, "counted before allocating any weight, so the model was not built; "
                     "largest layers: " + ", ".join(f"{name} {format_count(count)}" for name, count in biggest)),
        expected={"max_params": max_params}, received={"total": counted["total"]}, details={"layers": counted["layers"]},
    )


@check(NAME)
def _check_param_count(
    model: keras.Model,
    *,
    total: int | None = None,
    trainable: int | None = None,
    non_trainable: int | None = None,
    per_layer: dict[str, int] | list[int] | None = None,
    max_params: int | None = None,
    seed: int = 0,
) -> CheckResult:
    """The check itself, on a built model (see `check_param_count`)."""
    got = param_counts(model)
    layers = layers_of(model)
    details: dict[str, Any] = {
        **got,
        "layers": {layer.name: _count(layer) for layer in layers},
        "formulas": {layer.name: explain_layer(layer) for layer in layers},
    }
    unbuilt = [layer.name for layer in layers if _unbuilt(layer)]
    if unbuilt:
        details["unbuilt_layers"] = unbuilt
    expected = {k: v for k, v in (("total", total), ("trainable", trainable), ("non_trainable", non_trainable)) if v is not None}
    if per_layer is not None:
        expected["per_layer"] = per_layer

    if max_params is not None and got["total"] > max_params:
        return CheckResult.fail(
            NAME,
            over_budget_message(got["total"], max_params,
                         f"largest layers: {_breakdown(sorted(layers, key=lambda l: -_count(l)))}"),
            expected={"max_params": max_params}, received=got, details=details,
        )

    if per_layer is not None:
        failure = _per_layer_failure(layers, per_layer, got, details)
        if failure is not None:
            return failure

    labels = {"total": "parameters in total", "trainable": "trainable parameters", "non_trainable": "non-trainable parameters"}
    subjects = {"total": "total parameters", "trainable": "trainable parameters",
                "non_trainable": "non-trainable parameters"}
    for key, want in expected.items():
        if key == "per_layer" or got[key] == want:
            continue
        difference = got[key] - want
        return CheckResult.fail(
            NAME,
            mismatch(subjects[key], format_count(want),
                     f"{format_count(got[key])} ({'+' if difference > 0 else '-'}{format_count(abs(difference))})",
                     at="the whole model",
                     note=f"{_frozen_note(model) if key != 'total' else ''}per layer: {_breakdown(layers)}"
                     f"{_unbuilt_note(layers)}"),
            expected=want, received=got[key], details=details,
        )
    summary = ", ".join(f"{format_count(got[k])} {labels[k]}" for k in ("total", "trainable", "non_trainable"))
    return CheckResult.ok(NAME, summary + (" as expected" if expected else "") + _unbuilt_note(layers),
                          expected=expected or None,
                          received=got, details=details)


def _per_layer_failure(layers: list[keras.layers.Layer], per_layer: dict[str, int] | list[int],
                       got: dict[str, int], details: dict[str, Any]) -> CheckResult | None:
    pairs = pair_per_layer(NAME, per_layer, layers, "the expected per-layer counts", details)
    if isinstance(pairs, CheckResult):
        return pairs
    for position, (layer, want) in enumerate(pairs):
        have = _count(layer)
        if have != want:
            return CheckResult.fail(
                NAME,
                mismatch("parameters", format_count(want), format_count(have),
                         at=layer_ref(layer.name, type(layer).__name__), note=f"its arithmetic: {explain_layer(layer)}"),
                expected=want, received=have, details={**details, "first_mismatch": layer.name},
            )
    return None
