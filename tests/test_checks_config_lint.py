"""config_lint: configuration mistakes no run reveals, each failing with its sentence; every reference model passes."""

from __future__ import annotations

import keras
import pytest

from modelcheck.checks.config_lint import check_config_lint
from modelcheck.core.registry import check_kwargs

L = keras.layers


def seq(*layers, shape=(4,)):
    return keras.Sequential([keras.Input(shape), *layers])


def test_a_sound_model_passes():
    model = seq(L.Dense(8, activation="relu"), L.Dropout(0.5), L.Dense(3, activation="softmax"))
    result = check_config_lint(model, expected_input=(None, 4), output="probabilities")
    assert result.passed, result.message


def test_an_input_of_any_length_reads_the_declared_one():
    # keras.Input(shape=(None,)) takes the assignment's 20 tokens, as a fully convolutional model takes 32 x 32
    tokens = keras.Sequential([keras.Input((None,), dtype="int32"), L.Embedding(100, 8), L.GlobalAveragePooling1D(),
                               L.Dense(2, activation="softmax")])
    assert check_config_lint(tokens, expected_input=(None, 20)).passed
    images = seq(L.Conv2D(4, 3, activation="relu"), L.GlobalAveragePooling2D(), L.Dense(3, activation="softmax"),
                 shape=(None, None, 3))
    assert check_config_lint(images, expected_input=(None, 32, 32, 3)).passed
    # a fixed size of its own, or another channel count, is still another input
    assert not check_config_lint(images, expected_input=(None, 32, 32, 1)).passed


MISTAKES = [
    (lambda: seq(L.Dense(8, activation="relu", name="h"), L.Dropout(0.9, name="drop"), L.Dense(1, name="o")), {},
     "dropout rate: expected the fraction of units dropped, usually 0.1 to 0.5, received rate=0.9, at layer 'drop' "
     "(Dropout); Keras' rate is the fraction dropped, TF1's keep_prob was the fraction kept: this drops 90% of the "
     "units; to keep 90% write Dropout(0.1)"),
    (lambda: seq(L.Dense(8, name="h"), L.Dense(3, activation="softmax", name="o")), {},
     "activation: expected an activation between Dense layers 'h' and 'o', received no activation, at layer 'h' "
     "(Dense); two Dense layers with no activation between them collapse into one linear map, so the hidden layer "
     "adds nothing: add activation=\"relu\" to 'h'"),
    (lambda: seq(L.Dense(8, activation="relu"), L.Dense(1, activation="softmax", name="o")), {},
     "output activation: expected sigmoid on a single unit (or softmax over 2 or more units), received softmax over "
     "1 unit, at output 'o'; a softmax over one unit always outputs 1: use activation=\"sigmoid\" for two classes"),
    (lambda: seq(L.Dense(8, activation="relu"), L.Dense(1, activation="sigmoid", name="o")), {"output": "regression"},
     "output activation: expected a linear output for a regression, received sigmoid, at output 'o'; sigmoid "
     "squeezes every prediction between 0 and 1: remove the activation (activation=None)"),
    (lambda: seq(L.Dense(3, activation="softmax"), L.BatchNormalization(name="bn")), {},
     "output layer: expected the activation as the model's last step, received BatchNormalization after it, at "
     "layer 'bn' (BatchNormalization); a BatchNormalization after the output activation changes the probabilities "
     "(or values) the model predicts: move it before the output layer"),
    (lambda: seq(L.Flatten(), L.Dense(3, activation="softmax"), shape=(28, 28, 1)), {"expected_input": (None, 28, 28)},
     "input shape: expected (None, 28, 28), received (None, 28, 28, 1), at input 'input_layer'; the model must read "
     "the data as declared: keras.Input(shape=(28, 28))"),
]


@pytest.mark.parametrize(("make", "kwargs", "first_line"), MISTAKES, ids=["dropout_keep_prob", "dense_dense",
                         "softmax_one_unit", "sigmoid_regression", "bn_after_output", "input_shape"])
def test_each_mistake_fails_with_its_sentence(make, kwargs, first_line):
    result = check_config_lint(make(), **kwargs)
    assert result.status == "failed"
    assert result.message.splitlines()[0].split("; also: ")[0] == first_line


