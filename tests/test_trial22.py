"""Trial 22: false alarms, missed bugs and unclear messages found by an ML engineer adopting
modelcheck on models not written for it. Each test is a sound model modelcheck failed (or could
not judge without saying why), or a broken one it passed, with the broken twin it must still fail."""

import keras
import pytest
from keras import layers

import modelcheck as mc


def _scores() -> tuple:
    """12 steps of 6 features in, one score per step out."""
    inputs = keras.Input((12, 6))
    return inputs, layers.Dense(1)(layers.Dense(16, activation="tanh")(inputs))


def _pointer(softmax_axis: int | None = 1, loss: keras.losses.Loss | None = None) -> keras.Model:
    """A pointer-style model: one score per step, a softmax over the 12 steps (axis 1), trained
    with a categorical cross-entropy over that axis (which of the steps is pointed at); with
    `softmax_axis` None, the scores (logits)."""
    inputs, scores = _scores()
    model = keras.Model(inputs, scores if softmax_axis is None else layers.Softmax(axis=softmax_axis)(scores))
    model.compile("adam", loss if loss is not None else keras.losses.CategoricalCrossentropy(axis=1))
    return model


def test_a_softmax_over_the_steps_under_a_cross_entropy_over_the_steps_fits():
    """Keras' fit trains this model (the classes are the steps, along axis 1): the static checks
    counted units on the last axis (1) and said "a softmax over a single unit"."""
    keras.utils.set_random_seed(0)
    result = mc.check_loss_matches_output(_pointer())
    assert result.passed, result.message
    assert result.details["outputs"][0]["units"] == 12
    result = mc.check_config_lint(_pointer())
    assert result.passed, result.message


def test_a_softmax_over_one_unit_is_still_found_whatever_the_loss_axis():
    keras.utils.set_random_seed(0)
    result = mc.check_loss_matches_output(_pointer(softmax_axis=-1))
    assert result.status == "failed"
    assert "a softmax over a single unit" in result.message
    result = mc.check_config_lint(_pointer(softmax_axis=-1))
    assert result.status == "failed"
    assert "softmax over 1 unit" in result.message


def test_a_sparse_cross_entropy_over_another_axis_is_still_linted():
    """fit raises "Only axis=-1 is currently supported" for the sparse cross-entropy alone."""
    keras.utils.set_random_seed(0)
    model = _pointer(loss=keras.losses.SparseCategoricalCrossentropy(axis=1))
    result = mc.check_config_lint(model)
    assert result.status == "failed"
    assert "loss axis: expected the classes' axis, the last" in result.message
    assert "axis=1" in result.message


def test_a_categorical_cross_entropy_over_the_batch_axis_is_still_linted():
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="softmax")])
    model.compile("adam", keras.losses.CategoricalCrossentropy(axis=0))
    result = mc.check_config_lint(model)
    assert result.status == "failed"
    assert "received axis=0" in result.message and "axis 0 is the batch" in result.message


def test_a_pointer_trains_on_one_hot_targets_along_its_steps():
    """The training checks built one-hot targets along the last axis (size 1), so the loss of the
    sound pointer could not fall (31.98 -> 56.71, accuracy 3%); along the loss's axis it memorises."""
    keras.utils.set_random_seed(0)
    result = mc.check_overfit_batch(_pointer())
    assert result.passed, result.message
    keras.utils.set_random_seed(0)
    result = mc.check_loss_decrease(_pointer())
    assert result.passed, result.message


def test_a_pointer_whose_softmax_reads_one_unit_still_cannot_memorise():
    keras.utils.set_random_seed(0)
    result = mc.check_overfit_batch(_pointer(softmax_axis=-1))
    assert not result.passed, result.message


