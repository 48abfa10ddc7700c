"""Trial 26: a new user following README.md from top to bottom (TensorFlow only)."""

from __future__ import annotations

import keras
import pytest
from keras import layers, ops

import modelcheck as mc
from modelcheck.model import backend

OTHERS = [name for name in backend.installed() if name != backend.name()]


@keras.saving.register_keras_serializable(package="modelcheck_trial26")
class ScriptSquare(layers.Layer):
    """A portable layer (keras.ops only), as a user defines it in the script that calls the check."""

    def call(self, x):
        return ops.square(x)


@pytest.mark.skipif(not OTHERS, reason="only one Keras backend is installed")
def test_backend_parity_does_not_blame_a_portable_layer_defined_in_the_running_script(monkeypatch):
    # `python my_script.py` or a notebook: the class lives in __main__, which the other backends'
    # processes cannot import; their load failed and the portable layer was told to use keras.ops
    monkeypatch.setattr(ScriptSquare, "__module__", "__main__")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, layers.Dense(2)(ScriptSquare(name="script_square")(inputs)))
    result = mc.check_backend_parity(model)
    assert result.status == "skipped", result.message
    assert "ScriptSquare is defined in __main__" in result.message
    assert "define it at the top level of a module" in result.message
    assert "keras.ops" not in result.message


def _compiled_mlp(units: int = 16, optimizer: object = "adam") -> keras.Model:
    model = keras.Sequential([keras.Input((8,)), layers.Dense(units, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def _spec_with_budget(builder, max_params: int):
    return mc.ModelSpec(id="budgeted", builder=builder, max_params=max_params, checks=["param_count", "output_shape"])


def test_a_budget_in_a_spec_does_not_break_a_builder_that_compiles():
    # the README's `max_params` (a budget judged before any weight is allocated) on a builder that calls
    # model.compile(optimizer="adam", ...): every check was an error, 'the builder raised ValueError: You are
    # attempting to create a variable while in a stateless scope', at the user's compile line
    within = mc.run_spec(_spec_with_budget(_compiled_mlp, 1_000))
    assert [r.status for r in within] == ["passed", "passed"], [r.message for r in within]
    over = mc.run_spec(_spec_with_budget(lambda: _compiled_mlp(units=4_000), 1_000))
    assert over[0].status == "failed" and "counted before allocating any weight" in over[0].message, over[0].message
    assert mc.count_params_unallocated(_compiled_mlp)["total"] == 8 * 16 + 16 + 16 * 3 + 3


def test_a_budget_in_a_spec_judges_a_builder_that_makes_its_optimizer_on_the_model_built():
    # Adam(1e-3) made in the builder holds variables of values, which no stateless scope allows: the
    # budget is then judged on the model built in full, as check_param_count(builder, max_params=...) does
    def builder():
        return _compiled_mlp(optimizer=keras.optimizers.Adam(1e-3))

    within = mc.run_spec(_spec_with_budget(builder, 1_000))
    assert [r.status for r in within] == ["passed", "passed"], [r.message for r in within]
    over = mc.run_spec(_spec_with_budget(builder, 100))
    assert over[0].status == "failed" and "at most 100" in over[0].message, over[0].message


def test_run_checks_given_a_shape_as_keras_prints_it_says_to_write_it_per_sample():
    # check_output_shape and @modelcheck.expect take (None, 10); run_checks takes a spec's keys, per sample,
    # and read (None, 10) as (None, None, 10): the failure gave no clue why a sound model failed
    model = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(10, activation="softmax")])
    [result] = mc.run_checks(model, checks=["output_shape"], output_shape=(None, 10))
    assert result.status == "failed"
    assert "batch dimension twice" in result.message and "write (10,), not (None, 10)" in result.message, result.message
    [result] = mc.run_checks(model, checks=["output_shape"], output_shape=(10,))
    assert result.status == "passed", result.message
    # a true mismatch of ranks is not explained so
    [result] = mc.run_checks(model, checks=["output_shape"], output_shape=(10, 1))
    assert result.status == "failed" and "twice" not in result.message, result.message


LINE_MODELS = '''
import keras

def build_toy():
    return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])

def build_classifier():
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
'''

LINE_SPEC = '''
[[model]]
builder = "models:build_toy"

[[model]]
builder = "models:build_classifier"

[[model]]
builder = "models:build_classifier"
id = "asked_of_it"
checks = ["learns_linear"]
'''


def test_learns_linear_added_by_the_checks_option_skips_the_models_it_does_not_apply_to(pytester):
    # `--modelcheck-checks=learns_linear`, an on-request check the option adds to every model whose spec does
    # not list its checks, failed every model but the toy ("input: expected one input of one number per sample")
    pytester.makepyfile(models=LINE_MODELS)
    pytester.makefile(".toml", modelcheck=LINE_SPEC)
    result = pytester.runpytest_inprocess("--modelcheck", "--modelcheck-checks=learns_linear", "-rsf",
                                          "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1, failed=1)
    result.stdout.fnmatch_lines(["*build_classifier::learns_linear: not applicable: input: expected one input of "
                                 "one number per sample, received input shape (None, 4)*",
                                 "FAILED modelcheck.toml::asked_of_it::learns_linear - input: *"])