def test_integer_labels_with_categorical_crossentropy_fail():
    model = seq(L.Dense(3, activation="softmax", name="o"))
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    result = check_config_lint(model, labels="integers")
    assert result.message.splitlines()[0] == (
        "loss: expected a loss that takes integer class ids (sparse_categorical_crossentropy), received "
        "categorical_crossentropy, at output 'o'; categorical_crossentropy compares the label with each of the "
        "output's 3 values, so it needs one-hot rows (or probabilities), and Keras' fit cannot run it on "
        "integer labels, one class id per sample: compile with loss=\"sparse_categorical_crossentropy\" (or "
        "turn the labels into one-hot rows with keras.utils.to_categorical)")
    assert check_config_lint(model, labels="one_hot").passed


def test_every_reference_model_passes():
    from reference_models import catalog

    for entry in catalog(references_only=True):
        if "config_lint" not in (entry.spec.checks or ()):
            continue
        keras.backend.clear_session()
        result = check_config_lint(entry.build(), **check_kwargs(entry.spec, "config_lint"))
        assert result.status in ("passed", "skipped"), f"{entry.id}: {result.message}"


def compiled(optimizer: keras.optimizers.Optimizer) -> keras.Model:
    model = seq(L.Dense(8, activation="relu"), L.Dense(3, activation="softmax"))
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer)
    return model


def test_a_learning_rate_1000_times_too_large_fails_with_its_sentence():
    result = check_config_lint(compiled(keras.optimizers.Adam(1.0)))
    assert result.status == "failed"
    assert result.message.splitlines()[0] == (
        "learning rate: expected at most 0.1 for Adam, received learning_rate=1, at the Adam optimizer; Adam moves "
        "every weight by about the learning rate at each step, so 1 throws the weights far from any minimum; the "
        "usual range is 1e-4 to 1e-2 (Keras' default is 0.001): was a factor of 1000 slipped in?")
    sgd = check_config_lint(compiled(keras.optimizers.SGD(10.0)))
    assert sgd.message.startswith("learning rate: expected at most 1 for SGD, received learning_rate=10, at the SGD "
                                  "optimizer; SGD multiplies every gradient by the learning rate")
    adagrad = check_config_lint(compiled(keras.optimizers.Adagrad(1.0)))
    assert adagrad.message.startswith("learning rate: expected at most 0.5 for Adagrad, received learning_rate=1, at "
                                      "the Adagrad optimizer; Adagrad moves every weight by up to the learning rate at "
                                      "its first steps")


def test_a_learning_rate_of_zero_or_below_fails_with_its_sentence():
    """Adam(0.0) never moves the weights and SGD(-0.01) moves them uphill: config_lint passed both (red team 19)."""
    zero = check_config_lint(compiled(keras.optimizers.Adam(0.0)))
    assert zero.status == "failed"
    assert zero.message.splitlines()[0] == ("learning rate: expected above 0, received learning_rate=0, at the Adam "
                                            "optimizer; a rate of 0 never moves the weights")
    negative = check_config_lint(compiled(keras.optimizers.SGD(-0.01)))
    assert negative.status == "failed"
    assert negative.message.startswith("learning rate: expected above 0, received learning_rate=-0.01, at the SGD "
                                       "optimizer; a negative rate moves the weights uphill"), negative.message


@pytest.mark.parametrize("optimizer", [lambda: keras.optimizers.Adam(1e-3), lambda: keras.optimizers.RMSprop(0.1),
                                       lambda: keras.optimizers.SGD(1.0), lambda: keras.optimizers.Adadelta(1.0),
                                       lambda: keras.optimizers.Adagrad(0.5),
                                       lambda: keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(
                                           1e-3, 100, 0.5))],
                         ids=["adam_default", "rmsprop_at_limit", "sgd_at_limit", "adadelta_unjudged",
                              "adagrad_embeddings_rate", "schedule"])
def test_usual_learning_rates_and_schedules_pass(optimizer):
    result = check_config_lint(compiled(optimizer()))
    assert result.passed, result.message


def _classifier(loss, *, units: int = 10, optimizer="adam") -> keras.Model:
    model = seq(L.Dense(8, activation="relu"), L.Dense(units, activation="softmax" if units > 1 else "sigmoid",
                                                        name="o"))
    model.compile(loss=loss, optimizer=optimizer)
    return model


