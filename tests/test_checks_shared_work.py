"""What the checks of one model compute alike is computed once per session (issue 19): the
inference-mode outputs on a batch, the teacher's targets and the gradients; never reused across
a change of weights, and never outside a session."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

import modelcheck as mc
from modelcheck.checks.common import forward
from modelcheck.core.spec import ModelSpec
from modelcheck.model import backend, loops
from modelcheck.model.engine import preserved_weights
from modelcheck.session.runner import ModelSession
from tests import models


def _counting_gradients(monkeypatch) -> list[int]:
    adapter = backend.current()
    calls: list[int] = []
    original = adapter.gradients

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(adapter, "gradients", counted)
    return calls


def test_gradient_flow_and_finite_take_the_gradients_once_per_session(monkeypatch):
    calls = _counting_gradients(monkeypatch)
    with ModelSession(ModelSpec(id="m", builder=models.small_classifier), seed=0) as session:
        results = [session.run(name) for name in ("gradient_flow", "overfit_batch", "finite")]
    assert [r.status for r in results] == ["passed"] * 3, [r.message for r in results]
    assert len(calls) == 1


def test_outside_a_session_each_check_computes_its_own(monkeypatch):
    calls = _counting_gradients(monkeypatch)
    model = models.small_classifier()
    assert mc.check_gradient_flow(model).passed and mc.check_finite(model).passed
    assert len(calls) == 2


def test_outputs_are_never_reused_across_a_change_of_weights():
    model = models.small_classifier()
    x = np.random.default_rng(0).normal(size=(4, *model.input_shape[1:])).astype("float32")
    with loops.using(loops.TrainingContext()):
        before = forward(model, x)
        before[0][:] = 7.0  # a caller's change does not reach what is kept
        with preserved_weights(model):
            model.layers[-1].kernel.assign(np.zeros(model.layers[-1].kernel.shape, "float32"))
            changed = forward(model, x)
        after = forward(model, x)
    assert not np.allclose(changed[0], after[0])
    np.testing.assert_array_equal(after[0], keras.ops.convert_to_numpy(model(x, training=False)))


def test_taking_gradients_leaves_batchnorm_statistics_as_they_were():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), layers.Dense(8), layers.BatchNormalization(),
                              layers.Dense(3, activation="softmax")])
    statistics = [keras.ops.convert_to_numpy(v) for v in model.non_trainable_variables]
    assert mc.check_gradient_flow(model).passed
    for before, variable in zip(statistics, model.non_trainable_variables):
        np.testing.assert_array_equal(before, keras.ops.convert_to_numpy(variable))


def test_a_reinitialised_session_forgets_what_it_computed():
    with ModelSession(ModelSpec(id="m", builder=models.small_classifier), seed=0) as session:
        session.run("finite")
        assert session._training.memo
        assert session.reinitialise(1)
        assert not session._training.memo
