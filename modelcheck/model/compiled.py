"""What the user compiled: the loss, its weights and the optimizer, read in one place.

Keras 3 keeps ``compile()``'s arguments in ``model._compile_config`` (a serialisable record,
present even before the first fit); `model.optimizer` is the optimizer object. Keras is imported
only where a function needs it.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import UserCodeError

__all__ = ["compile_arguments", "compiled_loss", "compiled_loss_weights", "compiled_optimizer", "compiled_without_loss",
           "output_loss_weights", "per_output"]


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


def compiled_loss_weights(model: Any, output_names: list[str] | None = None, dict_outputs: bool = False) -> Any:
    """The ``loss_weights`` given to ``compile()`` as Keras' fit pairs them with the losses (in the
    structure of the compiled loss), or None. `output_names`: the names Keras knows the outputs by
    (a graph model's), `dict_outputs`: whether the model returns a dict.

    Keras pairs weights and losses by name only where their structures match (a dict of each with
    the same keys); otherwise it takes the weights in the order it flattens them (a dict's in the
    sorted order of its keys) and the losses in theirs, so a misspelt key still weighs some output,
    and a dict of weights given with a list of losses can weigh them the wrong way round. Raises
    `UserCodeError` where fit raises: a weight that is not a number (Keras 2's ``compile(optimizer,
    loss, metrics)`` given positionally passes the metrics as Keras 3's third argument,
    ``loss_weights``), or a number of weights other than of losses."""
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
    if weights is None or loss is None:
        return weights
    return _paired(loss, weights, output_names or [], dict_outputs)


def _count_error(losses: int, weights: Any, count: int) -> UserCodeError:
    return UserCodeError(
        f"the model is compiled with {losses} loss{'es' if losses != 1 else ''} and {count} loss "
        f"weight{'s' if count != 1 else ''} (loss_weights={weights!r}); Keras' fit raises on them: \"loss_weights "
        "must match the number of losses\"", hint="give one weight per loss, keyed like the losses (or in their order)")


def _paired(loss: Any, weights: Any, output_names: list[str], dict_outputs: bool) -> Any:
    """`weights` in the structure of `loss`, as ``CompileLoss.build`` pairs them (Keras 3)."""
    import keras

    if output_names and isinstance(loss, dict) and not dict_outputs:
        if set(output_names) != {str(key) for key in loss}:
            return weights  # fit raises on the loss dict itself: `objective_for` says so first
        loss = [loss[name] for name in output_names]
        if isinstance(weights, dict):
            missing = [name for name in output_names if name not in weights]
            if missing:
                raise UserCodeError(
                    f"the model is compiled with loss_weights={weights!r}, which has no weight for output "
                    f"{missing[0]!r}; with a loss dict, Keras' fit raises KeyError: {missing[0]!r}",
                    hint="give the loss weights the same keys as the loss dict (one per output)")
            return [weights[name] for name in output_names]
    try:
        keras.tree.assert_same_structure(loss, weights)
        return weights
    except (ValueError, TypeError):
        flat = keras.tree.flatten(weights)
        losses = len(keras.tree.flatten(loss))
        if losses != len(flat):
            raise _count_error(losses, weights, len(flat)) from None
        return keras.tree.pack_sequence_as(loss, flat)


def output_loss_weights(model: Any, names: list[str], keys: list[str] | None, graph: bool) -> list[Any]:
    """Each output's loss weight as Keras' fit applies it (None: no weight given, Keras' 1), for the
    outputs `names` (a dict output's `keys`); `graph`: a model whose outputs Keras knows by name."""
    keras_names = list(getattr(model, "output_names", None) or []) if graph else []
    return per_output(compiled_loss_weights(model, keras_names, keys is not None), names, len(names), keys)


def per_output(value: Any, names: list[str], count: int, keys: list[str] | None = None) -> list[Any]:
    """A compiled loss's (or its paired weights') entry for each of `count` outputs, in order:
    a dict's by the output's key (`keys`, a dict output's) or name, a list's by position, a single
    one for every output; None where there is none."""
    if value is None:
        return [None] * count
    if isinstance(value, dict):
        keys = keys if keys is not None and len(keys) == count else names
        return [value.get(key, value.get(name)) for key, name in zip(keys, names)]
    if isinstance(value, (list, tuple)):
        return list(value) + [None] * (count - len(value))
    return [value] * count


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
