import keras
import numpy as np
import pytest
from keras import layers

import modelcheck as mc
from modelcheck.model import loops
from tests import models


def _weights(model):
    return [np.array(w) for w in model.get_weights()]


def test_toy_model_reproduces_the_document():
    result = mc.check_learns_linear(models.toy())
    assert result.passed, result.message
    assert abs(result.details["w"] - 1.9973876) < 5e-3
    assert abs(result.details["b"] + 0.99190086) < 5e-3
    assert abs(result.details["prediction"] - 8.995) < 0.02
    assert result.message.startswith("learned y = 1.99")
    assert len(result.details["loss_history"]) == 500


def test_relu_output_cannot_learn_the_line():
    result = mc.check_learns_linear(models.toy(activation="relu"))
    assert not result.passed
    assert result.message.startswith("learned line: expected y = 2x - 1, received y = ")
    assert "linear output" in result.hint


def test_no_bias_cannot_learn_the_line():
    result = mc.check_learns_linear(models.toy(use_bias=False))
    assert not result.passed
    assert "has no bias" in result.message


def test_a_model_of_string_inputs_is_told_it_cannot_take_the_line():
    """A text model given to learns_linear fails at its input, not as Keras' error on floats fed to
    a string input."""
    inputs = keras.Input((1,), dtype="string")
    model = keras.Model(inputs, layers.Dense(1)(layers.Hashing(num_bins=4, output_mode="one_hot")(inputs)))
    result = mc.check_learns_linear(model)
    assert result.status == "failed"
    assert result.message.startswith("input: expected one input of one number per sample, received an input of "
                                     "strings, at the model's inputs")


def test_exploding_learning_rate_fails_with_non_finite_loss():
    result = mc.check_learns_linear(models.toy(), learning_rate=1.0)
    assert not result.passed
    assert "NaN" in result.message or "mean squared error" in result.message
    assert result.details["stopped"] == "non_finite"


def test_deeper_linear_model_reports_the_learned_line():
    model = keras.Sequential([keras.Input((1,)), layers.Dense(4), layers.Dense(1)])
    result = mc.check_learns_linear(model, learning_rate=0.01, steps=800)
    assert result.passed, result.message
    assert not result.details["single_dense"]


def test_training_checks_do_not_change_the_model():
    model = models.fashion_mlp()
    before = _weights(model)
    assert mc.check_overfit_batch(model).passed
    assert mc.check_loss_decrease(model).passed
    assert all(np.array_equal(a, b) for a, b in zip(before, _weights(model)))


def test_overfit_passes_with_history_and_fails_when_frozen():
    result = mc.check_overfit_batch(models.small_classifier(), max_steps=400)
    assert result.passed, result.message
    assert result.details["accuracy"] == 1.0 and result.details["loss_history"]
    frozen = keras.Sequential([keras.Input((6,)), layers.Dense(4, activation="softmax", trainable=False)])
    failed = mc.check_overfit_batch(frozen, max_steps=40)
    assert not failed.passed
    assert failed.message.startswith("memorising one batch of 8 samples: expected 100% batch accuracy, received loss ")
    assert "within the budget of 40 steps" in failed.message


def test_overfit_regression_uses_threshold():
    model = keras.Sequential([keras.Input((8,)), layers.Dense(30, activation="relu"), layers.Dense(1)])
    result = mc.check_overfit_batch(model, learning_rate=0.01)
    assert result.passed, result.message
    assert result.details["loss_threshold"] == 0.05


def _regressor(blind: bool) -> keras.Model:
    """A sound regressor, or (`blind`) the same behind a frozen zero layer, so its output cannot depend on the input."""
    stack = [keras.Input((5,))] + ([layers.Dense(5, trainable=False)] if blind else [])
    model = keras.Sequential(stack + [layers.Dense(32, activation="relu"), layers.Dense(1)])
    rng = np.random.default_rng(0)
    model.set_weights([np.zeros(w.shape, "float32") if blind and i == 0 else rng.uniform(-0.4, 0.4, w.shape)
                       .astype("float32") for i, w in enumerate(model.get_weights())])
    return model


def test_the_regression_threshold_follows_the_spread_of_an_instructors_labels():
    """Labels in the instructor's units: a threshold of 0.05 on labels that vary by 0.02 would pass a model that
    predicts their mean and ignores its input; it is 5% of what predicting the mean loses instead."""
    from modelcheck.checks.common import fmt
    from modelcheck.model.inputs import set_instructor_data

    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 5)).astype("float32")
    y = (0.01 * (x @ rng.normal(size=(5, 1))) + 0.3).astype("float32")
    variance = float(np.var(y))
    results = {}
    for blind in (False, True):
        model = _regressor(blind)
        set_instructor_data(model, x=[x], y=[y])
        results[blind] = mc.check_overfit_batch(model)
    sound, blind = results[False], results[True]
    assert sound.passed, sound.message
    assert sound.details["loss_threshold"] == pytest.approx(0.05 * variance, rel=1e-3)
    assert blind.status == "failed", blind.message
    assert blind.message.startswith(f"memorising one batch of 8 samples: expected loss below "
                                    f"{fmt(blind.details['loss_threshold'])} (the threshold 0.05 for targets of unit "
                                    "spread, scaled to these targets' spread), received loss ")


