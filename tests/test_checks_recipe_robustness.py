"""Seed robustness (`over_seeds`), and the recipe checks on reference models of the catalogue."""

from __future__ import annotations

import keras
import pytest
from keras import layers

from modelcheck.checks.finite import check_finite
from modelcheck.checks.independence import check_batch_independence, check_input_dependence
from modelcheck.checks.init_loss import check_loss_at_init
from modelcheck.checks.loss_config import check_loss_matches_output
from modelcheck.checks.saving import check_save_load
from modelcheck.checks.trainable import check_trainable_changes
from modelcheck.core.errors import SpecError
from modelcheck.core.result import CheckResult
from modelcheck.session.robustness import margin, over_seeds
from modelcheck.core.registry import CHECKS
from modelcheck.session.runner import ModelSession, run_spec
from modelcheck.core.spec import ModelSpec
import reference_models


def small() -> keras.Model:
    return keras.Sequential([keras.Input((6,)), layers.Dense(16, activation="relu"),
                             layers.Dense(3, activation="softmax")])


def all_frozen() -> keras.Model:
    model = small()
    model.trainable = False
    return model


def test_over_seeds_passes_a_healthy_model_and_reports_rate_and_margin():
    result = over_seeds("loss_decrease", small, seeds=3, steps=40, learning_rate=0.01)
    assert result.passed, result.message
    assert result.check == "loss_decrease"
    assert result.details["pass_rate"] == 1.0
    assert [row["seed"] for row in result.details["per_seed"]] == [0, 1, 2]
    assert result.details["worst_margin"] > 0
    assert "passed on 3 of 3 seeds (100%; needs 2)" in result.message
    assert "initial weights" in result.details["varies"]
    CheckResult.from_dict(result.to_dict())  # JSON-able for reports and xdist


def test_over_seeds_fails_a_frozen_model_on_every_seed_with_negative_margins():
    result = over_seeds("loss_decrease", all_frozen, seeds=[4, 5], min_passes=1, steps=10)
    assert result.status == "failed"
    assert result.details["passes"] == 0
    assert all(row["margin"] < 0 for row in result.details["per_seed"])
    assert "first failure (seed 4)" in result.message


def test_over_seeds_needs_min_passes_not_all():
    results = {True: CheckResult.ok("overfit_batch", "ok"), False: CheckResult.fail("overfit_batch", "no")}

    def flaky(model, *, seed=0):
        return results[seed % 3 != 0]

    flaky.__name__ = "check_overfit_batch"
    model = small()
    assert over_seeds(flaky, model, seeds=6, min_passes=4).passed  # seeds 0 and 3 fail
    strict = over_seeds(flaky, model, seeds=6, min_passes=5)
    assert strict.status == "failed" and strict.received == "4 of 6"
    assert "data and training only" in strict.details["varies"]


def test_over_seeds_with_a_spec_uses_its_options_and_ignores_its_own_seed_options():
    spec = ModelSpec(id="small", builder=small, options={"loss_decrease": {"steps": 1, "seeds": 99, "min_passes": 99}})
    one_step = over_seeds("loss_decrease", spec, seeds=2)
    assert one_step.status == "failed"  # one step cannot lower the loss by 10%: the spec's steps were used
    assert len(one_step.details["per_seed"]) == 2
    assert over_seeds("loss_decrease", spec, seeds=2, steps=40, learning_rate=0.01).passed


@pytest.mark.parametrize("kwargs, words", [
    ({"seeds": 0}, "at least one whole number"),
    ({"seeds": "five"}, "number of seeds or a list"),
    ({"seeds": 3, "min_passes": 4}, "min_passes must be a whole number from 1 to 3"),
    ({"seeds": 3, "seed": 1}, "not seed="),
])
def test_over_seeds_rejects_bad_arguments_by_name(kwargs, words):
    with pytest.raises(SpecError, match=words):
        over_seeds("loss_decrease", small, **kwargs)


def test_margin_of_each_training_check():
    decrease = CheckResult.ok("loss_decrease", "", details={"decrease": 0.35})
    assert margin("loss_decrease", decrease, {"min_decrease": 0.1}) == pytest.approx(0.25)
    stopped = CheckResult.ok("loss_decrease", "", details={"decrease": 0.12, "steps": 10, "stopped": "converged"})
    assert margin("loss_decrease", stopped, {"min_decrease": 0.1, "steps": 50}) == pytest.approx(0.8)
    short = CheckResult.fail("loss_decrease", "", details={"decrease": 0.04, "steps": 50, "stopped": "budget"})
    assert margin("loss_decrease", short, {"min_decrease": 0.1, "steps": 50}) == pytest.approx(-0.06)
    overfit = CheckResult.ok("overfit_batch", "", details={"steps": 150})
    assert margin("overfit_batch", overfit, {"max_steps": 500}) == pytest.approx(0.7)
    missed = CheckResult.fail("overfit_batch", "", details={"accuracy": 0.75, "loss_threshold": None})
    assert margin("overfit_batch", missed, {"max_steps": 500}) == pytest.approx(-0.25)
    line = CheckResult.ok("learns_linear", "", details={"mse": 2e-4, "prediction": 9.01, "single_dense": True,
                                                        "w": 2.0, "b": -0.99})
    options = {"max_mse": 1e-3, "slope": 2.0, "intercept": -1.0, "predict_at": 5.0, "prediction_tolerance": 0.05,
               "weight_tolerance": 0.05}
    assert margin("learns_linear", line, options) == pytest.approx(0.8)
    assert margin("gradient_flow", line, options) is None
    diverged = CheckResult.fail("loss_decrease", "", details={"decrease": float("nan")})
    assert margin("loss_decrease", diverged, {"min_decrease": 0.1}) == float("-inf")


# the recipe checks on reference models of the catalogue

RECIPE = [check_batch_independence, check_input_dependence, check_loss_at_init, check_trainable_changes,
          check_finite, check_save_load, check_loss_matches_output]


@pytest.mark.parametrize("model_id", ["fashion_mlp", "wide_deep_two_inputs", "methods_embedding",
                                      "wide_deep_subclassed", "quickstart_cnn"])
def test_recipe_checks_pass_on_reference_models(model_id):
    entry = reference_models.get(model_id)
    with ModelSession(entry.spec) as session:
        model = session.model()
        for check in RECIPE:
            options = {"output": entry.spec.output} if check in (check_loss_at_init, check_trainable_changes,
                                                                 check_finite) else {}
            result = check(model, **options)
            assert result.status in ("passed", "skipped"), f"{check.__name__}: {result.message}"
            if result.status == "skipped":
                assert check is check_loss_matches_output
                assert "not compiled" in result.message or "the model is subclassed" in result.message


def test_recipe_checks_are_registered_and_run_through_run_spec():
    # the registry itself names them: each recipe function is the target of one registered check
    names = [info.name for info in CHECKS.values() if info.function() in RECIPE]
    assert len(names) == len(RECIPE), names

    def compiled() -> keras.Model:
        model = small()
        model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
        return model

    spec = ModelSpec(id="small", builder=compiled, options={"trainable_changes": {"steps": 2}})
    results = run_spec(spec, checks=names)
    assert [r.check for r in results] == names
    assert all(r.passed for r in results), [r.message for r in results if not r.passed]
    assert {r.model for r in results} == {"small"}