# Every Keras loss whose fit raises on integer class ids of shape (n,) for a (n, 10) softmax (checked with
# Keras 3.15's fit): they compare the label with each of the 10 output values.
PER_UNIT_LOSSES = ["categorical_crossentropy", "CategoricalFocalCrossentropy", "CategoricalHinge", "KLDivergence",
                   "Poisson", "CosineSimilarity", "Dice", "Tversky", "BinaryCrossentropy", "BinaryFocalCrossentropy",
                   "Hinge", "SquaredHinge", "MeanSquaredError", "mae", "MeanAbsolutePercentageError",
                   "MeanSquaredLogarithmicError", "Huber", "LogCosh"]


@pytest.mark.parametrize("loss", PER_UNIT_LOSSES)
def test_a_loss_that_fit_cannot_run_on_integer_labels_fails(loss):
    """Red team 14 (H5): only categorical_crossentropy was flagged; focal, hinge, KL... passed."""
    identifier = getattr(keras.losses, loss)() if loss[0].isupper() else loss
    result = check_config_lint(_classifier(identifier), labels="integers")
    assert result.status == "failed" and result.message.startswith(
        "loss: expected a loss that takes integer class ids (sparse_categorical_crossentropy), received "), \
        result.message
    assert "Keras' fit cannot run it on integer labels" in result.message


@pytest.mark.parametrize("loss, units", [("sparse_categorical_crossentropy", 10),
                                         (keras.losses.SparseCategoricalCrossentropy(axis=1), 10),
                                         (keras.losses.CategoricalGeneralizedCrossEntropy(), 10),
                                         ("binary_crossentropy", 1), ("hinge", 1), ("mse", 1)])
def test_losses_that_take_integer_labels_pass(loss, units):
    """Class ids for a softmax, or one 0/1 label per sample for a single unit (IMDB's binary labels)."""
    result = check_config_lint(_classifier(loss, units=units), labels="integers")
    assert result.passed, result.message


def test_a_loss_that_takes_class_ids_fails_on_one_hot_labels():
    result = check_config_lint(_classifier(keras.losses.CategoricalGeneralizedCrossEntropy()), labels="one_hot")
    assert result.message.startswith("loss: expected categorical_crossentropy for labels given as one-hot rows, "
                                     "received categorical_generalized_cross_entropy"), result.message


def test_a_cross_entropy_over_the_batch_axis_fails():
    result = check_config_lint(_classifier(keras.losses.SparseCategoricalCrossentropy(axis=0)))
    assert result.message.startswith(
        "loss axis: expected the classes' axis, the last (axis=-1, Keras' default), received axis=0, at output 'o'; "
        "sparse_categorical_crossentropy takes the classes along the last axis only"), result.message


def test_an_ignored_class_that_is_one_of_the_assignments_labels_fails():
    """Red team 14: ignore_class=0 on Fashion-MNIST, class 0 never learned (0.904 held out)."""
    import numpy as np

    from modelcheck.model.inputs import set_instructor_data

    model = _classifier(keras.losses.SparseCategoricalCrossentropy(ignore_class=3))
    result = check_config_lint(model, labels="integers")
    assert result.message.startswith(
        "loss: expected every class trained, received ignore_class=3, at output 'o'; ignore_class=3 leaves out every "
        "sample labelled 3, one of the output's class ids 0..9, so the model never learns class 3"), result.message
    set_instructor_data(model, x=[np.zeros((6, 4), "float32")], y=[np.array([0, 1, 2, 3, 4, 5])])
    assert "one of the classes in the labels" in check_config_lint(model).message
    set_instructor_data(model, x=[np.zeros((6, 4), "float32")], y=[np.array([0, 1, 2, 4, 5, 6])])
    assert check_config_lint(model).passed  # 3 labels no sample: a "void" label, not a class


def test_a_segmentation_void_class_passes():
    """ignore_class for pixels labelled 'void' in a per-pixel classifier is what it is for."""
    x = keras.Input((8, 8, 3))
    model = keras.Model(x, L.Conv2D(4, 1, activation="softmax")(L.Conv2D(8, 3, padding="same", activation="relu")(x)))
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(ignore_class=0), optimizer="adam")
    assert check_config_lint(model, labels="integers").passed


S = keras.optimizers.schedules
BAD_SCHEDULES = [
    (lambda: keras.optimizers.SGD(S.ExponentialDecay(0.01, 100, decay_rate=10.0)),
     "the learning rate rises to 1.41254 at step 215 and reaches inf at step 4,642 (it starts at 0.01)"),
    (lambda: keras.optimizers.SGD(S.PiecewiseConstantDecay([200], [0.01, 5000.0])),
     "the learning rate rises to 5000 at step 201 (it starts at 0.01)"),
    (lambda: keras.optimizers.Adam(S.PiecewiseConstantDecay([100], [0.001, 10.0])),
     "the learning rate rises to 10 at step 101 (it starts at 0.001)"),
    (lambda: keras.optimizers.SGD(S.CosineDecay(0.01, 1000, warmup_target=500.0, warmup_steps=1000)),
     "the learning rate rises to 1.00998 at step 2 and reaches 500 at step 1,000 (it starts at 0.01)"),
]