def _housing_like(rows: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Raw features on California housing's scales (an income near 4, a population in thousands,
    a longitude near -119) and a value in $100k."""
    rng = np.random.default_rng(3)
    scale = np.array([2.0, 12.0, 1.2, 0.1, 900.0, 0.6, 2.0, 2.0])
    centre = np.array([4.0, 28.0, 5.4, 1.1, 1400.0, 3.0, 36.0, -119.0])
    x = (centre + scale * rng.normal(size=(rows, 8))).astype("float32")
    y = (0.4 * x[:, 0] + 0.01 * x[:, 1] - 0.05 * (x[:, 6] - 36) + 0.2 * rng.normal(size=rows)).astype("float32")
    return x, y


def test_a_normalization_that_cannot_adapt_to_the_samples_is_left_as_the_builder_left_it():
    """Only ValueError and TypeError were caught: any other failure of adapt (TensorFlow's own errors, a
    subclass's adapt) escaped from setting the samples, in grading an error of the check job itself."""
    from modelcheck.model.inputs import set_instructor_data

    class Refusing(layers.Normalization):
        def adapt(self, data, steps=None):
            raise RuntimeError("no adapting here")

    x, y = _housing_like()
    model = keras.Sequential([keras.Input((8,)), Refusing(), layers.Dense(1)])
    set_instructor_data(model, x=[x], y=[y])
    assert np.allclose(np.array(model.layers[0].adapt_mean), 0.0)


def test_a_normalization_never_adapted_is_adapted_to_the_instructors_samples():
    """A builder has no data to adapt its Normalization with (the course's script adapts it before fit):
    left unadapted, raw features in the thousands made a sound regression MLP learn so slowly that
    overfit_batch was not judged (a lost point in grading). It is adapted to the samples; a layer the
    builder adapted, or given its mean and variance, is left as it is."""
    from modelcheck.model.inputs import set_instructor_data

    x, y = _housing_like()

    def regressor(normalization):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8,)), normalization, layers.Dense(30, activation="relu"),
                                  layers.Dense(30, activation="relu"), layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        return model

    model = regressor(layers.Normalization())
    set_instructor_data(model, x=[x], y=[y])
    assert np.allclose(np.array(model.layers[0].adapt_mean), x.mean(axis=0), rtol=1e-3)
    result = mc.check_overfit_batch(model)
    assert result.passed, result.message
    assert np.allclose(np.array(model.layers[0].adapt_mean), x.mean(axis=0), rtol=1e-3)  # kept after training

    own = layers.Normalization()
    own.adapt(np.ones((4, 8), "float32") * np.arange(8, dtype="float32"))
    given = layers.Normalization(mean=0.5, variance=4.0)
    for layer in (own, given):
        model = regressor(layer)
        before = [np.array(w) for w in layer.weights]
        set_instructor_data(model, x=[x], y=[y])
        assert all(np.array_equal(a, np.array(b)) for a, b in zip(before, layer.weights))
    assert np.allclose(np.array(own.adapt_mean), np.arange(8))


def test_targets_ask_for_at_most_ten_times_the_spread_a_model_gives_its_outputs():
    """A teacher whose outputs barely vary (features a saturated tanh squashes) is not standardised to unit
    spread, which would need weights a hundred times any initialisation's; the threshold scales alike."""
    from modelcheck.model.objective import objective_for

    model = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    rng = np.random.default_rng(0)
    own = 0.9 + 0.001 * rng.normal(size=(8, 2))
    teacher = 0.5 + np.array([[0.002, 0.5]]) * rng.normal(size=(8, 2))
    objective = objective_for(model, [own], output="regression")
    (targets,) = objective.targets([own], seed=0, teacher=[teacher])
    assert np.allclose(targets.mean(axis=0), 0, atol=1e-6)
    assert np.allclose(targets.std(axis=0), [10 * teacher[:, 0].std(), 1.0], rtol=1e-4)
    # mean squared error: the loss of predicting the mean is the variance, averaged over the units
    assert objective.spread([targets]) == pytest.approx((1 + 100 * teacher[:, 0].var()) / 2, rel=1e-4)
    (usual,) = objective.targets([own], seed=0, teacher=[0.5 + 0.5 * rng.normal(size=(8, 2))])
    assert objective.spread([usual]) == 1.0

    def picky(y_true, y_pred):  # a user's loss that cannot take the all-zero prediction spread() measures with
        if not np.any(keras.ops.convert_to_numpy(y_pred)):
            raise ValueError("no prediction")
        return keras.ops.mean(keras.ops.square(y_true - y_pred))

    objective.losses[0].function = picky
    assert objective.spread([targets]) == 1.0


def test_loss_decrease_reports_initial_loss_against_ln_classes():
    result = mc.check_loss_decrease(models.fashion_mlp())
    assert result.passed, result.message
    assert abs(result.details["expected_initial_loss"] - np.log(10)) < 1e-6
    assert "expected about 2.303" in result.message


def test_loss_decrease_fails_when_learning_rate_explodes():
    model = models.small_classifier(activation=None)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e6), loss="mse")
    result = mc.check_loss_decrease(model, steps=30)
    assert not result.passed
    assert "SGD(learning_rate=1e+06)" in result.message
    assert "learning rate too large" in result.hint


