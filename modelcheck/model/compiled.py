"""What the user compiled: the loss, its weights and the optimizer, read in one place.

Keras 3 keeps ``compile()``'s arguments in ``model._compile_config`` (a serialisable record,
present even before the first fit); `model.optimizer` is the optimizer object. No Keras import.
"""

from __future__ import annotations

from typing import Any

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
    """The ``loss_weights`` given to ``compile()``, or None."""
    return compile_arguments(model).get("loss_weights")


def compiled_optimizer(model: Any) -> Any:
    """The model's optimizer object when it was compiled with one, else None."""
    return getattr(model, "optimizer", None)


def compiled_without_loss(model: Any) -> bool:
    """True when the model was compiled with no ``loss``: Keras then trains only the losses its
    layers add (``add_loss``, regularisers)."""
    return bool(compile_arguments(model)) and compiled_loss(model) is None
