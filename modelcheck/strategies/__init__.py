"""Hypothesis strategies for Keras layer configurations, whole models and builder arguments.

Every drawn value is valid by construction and carries the figures modelcheck's layer
arithmetic (`modelcheck.analytic`) predicts for it, computed without Keras, so a property test
can compare them with what Keras builds::

    from hypothesis import given
    from modelcheck import strategies as mst

    @given(mst.models())
    def test_counts(drawn):
        model = drawn.build()
        assert model.count_params() == drawn.expected_params, drawn

    @given(mst.build_model_kwargs(n_hidden=(0, 2)))
    def test_my_builder(kwargs):
        model = build_model(**kwargs)
        ...

Keras is imported only when a drawn value is built, so importing this module stays light.
The layer strategies draw convolutions and poolings with ``data_format="channels_first"`` too
(``data_formats=["channels_last"]`` to leave them out); `models()` draws ``channels_last`` only.
"""

from __future__ import annotations

from .arguments import build_model_kwargs, builder_kwargs
from .layers import (
    ACTIVATIONS,
    CELLS,
    DATA_FORMATS,
    POOLINGS,
    DrawnLayer,
    activation_layers,
    batch_normalization_layers,
    conv_layers,
    dense_layers,
    dropout_layers,
    embedding_layers,
    flatten_layers,
    layer_configs,
    pooling_layers,
    recurrent_layers,
)
from .models import INPUT_KINDS, MODEL_KINDS, OPTIONAL_LAYERS, DrawnModel, ModelInput, ModelNode, models

__all__ = [
    "DrawnLayer",
    "DrawnModel",
    "MODEL_KINDS",
    "ModelInput",
    "ModelNode",
    "OPTIONAL_LAYERS",
    "activation_layers",
    "batch_normalization_layers",
    "build_model_kwargs",
    "builder_kwargs",
    "conv_layers",
    "dense_layers",
    "dropout_layers",
    "embedding_layers",
    "flatten_layers",
    "layer_configs",
    "models",
    "pooling_layers",
    "recurrent_layers",
]