def test_a_loss_that_falls_to_the_guessing_level_and_on_slowly_is_told_as_slow_learning():
    """A small CNN behind Rescaling(1/255) on pixel samples drops to ln 3 in a step, then falls a
    little at every step (10% takes 600 steps): the hint said 'no gradient reaches the weights',
    which sent the instructor looking for a bug in a sound reference. (TensorFlow's initial weights
    flatten the loss by step 50; JAX's and PyTorch's keep it falling, and the run is extended.)"""
    from modelcheck.model.inputs import set_instructor_data

    flat = models.small_classifier()  # a flat loss keeps the usual causes
    flat.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="sparse_categorical_crossentropy")
    assert "no gradient reaches the weights" in mc.check_loss_decrease(flat, steps=20).hint
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16, 16, 3)), layers.Rescaling(1 / 255),
                              layers.Conv2D(8, 3, padding="same", activation="relu"),
                              layers.GlobalAveragePooling2D(), layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    set_instructor_data(model, x=[rng.uniform(0, 255, (24, 16, 16, 3)).astype("float32")], y=[np.arange(24) % 3])
    result = mc.check_loss_decrease(model)
    if result.status == "skipped":  # other backends' initial weights: still falling at 50 steps, so extended
        assert "the model learns, only slowly" in result.message
        return
    assert result.status == "failed", result.message
    assert result.hint.startswith("the loss fell to about the loss of guessing every class alike (1.099) and still "
                                  "falls at every step, slowly"), result.hint


@pytest.mark.filterwarnings("ignore:In loss categorical_crossentropy")
@pytest.mark.parametrize("with_labels", [True, False], ids=["instructor_labels", "synthetic"])
def test_categorical_crossentropy_on_one_unit_cannot_memorise_a_batch(with_labels):
    """A softmax over one class is always 1, so the loss is always 0: the model learns nothing. With
    the instructor's 0/1 labels this raised IndexError inside modelcheck (a grader error); without,
    an argmax over one unit matched every target and overfit_batch passed."""
    from modelcheck.model.inputs import set_instructor_data

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"),
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    if with_labels:
        set_instructor_data(model, x=[np.random.default_rng(0).normal(size=(16, 4)).astype("float32")],
                            y=[np.arange(16) % 2])
    result = mc.check_overfit_batch(model, max_steps=50)
    assert result.status == "failed", result.message
    assert "expected 100% batch accuracy" in result.message and "accuracy 100%" not in result.message


@pytest.mark.parametrize("loss", ["binary_crossentropy", keras.losses.BinaryCrossentropy(from_logits=True)],
                         ids=["name", "object"])
def test_a_binary_cross_entropy_given_regression_labels_is_the_users_error(loss):
    """House prices under binary_crossentropy: the loss falls without end (below 0), and its first
    steps' fall earned loss_decrease."""
    from modelcheck.model.inputs import set_instructor_data

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"), layers.Dense(1)])
    model.compile(optimizer="adam", loss=loss)
    rng = np.random.default_rng(0)
    set_instructor_data(model, x=[rng.normal(size=(40, 8)).astype("float32")],
                        y=[rng.uniform(50, 500, 40).astype("float32")])
    result = mc.check_loss_decrease(model)
    assert result.status == "error", result.message
    assert result.message.startswith("the loss binary_crossentropy of output 'dense_1' takes targets between 0 and 1 "
                                     "(probabilities), and the labels hold values from "), result.message
    assert "loss=\"mse\"" in result.hint
    set_instructor_data(model, x=[rng.normal(size=(40, 8)).astype("float32")], y=[np.arange(40) % 2])
    assert mc.check_loss_decrease(model).status in ("passed", "skipped")  # 0/1 labels are what it takes


def test_the_optimizer_is_described_with_the_momentum_it_trains_with():
    model = models.fashion_mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                  loss="sparse_categorical_crossentropy")
    result = mc.check_overfit_batch(model)
    assert result.passed and "SGD(learning_rate=0.05, momentum=0.9, nesterov=True)" in result.message, result.message


def _rating_in_0_to_5() -> keras.Model:
    i = keras.Input((8,))
    h = layers.Dense(16, activation="relu")(i)
    return keras.Model(i, layers.Rescaling(5.0, name="rating")(layers.Dense(1, activation="sigmoid")(h)))


def _cosine_head() -> keras.Model:
    a, b = keras.Input((10,)), keras.Input((10,))
    tower = keras.Sequential([keras.Input((10,)), layers.Dense(16, activation="relu"), layers.Dense(8)])
    return keras.Model([a, b], layers.Dot(axes=1, normalize=True)([tower(a), tower(b)]))


@pytest.mark.parametrize("build", [_rating_in_0_to_5, _cosine_head])
@pytest.mark.parametrize("seed", [0, 1])
def test_an_output_bounded_after_its_activation_gets_targets_it_can_reach(build, seed):
    """A sigmoid scaled to a 0-5 rating, a cosine similarity: their range is set after the last
    activation, so standardised targets (half of them below 0, or beyond 1) were out of reach and
    overfit_batch failed with a loss near 0.5. They get the teacher's own values."""
    keras.utils.set_random_seed(seed)
    model = build()
    model.compile("adam", "mse")
    result = mc.check_overfit_batch(model, seed=seed)
    assert result.passed, result.message


def test_adadelta_at_keras_default_rate_fails_with_the_rate_of_the_paper_in_the_hint():
    model = models.small_classifier()
    model.compile(optimizer="adadelta", loss="sparse_categorical_crossentropy")
    for result in (mc.check_loss_decrease(model), mc.check_overfit_batch(model, max_steps=100)):
        assert result.status == "failed", result.message
        assert "Adadelta at learning_rate=0.001 barely moves the weights" in result.hint
        assert "learning_rate=1.0" in result.hint
    model.compile(optimizer=keras.optimizers.Adadelta(learning_rate=1.0), loss="sparse_categorical_crossentropy")
    result = mc.check_loss_decrease(model)
    assert result.passed, result.message
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-7), loss="sparse_categorical_crossentropy")
    result = mc.check_loss_decrease(model)
    assert result.status == "failed" and "Adadelta" not in result.hint