@pytest.mark.parametrize("optimizer, rise", BAD_SCHEDULES, ids=["exp_growth", "piecewise_sgd", "piecewise_adam",
                                                                "warmup_huge"])
def test_a_schedule_that_rises_too_high_fails_naming_the_step(optimizer, rise):
    """Red team 14 (H4): a schedule was never judged, and the short training checks stop before it goes wrong."""
    result = check_config_lint(compiled(optimizer()))
    assert result.status == "failed" and rise in result.message, result.message
    assert result.message.startswith("learning rate: expected at most ")


@pytest.mark.parametrize("optimizer", [
    lambda: keras.optimizers.Adam(S.CosineDecay(1e-4, 10_000, warmup_target=1e-3, warmup_steps=1000)),
    lambda: keras.optimizers.SGD(S.ExponentialDecay(0.01, 10_000, 0.96)),
    lambda: keras.optimizers.Adam(S.ExponentialDecay(0.01, 10_000, 0.96, staircase=True)),
    lambda: keras.optimizers.SGD(S.PiecewiseConstantDecay([1000, 5000], [0.1, 0.01, 0.001]), momentum=0.9),
    lambda: keras.optimizers.Adam(S.PiecewiseConstantDecay([32_000, 48_000], [0.1, 0.01, 0.001])),
    lambda: keras.optimizers.SGD(S.InverseTimeDecay(0.1, 1000, 0.5)),
    lambda: keras.optimizers.Adam(S.PolynomialDecay(1e-3, 10_000, 1e-5)),
    lambda: keras.optimizers.RMSprop(S.CosineDecayRestarts(0.01, 1000)),
    lambda: keras.optimizers.SGD(0.01, momentum=0.99, nesterov=True),
    lambda: keras.optimizers.Adam(beta_1=0.99, beta_2=0.9999),
    lambda: keras.optimizers.Adam(use_ema=True, ema_momentum=0.99),
    lambda: keras.optimizers.SGD(use_ema=True, ema_momentum=0.999, ema_overwrite_frequency=1000),
], ids=["cosine_warmup", "exponential", "exponential_staircase", "piecewise_sgd", "piecewise_resnet", "inverse_time",
        "polynomial", "cosine_restarts", "nesterov_099", "adam_betas", "ema", "ema_overwrite_slow"])
def test_usual_schedules_and_optimizer_settings_pass(optimizer):
    result = check_config_lint(compiled(optimizer()))
    assert result.passed, result.message


@pytest.mark.parametrize("optimizer, start", [
    (lambda: keras.optimizers.SGD(0.01, momentum=0.99999), "momentum: expected below 0.999 (usually 0.9), received "
     "momentum=0.99999, at the SGD optimizer; each step adds 0.99999 of the previous one, so the steps grow about "
     "100,000 times larger than the gradient"),
    (lambda: keras.optimizers.SGD(0.01, momentum=0.999, nesterov=True), "momentum: expected below 0.999"),
    (lambda: keras.optimizers.Adam(beta_1=1.0), "beta_1: expected below 1 (Keras' default is 0.9), received beta_1=1"),
    (lambda: keras.optimizers.SGD(use_ema=True, ema_momentum=0.99999, ema_overwrite_frequency=60),
     "ema_momentum: expected an average that follows the weights within 60 steps"),
    (lambda: keras.optimizers.Adam(use_ema=True, ema_momentum=1.0), "ema_momentum: expected below 1 (Keras' "
     "default is 0.99), received ema_momentum=1, at the Adam optimizer; the moving average keeps ema_momentum of its "
     "past value, so at 1 it never leaves the initial weights"),
], ids=["momentum_undamped", "nesterov", "adam_beta_1", "ema_snapback", "ema_frozen"])
def test_optimizer_settings_that_undo_training_fail(optimizer, start):
    result = check_config_lint(compiled(optimizer()))
    assert result.message.startswith(start), result.message


