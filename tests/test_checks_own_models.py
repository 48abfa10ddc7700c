"""Models written the keras.io way, with pieces of their own: a train_step that reports a GAN's
two losses, a layer its call() never uses, a frozen teacher or target network kept beside the
model, a frozen backbone inside a subclassed call(), a TensorFlow-backed preprocessing layer on
JAX. Each is judged for what it is: skipped with the reason, counted, accepted as frozen on
purpose, or the user's error in plain words; never modelcheck's internal error."""

import keras
import numpy as np
import pytest
from keras import layers, ops

import modelcheck as mc
from tests.backends import BACKEND


# ---------------------------------------------------------------- a train_step without 'loss'

class TwoLosses(keras.Model):
    """A GAN's logs (keras.io's DCGAN): its own train_step reports d_loss and g_loss, no 'loss'."""

    def __init__(self):
        super().__init__()
        self.body = layers.Dense(1)

    def call(self, x):
        return self.body(x)

    if BACKEND == "jax":
        def train_step(self, state, data):
            logs, state = super().train_step(state, data)
            return {"d_loss": logs["loss"], "g_loss": logs["loss"]}, state
    else:
        def train_step(self, data):
            logs = super().train_step(data)
            return {"d_loss": logs["loss"], "g_loss": logs["loss"]}


def test_a_train_step_reporting_no_loss_is_skipped_not_an_internal_error():
    keras.utils.set_random_seed(0)
    model = TwoLosses()
    model(np.zeros((2, 4), "float32"))
    model.compile(optimizer="adam", loss="mse")
    result = mc.check_loss_decrease(model, steps=5)
    assert result.status == "skipped", result.message
    assert result.message == ("the model's own train_step returns no 'loss' (it returns ['d_loss', 'g_loss']), "
                              "so there is no objective to judge")



class OtherBackendsStep(keras.Model):
    """A train_step written for the other calling convention: JAX's stateless one on TensorFlow
    and PyTorch, TensorFlow's on JAX (a model copied from the keras.io guide of another backend)."""

    if BACKEND == "jax":
        def train_step(self, data):
            return super().train_step(data)
    else:
        def train_step(self, state, data):
            return super().train_step(state, data)


def test_a_train_step_for_another_backend_is_the_users_error_saying_the_form_keras_calls():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = OtherBackendsStep(inputs, layers.Dense(3, activation="softmax")(inputs))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    result = mc.check_loss_decrease(model, steps=5)
    assert result.status == "error" and not result.details.get("internal"), result.describe()
    expected = "(state, data)" if BACKEND == "jax" else "(data)"
    assert result.message.startswith("the model's own train_step does not take the arguments Keras passes it on the ")
    assert f"backend {expected}: model.fit fails on it in the same way" in result.message
    assert "def train_step(self" in result.message  # the user's line
    assert ("stateless" if BACKEND == "jax" else "JAX's form") in result.hint


# ---------------------------------------------------------------- a layer its call() never uses

class OptionalLayer(keras.Model):
    """A subclassed model holding a layer its call() uses only when asked: left unbuilt."""

    def __init__(self, use_extra=False):
        super().__init__()
        self.hidden = layers.Dense(16, activation="relu", name="hidden")
        self.extra = layers.Dense(16, name="extra")
        self.out = layers.Dense(3, activation="softmax", name="out")
        self.use_extra = use_extra

    def call(self, x):
        h = self.hidden(x)
        if self.use_extra:
            h = self.extra(h)
        return self.out(h)