def test_uses_compiled_optimizer_and_multi_output_loss_weights():
    model = models.two_heads()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss=["mse", "sparse_categorical_crossentropy"],
                  loss_weights=[0.9, 0.1])
    result = mc.check_loss_decrease(model, steps=40)
    assert result.passed, result.message
    assert result.details["optimizer"] == "SGD(learning_rate=0.05)"


def _with_an_unlossed_output(as_dict: bool) -> keras.Model:
    """A classifier that also returns its hidden features, compiled with no loss for them (Keras
    trains the classifier alone): None in a list, or the features left out of a dict."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((10,))
    features = layers.Dense(16, activation="relu", name="features")(inputs)
    classes = layers.Dense(3, activation="softmax", name="classes")(features)
    if as_dict:
        model = keras.Model(inputs, {"classes": classes, "features": features})
        model.compile(optimizer="adam", loss={"classes": "sparse_categorical_crossentropy"})
    else:
        model = keras.Model(inputs, [classes, features])
        model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", None])
    return model


@pytest.mark.parametrize("as_dict", [False, True], ids=["list", "dict"])
def test_an_output_compiled_with_no_loss_is_neither_trained_nor_judged(as_dict):
    """It was given a made-up MSE: loss_matches_output failed the relu features as a regression
    output, and overfit_batch trained them towards made-up targets."""
    model = _with_an_unlossed_output(as_dict)
    results = {r.check: r for r in mc.run_checks(model, ["loss_matches_output", "overfit_batch", "loss_decrease",
                                                         "gradient_flow"])}
    assert all(r.passed for r in results.values()), [r.message for r in results.values() if not r.passed]
    assert "features" not in results["loss_matches_output"].message
    unlossed = "no loss (not in the loss dict)" if as_dict else "no loss (compiled with None for it)"
    assert f"features: {unlossed}" in results["loss_decrease"].details["loss_function"]
    assert results["loss_decrease"].details["expected_initial_loss"] == pytest.approx(np.log(3))


def test_a_negative_loss_weight_is_named_by_every_check_that_judges_the_loss():
    """Trained with loss_weights=[-1], the cross-entropy grows while the total falls: loss_decrease
    passed ('loss fell 11%') and overfit_batch skipped the model as a slow learner."""
    model = models.small_classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", loss_weights=[-1.0])
    results = {r.check: r for r in mc.run_checks(model, ["loss_matches_output", "overfit_batch", "loss_decrease"])}
    for result in results.values():
        assert result.status == "failed", result.message
        assert ("loss weight: expected a weight of 0 or more, received -1, at output" in result.message
                and "maximise sparse_categorical_crossentropy" in result.message), result.message


def test_a_loss_built_with_reduction_none_is_averaged_as_keras_does():
    """Its per-sample values made float() raise: an internal error in four checks."""
    model = models.small_classifier()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(reduction=None))
    results = mc.run_checks(model, ["gradient_flow", "overfit_batch", "loss_decrease", "loss_at_init", "finite"])
    assert all(r.passed for r in results), [f"{r.check}: {r.message}" for r in results if not r.passed]


def _dropout_classifier(seed: int, learning_rate: float = 1e-3) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"), layers.Dropout(0.5),
                              layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy")
    return model


class _SubclassedDropout(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden, self.drop, self.head = layers.Dense(8, activation="relu"), layers.Dropout(0.3), layers.Dense(3)

    def call(self, x, training=False):
        return keras.ops.softmax(self.head(self.drop(self.hidden(x), training=training)))


@pytest.mark.parametrize("seed", range(4))
def test_loss_decrease_judges_a_model_with_dropout_on_its_loss_in_inference_mode(seed):
    """Its training losses carry Dropout's noise: the mean of the last five against the first
    passed a model that cannot learn (learning rate 0) on 5 of 8 seeds and failed a sound
    subclassed one."""
    still = mc.check_loss_decrease(_dropout_classifier(seed, learning_rate=0.0))
    assert still.status == "failed" and "in inference mode (no change)" in still.message, still.message
    keras.utils.set_random_seed(seed)
    model = _SubclassedDropout()
    model.build((None, 8))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    learns = mc.check_loss_decrease(model, seed=seed)
    assert learns.passed, learns.message
    assert "in inference mode" in learns.message and learns.details["judged_in_inference_mode"]


def test_same_seed_same_numbers():
    first = mc.check_loss_decrease(models.small_classifier(), seed=3, steps=20)
    keras.backend.clear_session()
    second = mc.check_loss_decrease(models.small_classifier(), seed=3, steps=20)
    assert first.details["loss_history"] != []
    # different random initial weights per construction, so compare seeded reconstructions:
    keras.utils.set_random_seed(5)
    a = mc.check_loss_decrease(models.small_classifier(), seed=3, steps=20)
    keras.utils.set_random_seed(5)
    b = mc.check_loss_decrease(models.small_classifier(), seed=3, steps=20)
    assert a.details["loss_history"] == b.details["loss_history"]
    del second


class _OwnLoss(keras.Model):
    """A model with its own compute_loss, which Keras' train_step calls on every backend."""

    scale = 1.0

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return keras.ops.mean(keras.ops.square(y - y_pred)) * self.scale


def _own_loss_model(scale: float) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = _OwnLoss(inputs, layers.Dense(1)(layers.Dense(8, activation="relu")(inputs)))
    model.scale = scale
    model.compile(keras.optimizers.SGD(0.05))
    return model


