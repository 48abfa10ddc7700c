"""What each output is and which loss trains it: subclassed models returning a dict, activations
applied with keras.ops at a functional output, and log-probability (log_softmax) outputs."""

import keras
import numpy as np
import pytest
from keras import layers, ops

import modelcheck as mc
from modelcheck.model.objective import objective_for
from modelcheck.model.outputs import activation_of, output_kinds, output_layers

TRAINING = ["gradient_flow", "overfit_batch", "loss_decrease", "finite"]


class DictOut(keras.Model):
    """A classifier head and a regression head, returned as a dict (keras.io's multi-output pattern as a class);
    with `unused_head`, the regression head's layer is built but never called."""

    def __init__(self, unused_head: bool = False):
        super().__init__()
        self.body = layers.Dense(16, activation="relu", name="body")
        self.cls = layers.Dense(3, activation="softmax", name="cls_dense")
        self.reg = layers.Dense(1, name="reg_dense")
        self.unused_head = unused_head

    def call(self, x):
        h = self.body(x)
        reg = ops.mean(h, axis=-1, keepdims=True) if self.unused_head else self.reg(h)
        return {"reg": reg, "cls": self.cls(h)}


class SingleOut(keras.Model):
    def __init__(self):
        super().__init__()
        self.out = layers.Dense(3, activation="softmax")

    def call(self, x):
        return self.out(x)


def _dict_model(loss, unused_head=False):
    keras.utils.set_random_seed(0)
    model = DictOut(unused_head)
    model(np.zeros((2, 8), "float32"))
    if unused_head:
        model.reg.build((None, 16))
    model.compile("adam", loss=loss)
    return model


def _run(model, checks):
    return {r.check: r for r in mc.run_checks(model, checks)}


def test_a_subclassed_dict_output_is_trained_with_its_loss_dict():
    """modelcheck matched no loss to either output ("output_0"/"output_1" looked up in {"cls", "reg"}): on TF the
    training checks were internal errors (a float 0.0 handed to the gradient), on JAX they failed saying both outputs
    were "compiled with None"."""
    model = _dict_model({"cls": "sparse_categorical_crossentropy", "reg": "mse"})
    results = _run(model, TRAINING)
    assert all(r.passed for r in results.values()), {c: r.message for c, r in results.items() if not r.passed}
    assert results["loss_decrease"].details["loss_function"] == "cls: sparse_categorical_crossentropy, reg: mse"


def test_a_subclassed_dict_output_with_one_key_is_trained():
    keras.utils.set_random_seed(0)

    class Labelled(keras.Model):
        def __init__(self):
            super().__init__()
            self.out = layers.Dense(3, activation="softmax")

        def call(self, x):
            return {"label": self.out(layers.Flatten()(x))}

    model = Labelled()
    model(np.zeros((2, 8), "float32"))
    model.compile("adam", loss={"label": "sparse_categorical_crossentropy"})
    results = _run(model, ["gradient_flow", "loss_decrease"])
    assert all(r.passed for r in results.values()), {c: r.message for c, r in results.items()}
    assert results["gradient_flow"].details["loss_function"] == "label: sparse_categorical_crossentropy"


@pytest.mark.filterwarnings("ignore:`build\\(\\)` was called on layer:UserWarning")
def test_a_dict_head_that_is_never_called_fails_gradient_flow_naming_it():
    """The broken variant: the regression head's layer is built but call() returns a mean instead."""
    model = _dict_model({"cls": "sparse_categorical_crossentropy", "reg": "mse"}, unused_head=True)
    result = mc.check_gradient_flow(model)
    assert result.status == "failed", result.message
    assert result.message.startswith("gradient: expected a finite, non-zero gradient, received no gradient, at "
                                     "variables reg_dense/kernel, reg_dense/bias; it is not connected to the loss")
    assert "(loss cls: sparse_categorical_crossentropy, reg: mse)" in result.message


def test_an_output_left_out_of_the_loss_dict_is_not_said_to_be_compiled_with_none():
    model = _dict_model({"cls": "sparse_categorical_crossentropy"})
    result = mc.check_loss_decrease(model)
    assert result.passed, result.message
    assert result.details["loss_function"] == "cls: sparse_categorical_crossentropy, reg: no loss (not in the loss dict)"


