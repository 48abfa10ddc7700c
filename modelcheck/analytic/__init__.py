"""Parameter counts and output shapes of Keras layers, from arithmetic alone.

Each figure comes with the formula a student can check by hand::

    >>> config_arithmetic("Dense", {"units": 300}, (None, 784)).formula
    '(784 + 1) x 300 = 235,500'
    >>> config_output_shape("Conv2D", {"filters": 8, "kernel_size": 3, "strides": 2},
    ...                     (None, 28, 28, 1))
    (None, 13, 13, 8)

The pure functions (`config_arithmetic`, `config_output_shape`) take a layer's class name, its
configuration (the full ``get_config()`` or just the constructor's keyword arguments: missing
keys take Keras' defaults) and its input shape *with* the batch dimension. They never import
Keras, so they can judge a model before any weight is allocated, and they are an independent
oracle for the Hypothesis strategies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .geometry import canonical_name, format_count, single_shape
from .params import PARAM_RULES
from .shapes import MULTI_INPUT, SHAPE_RULES

__all__ = [
    "LayerArithmetic",
    "config_arithmetic",
    "config_output_shape",
    "covered_classes",
    "format_count",
    "layer_arithmetic",
]


@dataclass(frozen=True)
class LayerArithmetic:
    """The parameter count of one layer and how it is obtained.

    Attributes:
        count: total number of parameters.
        trainable: parameters updated by training.
        non_trainable: the others (moving statistics, frozen layers).
        formula: plain arithmetic, e.g. ``"(784 + 1) x 300 = 235,500"``.
    """

    count: int
    trainable: int
    non_trainable: int
    formula: str



def covered_classes() -> frozenset[str]:
    """The layer class names that `config_arithmetic` and `config_output_shape` understand."""
    return frozenset(SHAPE_RULES)


def _check_covered(class_name: str) -> str:
    name = canonical_name(class_name)
    if name not in SHAPE_RULES:
        raise ValueError(
            f"{class_name} is not covered by modelcheck's layer arithmetic; covered layers: "
            f"{', '.join(sorted(SHAPE_RULES))}"
        )
    return name


def _shape_argument(name: str, input_shape: Any) -> Any:
    if name in MULTI_INPUT:
        return [tuple(s) for s in input_shape]
    return single_shape(name, input_shape)


# ------------------------------------------------------------------------ public API


def config_arithmetic(class_name: str, config: dict, input_shape: Any) -> LayerArithmetic:
    """The parameter count of a layer, from its configuration and input shape.

    Args:
        class_name: e.g. ``"Dense"`` (aliases such as ``"Convolution2D"`` are understood).
        config: the layer's ``get_config()``, or just its constructor keyword arguments.
        input_shape: the input shape with its batch dimension, e.g. ``(None, 784)``; a list
            of shapes for merging layers.

    Raises:
        ValueError: naming the class when it is not covered (see `covered_classes`), or when
            the layer is LoRA-enabled.

    >>> config_arithmetic("BatchNormalization", {}, (None, 64)).formula
    '4 x 64 = 256 (128 trainable: gamma, beta; 128 non-trainable: moving mean, variance)'
    """
    name = _check_covered(class_name)
    if config.get("lora_rank"):
        raise ValueError(f"{class_name} with lora_rank={config['lora_rank']} is not covered")
    shape = _shape_argument(name, input_shape)
    rule = PARAM_RULES.get(name)
    if rule is None:
        return LayerArithmetic(0, 0, 0, f"0 ({class_name} has no parameters)")
    count, trainable, expr, detail = rule(name, config, shape)
    if config.get("trainable", True) is False:
        trainable, detail = 0, "frozen: all non-trainable"
    formula = f"{expr} = {format_count(count)}" + (f" ({detail})" if detail else "")
    return LayerArithmetic(count, trainable, count - trainable, formula)


def config_output_shape(class_name: str, config: dict, input_shape: Any) -> tuple:
    """The output shape of a layer (batch dimension included), from arithmetic alone.

    Same arguments as `config_arithmetic`. Layers with several outputs (recurrent layers with
    ``return_state=True``, ``Bidirectional`` with ``merge_mode=None``) give a tuple of shapes.

    Raises:
        ValueError: for classes that are not covered, and for windows that do not fit
            (a ``padding='valid'`` kernel larger than its input).

    >>> config_output_shape("Dense", {"units": 10}, (None, 32))
    (None, 10)
    """
    name = _check_covered(class_name)
    shape = _shape_argument(name, input_shape)
    if name in ("SimpleRNN", "LSTM", "GRU"):
        config = {**config, "_class": name}
    return SHAPE_RULES[name](config, shape)


def _static_shape(tensor: Any) -> tuple:
    return tuple(None if d is None else int(d) for d in tensor.shape)


def layer_arithmetic(layer: Any) -> LayerArithmetic | None:
    """The arithmetic of a built Keras layer, or None when its class is not covered.

    Uses ``layer.__class__.__name__``, ``layer.get_config()`` and the shape of the layer's
    first input (a shared layer has the same weights on every call). Layers that were never
    called on an input, LoRA-enabled layers, and layers whose configuration cannot be read (a
    user's regularizer without ``get_config``) give None as well.
    """
    name = canonical_name(type(layer).__name__)
    if name not in SHAPE_RULES:
        return None
    try:
        config = layer.get_config()
    except Exception:  # the user's regularizer, constraint or initializer has no get_config: no formula, the count stands
        return None
    if config.get("lora_rank"):
        return None
    if name == "InputLayer":
        return config_arithmetic(name, config, ())
    if name not in PARAM_RULES:  # no weights: the input shape is not needed
        return LayerArithmetic(0, 0, 0, f"0 ({type(layer).__name__} has no parameters)")
    try:
        tensors = layer.input
    except (AttributeError, ValueError):  # never called, so no input shape is known
        return None
    if isinstance(tensors, (list, tuple)):
        if len(tensors) != 1:
            return None
        tensors = tensors[0]
    config["trainable"] = bool(layer.trainable)
    return config_arithmetic(name, config, _static_shape(tensors))
