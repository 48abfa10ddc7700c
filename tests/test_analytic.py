"""The layer arithmetic of modelcheck.analytic against Keras' own counts and shapes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from modelcheck.analytic import (
    LayerArithmetic,
    config_arithmetic,
    config_output_shape,
    covered_classes,
    format_count,
    layer_arithmetic,
)

# (class name, constructor kwargs, input shape without the batch dimension[, input dtype])
CASES = [
    ("Dense", {"units": 300}, (784,)),
    ("Dense", {"units": 3, "use_bias": False}, (5,)),
    ("Dense", {"units": 4}, (7, 5)),
    ("Dense", {"units": 2, "trainable": False}, (3,)),
    ("Conv1D", {"filters": 4, "kernel_size": 3}, (20, 5)),
    ("Conv1D", {"filters": 4, "kernel_size": 3, "padding": "causal", "strides": 2}, (21, 5)),
    ("Conv1D", {"filters": 6, "kernel_size": 2, "dilation_rate": 3}, (20, 4)),
    ("Conv1D", {"filters": 6, "kernel_size": 3, "groups": 2, "use_bias": False}, (9, 4)),
    ("Conv2D", {"filters": 64, "kernel_size": 3}, (16, 16, 32)),
    ("Conv2D", {"filters": 8, "kernel_size": (3, 2), "strides": (2, 1), "padding": "same"}, (9, 7, 3)),
    ("Conv2D", {"filters": 8, "kernel_size": 3, "strides": 2, "padding": "valid"}, (10, 11, 3)),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "dilation_rate": 2}, (12, 12, 2)),
    ("Conv2D", {"filters": 8, "kernel_size": 3, "groups": 4}, (10, 10, 8)),
    ("Conv2D", {"filters": 5, "kernel_size": 3, "data_format": "channels_first"}, (3, 10, 9)),
    ("Conv2D", {"filters": 5, "kernel_size": 1, "padding": "same", "strides": 3}, (None, None, 3)),
    ("Conv3D", {"filters": 4, "kernel_size": 2, "strides": (1, 2, 2)}, (5, 6, 7, 3)),
    ("Conv3D", {"filters": 2, "kernel_size": 3, "padding": "same", "use_bias": False}, (4, 4, 4, 2)),
    ("Conv1DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2}, (7, 4)),
    ("Conv2DTranspose", {"filters": 3, "kernel_size": 3, "strides": 2, "padding": "same"}, (5, 6, 4)),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 4, "strides": 3, "output_padding": 1}, (5, 5, 2)),
    ("Conv3DTranspose", {"filters": 2, "kernel_size": 2, "strides": 2}, (3, 3, 3, 2)),
    ("DepthwiseConv2D", {"kernel_size": 3}, (8, 8, 5)),
    ("DepthwiseConv2D", {"kernel_size": 3, "depth_multiplier": 2, "use_bias": False}, (8, 8, 5)),
    ("DepthwiseConv1D", {"kernel_size": 3, "padding": "same"}, (8, 5)),
    ("SeparableConv2D", {"filters": 16, "kernel_size": 3}, (8, 8, 5)),
    ("SeparableConv1D", {"filters": 4, "kernel_size": 2, "depth_multiplier": 3}, (8, 5)),
    ("Embedding", {"input_dim": 10000, "output_dim": 64}, (20,), "int32"),
    ("Embedding", {"input_dim": 7, "output_dim": 3}, (4, 5), "int32"),
    ("BatchNormalization", {}, (64,)),
    ("BatchNormalization", {"center": False}, (6, 6, 4)),
    ("BatchNormalization", {"scale": False, "center": False}, (6, 3)),
    ("BatchNormalization", {"axis": 1}, (3, 6, 6)),
    ("LayerNormalization", {}, (10, 8)),
    ("LayerNormalization", {"axis": [1, 2]}, (4, 5, 6)),
    ("LayerNormalization", {"center": False}, (7,)),
    ("SimpleRNN", {"units": 64}, (10, 32)),
    ("SimpleRNN", {"units": 4, "use_bias": False, "return_sequences": True}, (5, 3)),
    ("LSTM", {"units": 8}, (6, 4)),
    ("LSTM", {"units": 3, "return_sequences": True}, (None, 2)),
    ("GRU", {"units": 5}, (6, 4)),
    ("GRU", {"units": 5, "reset_after": False}, (6, 4)),
    ("GRU", {"units": 5, "use_bias": False}, (6, 4)),
    ("Flatten", {}, (3, 4, 5)),
    ("Reshape", {"target_shape": (6, -1)}, (3, 4)),
    ("Permute", {"dims": (2, 1)}, (3, 4)),
    ("RepeatVector", {"n": 3}, (4,)),
    ("Dropout", {"rate": 0.5}, (4,)),
    ("SpatialDropout2D", {"rate": 0.2}, (4, 4, 2)),
    ("Activation", {"activation": "relu"}, (4, 2)),
    ("ReLU", {}, (4,)),
    ("LeakyReLU", {}, (4,)),
    ("Softmax", {}, (4,)),
    ("MaxPooling1D", {}, (9, 2)),
    ("MaxPooling2D", {"pool_size": 3, "strides": 2}, (9, 10, 2)),
    ("MaxPooling2D", {"pool_size": 2, "padding": "same"}, (9, 9, 2)),
    ("AveragePooling2D", {"pool_size": (2, 3), "data_format": "channels_first"}, (2, 8, 9)),
    ("AveragePooling3D", {"pool_size": 2}, (4, 5, 6, 1)),
    ("GlobalAveragePooling1D", {}, (7, 3)),
    ("GlobalMaxPooling2D", {}, (5, 5, 3)),
    ("GlobalMaxPooling2D", {"keepdims": True}, (5, 5, 3)),
    ("GlobalAveragePooling3D", {"data_format": "channels_first"}, (2, 3, 3, 3)),
    ("UpSampling2D", {"size": (2, 3)}, (4, 5, 2)),
    ("ZeroPadding2D", {"padding": ((1, 2), (0, 3))}, (4, 5, 2)),
    ("Cropping1D", {"cropping": (1, 2)}, (8, 2)),
]


def _keras_figures(class_name, kwargs, shape, dtype="float32"):
    import keras

    layer = getattr(keras.layers, class_name)(**kwargs)
    output = layer(keras.Input(shape, dtype=dtype))
    trainable = sum(int(w.numpy().size) for w in layer.trainable_weights)
    return layer, layer.count_params(), trainable, tuple(output.shape)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}")
def test_arithmetic_agrees_with_keras(case):
    class_name, kwargs, shape, *dtype = case
    layer, count, trainable, out_shape = _keras_figures(class_name, kwargs, shape, *dtype)

    ours = config_arithmetic(class_name, kwargs, (None, *shape))
    assert (ours.count, ours.trainable, ours.non_trainable) == (count, trainable, count - trainable), ours.formula
    total = ours.formula.split(" = ", 1)[-1].split(" (")[0]  # "... = 235,500 (...)" or "0 (...)"
    assert total == format_count(count)
    assert config_output_shape(class_name, kwargs, (None, *shape)) == out_shape
    # the same figures from the layer's full get_config(), and from the layer itself
    assert config_arithmetic(class_name, layer.get_config(), (None, *shape)) == ours
    assert config_output_shape(class_name, layer.get_config(), (None, *shape)) == out_shape
    assert layer_arithmetic(layer) == ours


@pytest.mark.parametrize(
    "class_name, kwargs, shape, formula",
    [
        ("Dense", {"units": 300}, (None, 784), "(784 + 1) x 300 = 235,500"),
        ("Dense", {"units": 10, "use_bias": False}, (None, 300), "300 x 10 = 3,000"),
        ("Conv2D", {"filters": 64, "kernel_size": 3}, (None, 9, 9, 32), "(3 x 3 x 32 + 1) x 64 = 18,496"),
        ("BatchNormalization", {}, (None, 64),
         "4 x 64 = 256 (128 trainable: gamma, beta; 128 non-trainable: moving mean, variance)"),
        ("Flatten", {}, (None, 28, 28), "0 (Flatten has no parameters)"),
        ("Embedding", {"input_dim": 10000, "output_dim": 64}, (None, 5), "10,000 x 64 = 640,000"),
        ("LSTM", {"units": 64}, (None, 5, 32), "4 x (32 + 64 + 1) x 64 = 24,832"),
        ("GRU", {"units": 64}, (None, 5, 32),
         "3 x (32 + 64 + 2) x 64 = 18,816 (reset_after=True: two bias vectors)"),
        ("Dense", {"units": 2, "trainable": False}, (None, 3), "(3 + 1) x 2 = 8 (frozen: all non-trainable)"),
    ],
)
def test_formulas_read_like_hand_arithmetic(class_name, kwargs, shape, formula):
    assert config_arithmetic(class_name, kwargs, shape).formula == formula


def test_bidirectional_counts_both_directions():
    import keras

    layer = keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True))
    out = layer(keras.Input((5, 2)))
    ours = layer_arithmetic(layer)
    assert ours.count == layer.count_params() == 2 * 4 * (2 + 3 + 1) * 3
    assert ours.formula.startswith("2 x [LSTM: 4 x (2 + 3 + 1) x 3]")
    assert config_output_shape("Bidirectional", layer.get_config(), (None, 5, 2)) == tuple(out.shape)


def test_merging_layers_take_a_list_of_shapes():
    import keras

    a, b = keras.Input((4, 3)), keras.Input((4, 5))
    assert config_output_shape("Concatenate", {}, [(None, 4, 3), (None, 4, 5)]) == tuple(
        keras.layers.Concatenate()([a, b]).shape
    )
    assert config_output_shape("Add", {}, [(None, 4, 3), (None, 4, 3)]) == (None, 4, 3)
    assert config_arithmetic("Concatenate", {}, [(None, 4, 3), (None, 4, 5)]).count == 0


def test_layer_arithmetic_on_a_model_matches_count_params():
    import keras

    inputs = keras.Input((8, 8, 3))
    shared = keras.layers.Dense(4)
    x = keras.layers.Conv2D(6, 3)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Flatten()(x)
    y = keras.layers.Concatenate()([shared(x), shared(x)])  # a layer called twice
    frozen = keras.layers.Dense(2)
    frozen.trainable = False
    model = keras.Model(inputs, frozen(y))
    parts = [layer_arithmetic(layer) for layer in model.layers]
    assert all(isinstance(p, LayerArithmetic) for p in parts)
    assert sum(p.count for p in parts) == model.count_params()
    assert sum(p.trainable for p in parts) == sum(int(w.numpy().size) for w in model.trainable_weights)
    assert parts[-1].formula.endswith("(frozen: all non-trainable)")


def test_unknown_classes_are_named():
    with pytest.raises(ValueError, match="MultiHeadAttention is not covered"):
        config_arithmetic("MultiHeadAttention", {}, (None, 3, 4))
    with pytest.raises(ValueError, match="Foo is not covered"):
        config_output_shape("Foo", {}, (None, 3))
    assert "Dense" in covered_classes()


def test_layer_arithmetic_returns_none_when_it_cannot_tell():
    import keras

    assert layer_arithmetic(keras.layers.MultiHeadAttention(2, 4)) is None
    assert layer_arithmetic(keras.layers.Dense(3)) is None  # never called: input size unknown
    lora = keras.layers.Dense(3, lora_rank=2)
    lora(keras.Input((4,)))
    assert layer_arithmetic(lora) is None
    assert layer_arithmetic(keras.layers.Dropout(0.1)).count == 0


def test_a_kernel_larger_than_its_input_is_reported():
    with pytest.raises(ValueError, match="does not fit in a length of 2"):
        config_output_shape("Conv1D", {"filters": 1, "kernel_size": 3}, (None, 2, 1))


def test_aliases_are_understood():
    assert config_arithmetic("Convolution2D", {"filters": 2, "kernel_size": 1}, (None, 3, 3, 1)).count == 4
    assert config_output_shape("MaxPool2D", {}, (None, 4, 4, 1)) == (None, 2, 2, 1)


def test_importing_analytic_does_not_import_keras():
    code = "import sys, modelcheck.analytic; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