def _pixels_model(input_dtype: str = "float32", flatten_dtype: str | None = None) -> keras.Model:
    import numpy as np

    from modelcheck.model.inputs import set_instructor_data

    flatten = L.Flatten(**({"dtype": flatten_dtype} if flatten_dtype else {}))
    model = keras.Sequential([keras.Input((4, 4), dtype=input_dtype), flatten, L.Dense(3, activation="softmax")])
    rng = np.random.default_rng(0)
    set_instructor_data(model, x=[rng.uniform(0, 1, (6, 4, 4)).astype("float32")], y=[np.arange(6) % 3])
    return model


@pytest.mark.parametrize("kwargs, start", [
    ({"input_dtype": "bool"}, "dtype: expected a float dtype, which keeps the sample values, received bool, at input "),
    ({"input_dtype": "uint8"}, "dtype: expected a float dtype, which keeps the sample values, received uint8, at "
     "input "),
    ({"flatten_dtype": "int32"}, "dtype: expected a float dtype, which keeps the sample values, received int32, at "
     "layer 'flatten"),
])
def test_a_dtype_that_changes_the_samples_fails(kwargs, start):
    result = check_config_lint(_pixels_model(**kwargs))
    assert result.message.startswith(start) and "the assignment's samples hold values such as" in result.message, \
        result.message


@pytest.mark.parametrize("kwargs", [{}, {"input_dtype": "float16"}, {"flatten_dtype": "mixed_float16"}])
def test_a_float_dtype_keeps_the_samples(kwargs):
    assert check_config_lint(_pixels_model(**kwargs)).passed


@pytest.mark.parametrize("policy", ["bfloat16", "float16"])
def test_weights_stored_in_half_precision_are_named_with_the_mixed_policy(policy):
    """The policy "bfloat16" where "mixed_bfloat16" was meant: model.fit learns nothing (bfloat16
    rounds Adam's updates away) or turns NaN (float16), and the training checks said only "no
    change" or "NaN". The mixed policies keep float32 weights and pass."""
    def build(name):
        keras.mixed_precision.set_global_policy(name)
        try:
            return keras.Sequential([keras.Input((8,)), L.Dense(16, activation="relu"), L.Dense(1)])
        finally:
            keras.mixed_precision.set_global_policy("float32")

    result = check_config_lint(build(policy))
    assert result.status == "failed"
    assert result.message.startswith(f"weight dtype: expected float32 trainable weights, received {policy}, at layers ")
    assert f'use the policy "mixed_{policy}"' in result.message
    assert check_config_lint(build(f"mixed_{policy}")).passed


def _two_outputs(loss_weights, *, loss=None) -> keras.Model:
    inputs = keras.Input((4,), name="features")
    price = keras.layers.Dense(1, name="price")(inputs)
    kind = keras.layers.Dense(3, activation="softmax", name="kind")(inputs)
    model = keras.Model(inputs, {"price": price, "kind": kind})
    model.compile("adam", loss=loss or {"price": "mse", "kind": "sparse_categorical_crossentropy"},
                  loss_weights=loss_weights)
    return model


def test_a_misspelt_loss_weights_key_fails_saying_which_output_gets_which_weight():
    # Keras' fit pairs {"price": 1, "zkind": 5} with the sorted outputs (kind, price) by the sorted keys
    result = check_config_lint(_two_outputs({"price": 1.0, "zkind": 5.0}))
    assert not result.passed
    assert result.message.startswith(
        "loss_weights key: expected one of the model's outputs ('kind', 'price'), received 'zkind', at compile(); "
        "when a key names no output, Keras pairs the weights with the outputs by the sorted order of the keys, not "
        "by name (output 'kind' gets 1, output 'price' gets 5): key each weight by its output; did you mean 'kind'?"
    ), result.message


@pytest.mark.parametrize("loss_weights", [{"price": 1.0, "kind": 5.0}, {"kind": 0.5, "price": 1.0}, [1.0, 2.0], None])
def test_loss_weights_keyed_by_the_outputs_pass(loss_weights):
    assert check_config_lint(_two_outputs(loss_weights)).passed


def _list_outputs(loss, loss_weights) -> keras.Model:
    inputs = keras.Input((4,))
    model = keras.Model(inputs, [keras.layers.Dense(1, name="b")(inputs), keras.layers.Dense(1, name="a")(inputs)])
    model.compile("adam", loss=loss, loss_weights=loss_weights)
    return model