def test_a_pointer_of_logits_is_judged_by_the_step_it_points_at():
    """With scores (from_logits) the accuracy read each step's score as a yes/no against 0, so a
    pointer at loss 0.016 was "still falling" after 2,000 steps; the untrained loss has ln(12)."""
    keras.utils.set_random_seed(0)
    logits = keras.losses.CategoricalCrossentropy(axis=1, from_logits=True)
    result = mc.check_overfit_batch(_pointer(softmax_axis=None, loss=logits))
    assert result.passed, result.message
    keras.utils.set_random_seed(0)
    result = mc.check_loss_at_init(_pointer())
    assert result.passed, result.message
    assert "2.485" in result.message  # ln(12): a softmax over the 12 steps


def _score_spread(bias_cancels: bool = True) -> keras.Model:
    """One score per step, and the spread of the scores (max - min): the scores' bias is added to
    every step alike, so it cancels, as it does under a softmax over the steps (a pointer's or an
    attention pooling's scores, where its gradient is zero up to rounding, and exactly zero on some
    seeds on PyTorch)."""
    inputs, scores = _scores()
    spread = keras.ops.max(scores, axis=1) - keras.ops.min(scores, axis=1)
    if not bias_cancels:
        spread = spread * keras.ops.stop_gradient(keras.ops.zeros_like(spread))
    model = keras.Model(inputs, spread)
    model.compile("adam", "mse")
    return model


def test_a_bias_that_cancels_in_the_output_is_no_broken_gradient():
    keras.utils.set_random_seed(0)
    result = mc.check_gradient_flow(_score_spread())
    assert result.passed, result.message
    assert result.message.startswith("3 of 4 trainable variables get a finite, non-zero gradient")
    assert "dense/bias exempt: no output depends on them: shifted, they change no output" in result.message  # the scores


def test_a_layer_whose_output_is_multiplied_by_zero_still_fails():
    keras.utils.set_random_seed(0)
    result = mc.check_gradient_flow(_score_spread(bias_cancels=False))
    assert result.status == "failed"
    assert "received an all-zero gradient, at every trainable variable (4)" in result.message


def _multilabel(activation: str) -> keras.Model:
    model = keras.Sequential([keras.Input((20,)), layers.Dense(32, activation="relu"),
                              layers.Dense(30, activation=activation)])
    model.compile("adam", "binary_crossentropy")
    return model


def test_a_softmax_under_binary_cross_entropy_is_not_called_a_slow_learner():
    """On TensorFlow, Keras' binary cross-entropy reads the logits a softmax tensor carries, so fit
    lowers the loss (to 0.0004) while the softmax's predictions never fit 30 yes/no labels: the check
    said "not judged: ... the model learns, only slowly" where JAX and PyTorch fail it."""
    keras.utils.set_random_seed(0)
    result = mc.check_overfit_batch(_multilabel("softmax"), max_steps=100)
    assert result.status == "failed", result.message
    assert "binary_crossentropy treats each of the 30 units as its own yes/no question" in result.message
    keras.utils.set_random_seed(0)
    result = mc.check_overfit_batch(_multilabel("sigmoid"), max_steps=100)
    assert result.status != "failed", result.message


def test_variables_of_one_layer_with_the_same_name_are_told_apart():
    """MultiHeadAttention holds a kernel and a bias for each of query, key, value and output, and a
    Bidirectional LSTM a kernel per direction: all were labelled 'multi_head_attention/kernel', so
    gradient_flow counted "all 6 trainable variables" of 14 and a zero gradient at the key's bias
    (which a softmax over the keys cancels) could not be told from the query's."""
    inputs = keras.Input((10, 8))
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=4)(inputs, inputs)
    sequence = layers.Bidirectional(layers.LSTM(4, return_sequences=True))(attended)
    model = keras.Model(inputs, layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling1D()(sequence)))
    model.compile("adam", "sparse_categorical_crossentropy")
    result = mc.check_gradient_flow(model)
    assert result.passed, result.message
    norms = result.details["grad_norms"]
    assert len(norms) == len(model.trainable_variables) == 16
    assert "multi_head_attention/key/bias" in norms and "multi_head_attention/query/bias" in norms
    assert "15 of 16 trainable variables get a finite, non-zero gradient" in result.message  # the key bias: exempt