def test_a_model_with_its_own_compute_loss_trains_with_its_own_step():
    result = mc.check_loss_decrease(_own_loss_model(1.0))
    assert result.passed, result.message
    assert result.details["optimizer"] == "SGD(learning_rate=0.05) (the model's own train_step)"
    broken = mc.check_loss_decrease(_own_loss_model(0.0))  # its loss forgets its value
    assert not broken.passed
    assert broken.message.startswith("loss: expected a decrease of at least 10%, received 0 -> 0")


@pytest.mark.parametrize("rate, passes", [(0.1, True), (0.0, False)])
def test_mixed_precision_trains_with_the_loss_scaled(rate, passes):
    """Unscaled, a LossScaleOptimizer's updates are 32,768x too small to memorise the batch."""
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        keras.utils.set_random_seed(0)
        inputs = keras.Input((20,))
        x = layers.Dense(64, activation="relu")(layers.Dense(64, activation="relu")(inputs))
        outputs = layers.Activation("softmax", dtype="float32")(layers.Dense(10)(x))
        model = keras.Model(inputs, outputs)
        model.compile(keras.optimizers.SGD(learning_rate=rate), "sparse_categorical_crossentropy")
        result = mc.check_overfit_batch(model)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert result.passed is passes, result.message
    assert result.details["optimizer"].startswith("LossScaleOptimizer")
    if not passes:
        assert result.message.startswith("memorising one batch of 8 samples: expected 100% batch accuracy")


# A slow learner is not a broken one: a loss still falling at the step budget trains on (up to 4x)


def slow_tiny() -> keras.Model:
    """A sound model small enough to memorise 8 samples slowly; its weights come from NumPy, so every
    backend starts it (and its teacher) alike."""
    model = keras.Sequential([keras.Input((4,)), layers.Lambda(lambda x: x * 2.0), layers.Dense(2, activation="softmax")])
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(-0.9, 0.9, w.shape).astype("float32") for w in model.get_weights()])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    return model


def flat_output() -> keras.Model:
    """Nothing trains: the loss stays where it starts."""
    model = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu", trainable=False),
                              layers.Dense(4, activation="softmax", trainable=False)])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    return model


def test_still_falling_needs_a_fall_clear_of_the_noise():
    from modelcheck.model.engine import still_falling

    falling = [2.0 * 0.999 ** i for i in range(500)]  # 5% per 50 steps
    assert still_falling(falling)
    assert not still_falling([1.0] * 500)
    assert not still_falling(falling[:14])  # too short to tell
    rng = np.random.default_rng(0)
    noisy_flat = list(1.0 + 0.05 * rng.standard_normal(500))
    assert not still_falling(noisy_flat)
    assert not still_falling(falling[:-1] + [float("nan")])
    assert not still_falling(falling[:300] + [falling[299]] * 200)  # fell, then stopped
    assert still_falling([v + 0.05 * rng.standard_normal() for v in falling])  # noisy, but clearly falling
    slow = [1.0 * 0.99994 ** i for i in range(2000)]  # 0.3% per 50 steps: just above the slowest fall that counts
    assert not still_falling([0.5 * 0.99999 ** i for i in range(2000)]) and still_falling(slow)


def test_a_loss_falling_in_inference_mode_is_still_falling_when_the_training_losses_are_noise():
    """Behind Dropout a training loss can be too noisy to be clear of flat while the model memorises
    its batch steadily; the losses overfit_batch's stop rule measures in inference mode tell."""
    from modelcheck.checks.training_report import still_learning
    from modelcheck.model.engine import TrainingRun, falling_points, still_falling

    rng = np.random.default_rng(0)
    noisy = list(0.6 + 0.2 * rng.standard_normal(500))
    assert not still_falling(noisy)
    run = TrainingRun(losses=noisy, steps=0, budget=500, stopped="budget")
    for step, loss in [(300, 0.62), (375, 0.57), (469, 0.53), (500, 0.52)]:
        run.steps = step
        run.note_inference_loss(loss)
    assert run.still_falling
    assert falling_points(run.inference_losses, 500) == ((375, 0.57), (500, 0.52))  # the last 150 steps
    result = still_learning("overfit_batch", "memorising one batch of 8 samples", run, 500, 60.0, {})
    assert result.status == "skipped"
    assert ("the loss was still falling after 500 steps (in inference mode 0.57 at step 375 -> 0.52 at step 500)"
            in result.message)
    assert falling_points([(375, 0.57), (469, 0.58), (500, 0.52)], 500) is None  # it rose on the way
    assert falling_points([(375, 0.5), (500, 0.4999)], 500) is None  # slower than FALLING
    assert falling_points([(200, 0.9), (500, 0.5)], 500) is None  # one point in the window
    assert falling_points([(375, 0.57), (500, float("nan"))], 500) is None


def test_synthetic_images_differ_per_sample_not_only_per_pixel():
    """Global pooling of independent noise gives every sample nearly the same features (a spread of
    1/16 over 16 x 16 pixels), which a sound pooled classifier cannot tell apart."""
    from modelcheck.model.inputs import synthetic_inputs

    images = np.asarray(synthetic_inputs(keras.Sequential([keras.Input((16, 16, 3)), layers.Flatten()]), 32, 0))
    pooled = images.mean(axis=(1, 2))
    assert pooled.std(axis=0).min() > 0.3
    assert abs(float(images.std()) - 1.0) < 0.15 and abs(float(images.mean())) < 0.3
    table = np.asarray(synthetic_inputs(keras.Sequential([keras.Input((6,)), layers.Dense(1)]), 256, 0))
    assert abs(float(table.std()) - 1.0) < 0.1  # tabular rows: independent N(0, 1) values, as before


