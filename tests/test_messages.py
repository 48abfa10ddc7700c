"""Every check words its failure the same way: ``<what>: expected <X>, received <Y>, at <where>``.

One broken model per check; each test compares the whole first line of the message, and the
`expected` / `received` fields where the message shows them.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers, ops

import modelcheck as mc
from modelcheck.checks.common import fmt
from modelcheck.core.messages import also, layer_ref, mismatch, output_ref
from modelcheck.model.inputs import synthetic_inputs


def first_line(result: mc.CheckResult) -> str:
    assert result.status == "failed", result.describe()
    return result.message.splitlines()[0]


def classifier(last_activation: str = "softmax", units: int = 4, **hidden: object) -> keras.Model:
    inputs = keras.Input((6,), name="features")
    x = layers.Dense(8, activation="relu", name="hidden", **hidden)(inputs)
    return keras.Model(inputs, layers.Dense(units, activation=last_activation, name="out")(x))


def test_mismatch_words_what_expected_received_where_and_note():
    assert mismatch("output shape", "(None, 10)", "(None, 12)", at=output_ref("dense_2")) == \
        "output shape: expected (None, 10), received (None, 12), at output 'dense_2'"
    assert mismatch("parameters", "235,500", "157,000", at=layer_ref("dense", "Dense"), note="its arithmetic: x") == \
        "parameters: expected 235,500, received 157,000, at layer 'dense' (Dense); its arithmetic: x"
    assert mismatch("loss", 1, 2) == "loss: expected 1, received 2"
    assert also("a", ["b", "c"]) == "a; also: b; also: c"


def test_output_shape():
    result = mc.check_output_shape(classifier(units=5), (None, 4))
    assert first_line(result) == "output shape: expected (None, 4), received (None, 5), at output 'out'"
    assert (result.expected, result.received) == ([None, 4], [None, 5])


def test_output_kind():
    result = mc.check_output_shape(classifier(last_activation=None), (None, 4), output="probabilities")
    low, high = result.received["min"], result.received["max"]
    assert first_line(result) == (f"output values: expected values between 0 and 1, received values from {fmt(low)} "
                                  f"to {fmt(high)}, at output 'out'; is the softmax missing?")


def test_param_count_per_layer():
    result = mc.check_param_count(classifier(), per_layer={"hidden": 64})
    assert first_line(result) == ("parameters: expected 64, received 56, at layer 'hidden' (Dense); "
                                  "its arithmetic: hidden: (6 + 1) x 8 = 56")
    assert (result.expected, result.received) == (64, 56)


def test_param_count_total():
    result = mc.check_param_count(classifier(), total=100)
    assert first_line(result) == ("total parameters: expected 100, received 92 (-8), at the whole model; per layer: "
                                  "hidden: (6 + 1) x 8 = 56; out: (8 + 1) x 4 = 36")
    assert (result.expected, result.received) == (100, 92)


def test_gradient_flow():
    inputs = keras.Input((6,))
    hidden = layers.Dense(8, activation="relu", name="hidden")(inputs)
    cut = layers.Lambda(lambda t: ops.stop_gradient(t), name="cut")(hidden)
    model = keras.Model(inputs, layers.Dense(4, activation="softmax", name="out")(cut))
    result = mc.check_gradient_flow(model)
    assert first_line(result) == (
        "gradient: expected a finite, non-zero gradient, received no gradient, at variables hidden/kernel, "
        "hidden/bias; it is not connected to the loss: a layer after it cuts the gradient (stop_gradient in a Lambda, "
        "an integer cast, argmax) or it is never used (loss out: sparse_categorical_crossentropy)")


def test_overfit_batch():
    result = mc.check_overfit_batch(classifier(), max_steps=3, learning_rate=1e-9)
    losses = result.details["loss_history"]
    assert first_line(result) == (
        f"memorising one batch of 8 samples: expected {result.expected}, received {result.received} in inference mode, at the end of "
        f"training (within the budget of 3 steps); {result.details['optimizer']}, loss out: "
        f"sparse_categorical_crossentropy; the loss went {fmt(losses[0])} -> {fmt(losses[-1])}")
    assert result.expected == "100% batch accuracy"


def test_learns_linear():
    inputs = [keras.Input((1,)), keras.Input((1,))]
    model = keras.Model(inputs, layers.Dense(1)(layers.Concatenate()(inputs)))
    result = mc.check_learns_linear(model)
    assert first_line(result) == ("input: expected one input of one number per sample, received 2 inputs, at the "
                                  "model's inputs; learns_linear feeds it x = -1, 0, ..., 4")
    assert (result.expected, result.received) == ("one input of one number per sample", "2 inputs")


def test_loss_decrease():
    result = mc.check_loss_decrease(classifier(), steps=3, learning_rate=1e-9)
    details = result.details
    assert first_line(result) == (
        f"loss: expected a decrease of at least 10%, received {result.received} (no change), at the "
        f"end of training (after 3 steps); {details['optimizer']}; initial loss {fmt(details['initial_loss'])} "
        f"(expected about {fmt(details['expected_initial_loss'])} for an untrained model)")
    assert result.expected == "a decrease of at least 10%"
    assert abs(details["decrease"]) < 0.0005
    rising = mc.check_loss_decrease(classifier(), steps=6, learning_rate=10.0)
    ratio = (1 - rising.details["decrease"])
    assert f"(an increase to {fmt(ratio)} times the first loss), at the end of training" in first_line(rising)
    assert ratio > 2


def test_loss_matches_output():
    model = classifier(last_activation="sigmoid")
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    assert first_line(mc.check_loss_matches_output(model)) == (
        "output activation: expected softmax for categorical_crossentropy, which expects probabilities that sum to 1, "
        "received sigmoid, at output 'out'; use activation=\"softmax\" for one class per sample, or "
        "binary_crossentropy for several labels per sample")


def test_finite():
    model = classifier()
    kernel = model.get_layer("out").kernel
    value = np.array(keras.ops.convert_to_numpy(kernel))
    value[0, 0] = np.nan
    kernel.assign(value)
    result = mc.check_finite(model)
    assert first_line(result) == ("weights: expected finite values, received 1 NaN among 32 values, at weight "
                                  "out/kernel; the first layer whose output turns NaN/Inf is 'out'")


def test_batch_independence():
    inputs = keras.Input((6,))
    flat = layers.Lambda(lambda t: ops.reshape(t, (-1, 3)), name="flat")(inputs)
    model = keras.Model(inputs, layers.Dense(2, name="out")(flat))
    result = mc.check_batch_independence(model)
    assert first_line(result) == ("rows in the output: expected 4 (one per sample), received 8, at layer 'flat' "
                                  "(Lambda); samples of a batch influence each other; it is the first layer that "
                                  "turns a batch of 4 samples into 8 rows")
    assert result.received == "8 output rows for 4 samples"


def test_input_dependence():
    wide, deep = keras.Input((2,), name="wide"), keras.Input((3,), name="deep")
    model = keras.Model([wide, deep], layers.Dense(1, name="out")(wide))
    result = mc.check_input_dependence(model)
    assert first_line(result) == ("effect of the input: expected a different output when the input changes, received "
                                  "the same output, at input 'deep' (shape (None, 3)); the model ignores that input")


def test_loss_at_init():
    model = classifier(kernel_initializer=keras.initializers.RandomNormal(stddev=30.0), units=10)
    result = mc.check_loss_at_init(model)
    probabilities = keras.ops.convert_to_numpy(model(synthetic_inputs(model, 64, 0)))
    assert first_line(result) == (
        f"initial sparse_categorical_crossentropy: expected about 2.303 = ln(10), every one of 10 classes equally "
        f"likely (within a factor 3), received {fmt(result.received['out'])}, at output 'out'; the most likely class "
        f"gets {np.mean(np.max(probabilities, axis=-1)):.0%} on average")
    assert result.expected == {"out": pytest.approx(2.302585)}


def test_trainable_changes():
    model = classifier()
    model.get_layer("hidden").trainable = False
    assert first_line(mc.check_trainable_changes(model)) == (
        "trainable layers: expected every layer with weights trainable, received frozen (trainable=False), at layer "
        "'hidden' (56 weights); frozen weights never learn: set trainable=True, or pass allow_frozen=True if "
        "freezing is intended (transfer learning)")


def test_save_load():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, layers.Lambda(lambda t: t * 2, name="double")(inputs))
    result = mc.check_save_load(model)
    assert first_line(result) == (
        "save and load: expected the same outputs after a .keras round trip in safe mode, received an error while "
        "loading the saved model in safe mode, at layer 'double' (Lambda); layer 'double' is a Lambda holding a "
        "Python lambda, which load_model refuses in safe mode (it could run any code): replace it with a small "
        "custom layer class (registered, with get_config)")
    assert result.received == "an error while loading the saved model in safe mode"


def compiled_with(outputs_layer: keras.layers.Layer) -> keras.Model:
    inputs = keras.Input((6,))
    model = keras.Model(inputs, outputs_layer(layers.Dense(4, name="logits")(inputs)))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    return model


class Squash(layers.Layer):
    def call(self, x):
        return ops.softmax(x)


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.out = layers.Dense(4)

    def call(self, x):
        return ops.softmax(self.out(x))


@pytest.mark.parametrize("model, why", [
    (lambda: compiled_with(layers.Lambda(ops.softmax, name="soft")),
     "layer 'soft' is a Lambda, whose function can apply any activation (output 'soft')"),
    (lambda: compiled_with(Squash(name="squash")),
     "layer 'squash' is a custom Squash layer, whose call can apply any activation (output 'squash')"),
], ids=["lambda", "custom_layer"])
def test_loss_matches_output_skips_when_the_output_activation_cannot_be_seen(model, why):
    result = mc.check_loss_matches_output(model())
    assert result.status == "skipped"
    assert result.message == (f"cannot judge the loss without the output's activation: {why}; check the loss by hand, "
                              "or run check_loss_at_init, check_overfit_batch and check_loss_decrease")


def test_loss_matches_output_skips_a_subclassed_model():
    model = Subclassed()
    model(np.zeros((1, 6), "float32"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    result = mc.check_loss_matches_output(model)
    assert result.status == "skipped"
    assert result.message.startswith("cannot judge the loss without the output's activation: the model is "
                                      "subclassed, so the layer behind each output cannot be seen")


def test_loss_matches_output_still_fails_what_it_can_see_next_to_an_unseen_output():
    model = Subclassed()
    model.out = layers.Dense(1)
    model(np.zeros((1, 6), "float32"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    assert first_line(mc.check_loss_matches_output(model)).startswith(
        "output units: expected one unit per class for sparse_categorical_crossentropy, received 1 unit, at output ")


def _compiled_classifier(**compile_kwargs: object) -> keras.Model:
    model = classifier()
    model.compile(optimizer="sgd", **{"loss": "sparse_categorical_crossentropy", **compile_kwargs})
    return model


def test_a_zero_loss_weight_is_told_as_the_cause():
    """Red team 14: loss_weights=[0.0] made gradient_flow blame dead ReLUs."""
    for check in (mc.check_gradient_flow, mc.check_loss_decrease, mc.check_overfit_batch):
        result = check(_compiled_classifier(loss_weights=[0.0]))
        assert first_line(result).startswith(
            "loss weight: expected a weight above 0, received 0, at output 'out'; a weight of 0 multiplies "
            "sparse_categorical_crossentropy by zero, so no gradient reaches any weight"), result.message
        assert "dead" not in result.message


def test_a_zero_weight_on_one_head_of_two_is_a_choice():
    inputs = keras.Input((6,))
    h = layers.Dense(8, activation="relu")(inputs)
    model = keras.Model(inputs, [layers.Dense(4, activation="softmax", name="a")(h), layers.Dense(1, name="b")(h)])
    model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"], loss_weights=[1.0, 0.0])
    result = mc.check_gradient_flow(model)
    assert "loss weight" not in result.message, result.message


def test_a_metric_object_as_the_loss_fails_in_plain_words():
    """Red team 14: loss=keras.metrics.SparseCategoricalCrossentropy() passed loss_matches_output, though fit
    raises "No gradients provided"; gradient_flow blamed stop_gradient or argmax."""
    model = _compiled_classifier(loss=keras.metrics.SparseCategoricalCrossentropy())
    result = mc.check_loss_matches_output(model)
    assert first_line(result) == (
        "the model is compiled with the metric keras.metrics.SparseCategoricalCrossentropy() as the loss of output "
        "'out': a metric only keeps a running value, which carries no gradient, so nothing trains and Keras' fit "
        "raises \"No gradients provided for any variable\"")
    assert result.hint.startswith("use the loss of the same name, keras.losses.SparseCategoricalCrossentropy()")
    gradient = mc.check_gradient_flow(_compiled_classifier(loss=keras.metrics.Accuracy()))
    assert gradient.status == "error" and "the metric keras.metrics.Accuracy() as the loss" in gradient.message
    assert mc.check_loss_matches_output(_compiled_classifier(loss=keras.losses.SparseCategoricalCrossentropy())).passed


def test_labels_the_loss_cannot_compare_are_told_without_tensorflow_text():
    """Red team 14: MSE on a softmax with the assignment's class ids showed 'Incompatible shapes: [8] vs. [8,10]'
    and a traceback through the grader."""
    from modelcheck.model.inputs import set_instructor_data

    rng = np.random.default_rng(0)
    for check in (mc.check_gradient_flow, mc.check_loss_decrease):
        model = _compiled_classifier(loss="mse")
        set_instructor_data(model, x=[rng.normal(size=(16, 6)).astype("float32")], y=[np.arange(16) % 4])
        result = check(model)
        assert result.status == "error"
        assert result.message.startswith("the loss mse of output 'out' cannot compare the labels, one "
                                         "value per sample (class ids?) of shape ("), result.message
        assert "Incompatible" not in result.message and "zygote" not in result.message
        assert result.hint.startswith("for integer class ids use loss=\"sparse_categorical_crossentropy\"")
    model = _compiled_classifier()
    set_instructor_data(model, x=[rng.normal(size=(16, 6)).astype("float32")], y=[np.arange(16) % 4])
    assert mc.check_gradient_flow(model).passed
