"""What an operation of a functional graph equals: for `modelcheck.checks.reference_form`, and for
the activation at a model's output (`modelcheck.model.outputs`).

A functional model may call ``keras.ops`` functions (and Python operators on symbolic tensors)
between its layers: `architecture()` lists them under ``operations``. Each call is read as the
layer it equals, so that equivalent ways of writing a network compare equal:

- an activation (``keras.ops.relu``, ``sigmoid``, ``tanh``, ``gelu(approximate=False)``,
  ``silu``, ``elu``, ``selu``, ``softplus``, ``relu6``, ``leaky_relu`` with its default slope,
  ``log_softmax``... with `keras.activations`' defaults) is an ``Activation`` layer;
- ``keras.ops.softmax`` and ``keras.activations.relu(x, ...)`` are the ``Softmax`` and ``ReLU``
  layers of the same configuration (so they fold as those do: ``softmax`` over the last axis,
  ``relu`` with default arguments), ``leaky_relu``/``elu`` with other arguments the ``LeakyReLU``
  and ``ELU`` layers, ``keras.ops.concatenate`` the ``Concatenate`` layer of its axis;
- ``add``, ``subtract``, ``multiply``, ``maximum``, ``minimum`` of tensors alone (``a + b``) are the
  merge layer of that name;
- any other operation is of class ``"operation <name>"`` (``operation multiply``, ``operation
  true_divide``, ``operation get_item`` for ``x[:, 0]``); its constant operands are its
  ``arguments`` (``x * 2.0`` and ``2.0 * x`` alike).
"""

from __future__ import annotations

from typing import Any

from ..snapshot.serialize import has_constant, snake_case  # (serialize imports model.counting only)

__all__ = ["OPERATION", "operation_as_layer", "entry_rank", "negative_axes", "with_negative_axes"]

OPERATION = "operation "  # the class of an operation that equals no layer: "operation multiply"
# operations that equal a Keras activation (the name a layer's config gives it), with the
# configuration they must have to equal it (keras.activations' defaults)
_OP_ACTIVATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    **{cls: (snake_case(cls), {}) for cls in ("Relu", "Relu6", "Sigmoid", "Tanh", "Softplus", "Softsign", "Silu",
                                              "Selu", "HardSigmoid", "HardSilu", "HardTanh", "LogSigmoid",
                                              "TanhShrink", "SparsePlus", "SparseSigmoid", "Mish")},
    "Exp": ("exponential", {}), "LogSoftmax": ("log_softmax", {"axis": -1}), "Sparsemax": ("sparsemax", {"axis": -1}),
    "Glu": ("glu", {"axis": -1}), "Elu": ("elu", {"alpha": 1.0}), "Celu": ("celu", {"alpha": 1.0}),
    "Gelu": ("gelu", {"approximate": False}), "LeakyRelu": ("leaky_relu", {"negative_slope": 0.2}),
    "SoftShrink": ("soft_shrink", {"threshold": 0.5}), "HardShrink": ("hard_shrink", {"threshold": 0.5}),
    "Squareplus": ("squareplus", {"b": 4}),
}
# operations that equal a layer of the same configuration (Softmax and ReLU then fold as those layers do)
_OP_LAYERS = {"Softmax": "Softmax", "ReLU": "ReLU", "LeakyRelu": "LeakyReLU", "Elu": "ELU",
              "Concatenate": "Concatenate"}
# operations of tensors alone that equal a merge layer
_OP_MERGES = {"Add": "Add", "Subtract": "Subtract", "Multiply": "Multiply", "Maximum": "Maximum", "Minimum": "Minimum"}
_COMMUTATIVE = ("Add", "Multiply", "Maximum", "Minimum")


# Layers and operations whose ``axis`` counts the axes of a tensor of their output's rank: an axis
# given as a positive number names the same axis as its negative form (``Softmax(axis=1)`` on a
# (None, 10) output is ``Softmax(axis=-1)``), so both are read in the negative form.
_RANK_AXES = ("Softmax", "LogSoftmax", "Sparsemax", "Glu", "Concatenate", "BatchNormalization",
              "LayerNormalization", "GroupNormalization", "UnitNormalization", "RMSNormalization")


def entry_rank(entry: dict[str, Any]) -> int | None:
    """The rank of the tensors an `architecture()` entry outputs (every call alike), or None when
    it is not recorded (a subclassed model's layer records the shape it was built with)."""
    shape = entry.get("output_shape") or entry.get("input_shape")
    if not isinstance(shape, list) or not shape:
        return None
    shapes = shape if isinstance(shape[0], list) else [shape]  # one shape per call, or the only one
    if not all(isinstance(s, list) and all(d is None or isinstance(d, int) for d in s) for s in shapes):
        return None
    ranks = {len(s) for s in shapes}
    return ranks.pop() if len(ranks) == 1 else None


def negative_axes(cls: str, config: dict[str, Any], rank: int | None) -> dict[str, Any]:
    """`config` with its ``axis`` in negative form (``1`` -> ``-1`` for a rank of 2) for a layer or
    operation of class `cls` that keeps its input's rank (`_RANK_AXES`); `config` itself otherwise."""
    axis = config.get("axis")
    if cls not in _RANK_AXES or not rank or axis is None:
        return config

    def negative(a: Any) -> Any:
        return a - rank if isinstance(a, int) and not isinstance(a, bool) and 0 <= a < rank else a

    form = [negative(a) for a in axis] if isinstance(axis, (list, tuple)) else negative(axis)
    return config if form == axis else {**config, "axis": form}


def with_negative_axes(entry: dict[str, Any]) -> dict[str, Any]:
    """An `architecture()` entry (layer or operation) with its ``axis`` in negative form
    (`negative_axes`, the rank read from its recorded shapes), and the axis as written under
    ``written_axis`` when that differs (for messages)."""
    config = entry.get("config")
    if not isinstance(config, dict):
        return entry
    form = negative_axes(entry.get("class", ""), config, entry_rank(entry))
    return entry if form is config else {**entry, "config": form, "written_axis": config.get("axis")}


def operation_as_layer(entry: dict[str, Any], call: int = 0) -> dict[str, Any]:
    """The layer an ``operations`` entry of `architecture()` equals in its `call`-th call:
    ``{"class", "config", "params": 0}`` (see the module docstring)."""
    cls, config = entry["class"], dict(entry.get("config") or {})
    arguments = entry.get("arguments") or []
    args = arguments[call] if call < len(arguments) and has_constant(arguments[call]) else None
    sources = (entry.get("inputs") or [[]])[call] if call < len(entry.get("inputs") or []) else []
    layer: dict[str, Any] = {"class": f"{OPERATION}{'relu' if cls == 'ReLU' else snake_case(cls)}", "config": config}
    if args is None and cls in _OP_ACTIVATIONS and config == _OP_ACTIVATIONS[cls][1]:
        layer = {"class": "Activation", "config": {"activation": _OP_ACTIVATIONS[cls][0]}}
    elif args is None and cls in _OP_LAYERS:
        layer["class"] = _OP_LAYERS[cls]
    elif args is None and cls in _OP_MERGES and len(sources) >= 2:
        layer["class"] = _OP_MERGES[cls]
    elif args is not None:  # x * 2.0 = 2.0 * x
        commuted = cls in _COMMUTATIVE and len(args) == 2 and args[1] == "<tensor>" != args[0]
        config["arguments"] = args[::-1] if commuted else args
    return {**layer, "name": entry.get("name"), "params": 0}