def test_a_slow_learner_memorises_with_the_budget_extended():
    keras.utils.set_random_seed(0)
    result = mc.check_overfit_batch(slow_tiny(), learning_rate=3e-4)  # ~900 steps on every backend
    assert result.passed, result.message
    assert 500 < result.details["steps"] <= 2000 and result.details["step_budget"] > 500
    assert f"(the budget of 500 steps extended to {result.details['step_budget']} while the loss kept falling)" \
        in result.message


def test_a_loss_still_falling_at_the_end_is_skipped_not_failed():
    keras.utils.set_random_seed(0)
    result = mc.check_overfit_batch(slow_tiny(), max_steps=20)
    assert result.status == "skipped" and result.details["steps"] == 80 and result.details["still_falling"]
    assert result.message.startswith("memorising one batch of 8 samples: not judged: the loss was still falling after "
                                     "80 steps (mean ")
    assert "the budget of 20 steps was extended to 80, as far as it goes. Raise the step budget" in result.message


def test_a_model_that_cannot_learn_fails_at_the_budget_unextended():
    keras.utils.set_random_seed(0)
    result = mc.check_overfit_batch(flat_output(), max_steps=100)
    assert result.status == "failed" and result.details["steps"] == 100 and result.details["step_budget"] == 100
    assert "within the budget of 100 steps" in result.message
    decrease = mc.check_loss_decrease(flat_output())
    assert decrease.status == "failed" and decrease.details["steps"] == 50
    assert "(no change), at the end of training" in decrease.message


def test_a_slowly_falling_loss_decrease_is_extended_until_it_shows_or_skipped():
    def model(rate: float) -> keras.Model:
        keras.utils.set_random_seed(0)
        built = keras.Sequential([keras.Input((4,)), layers.Dense(5, activation="relu"),
                                  layers.Dense(2, activation="softmax")])
        built.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(rate))
        return built

    result = mc.check_loss_decrease(model(1e-3), steps=20)
    assert result.passed and result.details["steps"] > 20, result.message
    assert "(the budget of 20 steps extended to" in result.message
    slow = mc.check_loss_decrease(model(3e-4), steps=20)
    assert slow.status == "skipped" and slow.details["steps"] == 80, slow.message
    assert slow.message.startswith("loss decrease: not judged: the loss was still falling after 80 steps (mean ")



def test_an_extension_is_refused_when_it_would_overrun_the_models_time_budget():
    """A grading job's checks share its time limit: a still-falling run is extended only while the
    extra steps fit in what is left, so the job reports (skipped, still learning) instead of being killed."""
    from modelcheck.checks.training_report import still_learning
    from modelcheck.model.engine import TrainingRun, _extended

    falling = [2.0 * 0.999 ** i for i in range(500)]
    run = TrainingRun(losses=falling, steps=500, seconds=5.0, step_s=0.01, budget=500)
    assert _extended(run, 500, 2000, 60.0, seconds_left=None) == 1000 and run.held_by is None
    assert _extended(run, 500, 2000, 60.0, seconds_left=5.1) == 1000  # 500 more steps take 5 s
    assert _extended(run, 500, 2000, 60.0, seconds_left=4.9) == 500 and run.held_by == "model_budget"
    assert _extended(TrainingRun(losses=falling, steps=500, step_s=0.01), 500, 2000, 4.0, seconds_left=100) == 500
    run.stopped = "budget"
    with loops.using(loops.TrainingContext(budget_s=30.0)):
        result = still_learning("overfit_batch", "memorising one batch", run, 500, 60.0, {})
    assert result.status == "skipped" and result.details["still_falling"]
    assert "more steps would not fit in what is left of the model's time budget of 30 s. Raise the step budget" \
        in result.message
    # extended once, then held by the check's own timeout: not "as far as it goes"
    longer = TrainingRun(losses=falling * 2, steps=1000, seconds=5.0, step_s=0.01, budget=1000)
    assert _extended(longer, 1000, 2000, 12.0) == 1000 and longer.held_by == "timeout"
    longer.stopped = "budget"
    held = still_learning("overfit_batch", "memorising one batch", longer, 500, 12.0, {})
    assert ("the budget of 500 steps was extended to 1000, but more steps would not fit in what is left of the 12 s "
            "timeout. Raise the step budget") in held.message


# Teacher targets of an output whose units are shared along positions (a convolution's pixels, a Dense
# applied at every step): offsets and thresholds per channel, which the last layer's bias can realise


def per_pixel(activation: str, channels: int) -> keras.Model:
    return keras.Sequential([keras.Input((6, 6, 2)), layers.Conv2D(4, 3, padding="same", activation="relu"),
                             layers.Conv2D(channels, 1, activation=activation, name="out")])


def test_binary_teacher_labels_of_a_per_pixel_output_have_one_threshold_per_channel():
    from modelcheck.model.objective import objective_for

    rng = np.random.default_rng(0)
    model = per_pixel("sigmoid", 2)
    model.compile(loss="binary_crossentropy")
    # per-pixel offsets as large as the per-sample spread: a threshold per pixel would differ per pixel
    teacher = 1 / (1 + np.exp(-(rng.normal(size=(8, 6, 6, 2)) + 2 * rng.normal(size=(1, 6, 6, 2)))))
    predictions = [keras.ops.convert_to_numpy(model(np.zeros((8, 6, 6, 2), "float32")))]
    labels = objective_for(model, predictions).targets(predictions, 0, teacher=[teacher])[0]
    for c in range(2):
        ones, zeros = teacher[..., c][labels[..., c] == 1], teacher[..., c][labels[..., c] == 0]
        assert ones.size and zeros.size and zeros.max() < ones.min()  # one threshold splits every pixel


