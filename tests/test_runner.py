import keras
from keras import layers

import modelcheck as mc
from modelcheck.runner import ModelSession


def toy():
    toy.calls += 1
    return keras.Sequential([keras.Input((1,)), layers.Dense(1)])


toy.calls = 0


def test_model_is_built_once_per_session_and_results_carry_the_id():
    toy.calls = 0
    spec = mc.ModelSpec(id="toy", builder=toy, output_shape=(1,), total_params=2,
                        checks=("output_shape", "param_count", "gradient_flow"))
    results = mc.run_spec(spec)
    assert toy.calls == 1
    assert [r.check for r in results] == ["output_shape", "param_count", "gradient_flow"]
    assert all(r.passed and r.model == "toy" for r in results), [r.message for r in results]


def test_builder_error_is_an_error_result_for_every_check():
    def broken():
        raise ValueError("no model today")

    results = mc.run_spec(mc.ModelSpec(id="broken", builder=broken, checks=("output_shape", "param_count")))
    assert [r.status for r in results] == ["error", "error"]
    assert "ValueError: no model today" in results[1].message


def test_seed_robustness_through_spec_options():
    spec = mc.ModelSpec(id="toy", builder=toy, checks=("learns_linear",),
                        options={"learns_linear": {"seeds": 3, "min_passes": 3}})
    (result,) = mc.run_spec(spec)
    assert result.passed, result.message
    assert result.details["pass_rate"] == 1.0 and len(result.details["per_seed"]) == 3


def test_unknown_option_is_a_spec_error_naming_the_check():
    import pytest

    session = ModelSession(mc.ModelSpec(id="toy", builder=toy, options={"param_count": {"totl": 2}}))
    with pytest.raises(mc.SpecError, match="check 'param_count'.*totl"):
        session.run("param_count")


def test_run_checks_on_a_built_model():
    results = mc.run_checks(toy(), ["output_shape", "param_count"], output_shape=(1,), total_params=3)
    assert results[0].passed and not results[1].passed
    assert "Expected 3 parameters in total but received 2" in results[1].message