def test_a_loss_dict_naming_no_output_is_the_users_error_and_no_loss_to_judge():
    """No output trained: an internal error (TF) or "compiled with None" failures (JAX) before, and
    loss_matches_output passed "the loss fits the output ()" having judged nothing."""
    model = _dict_model({"klass": "sparse_categorical_crossentropy", "rg": "mse"})
    results = _run(model, ["gradient_flow", "overfit_batch", "finite", "loss_matches_output"])
    expected = ("the loss dict's keys ('klass', 'rg') name none of the model's outputs: its outputs are 'cls', 'reg'; "
                "Keras' fit rejects these keys too, and no output would be trained")
    for name in ("gradient_flow", "overfit_batch", "finite"):
        result = results[name]
        assert result.status == "error" and not result.details.get("internal"), (name, result.message)
        assert result.message.startswith(expected), (name, result.message)
        assert "key the loss dict by the model's outputs" in result.hint
    matches = results["loss_matches_output"]
    assert matches.status == "skipped", matches.message
    assert matches.message == f"no output to judge the loss against: {expected}"


def test_a_loss_dict_on_a_model_returning_one_tensor_says_it_has_no_names():
    keras.utils.set_random_seed(0)
    model = SingleOut()
    model(np.zeros((2, 8), "float32"))
    model.compile("adam", loss={"label": "sparse_categorical_crossentropy"})
    result = mc.check_gradient_flow(model)
    assert result.status == "error" and not result.details.get("internal"), result.message
    assert result.message.startswith("the loss dict's keys ('label') name none of the model's outputs: it returns 1 "
                                     "output that a flat dict does not name")


def _ops_output(activation, units, loss):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    hidden = layers.Dense(16, activation="relu")(inputs)
    model = keras.Model(inputs, activation(layers.Dense(units)(hidden)))
    model.compile("adam", loss=loss)
    return model


@pytest.mark.parametrize("activation, units, loss, name", [
    (ops.softmax, 4, keras.losses.SparseCategoricalCrossentropy(from_logits=True), "sparse_categorical_crossentropy"),
    (ops.sigmoid, 1, keras.losses.BinaryCrossentropy(from_logits=True), "binary_crossentropy"),
    (keras.activations.softmax, 4, keras.losses.CategoricalCrossentropy(from_logits=True), "categorical_crossentropy"),
], ids=["ops.softmax", "ops.sigmoid", "activations.softmax"])
def test_a_keras_ops_activation_at_the_output_is_seen_by_from_logits(activation, units, loss, name):
    """Read as "no activation", the loss passed while Keras itself warned that the output is not logits."""
    model = _ops_output(activation, units, loss)
    layer = output_layers(model)[0]
    applied = "softmax" if units > 1 else "sigmoid"
    result = mc.check_loss_matches_output(model)
    assert result.status == "failed", result.message
    assert result.message.startswith(
        f"loss: expected {name} without from_logits=True, since the output applies {applied}, received {name} "
        f"compiled with from_logits=True, at output '{layer.name}'; the loss applies {applied} a second time")


@pytest.mark.parametrize("activation, units, loss, kind", [
    (ops.softmax, 4, "sparse_categorical_crossentropy", "probabilities"),
    (ops.sigmoid, 1, "binary_crossentropy", "binary"),
    (ops.log_softmax, 4, keras.losses.SparseCategoricalCrossentropy(from_logits=True), "logits"),
], ids=["ops.softmax", "ops.sigmoid", "ops.log_softmax"])
def test_a_sound_keras_ops_activation_at_the_output_passes_with_its_kind(activation, units, loss, kind):
    """ops.softmax + sparse CE was "on no activation" and its output a regression."""
    model = _ops_output(activation, units, loss)
    assert output_kinds(model) == [kind]
    results = _run(model, ["loss_matches_output", "config_lint", "gradient_flow", "loss_decrease"])
    assert all(r.passed for r in results.values()), {c: r.message for c, r in results.items() if not r.passed}
    applied = {"probabilities": "softmax", "binary": "sigmoid", "logits": "log_softmax"}[kind]
    assert results["loss_matches_output"].message.endswith(f" on {applied})")


def test_a_squeeze_at_the_output_is_read_through_to_the_sigmoid_it_reshapes():
    """A squeeze after Dense(1, sigmoid), a common binary head, hid the sigmoid: loss_matches_output could
    not judge it (a sound model lost its point in grading) and missed the from_logits bug (red team 19)."""
    keras.utils.set_random_seed(0)

    def squeezed(from_logits: bool) -> keras.Model:
        inputs = keras.Input((8,))
        probability = layers.Dense(1, activation="sigmoid")(layers.Dense(16, activation="relu")(inputs))
        model = keras.Model(inputs, ops.squeeze(probability, axis=-1))
        model.compile("adam", loss=keras.losses.BinaryCrossentropy(from_logits=from_logits))
        return model

    assert activation_of(output_layers(squeezed(False))[0]) == "sigmoid"
    result = mc.check_loss_matches_output(squeezed(False))
    assert result.passed, result.message
    result = mc.check_loss_matches_output(squeezed(True))
    assert result.status == "failed", result.message
    assert "expected binary_crossentropy without from_logits=True, since the output applies sigmoid" in result.message