def test_class_teacher_labels_of_a_per_pixel_output_are_reached_by_a_shift_of_the_last_bias():
    from modelcheck.model.objective import objective_for

    keras.utils.set_random_seed(0)
    teacher_model = per_pixel("softmax", 3)
    teacher_model.compile(loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(1).normal(size=(8, 6, 6, 2)).astype("float32")
    teacher = keras.ops.convert_to_numpy(teacher_model(x))
    ids = objective_for(teacher_model, [teacher]).targets([teacher], 0, teacher=[teacher])[0]
    out = teacher_model.get_layer("out")
    kernel, bias = out.get_weights()
    shift = np.log(np.clip(teacher, 1e-12, None)).mean(axis=(0, 1, 2))
    out.set_weights([kernel, bias - shift])  # one bias per class, shared by every pixel
    student = keras.ops.convert_to_numpy(teacher_model(x))
    assert len(np.unique(ids)) > 1 and np.array_equal(np.argmax(student, axis=-1), ids)


def _bounded_regressor(activation, dead=False):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), layers.Dense(16, activation="relu", name="hidden",
                                                              kernel_initializer="zeros" if dead else "glorot_uniform"),
                              layers.Dense(2, activation=activation, name="out", use_bias=not dead)])
    model.compile(optimizer="adam", loss="mse")
    return model


@pytest.mark.parametrize("activation, low, high", [("sigmoid", 0.0, 1.0), ("tanh", -1.0, 1.0)])
def test_a_bounded_regression_output_gets_targets_it_can_produce(activation, low, high):
    # standardised targets lay outside (0, 1) or (-1, 1): a sound sigmoid autoencoder or tanh actor
    # failed overfit_batch (loss_matches_output judges whether the real targets fit the range)
    from modelcheck.checks.common import prepare_batch

    model = _bounded_regressor(activation)
    targets = prepare_batch("overfit_batch", model, fittable=True).targets[0]
    assert low < targets.min() and targets.max() < high and targets.std() > 0.1 * (high - low)
    result = mc.check_overfit_batch(model)
    assert result.passed, result.message
    broken = mc.check_overfit_batch(_bounded_regressor(activation, dead=True), max_steps=100)
    assert broken.status == "failed" and "expected loss below" in broken.message, broken.message


def _mask_predictor(activation, loss):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), layers.Dense(32, activation="relu"),
                              layers.Dense(6, activation=activation, name="mask")])
    model.compile(optimizer="adam", loss=loss)
    return model


@pytest.mark.parametrize("loss", ["dice", "tversky"])
def test_an_overlap_loss_gets_mask_targets_and_is_judged_by_its_value(loss):
    # with soft targets in (0, 1), Dice and Tversky cannot reach zero: a sound model failed overfit_batch
    from modelcheck.checks.common import prepare_batch

    model = _mask_predictor("sigmoid", keras.losses.get(loss))
    targets = prepare_batch("overfit_batch", model, fittable=True).targets[0]
    assert set(np.unique(targets)) == {0.0, 1.0}
    result = mc.check_overfit_batch(model)
    assert result.passed, result.message
    assert result.details["accuracy"] is None and result.details["inference_loss"] < 0.05
    broken = mc.check_overfit_batch(_mask_predictor("sigmoid", keras.losses.get(loss)), learning_rate=0.0,
                                    max_steps=50)
    assert broken.status == "failed" and "expected loss below 0.05" in broken.message, broken.message


def test_an_overlap_loss_on_a_softmax_gets_one_class_per_sample():
    from modelcheck.checks.common import prepare_batch

    targets = prepare_batch("overfit_batch", _mask_predictor("softmax", keras.losses.Dice()), fittable=True).targets[0]
    assert set(np.unique(targets)) == {0.0, 1.0} and np.all(targets.sum(axis=-1) == 1.0)


def test_a_class_the_loss_ignores_is_neither_a_target_nor_counted_in_the_accuracy():
    # samples of Keras' ignore_class teach nothing: with them among the targets, the batch's accuracy
    # could never reach 100% and a sound model was skipped as still learning
    from modelcheck.checks.common import prepare_batch
    from modelcheck.model.objective import Objective

    model = _mask_predictor("softmax", keras.losses.SparseCategoricalCrossentropy(ignore_class=0))
    prepared = prepare_batch("overfit_batch", model, fittable=True)
    assert 0 not in prepared.targets[0] and len(np.unique(prepared.targets[0])) > 1
    result = mc.check_overfit_batch(model)
    assert result.passed, result.message
    objective: Objective = prepared.objective
    predictions = [np.eye(6, dtype="float32")[[1, 2, 3]]]
    assert objective.accuracy([np.array([1, 0, 0])], predictions) == 1.0  # the ignored samples do not count
    assert objective.accuracy([np.array([1, 3, 0])], predictions) == 0.5


def test_a_percentage_loss_gets_its_threshold_in_percent():
    # mean absolute percentage error is 100 times a fraction: 0.05 meant 0.05%, and a sound regressor
    # that reached 0.16% failed overfit_batch
    model = _bounded_regressor(None)
    model.compile(optimizer="adam", loss="mean_absolute_percentage_error")
    result = mc.check_overfit_batch(model)
    assert result.passed, result.message
    assert 4.0 < result.details["loss_threshold"] < 6.0  # 5% for targets of unit spread
    broken = mc.check_overfit_batch(model, learning_rate=0.0, max_steps=50)
    assert broken.status == "failed" and "scaled to these targets' spread and to a loss in percent" in broken.message


