import keras
import numpy as np
import pytest
from keras import layers

import modelcheck as mc
from modelcheck.core.errors import SpecError
from modelcheck.model.build import count_params_unallocated
from tests import models


def test_passes_with_document_figures():
    result = mc.check_param_count(models.fashion_mlp(), total=266_610, trainable=266_610, non_trainable=0,
                                  per_layer=[0, 235_500, 30_100, 1_010])
    assert result.passed, result.message
    assert result.details["total"] == 266_610


def test_wrong_units_names_the_first_layer_and_its_arithmetic():
    model = models.fashion_mlp(units=200)
    result = mc.check_param_count(model, per_layer=[0, 235_500, 30_100, 1_010])
    assert not result.passed
    first_dense = model.layers[1].name
    assert result.message.startswith(f"parameters: expected 235,500, received 157,000, at layer {first_dense!r} (Dense)")
    assert "(784 + 1) x 200 = 157,000" in result.message


def test_wrong_total_shows_the_breakdown():
    result = mc.check_param_count(models.fashion_mlp(units=200), total=266_610)
    assert not result.passed
    assert result.message.startswith("total parameters: expected 266,610, received 178,110 (-88,500), at the whole model")
    assert "(784 + 1) x 200 = 157,000" in result.message


def test_frozen_layer_changes_trainable_count_and_is_named():
    model = models.frozen_hidden()
    result = mc.check_param_count(model, trainable=model.count_params())
    assert not result.passed
    assert "trainable parameters" in result.message and model.layers[0].name in result.message


def test_batchnorm_non_trainable_counts():
    model = keras.Sequential([keras.Input((8,)), layers.Dense(4), layers.BatchNormalization()])
    assert mc.check_param_count(model, total=52, trainable=44, non_trainable=8).passed


def test_per_layer_by_name_unknown_layer():
    result = mc.check_param_count(models.fashion_mlp(), per_layer={"nope": 1})
    assert not result.passed and "received 'nope'" in result.message


def test_budget_is_judged_without_allocating():
    def huge():
        return keras.Sequential([keras.Input((50,), dtype="int32"), layers.Embedding(2_000_000, 256)])

    counted = count_params_unallocated(huge)
    assert counted["total"] == 512_000_000
    spec = mc.ModelSpec(id="huge", builder=huge, max_params=1_000_000)
    (result,) = mc.run_spec(spec, checks=["param_count"])
    assert result.status == "failed"
    # worded by modelcheck/session/runner.py (_OverBudget), not by the check
    assert result.message.startswith("parameters: expected at most 1,000,000, received 512,000,000, at the whole model; "
                                     "counted before allocating any weight, so the model was not built")


def test_shared_weights_counted_once():
    shared = layers.Dense(4)
    a, b = keras.Input((4,)), keras.Input((4,))
    model = keras.Model([a, b], layers.add([shared(a), shared(b)]))
    assert mc.check_param_count(model, total=20).passed


def test_direct_call_with_a_builder_judges_the_budget_before_building():
    built = []

    def huge():
        built.append(1)
        return keras.Sequential([keras.Input((50,), dtype="int32"), layers.Embedding(2_000_000, 256)])

    result = mc.check_param_count(huge, max_params=1_000_000)
    assert not result.passed
    assert "parameters: expected at most 1,000,000, received 512,000,000" in result.message and "not built" in result.message
    ok = mc.check_param_count(lambda: keras.Sequential([keras.Input((4,)), layers.Dense(2)]), max_params=100, total=10)
    assert ok.passed, ok.message


class _PenaltyWithoutConfig(keras.regularizers.Regularizer):
    """A user's regularizer without get_config, as keras.io's PointNet writes its orthogonal one."""

    def __call__(self, x):
        return 1e-3 * keras.ops.sum(keras.ops.square(x))


def test_a_layer_whose_config_cannot_be_read_is_counted_from_its_weights():
    # get_config raised NotImplementedError out of the regularizer, reported as modelcheck's internal error
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activity_regularizer=_PenaltyWithoutConfig()),
                              keras.layers.Dense(2)])
    assert mc.check_param_count(model, total=23).passed
    result = mc.check_param_count(model, total=24)
    assert result.status == "failed" and "dense" in result.message, result.message


@pytest.mark.parametrize("kwargs", [{"total": "266610"}, {"trainable": 1.5}, {"per_layer": [0, "235500"]},
                                    {"max_params": -1}])
def test_an_expected_count_that_is_not_a_number_is_the_callers_mistake(kwargs):
    """Not an 'internal error in modelcheck' (a str minus an int inside the check): a SpecError
    naming the argument, as the spec files give for the same mistake."""
    with pytest.raises(SpecError, match=f"check_param_count: `{next(iter(kwargs))}` must be"):
        mc.check_param_count(models.fashion_mlp(), **kwargs)


def test_numpy_integers_are_counts():
    assert mc.check_param_count(models.fashion_mlp(), total=np.int64(266_610)).passed