def test_another_operation_at_the_output_is_not_read_as_no_activation():
    """An operation that changes values (here a scaling) hides the activation of what it reads."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    probability = layers.Dense(1, activation="sigmoid")(layers.Dense(16, activation="relu")(inputs))
    model = keras.Model(inputs, ops.multiply(probability, 0.5))
    model.compile("adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    assert activation_of(output_layers(model)[0]) is None
    result = mc.check_loss_matches_output(model)
    assert result.status == "skipped", result.message
    assert result.message.startswith("cannot judge the loss without the output's activation: the output is computed "
                                     "by the operation"), result.message


def _nll(y_true, y_pred):
    """A negative log-likelihood on log-probabilities, taking one integer label per sample."""
    labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
    return -ops.mean(ops.take_along_axis(y_pred, labels[:, None], axis=1))


def _log_softmax_model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"),
                              layers.Dense(4, activation="log_softmax", name="logp")])
    model.compile("adam", loss=_nll)
    return model


def test_a_log_softmax_output_is_given_class_labels_for_a_users_nll():
    """Classed as a regression, it was given real targets of its shape, which the NLL turned into 32 ids for 8 rows:
    the broadcasting ValueError was blamed on the user's loss."""
    model = _log_softmax_model()
    assert output_kinds(model) == ["logits"]
    results = _run(model, TRAINING)
    assert all(r.passed for r in results.values()), {c: r.message for c, r in results.items() if not r.passed}
    assert results["overfit_batch"].details["accuracy"] == 1.0


def test_the_target_probe_does_not_accept_targets_that_broadcast_against_one_row():
    """On a 1-row prediction, one-hot rows flattened into 4 ids index it without error; a real batch rejects them."""
    model = _log_softmax_model()
    (loss,) = objective_for(model, [np.zeros((1, 4), "float32")]).losses
    assert loss.targets == "sparse"
    (loss,) = objective_for(model, [np.zeros((8, 4), "float32")]).losses
    assert loss.targets == "sparse"


def _classifier(activation, loss):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), layers.Dense(8, activation="relu"),
                              layers.Dense(3, activation=activation, name="out")])
    model.compile("adam", loss=loss)
    return model


LOGITS_LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


@pytest.mark.parametrize("activation, loss, kind", [("softmax", "sparse_categorical_crossentropy", "probabilities"),
                                                    (None, LOGITS_LOSS, "logits")])
def test_a_classes_output_takes_probabilities_and_logits_alike(activation, loss, kind):
    """An assignment could say probabilities or logits, not "either": a student whose logits met a loss with
    from_logits=True lost the output_shape points under output = "probabilities"."""
    model = _classifier(activation, loss)
    assert output_kinds(model, "classes") == [kind]
    results = {r.check: r for r in mc.run_checks(model, ["output_shape", "loss_matches_output"],
                                                 output_shape=(3,), output="classes")}
    assert [r.status for r in results.values()] == ["passed", "passed"], [r.message for r in results.values()]
    if kind == "logits":
        assert mc.run_checks(model, ["output_shape"], output_shape=(3,), output="probabilities")[0].status == "failed"


def test_a_classes_output_still_needs_a_loss_that_reads_its_form():
    logits_without = _classifier(None, "sparse_categorical_crossentropy")
    result = mc.run_checks(logits_without, ["loss_matches_output"], output="classes")[0]
    assert result.status == "failed" and "from_logits=True" in result.message
    softmax_with = _classifier("softmax", LOGITS_LOSS)
    result = mc.run_checks(softmax_with, ["loss_matches_output"], output="classes")[0]
    assert result.status == "failed" and "the output applies softmax" in result.message


def test_a_subclassed_classes_output_is_read_from_what_its_loss_reads():
    from tests.models import Tiny

    model = Tiny()  # a Dense without activation, in call(): logits
    model(np.zeros((2, 6), "float32"))
    model.compile("adam", loss=LOGITS_LOSS)
    assert output_kinds(model, "classes") == ["logits"]
    assert output_kinds(SingleOut(), "classes") == ["probabilities"]  # not compiled: the softmax form