def test_a_dict_of_loss_weights_with_a_list_of_losses_fails_when_keras_pairs_them_the_other_way():
    result = check_config_lint(_list_outputs(["mse", "mse"], {"b": 1.0, "a": 2.0}))
    assert not result.passed
    assert result.message.startswith(
        "loss_weights: expected each weight on the output it names, received output 'b' gets 2, output 'a' gets 1, "
        "at compile(); given a list of losses, Keras takes a dict of loss weights in the sorted order of its keys"
    ), result.message


@pytest.mark.parametrize("loss, loss_weights", [
    (["mse", "mse"], {"a": 1.0, "b": 1.0}),          # the same weight everywhere: no output gets another's
    ({"a": "mse", "b": "mse"}, {"b": 1.0, "a": 2.0}),  # a loss dict: paired by name
    (["mse", "mse"], [1.0, 2.0]),
])
def test_loss_weights_keras_pairs_by_name_pass(loss, loss_weights):
    assert check_config_lint(_list_outputs(loss, loss_weights)).passed


@pytest.mark.parametrize("model", [
    lambda: _two_outputs({"price": 1.0, "zkind": 5.0}),   # a key naming no output: paired by sorted keys
    lambda: _list_outputs(["mse", "mse"], {"b": 1.0, "a": 3.0}),  # a list of losses: paired by sorted keys
    lambda: _list_outputs({"a": "mse", "b": "mse"}, {"b": 1.0, "a": 3.0}),  # by name
])
def test_the_checks_weigh_each_output_as_keras_fit_does(model):
    import numpy as np

    from modelcheck.model.objective import objective_for

    keras.utils.set_random_seed(0)
    model = model()
    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    structure = model._outputs_struct
    if isinstance(structure, dict):
        targets = {"price": np.ones((8, 1), "float32"), "kind": np.arange(8) % 3}
        flat = [targets[key] for key in sorted(targets)]
    else:
        flat = [np.ones((8, 1), "float32"), np.zeros((8, 1), "float32")]
        targets = flat
    keras_loss = model.evaluate(x, targets, verbose=0, return_dict=True)["loss"]
    predictions = keras.tree.flatten(model(x))
    ours = float(objective_for(model, [keras.ops.convert_to_numpy(p) for p in predictions]).total(flat, predictions))
    assert ours == pytest.approx(keras_loss, rel=1e-4)


def _sequence_model(*middle) -> keras.Model:
    inputs = keras.Input((6, 8))
    x = inputs
    for layer in middle:
        x = layer(x) if not isinstance(layer, keras.layers.MultiHeadAttention) else layer(x, x)
    return keras.Model(inputs, keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(x)))


@pytest.mark.parametrize("layer, where, received", [
    (lambda: keras.layers.LSTM(4, dropout=0.9, return_sequences=True, name="lstm"),
     "layer 'lstm' (LSTM)", "dropout=0.9"),
    (lambda: keras.layers.GRU(4, recurrent_dropout=0.95, return_sequences=True, name="gru"),
     "layer 'gru' (GRU)", "recurrent_dropout=0.95"),
    (lambda: keras.layers.Bidirectional(keras.layers.LSTM(4, dropout=0.9, return_sequences=True), name="bi"),
     "layer 'bi' (Bidirectional)", "dropout=0.9"),
    (lambda: keras.layers.MultiHeadAttention(2, 4, dropout=0.9, name="attention"),
     "layer 'attention' (MultiHeadAttention)", "dropout=0.9"),
    (lambda: keras.Sequential([keras.layers.Dropout(0.9, name="inner")], name="block"),
     "layer 'inner' (Dropout)", "rate=0.9"),
])
def test_a_keep_probability_as_the_dropout_of_any_layer_fails(layer, where, received):
    result = check_config_lint(_sequence_model(layer()))
    assert not result.passed
    assert result.message.startswith(f"dropout rate: expected the fraction of units dropped, usually 0.1 to 0.5, "
                                      f"received {received}, at {where}; "), result.message
    assert result.message.count("dropout rate:") == 1  # a Bidirectional's two copies, an attention's own Dropout


def test_usual_dropout_settings_of_sequence_layers_pass():
    model = _sequence_model(keras.layers.LSTM(4, dropout=0.2, recurrent_dropout=0.2, return_sequences=True),
                            keras.layers.MultiHeadAttention(2, 4, dropout=0.1),
                            keras.layers.Bidirectional(keras.layers.GRU(4, dropout=0.5, return_sequences=True)))
    assert check_config_lint(model).passed
