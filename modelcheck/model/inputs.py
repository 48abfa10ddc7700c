"""What a model takes as input, and synthetic batches that fit it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import keras
import numpy as np

from ..core.errors import UserCodeError
from .graph import consumers, has_symbolic_inputs, layers_of

__all__ = ["InputInfo", "input_infos", "synthetic_inputs", "pack_inputs"]

DEFAULT_SEQUENCE_LENGTH = 8  # for inputs whose length is None (text, time series)


@dataclass(frozen=True)
class InputInfo:
    """One model input: name, shape with batch dimension, dtype, and the vocabulary size
    when the input feeds an Embedding (token ids must be below it)."""

    name: str
    shape: tuple[int | None, ...]
    dtype: str
    vocabulary: int | None = None


def input_infos(model: keras.Model) -> list[InputInfo]:
    """Describe each input of `model` (functional, Sequential or subclassed)."""
    infos = []
    if has_symbolic_inputs(model):
        for i, tensor in enumerate(model.inputs):
            readers = consumers(model, tensor)
            if not readers and isinstance(model, keras.Sequential):
                readers = layers_of(model)[:1]
            vocab = [c.input_dim for c in readers if isinstance(c, keras.layers.Embedding)]
            infos.append(InputInfo(getattr(tensor, "name", f"input_{i}"), tuple(tensor.shape),
                                   str(tensor.dtype), min(vocab) if vocab else None))
        return infos
    shapes = (model.get_build_config() or {}).get("input_shape")
    if shapes is None:
        raise UserCodeError("the model has no input shape", hint="build it or start it with keras.Input(...)")
    if shapes and isinstance(shapes[0], (int, type(None))):
        shapes = [shapes]
    embeddings = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    vocab = min(e.input_dim for e in embeddings) if embeddings else None
    return [InputInfo(f"input_{i}", (None, *tuple(s)[1:]), "float32", vocab) for i, s in enumerate(shapes)]


def synthetic_inputs(model: keras.Model, batch_size: int, seed: int) -> Any:
    """A batch of inputs fitting `model`: floats ~ N(0, 1), or valid token ids for inputs that
    feed an Embedding (or have an integer dtype). Returns an array, or a list for several inputs."""
    rng = np.random.default_rng(seed)
    arrays = []
    for info in input_infos(model):
        shape = (batch_size, *[DEFAULT_SEQUENCE_LENGTH if d is None else d for d in info.shape[1:]])
        if info.vocabulary is not None or "int" in info.dtype:
            high = info.vocabulary if info.vocabulary is not None else 10
            arrays.append(rng.integers(0, high, size=shape).astype(info.dtype if "int" in info.dtype else "float32"))
        elif info.dtype == "bool":
            arrays.append(rng.integers(0, 2, size=shape).astype(bool))
        else:
            arrays.append(rng.standard_normal(shape).astype(info.dtype if "float" in info.dtype else "float32"))
    return pack_inputs(model, arrays)


def pack_inputs(model: keras.Model, arrays: Sequence[Any]) -> Any:
    """Put one array per input into the structure the model was built with (a single array,
    a list, or a dict by input name), so Keras does not warn about a mismatched structure."""
    structure = getattr(model, "_inputs_struct", None) if has_symbolic_inputs(model) else None
    if structure is not None:
        return keras.tree.pack_sequence_as(structure, list(arrays))
    return arrays[0] if len(arrays) == 1 else list(arrays)