def _with_head(last: keras.layers.Layer, loss) -> keras.Model:
    keras.utils.set_random_seed(0)
    x = keras.Input((6,))
    head = keras.Sequential([layers.Dense(8, activation="relu"), last], name="head")
    model = keras.Model(x, head(layers.Dense(8, activation="relu")(x)))
    model.compile("adam", loss=loss)
    return model


def test_an_output_from_a_nested_head_is_read_from_the_heads_last_layer():
    """A sound model whose output comes from a Sequential "head" lost loss_matches_output's point as "not judged"
    (red team 16, F5): the head's last layer decides the activation, and it can be read."""
    sound = _with_head(layers.Dense(3, activation="softmax"), "sparse_categorical_crossentropy")
    assert output_kinds(sound) == ["probabilities"]
    result = mc.run_checks(sound, ["loss_matches_output"])[0]
    assert result.status == "passed", result.message
    wrong = mc.run_checks(_with_head(layers.Dense(3, activation="softmax"), LOGITS_LOSS), ["loss_matches_output"])[0]
    assert wrong.status == "failed" and "the output applies softmax" in wrong.message
    lambda_head = _with_head(layers.Lambda(lambda t: t * 2.0), "mse")
    unread = mc.run_checks(lambda_head, ["loss_matches_output"])[0]
    assert unread.status == "skipped" and "is a Lambda" in unread.message, unread.message


@pytest.mark.parametrize("declared", ["probabilities", "classes", "logits"])
def test_a_regression_loss_on_a_linear_output_declared_a_classifiers_fails(declared):
    """Red team 17: `keras.Model(i, i)` under mse on a classification assignment earned loss_matches_output:
    the loss and the layer agree with each other, not with what the output is for."""
    from modelcheck.checks.loss_config import check_loss_matches_output

    inputs = keras.Input((10,))
    model = keras.Model(inputs, keras.layers.Dense(10)(inputs))
    model.compile("adam", "mse")
    result = check_loss_matches_output(model, output=declared)
    assert not result.passed
    assert result.message.startswith("loss: expected a cross-entropy loss, since the output gives class"), result.message
    assert check_loss_matches_output(model).passed  # nothing declared: a linear output under mse is a regression
    assert check_loss_matches_output(model, output="regression").passed
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert check_loss_matches_output(model, output=declared if declared != "probabilities" else "logits").passed


def test_a_loss_with_no_rule_is_not_said_to_fit_the_output():
    """Trial 20: a focal loss of the user's own on an output with no sigmoid passed, "the loss fits the output",
    though nothing about it was judged."""
    from modelcheck.checks.loss_config import check_loss_matches_output

    def focal(y_true, y_pred):
        return keras.ops.mean((1 - y_pred) ** 2 * keras.ops.square(y_true - y_pred))

    inputs = keras.Input((4,))
    single = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    single.compile("adam", focal)
    result = check_loss_matches_output(single)
    assert result.status == "skipped"
    assert result.message.startswith("cannot judge whether focal fits the output"), result.message
    two = keras.Model(inputs, {"a": keras.layers.Dense(1, name="a")(inputs),
                               "b": keras.layers.Dense(3, activation="softmax", name="b")(inputs)})
    two.compile("adam", {"a": focal, "b": "sparse_categorical_crossentropy"})
    result = check_loss_matches_output(two)
    assert result.passed and result.message.endswith("; not judged: a (focal), a loss whose needs modelcheck does not "
                                                     "know"), result.message


def _own_loss_mlp(activation, loss):
    model = keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"), layers.Dense(5, activation=activation)])
    model.compile("adam", loss=loss)
    return model


def my_mse(y_true, y_pred):
    return ops.mean(ops.square(y_true - y_pred), axis=-1)


def my_sparse(y_true, y_pred):
    return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)


def hand_cross_entropy(y_true, y_pred):
    return -ops.sum(y_true * ops.log(y_pred), axis=-1)