def _optional():
    keras.utils.set_random_seed(0)
    model = OptionalLayer()
    model(np.zeros((2, 8), "float32"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


UNBUILT = ("layer 'extra' (Dense) is unbuilt: the model's call() never ran it, so it holds no weights yet and "
           "counts 0 (model.summary() shows '0 (unbuilt)')")


def test_param_count_counts_an_unbuilt_layer_as_zero_and_says_so():
    model = _optional()
    result = mc.check_param_count(model)
    assert result.passed, result.message
    assert result.message == ("195 parameters in total, 195 trainable parameters, 0 non-trainable parameters; "
                              + UNBUILT)
    assert result.details["layers"] == {"hidden": 144, "extra": 0, "out": 51}
    assert result.details["unbuilt_layers"] == ["extra"]
    wrong = mc.check_param_count(model, total=200)
    assert wrong.status == "failed" and wrong.message.endswith(UNBUILT), wrong.message
    per_layer = mc.check_param_count(model, per_layer={"extra": 272})
    assert per_layer.status == "failed"
    assert per_layer.message == ("parameters: expected 272, received 0, at layer 'extra' (Dense); its arithmetic: "
                                 "extra (Dense): 0 (unbuilt: never called, so it holds no weights yet)")


class BuiltNotCalled(keras.Model):
    """A subclassed model returned after model.build((None, 20)): Keras marks it built without
    weights (no build method of its own), and its summary shows 0 parameters until fit() calls it."""

    def __init__(self):
        super().__init__()
        self.d1 = layers.Dense(32, activation="relu")
        self.d2 = layers.Dense(10, activation="softmax")

    def call(self, x):
        return self.d2(self.d1(x))


def _built_not_called():
    model = BuiltNotCalled()
    model.build((None, 20))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.filterwarnings("ignore:`build\\(\\)` was called on layer:UserWarning")
def test_a_model_marked_built_by_build_gets_its_weights_before_it_is_counted():
    """An instructor's reference written so counted 0 parameters: the assignment then expected
    total_params = 0 and every correct student lost the points."""
    from modelcheck.grading.instructor import figures_from_reference
    from modelcheck.model.build import build_model
    from modelcheck.core.spec import ModelSpec

    model = build_model(_built_not_called)
    assert model.count_params() == (20 + 1) * 32 + (32 + 1) * 10
    figures = figures_from_reference(ModelSpec(id="sub", builder=_built_not_called), model)
    assert figures["total_params"] == figures["trainable_params"] == 1002 and figures["output_shape"] == (10,)
    result = mc.check_param_count(build_model(_built_not_called), total=1002)
    assert result.passed, result.message


# ---------------------------------------------------------------- frozen on purpose, or by mistake

class Distiller(keras.Model):
    """keras.io's knowledge distillation (Keras 3: compute_loss): the teacher is frozen and used
    only in the loss, never in call()."""

    def __init__(self, student, teacher):
        super().__init__()
        self.teacher, self.student = teacher, student

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        soft = ops.softmax(self.teacher(x, training=False) / 3.0, axis=1)
        return ops.mean(keras.losses.kl_divergence(soft, ops.softmax(y_pred / 3.0, axis=1)))

    def call(self, x):
        return self.student(x)


class LabelledDistiller(Distiller):
    """keras.io's Distiller as written there: the student's own loss on class ids plus the teacher's."""

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        student = keras.losses.sparse_categorical_crossentropy(y, y_pred, from_logits=True)
        return 0.1 * ops.mean(student) + 0.9 * super().compute_loss(x, y, y_pred)


class NoTargetFits(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(3)

    def call(self, x):
        return self.dense(x)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        raise ValueError("my compute_loss is broken")


def test_a_compute_loss_taking_class_ids_gets_them_and_one_that_takes_nothing_is_the_users_error():
    """The targets are shaped like the outputs (real values); a compute_loss of its own that wants
    class ids raised on them, and loss_decrease blamed the user for a sound distiller."""
    keras.utils.set_random_seed(0)
    teacher = _mlp("teacher", 8, 16, 3)
    teacher.trainable = False
    model = LabelledDistiller(_mlp("student", 8, 8, 3), teacher)
    model.compile(optimizer="adam")
    model(np.zeros((2, 8), "float32"))
    result = mc.check_loss_decrease(model)
    assert result.passed, result.message
    broken = NoTargetFits()
    broken.compile(optimizer="adam")
    broken(np.zeros((2, 8), "float32"))
    result = mc.check_loss_decrease(broken)
    assert result.status == "error" and "my compute_loss is broken" in result.message


class TargetNetwork(keras.Model):
    """A DQN with its target network kept as a frozen attribute, used in compute_loss."""

    def __init__(self):
        super().__init__()
        self.q = keras.Sequential([keras.Input((6,)), layers.Dense(16, activation="relu"), layers.Dense(4)], name="q")
        self.target = keras.Sequential([keras.Input((6,)), layers.Dense(16, activation="relu"), layers.Dense(4)],
                                       name="target")
        self.target.set_weights(self.q.get_weights())
        self.target.trainable = False

    def call(self, x):
        return self.q(x)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        best = ops.stop_gradient(ops.max(self.target(x), axis=-1, keepdims=True))
        return ops.mean(ops.square(y_pred - (ops.cast(y, y_pred.dtype) + 0.9 * best)))


def _mlp(name, inputs, units, outputs):
    return keras.Sequential([keras.Input((inputs,)), layers.Dense(units, activation="relu"), layers.Dense(outputs)],
                            name=name)


def _distiller():
    keras.utils.set_random_seed(0)
    teacher = _mlp("teacher", 8, 16, 3)
    teacher.trainable = False
    model = Distiller(_mlp("student", 8, 8, 3), teacher)
    model.compile(optimizer="adam")
    model(np.zeros((2, 8), "float32"))
    return model


ASIDE = ("not checked: the model's call() never uses it: a network kept beside the model (a teacher, a target "
         "network) and frozen on purpose, whose weights cannot reach the outputs")


def test_a_frozen_teacher_used_only_in_the_loss_is_frozen_on_purpose():
    result = mc.check_gradient_flow(_distiller())
    assert result.passed, result.message
    assert f"; frozen network 'teacher' {ASIDE}" in result.message
    assert result.details["frozen_aside"] == ["teacher"]


def test_a_frozen_target_network_kept_as_an_attribute_lets_the_training_checks_run():
    keras.utils.set_random_seed(0)
    model = TargetNetwork()
    model(np.zeros((2, 6), "float32"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    gradient_flow, loss_decrease = mc.run_checks(model, ["gradient_flow", "loss_decrease"])
    assert gradient_flow.passed, gradient_flow.message
    assert f"; frozen network 'target' {ASIDE}" in gradient_flow.message
    assert loss_decrease.passed, loss_decrease.message


class Transfer(keras.Model):
    """keras.io's transfer learning written as a class: a frozen base called with training=False
    ahead of a head that trains (or, with `base_last`, after a layer that trains)."""

    def __init__(self, *, training_false=True, base_last=False):
        super().__init__()
        self.base = keras.Sequential([keras.Input((8,)), layers.Dense(8, activation="relu", name="base_a"),
                                      layers.Dense(8, activation="relu", name="base_b")], name="base")
        self.base.trainable = False
        self.head = layers.Dense(3 if not base_last else 8, activation=None if base_last else "softmax", name="head")
        self.training_false, self.base_last = training_false, base_last

    def call(self, x):
        if self.base_last:
            return ops.softmax(self.base(self.head(x), training=False)[:, :3])
        features = self.base(x, training=False) if self.training_false else self.base(x)
        return self.head(features)


def _transfer(**options):
    keras.utils.set_random_seed(0)
    model = Transfer(**options)
    model(np.zeros((2, 8), "float32"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_a_frozen_backbone_in_a_subclassed_call_is_transfer_learning():
    result = mc.check_gradient_flow(_transfer())
    assert result.passed, result.message
    assert ("backbone 'base' not checked: frozen on purpose, as transfer learning does (ahead of every layer that "
            "trains, or called with training=False)") in result.message
    assert result.details["frozen_backbones"] == ["base"]


FROZEN_BASE = "received frozen (trainable=False), at layer 'base' (144 weights)"


@pytest.mark.parametrize("options", [{"training_false": False}, {"base_last": True}],
                         ids=["called_as_in_training", "behind_a_layer_that_trains"])
def test_a_subclassed_model_still_fails_a_frozen_network_in_its_path_that_is_no_backbone(options):
    result = mc.check_gradient_flow(_transfer(**options))
    assert result.status == "failed", result.message
    assert FROZEN_BASE in result.message


def test_a_subclassed_model_frozen_as_a_whole_still_fails():
    model = _transfer()
    model.trainable = False
    result = mc.check_gradient_flow(model)
    assert result.status == "failed", result.message
    assert "received frozen (trainable=False), at layer 'base' (144 weights), layer 'head' (27 weights)" in result.message


def test_a_single_frozen_layer_in_a_subclassed_call_still_fails():
    model = _optional()
    model.hidden.trainable = False
    result = mc.check_gradient_flow(model)
    assert result.status == "failed", result.message
    assert "received frozen (trainable=False), at layer 'hidden' (144 weights)" in result.message


# ---------------------------------------------------------------- a TensorFlow-backed layer on JAX

@pytest.mark.skipif(BACKEND != "jax", reason="HashedCrossing runs TensorFlow, which a compiled JAX step cannot "
                    "trace; TensorFlow and PyTorch (eager steps) train the model")
def test_a_tensorflow_backed_preprocessing_layer_on_jax_is_the_models_limit_not_an_internal_error():
    keras.utils.set_random_seed(0)
    a, b = keras.Input((1,), dtype="int32", name="a"), keras.Input((1,), dtype="int32", name="b")
    crossed = layers.HashedCrossing(num_bins=16, output_mode="one_hot", name="crossing")((a, b))
    model = keras.Model([a, b], layers.Dense(1, activation="sigmoid")(layers.Dense(8, activation="relu")(crossed)))
    model.compile(optimizer="adam", loss="binary_crossentropy")
    for check in (mc.check_loss_decrease, mc.check_overfit_batch):
        result = check(model)
        assert result.status == "error", result.message
        assert not result.details.get("internal"), result.details.get("traceback")
        assert result.message == (
            "layer 'crossing' (HashedCrossing) cannot run inside a compiled JAX training step: it is a "
            "TensorFlow-backed preprocessing layer, which cannot take JAX's traced arrays, so the model cannot "
            "train on JAX (Keras' own fit() fails the same way)")
        assert result.hint.startswith("apply HashedCrossing to the data before the model (in the tf.data input "
                                      "pipeline")
