"""What the user compiled: the loss, its weights and the optimizer, read in one place.

Keras 3 keeps ``compile()``'s arguments in ``model._compile_config`` (a serialisable record,
present even before the first fit); `model.optimizer` is the optimizer object. No Keras import.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import UserCodeError

__all__ = ["compile_arguments", "compiled_loss", "compiled_loss_weights", "compiled_optimizer", "compiled_without_loss"]


def compile_arguments(model: Any) -> dict[str, Any]:
    """The keyword arguments the model was compiled with (empty when it was not compiled)."""
    config = getattr(model, "_compile_config", None)
    if config is None:
        return {}
    values = config.config if hasattr(config, "config") else config
    return dict(values) if isinstance(values, dict) else {}


def compiled_loss(model: Any) -> Any:
    """The ``loss`` given to ``compile()`` (a name, a function, a Loss, a list or dict of them), or None."""
    return compile_arguments(model).get("loss")


def compiled_loss_weights(model: Any) -> Any:
    """The ``loss_weights`` given to ``compile()``, or None. Raises `UserCodeError` when one is not a
    number: Keras 2's ``compile(optimizer, loss, metrics)`` given positionally passes the metrics
    as Keras 3's third argument, ``loss_weights``, and fit fails on them too."""
    weights = compile_arguments(model).get("loss_weights")
    values = weights.values() if isinstance(weights, dict) else (
        weights if isinstance(weights, (list, tuple)) else [weights])
    odd = [value for value in values if value is not None and (isinstance(value, bool) or not _is_number(value))]
    if odd:
        raise UserCodeError(
            f"the model is compiled with loss_weights={weights!r}: a loss weight must be a number, and "
            f"{odd[0]!r} is not; Keras' fit fails on it too",
            hint="in Keras 3 compile()'s third argument is loss_weights (in Keras 2 it was metrics): "
                 "pass the metrics by name, compile(optimizer, loss, metrics=[\"accuracy\"])")
    loss = compiled_loss(model)
    if isinstance(weights, (list, tuple)) and loss is not None and not isinstance(loss, dict):
        losses = len(loss) if isinstance(loss, (list, tuple)) else 1  # as Keras counts them
        if len(weights) != losses:
            raise UserCodeError(
                f"the model is compiled with {losses} loss{'es' if losses != 1 else ''} and {len(weights)} loss "
                f"weights (loss_weights={weights!r}); Keras' fit raises on them: \"loss_weights must match the "
                "number of losses\"", hint="give one weight per loss, in the order of the losses")
    return weights


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, str)


def compiled_optimizer(model: Any) -> Any:
    """The model's optimizer object when it was compiled with one, else None."""
    return getattr(model, "optimizer", None)


def compiled_without_loss(model: Any) -> bool:
    """True when the model was compiled with no ``loss``: Keras then trains only the losses its
    layers add (``add_loss``, regularisers)."""
    return bool(compile_arguments(model)) and compiled_loss(model) is None