@pytest.mark.parametrize("activation", ["softplus", "exponential"])
def test_an_output_of_positive_values_gets_targets_it_can_produce(activation):
    # standardised targets are half negative: a sound softplus or exponential regressor under MSE failed
    from modelcheck.checks.common import prepare_batch

    model = _bounded_regressor(activation)
    targets = prepare_batch("overfit_batch", model, fittable=True).targets[0]
    assert targets.min() >= 0 and targets.std() > 0.5
    result = mc.check_overfit_batch(model)
    assert result.passed, result.message
    broken = mc.check_overfit_batch(_bounded_regressor(activation, dead=True), max_steps=100)
    assert broken.status == "failed" and "expected loss below" in broken.message, broken.message


def test_a_loss_whose_perfect_fit_is_not_zero_is_judged_above_it():
    # cosine similarity is -1 at a perfect fit: any negative loss passed; Poisson's least is y - y log y
    model = _bounded_regressor(None)
    model.compile(optimizer="adam", loss=keras.losses.CosineSimilarity())
    result = mc.check_overfit_batch(model)
    assert result.passed, result.message
    assert result.details["loss_threshold"] == pytest.approx(-0.95, abs=1e-3)
    broken = mc.check_overfit_batch(model, learning_rate=0.0, max_steps=50)
    assert broken.status == "failed" and "the loss of a perfect fit, -1, plus 0.05" in broken.message, broken.message
    poisson = _bounded_regressor("exponential")
    poisson.compile(optimizer="adam", loss="poisson")
    result = mc.check_overfit_batch(poisson)
    assert result.passed, result.message
    assert "the loss of a perfect fit" in result.expected and result.details["loss_threshold"] != pytest.approx(0.05)


def _embedder(rate: float = 0.001) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"), layers.Dense(4, name="embedding")])
    model.compile(optimizer=keras.optimizers.Adam(rate), loss=keras.losses.Circle())
    return model


def test_a_metric_learning_loss_gets_one_label_per_sample():
    # Keras' Circle loss takes labels of shape (batch,): targets shaped like the output made every
    # loss-based check an error ("Incompatible shapes: [8,4] vs. [4,8]")
    from modelcheck.checks.common import prepare_batch

    targets = prepare_batch("gradient_flow", _embedder()).targets[0]
    assert targets.shape == (8,) and len(np.unique(targets)) < 8  # some samples share a label
    results = {r.check: r for r in mc.run_checks(_embedder(), ["gradient_flow", "finite", "loss_decrease",
                                                               "overfit_batch"])}
    assert all(results[c].passed for c in ("gradient_flow", "finite", "loss_decrease")), results
    assert results["overfit_batch"].status == "skipped" and "one label per sample" in results["overfit_batch"].message
    frozen = mc.check_loss_decrease(_embedder(rate=0.0))
    assert frozen.status == "failed" and "expected a decrease" in frozen.message, frozen.message


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="PyTorch's intra-op threads: the other backends "
                    "keep their own setting")
def test_checks_on_pytorch_compute_with_one_thread_and_restore_the_users_setting(monkeypatch):
    import torch

    from modelcheck.core.errors import SpecError

    seen = []

    class Recording(layers.Layer):
        def call(self, x):
            seen.append(torch.get_num_threads())
            return x

    def model():
        net = keras.Sequential([keras.Input((4,)), Recording(), layers.Dense(2, activation="softmax")])
        net.compile("adam", "sparse_categorical_crossentropy")
        seen.clear()  # what building it ran, outside any check
        return net

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert mc.check_overfit_batch(model()).passed
        assert set(seen) == {1} and torch.get_num_threads() == 2
        monkeypatch.setenv("MODELCHECK_TORCH_THREADS", "0")  # PyTorch's own setting
        assert mc.check_overfit_batch(model()).passed
        assert set(seen) == {2}
        monkeypatch.setenv("MODELCHECK_TORCH_THREADS", "two")
        with pytest.raises(SpecError, match="MODELCHECK_TORCH_THREADS must be a whole number of threads"):
            mc.check_output_shape(model(), expected=(2,))
    finally:
        torch.set_num_threads(before)


def test_an_output_that_training_cannot_move_fails_without_training_on():
    """Softmax over one unit under binary cross-entropy: Keras trains the logit beneath the softmax and
    that loss keeps falling, but the output is 1 whatever the weights. The run was extended to 2,000 steps
    and skipped as "learns, only slowly"; trial 21 saw a student told two losses that could not be squared."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"),
                              layers.Dense(1, activation="softmax")])
    model.compile("adam", "binary_crossentropy")
    result = mc.check_overfit_batch(model)
    assert result.status == "failed", result.message
    assert result.details["steps"] <= 500
    assert "but in inference mode it stayed at" in result.message
    assert "does not change with the weights it trains" in result.message


@pytest.mark.filterwarnings("ignore:In loss categorical_crossentropy")
def test_a_loss_of_0_from_the_first_step_is_told_as_such_not_as_nan():
    """Categorical cross-entropy over one sigmoid unit: the loss is 0 whatever the weights; loss_decrease
    said "0 -> 0 (NaN)" and loss_matches_output spoke of a softmax the model does not have (trial 21)."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"),
                              layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "categorical_crossentropy")
    result = mc.check_loss_decrease(model)
    assert result.status == "failed"
    assert "(the loss is 0 from the first step, so it cannot fall" in result.message, result.message
    assert "NaN" not in result.message
    assert result.hint.startswith("a loss of 0 before any training means the loss does not fit the output")
    fit = mc.check_loss_matches_output(model)
    assert not fit.passed and "softmax over one class" not in fit.message
    assert "a single unit is always 1 and the loss always 0" in fit.message
