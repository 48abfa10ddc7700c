"""Trial 20: false alarms and missed bugs found by running modelcheck on real-world-style Keras
models (an engineer who did not write it). Each test is a sound model that modelcheck failed, or a
broken one it passed."""

import keras
import pytest
from keras import layers

import modelcheck as mc


def _classifier(loss: keras.losses.Loss, classes: int = 5) -> keras.Model:
    model = keras.Sequential([keras.Input((10,)), layers.Dense(32, activation="relu"),
                              layers.Dense(classes, activation="softmax")])
    model.compile("adam", loss)
    return model


def test_loss_at_init_judges_a_loss_summed_over_the_batch_per_sample():
    """reduction="sum" adds up the batch's losses (64 samples: 117 where ln 5 = 1.6 per sample); an
    untrained model is as unsure as with the default mean, so it must pass, and a badly scaled one
    still fail."""
    keras.utils.set_random_seed(0)
    result = mc.check_loss_at_init(_classifier(keras.losses.SparseCategoricalCrossentropy(reduction="sum")))
    assert result.passed, result.message
    (row,) = result.details["outputs"]
    assert row["initial"] < 3 * row["expected"]

    keras.utils.set_random_seed(0)
    model = _classifier(keras.losses.SparseCategoricalCrossentropy(reduction="sum"))
    model.layers[-1].kernel.assign(model.layers[-1].kernel * 30.0)
    result = mc.check_loss_at_init(model)
    assert result.status == "failed"
    assert result.message.startswith("initial SparseCategoricalCrossentropy: expected about 1.609")
    assert 'the loss adds up 64 values (reduction="sum"), judged per value' in result.message


def test_loss_decrease_names_the_initial_loss_a_summed_loss_expects():
    keras.utils.set_random_seed(0)
    result = mc.check_loss_decrease(_classifier(keras.losses.SparseCategoricalCrossentropy(reduction="sum")))
    assert result.passed, result.message
    expected = result.details["expected_initial_loss"]
    assert 0.5 < result.details["initial_loss"] / expected < 2, (result.details["initial_loss"], expected)


def _seq2seq(keep_length: bool = True) -> keras.Model:
    """keras.io's character-level translator: two inputs of unknown length; the output has the
    decoder's length (or, broken, a fixed length of 8 from a RepeatVector)."""
    encoder = keras.Input((None, 12), name="encoder_inputs")
    decoder = keras.Input((None, 15), name="decoder_inputs")
    _, h, c = layers.LSTM(16, return_state=True)(encoder)
    if keep_length:
        sequence = layers.LSTM(16, return_sequences=True)(decoder, initial_state=[h, c])
    else:
        sequence = layers.LSTM(16, return_sequences=True)(layers.RepeatVector(8)(h))
        sequence = layers.Add()([sequence, layers.Dense(16)(layers.GlobalAveragePooling1D()(decoder))[:, None, :]])
    model = keras.Model([encoder, decoder], layers.Dense(15, activation="softmax")(sequence))
    model.compile("rmsprop", "categorical_crossentropy")
    return model


def test_output_shape_feeds_the_declared_length_where_the_model_leaves_it_open():
    """Inputs declared 5 steps long, on a model that takes any length: the forward pass ran on
    modelcheck's own length of 8 and failed 'expected (None, 5, 15), received (None, 8, 15)'."""
    inputs = [(None, 5, 12), (None, 5, 15)]
    result = mc.check_output_shape(_seq2seq(), [(None, 5, 15)], inputs=inputs)
    assert result.passed, result.message
    results = mc.run_checks(_seq2seq(), ["output_shape"], input_shape=[[5, 12], [5, 15]], output_shape=[5, 15])
    assert results[0].passed, results[0].message

    result = mc.check_output_shape(_seq2seq(keep_length=False), [(None, 5, 15)], inputs=inputs)
    assert result.status == "failed"
    assert result.message.startswith("output shape: expected (None, 5, 15), received (None, 8, 15), at output")


def _tagger(softmax_axis: int) -> keras.Model:
    """A part-of-speech tagger: a class per token, its softmax over the classes (axis -1) or, broken,
    over the 15 tokens (axis 1)."""
    tokens = keras.Input((15,), dtype="int32")
    x = layers.Embedding(100, 16)(tokens)
    x = layers.GRU(16, return_sequences=True)(x)
    model = keras.Model(tokens, layers.Softmax(axis=softmax_axis)(layers.Dense(5)(x)))
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def test_loss_matches_output_fails_a_softmax_over_the_steps_under_a_loss_over_the_classes():
    """Softmax(axis=1) over the tokens: Keras' cross-entropy rescales each token's scores to sum to 1,
    so fit trains and every other check passed, while predict() gives no class probabilities."""
    result = mc.check_loss_matches_output(_tagger(softmax_axis=1))
    assert result.status == "failed"
    assert result.message.startswith(
        "softmax axis: expected the classes' axis, the last (axis=-1), where sparse_categorical_crossentropy reads "
        "them, received a softmax over axis 1 (15 values), at output 'softmax'"), result.message
    for axis in (-1, 2):
        result = mc.check_loss_matches_output(_tagger(softmax_axis=axis))
        assert result.passed, result.message
