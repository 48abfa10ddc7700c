import keras
import numpy as np
from keras import layers

import modelcheck as mc
from tests import models


def test_passes_on_correct_shape_and_softmax():
    result = mc.check_output_shape(models.fashion_mlp(), (None, 10), output="probabilities")
    assert result.passed, result.message
    assert result.received == [[None, 10]]


def test_wrong_units_names_expected_received_and_layer():
    model = models.small_classifier(units=5)
    result = mc.check_output_shape(model, (None, 4))
    assert result.status == "failed"
    assert result.message.startswith("output shape: expected (None, 4), received (None, 5), at output ")
    assert model.layers[-1].name in result.message


def test_a_shape_written_without_the_batch_dimension_gets_the_fix():
    """``(10,)`` where the checks take ``(None, 10)``: the message says so instead of leaving the
    user to compare (10,) with (None, 10)."""
    result = mc.check_output_shape(models.fashion_mlp(), (10,), inputs=(28, 28))
    assert result.message.startswith("input shape: expected (28, 28), received (None, 28, 28), at input ")
    assert result.message.endswith("; the expected shape has no batch dimension: write (None, 28, 28), as Keras "
                                   "prints shapes (spec files take them per sample, without it)")
    result = mc.check_output_shape(models.fashion_mlp(), (None, 28), inputs=(None, 28))  # has one: no such note
    assert "no batch dimension" not in result.message
    result = mc.check_output_shape(models.fashion_mlp(), (10,))
    assert result.message.startswith("output shape: expected (10,), received (None, 10), at output ")
    assert result.message.endswith("; the expected shape has no batch dimension: write (None, 10), as Keras prints "
                                   "shapes (spec files take them per sample, without it)")


def test_missing_softmax_is_named():
    model = models.small_classifier(activation=None)
    result = mc.check_output_shape(model, (None, 4), output="probabilities")
    assert not result.passed
    assert "is the softmax missing?" in result.message


def test_outputs_in_range_but_not_summing_to_one():
    model = models.small_classifier(activation="sigmoid")
    result = mc.check_output_shape(model, (None, 4), output="probabilities")
    assert not result.passed
    assert "received a sum of" in result.message


def test_sigmoid_range_for_binary_output():
    model = models.small_classifier(units=1, activation=None)
    result = mc.check_output_shape(model, (None, 1), output="binary")
    assert "is the sigmoid missing?" in result.message


def test_softmax_on_logits_output_fails():
    result = mc.check_output_shape(models.small_classifier(), (None, 4), output="logits")
    assert not result.passed and "received softmax" in result.message


def test_none_is_a_wildcard_and_multi_output_by_name():
    model = models.two_heads()
    assert mc.check_output_shape(model, [(None, None), (None, 3)]).passed
    assert mc.check_output_shape(model, {"aux": (None, 3), "main": (None, 1)}).passed
    result = mc.check_output_shape(model, {"aux": (None, 4)})
    assert not result.passed and "'aux'" in result.message


def test_wrong_number_of_outputs():
    result = mc.check_output_shape(models.two_heads(), (None, 1))
    assert not result.passed and "number of outputs: expected 1, received 2" in result.message


def test_layer_shapes_by_name_and_position():
    model = models.fashion_mlp()
    names = [layer.name for layer in model.layers]
    ok = mc.check_output_shape(model, (None, 10), layer_shapes={names[0]: (None, 784)})
    assert ok.passed, ok.message
    bad = mc.check_output_shape(model, (None, 10), layer_shapes=[(None, 784), (None, 200), (None, 100), (None, 10)])
    assert not bad.passed
    assert bad.message == f"output shape: expected (None, 200), received (None, 300), at layer {names[1]!r} (Dense)"


def test_nan_weights_fail_saying_where():
    model = models.nan_weights()
    result = mc.check_output_shape(model, (None, 4))
    assert not result.passed
    assert model.layers[0].kernel.path in result.message and "NaN" in result.message


def test_embedding_inputs_get_valid_token_ids():
    model = keras.Sequential([keras.Input((12,), dtype="int32"), layers.Embedding(50, 4), layers.Flatten(),
                              layers.Dense(2, activation="softmax")])
    assert mc.check_output_shape(model, (None, 2), output="probabilities").passed


def test_reshape_that_mixes_the_batch_is_caught():
    inputs = keras.Input((4,))
    # output_shape: JAX cannot infer a reshape of an unknown batch size
    mixed = layers.Lambda(lambda t: keras.ops.reshape(t, (-1, 8)), output_shape=(8,))(inputs)
    model = keras.Model(inputs, layers.Dense(3)(mixed))
    result = mc.check_output_shape(model, (None, 3))
    assert not result.passed and "mixes the batch" in result.message


def test_subclassed_model_with_input_shape():
    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(3, activation="softmax")

        def call(self, x):
            return self.dense(x)

    assert mc.check_output_shape(Tiny, (None, 3), input_shape=(5,)).passed
    no_shape = mc.check_output_shape(Tiny, (None, 3))
    assert no_shape.status == "error" and "no input shape" in no_shape.message
    assert "keras.Input" in no_shape.hint


def test_does_not_change_the_model():
    model = models.small_classifier()
    before = [np.array(w) for w in model.get_weights()]
    mc.check_output_shape(model, (None, 4))
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))


def _named_inputs(first: str, second: str) -> keras.Model:
    a, b = keras.Input((5,), name=first), keras.Input((6,), name=second)
    return keras.Model([a, b], keras.layers.Dense(1)(keras.layers.Concatenate()([a, b])))


def test_inputs_expected_by_name_must_carry_those_names():
    """Inputs named otherwise passed whatever their shapes: nothing was compared (red team 16, F4)."""
    expected = {"wide": (None, 5), "deep": (None, 6)}
    assert mc.check_output_shape(_named_inputs("wide", "deep"), (None, 1), inputs=expected).passed
    result = mc.check_output_shape(_named_inputs("x1", "x2"), (None, 1), inputs=expected)
    assert result.status == "failed"
    assert result.message.startswith("input names: expected 'wide', 'deep', received 'x1', 'x2', at the model's inputs")
    assert "keras.Input(shape, name='wide')" in result.message


def test_an_input_other_than_the_declared_one_is_named_and_worded_for_who_reads_it():
    # An engineer's spec was told "the inputs the assignment describes", at input 'keras_tensor'
    # (the tensor), while config_lint named the same input 'input_layer'
    from modelcheck.core.messages import CONFIGURER, STUDENT
    from modelcheck.core.spec import ModelSpec
    from modelcheck.session.runner import ModelSession

    def build():
        return keras.Sequential([keras.Input((6,)), layers.Dense(3, activation="softmax")])

    notes = {CONFIGURER: ("the model must take the inputs declared for it", "the model must read the data as declared"),
             STUDENT: ("the model must take the inputs the assignment describes",
                       "the model must read the data as the assignment gives it")}
    for audience, (shape_note, lint_note) in notes.items():
        spec = ModelSpec(id="m", builder=build, input_shape=[7], output_shape=[3], audience=audience)
        with ModelSession(spec, seed=0) as session:
            shape, lint = session.run("output_shape"), session.run("config_lint")
        at = "input shape: expected (None, 7), received (None, 6), at input 'input_layer'; "
        assert shape.message.startswith(at + shape_note), shape.message
        assert lint.message.startswith(at + lint_note), lint.message
