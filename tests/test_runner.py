import keras
from keras import layers

import modelcheck as mc
from modelcheck.session.runner import ModelSession


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
    assert "total parameters: expected 3, received 2" in results[1].message


def build_mlp(n_hidden=1, n_neurons=30):
    model = keras.Sequential([keras.Input((8,))])
    for _ in range(n_hidden):
        model.add(layers.Dense(n_neurons, activation="relu"))
    model.add(layers.Dense(1))
    return model


def build_mlp_with_bug(n_hidden=1, n_neurons=30):
    model = build_mlp(n_hidden, n_neurons)
    if n_neurons > 40:  # a bug only some arguments reach
        model.layers[0].trainable = False
    return model


def test_checks_run_over_generated_builder_arguments():
    spec = mc.spec_from_mapping(
        {"builder": "x:y", "output_shape": [1], "hypothesis": {"n_hidden": [0, 3], "n_neurons": [1, 99],
                                                               "max_examples": 6}},
        where="test").replace(builder=build_mlp)
    (result,) = mc.run_spec(spec, checks=["output_shape"])
    assert result.passed, result.message
    assert result.details["examples_tried"] >= 6
    assert "generated argument sets of build_mlp (n_hidden in [0, 3], n_neurons in [1, 99])" in result.message


def test_failing_example_is_shrunk_and_shown_as_keyword_arguments():
    spec = mc.spec_from_mapping(
        {"builder": "x:y", "hypothesis": {"n_hidden": [1, 3], "n_neurons": [1, 99], "max_examples": 15}},
        where="test").replace(builder=build_mlp_with_bug)
    (result,) = mc.run_spec(spec, checks=["gradient_flow"])
    assert result.status == "failed"
    assert result.details["failing_kwargs"] == {"n_hidden": 1, "n_neurons": 41}
    assert result.message.startswith("build_mlp_with_bug(n_hidden=1, n_neurons=41) fails gradient_flow:")
    assert "frozen" in result.message


def test_a_space_without_arguments_is_a_spec_error():
    import pytest

    spec = mc.ModelSpec(id="m", builder=build_mlp, extra={"hypothesis": {"max_examples": 3}})
    with pytest.raises(mc.SpecError, match="names no builder argument"):
        mc.run_spec(spec, checks=["output_shape"])
