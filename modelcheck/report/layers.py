"""The layer table of a report: ``model.summary()`` as data, compared with a spec.

Keras is imported lazily (only `layer_rows` needs a model, and it receives one already built).
"""

from __future__ import annotations

from typing import Any

from ..model.counting import weight_count
from .data import LayerRow

__all__ = ["layer_rows"]


def _shape(value: Any) -> list[int | None]:
    return [None if d is None else int(d) for d in value]


def _output_shape(layer: Any) -> Any:
    """``[None, 300]``, a list of shapes for several outputs, or None when never called."""
    try:
        output = layer.output
    except (AttributeError, ValueError):  # subclassed models: sublayers have no symbolic output
        return None
    if isinstance(output, (list, tuple)):
        return [_shape(t.shape) for t in output]
    if isinstance(output, dict):
        return [_shape(output[k].shape) for k in sorted(output)]
    return _shape(output.shape)


def _shape_matches(expected: Any, received: Any) -> bool:
    """Per-batch shapes; ``None`` in the expectation is a wildcard."""
    if received is None:
        return True  # nothing to compare with: the output_shape check says more
    if received and isinstance(received[0], list):
        if not (expected and isinstance(expected[0], (list, tuple))):
            return False
        return len(expected) == len(received) and all(
            _shape_matches(e, r) for e, r in zip(expected, received)
        )
    return len(expected) == len(received) and all(e is None or e == r for e, r in zip(expected, received))


def _with_batch(shape: Any) -> list[Any]:
    """The spec's per-sample shape (or shapes) with the batch dimension in front."""
    if shape and isinstance(shape[0], (list, tuple)):
        return [[None, *s] for s in shape]
    return [None, *shape]


def _lookup(expectations: Any, name: str, position: int) -> tuple[bool, Any]:
    """The expectation for a layer, from a dict by name or a list by position."""
    if expectations is None:
        return False, None
    if isinstance(expectations, dict):
        return (name in expectations), expectations.get(name)
    if position < len(expectations):
        return True, expectations[position]
    return False, None


def _missing_rows(expectations: Any, count: int, names: set[str], key: str) -> dict[str, dict[str, Any]]:
    """Expectations for layers the model lacks: names not found, or positions past its end."""
    rows: dict[str, dict[str, Any]] = {}
    if isinstance(expectations, dict):
        for name, value in expectations.items():
            if name not in names:
                rows[name] = {key: value}
    elif expectations is not None:
        for position in range(count, len(expectations)):
            rows[f"layer #{position + 1}"] = {key: expectations[position]}
    return rows


def layer_rows(model: Any, spec: Any = None) -> list[dict[str, Any]]:
    """The layer table of `model` as JSON-able dicts (see `LayerRow` for the keys).

    Input layers are left out, as in the spec's per-position lists. With a `spec` (a
    `ModelSpec` or any object with ``layer_params`` / ``layer_output_shapes``), a figure that
    differs gets ``expected_params`` / ``expected_output_shape`` beside it, a layer the spec
    expects but the model lacks gets a row of its own, and a layer the spec's list does not
    reach is noted.

    For ``keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")])`` it gives
    ``[{"name": "d", "class_name": "Dense", "output_shape": [None, 3], "params": 15, ...}]``.
    """
    expected_params = getattr(spec, "layer_params", None)
    expected_shapes = getattr(spec, "layer_output_shapes", None)
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    rows: list[dict[str, Any]] = []
    for position, layer in enumerate(layers):
        row = LayerRow(
            name=str(layer.name),
            class_name=type(layer).__name__,
            output_shape=_output_shape(layer),
            params=weight_count(layer.weights),
            trainable_params=weight_count(layer.trainable_weights),
            trainable=bool(layer.trainable),
        )
        has_params, params = _lookup(expected_params, row.name, position)
        if has_params and params is not None and params != row.params:
            row.expected_params = int(params)
        has_shape, shape = _lookup(expected_shapes, row.name, position)
        if has_shape and shape is not None:
            batched = _with_batch(shape)
            if not _shape_matches(batched, row.output_shape):
                row.expected_output_shape = batched
        if isinstance(expected_params, list) and position >= len(expected_params):
            row.note = f"not in the spec, which lists {len(expected_params)} layers"
        rows.append(row.to_dict())

    names = {row["name"] for row in rows}
    missing = _missing_rows(expected_params, len(layers), names, "expected_params")
    for name, extra in _missing_rows(expected_shapes, len(layers), names, "expected_output_shape").items():
        missing.setdefault(name, {}).update(extra)
    for name, extra in missing.items():
        shape = extra.get("expected_output_shape")
        rows.append(
            LayerRow(
                name=name,
                expected_params=extra.get("expected_params"),
                expected_output_shape=_with_batch(shape) if shape is not None else None,
                note="missing from the model",
            ).to_dict()
        )
    return rows