@pytest.mark.parametrize(("activation", "loss", "said"), [
    ("softmax", my_mse, "output activation: expected a linear output for the regression loss my_mse (which computes "
                        "mean_squared_error), received softmax"),
    (None, my_sparse, "output activation: expected softmax for my_sparse (which computes "
                      "sparse_categorical_crossentropy), which expects probabilities, received 'linear'"),
    ("sigmoid", hand_cross_entropy, "output activation: expected softmax for hand_cross_entropy (which computes "
                                    "categorical_crossentropy), which expects probabilities that sum to 1, received "
                                    "sigmoid"),
])
def test_a_loss_of_the_users_own_that_computes_a_keras_loss_is_judged_as_that_loss(activation, loss, said):
    """A loss function wrapping or writing out a Keras loss was 'not judged': mean squared error on a softmax,
    a sparse cross-entropy on a linear output, went unnoticed when the student named the function."""
    from modelcheck.checks.loss_config import check_loss_matches_output

    result = check_loss_matches_output(_own_loss_mlp(activation, loss))
    assert result.status == "failed"
    assert result.message.startswith(said), result.message


@pytest.mark.parametrize(("activation", "loss", "computes"), [
    ("softmax", my_sparse, "sparse_categorical_crossentropy"), ("softmax", hand_cross_entropy, "categorical_crossentropy"),
    (None, my_mse, "mean_squared_error")])
def test_a_sound_loss_of_the_users_own_is_said_to_fit_with_what_it_computes(activation, loss, computes):
    from modelcheck.checks.loss_config import check_loss_matches_output

    result = check_loss_matches_output(_own_loss_mlp(activation, loss))
    assert result.passed, result.message
    assert f"{loss.__name__} (which computes {computes})" in result.message


def test_an_output_of_whole_numbers_under_a_loss_is_told_so_not_as_a_failed_conversion():
    """Red team 18: an Identity(dtype="int32") after the softmax gave gradient_flow and the training checks
    'raised TypeError: Cannot convert 0.9999999 to EagerTensor of dtype int32', and loss_matches_output passed."""
    from modelcheck.checks.gradients import check_gradient_flow
    from modelcheck.checks.loss_config import check_loss_matches_output

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"),
                              layers.Dense(3, activation="softmax"), layers.Identity(dtype="int32", name="ids")])
    model.compile("adam", "sparse_categorical_crossentropy")
    said = ("output 'ids' gives whole numbers (dtype int32): its loss sparse_categorical_crossentropy cannot be "
            "differentiated through them, so nothing trains; Keras' fit fails on it too")
    lint = check_loss_matches_output(model)
    assert lint.status == "failed" and lint.message == said, lint.message
    flow = check_gradient_flow(model)
    assert flow.status == "error" and flow.message.startswith(said), flow.message
    assert 'remove dtype="int32"' in flow.hint
    model.pop()
    model.compile("adam", "sparse_categorical_crossentropy")
    assert check_loss_matches_output(model).passed
    assert check_gradient_flow(model).passed


def test_an_instructors_class_ids_for_a_pointer_become_one_hot_along_its_steps():
    """Trial 22: labels for a pointer (a softmax over its 5 steps, CategoricalCrossentropy(axis=1)), one step id
    per sample and head, were refused as '8 class ids' that do not fit 20 rows of class scores; given one-hot
    along the steps, they were read along the last axis."""
    inputs = keras.Input((5, 3))
    model = keras.Model(inputs, layers.Softmax(axis=1)(layers.Dense(2)(inputs)))
    model.compile("adam", keras.losses.CategoricalCrossentropy(axis=1))
    x = np.random.default_rng(0).normal(size=(4, 5, 3)).astype("float32")
    prediction = ops.convert_to_numpy(model(x))
    objective = objective_for(model, [prediction])
    ids = np.array([[0, 4], [1, 1], [2, 3], [4, 0]])
    targets, = objective.from_labels([ids], [prediction])
    assert targets.shape == (4, 5, 2) and np.argmax(targets, axis=1).tolist() == ids.tolist()
    one_hot = np.moveaxis(np.eye(5, dtype="float32")[ids], -1, 1)
    again, = objective.from_labels([one_hot], [prediction])
    assert np.array_equal(again, one_hot)


def test_a_loss_of_the_users_own_is_called_once_per_form_of_data_not_per_candidate():
    """Finding which Keras loss a user's function computes called it for every candidate: a loss that prints,
    or is slow, ran up to 22 times. Four candidates take the same real values, so they share one call."""
    from modelcheck.checks.loss_identity import _CANDIDATES, keras_equivalent

    calls = []

    def cubed_error(y_true, y_pred):  # computes no Keras loss: every candidate is tried
        calls.append(1)
        return ops.mean(ops.abs(y_true - y_pred) ** 3, axis=-1)

    assert keras_equivalent(cubed_error, (None, 5)) is None
    forms = {(targets, predictions) for _, _, targets, predictions in _CANDIDATES}
    assert len(calls) == len(forms) < len(_CANDIDATES)