def test_a_pointer_declared_as_probabilities_sums_to_one_over_its_steps():
    """output_shape summed the probabilities over the last axis (one value per step) and asked "is
    the softmax missing?" of a pointer whose softmax, and loss, are over the steps."""
    keras.utils.set_random_seed(0)
    result = mc.check_output_shape(_pointer(), (None, 12, 1), output="probabilities")
    assert result.passed, result.message


def test_a_softmax_over_the_steps_of_a_tagger_is_named_not_called_missing():
    inputs = keras.Input((12, 6))
    model = keras.Model(inputs, layers.Softmax(axis=1)(layers.Dense(3)(inputs)))
    model.compile("adam", "categorical_crossentropy")
    result = mc.check_output_shape(model, (None, 12, 3), output="probabilities")
    assert result.status == "failed"
    assert result.message.startswith("output values: expected probabilities that sum to 1 over the last axis")
    assert "the softmax normalises over axis 1, not over the classes' axis, the last" in result.message


def _dict_outputs() -> keras.Model:
    """Outputs keyed "label" and "score" by layers named otherwise, as fit's loss dict keys them."""
    inputs = keras.Input((5,))
    hidden = layers.Dense(8, activation="relu")(inputs)
    model = keras.Model(inputs, {"label": layers.Dense(4, activation="softmax", name="head_a")(hidden),
                                 "score": layers.Dense(1, name="head_b")(hidden)})
    model.compile("adam", {"label": "sparse_categorical_crossentropy", "score": "mse"})
    return model


def test_expected_shapes_keyed_like_the_output_dict_are_read():
    """A dict of expected shapes keyed as the model's output dict (as its loss dict is) failed with
    'no output named 'label''."""
    result = mc.check_output_shape(_dict_outputs(), {"label": (None, 4), "score": (None, 1)})
    assert result.passed, result.message
    result = mc.check_output_shape(_dict_outputs(), {"label": (None, 4), "score": (None, 2)})
    assert result.message.startswith("output shape: expected (None, 2), received (None, 1), at output 'head_b'")
    result = mc.check_output_shape(_dict_outputs(), {"labels": (None, 4)})
    assert result.message.startswith("output name: expected one of 'head_a', 'head_b' (or of the output dict's keys "
                                     "'label', 'score'), received 'labels'"), result.message


class _MyCrossentropy(keras.losses.CategoricalCrossentropy):
    """A team's own subclass of a Keras loss, which computes that loss."""


def test_the_initial_loss_of_a_loss_that_computes_a_keras_one_is_known():
    """loss_matches_output judged a subclass of CategoricalCrossentropy as the loss it computes, but
    loss_at_init said "no known expected initial value for the loss (MyCrossentropy)"."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((10,)), layers.Dense(16, activation="relu"),
                              layers.Dense(5, activation="softmax")])
    model.compile("adam", _MyCrossentropy())
    result = mc.check_loss_at_init(model)
    assert result.passed, result.message
    assert "1.609" in result.message  # ln(5)
    model.layers[-1].kernel.assign(model.layers[-1].kernel * 30.0)
    assert mc.check_loss_at_init(model).status == "failed"


def test_a_pointers_checks_add_no_warning_about_its_last_axis(recwarn: pytest.WarningsRecorder):
    """Keras warns "expected y_pred.shape to be (batch_size, num_classes) with num_classes > 1" (a
    SyntaxWarning) by the last axis alone: every run of a sound pointer ended with it in the warnings
    summary. The softmax on one unit it is right about is a failed verdict instead (above)."""
    import warnings

    warnings.simplefilter("always")
    keras.utils.set_random_seed(0)
    assert mc.check_loss_decrease(_pointer()).passed
    assert mc.check_loss_matches_output(_pointer(softmax_axis=-1)).status == "failed"
    shown = [str(w.message) for w in recwarn if "y_pred.shape" in str(w.message)]
    assert not shown, shown
