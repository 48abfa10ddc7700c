"""The public API of modelcheck.strategies and modelcheck.strategies.profiles."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import find, given, settings
from hypothesis.errors import InvalidArgument

from modelcheck import strategies as mst
from modelcheck.strategies.profiles import CI_PROFILE, THOROUGH_PROFILE, register_profiles

FIND = settings(database=None, derandomize=True, max_examples=2000)


def test_all_names_are_defined_and_documented():
    for name in mst.__all__:
        value = getattr(mst, name)
        if callable(value):
            assert value.__doc__, name


def test_importing_strategies_does_not_import_keras():
    code = "import sys, modelcheck.strategies; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: mst.dense_layers(max_units=0), r"max_units=0 must be an integer >= 1"),
        (lambda: mst.conv_layers(rank=4), r"rank=4 must be an integer in \[1, 3\]"),
        (lambda: mst.conv_layers(data_formats=["NHWC"]), r"data_formats=\['NHWC'\] contains \['NHWC'\]"),
        (lambda: mst.conv_layers(data_formats="channels_last"), r"data_formats='channels_last' must be a non-empty"),
        (lambda: mst.pooling_layers(kinds=["MinPooling"]), r"kinds=\['MinPooling'\]"),
        (lambda: mst.recurrent_layers(cells=()), r"cells=\(\) must be a non-empty"),
        (lambda: mst.dropout_layers(max_rate=1.5), r"max_rate=1.5 must be a number in \[0, 1\)"),
        (lambda: mst.activation_layers(activations=[]), r"activations=\[\]"),
        (lambda: mst.layer_configs(families=["Transformer"]), r"families=\['Transformer'\]"),
        (lambda: mst.models(kinds=["recursive"]), r"kinds=\['recursive'\] contains"),
        (lambda: mst.models(max_layers=-1), r"max_layers=-1 must be an integer >= 0"),
        (lambda: mst.models(exclude=["Dense"]), r"exclude=\['Dense'\] contains \['Dense'\]"),
        (lambda: mst.build_model_kwargs(n_hidden=(3, 0)), r"n_hidden=\(3, 0\) must be a pair"),
        (lambda: mst.build_model_kwargs(n_neurons=5), r"n_neurons=5 must be a pair"),
        (lambda: mst.build_model_kwargs(input_shape=(0,)), r"input_shape=\(0,\)"),
        (lambda: mst.builder_kwargs({"lr": [0.0, 1.0]}, log_scale=["lr"]), r"space\['lr'\]=\[0.0, 1.0\]"),
        (lambda: mst.builder_kwargs({"n": []}), r"space\['n'\]=\[\] must not be empty"),
        (lambda: mst.builder_kwargs({"n": [1, 2]}, log_scale=["m"]), r"unknown: \['m'\]"),
    ],
)
def test_invalid_arguments_name_the_argument_and_value(call, message):
    with pytest.raises(InvalidArgument, match=message):
        call()


def test_a_drawn_layer_reads_like_code():
    drawn = mst.DrawnLayer("Conv2D", {"filters": 8, "kernel_size": (3, 3), "strides": (2, 2), "padding": "same"},
                           (9, 9, 3))
    assert drawn.call == "Conv2D(filters=8, kernel_size=(3, 3), strides=(2, 2), padding='same')"
    assert repr(drawn) == "Input(shape=(9, 9, 3)) -> " + drawn.call
    assert drawn.expected_output_shape == (None, 5, 5, 8)
    assert drawn.expected_params == (3 * 3 * 3 + 1) * 8


def test_layer_configs_show_only_what_differs_from_keras_defaults():
    smallest = find(mst.conv_layers(rank=2, data_formats=["channels_last"]), lambda d: True, settings=FIND)
    assert repr(smallest) == "Input(shape=(1, 1, 1)) -> Conv2D(filters=1, kernel_size=(1, 1))"
    strided = find(mst.conv_layers(rank=2), lambda d: d.config.get("strides", (1, 1)) != (1, 1), settings=FIND)
    assert "strides=" in strided.call and "dilation_rate" not in strided.call


@pytest.mark.parametrize(
    "strategy, class_names",
    [
        (mst.dense_layers(), {"Dense"}),
        (mst.conv_layers(rank=1), {"Conv1D"}),
        (mst.conv_layers(rank=3), {"Conv3D"}),
        (mst.pooling_layers(rank=2), {"MaxPooling2D", "AveragePooling2D", "GlobalMaxPooling2D",
                                      "GlobalAveragePooling2D"}),
        (mst.flatten_layers(), {"Flatten"}),
        (mst.dropout_layers(), {"Dropout"}),
        (mst.batch_normalization_layers(), {"BatchNormalization"}),
        (mst.embedding_layers(), {"Embedding"}),
        (mst.recurrent_layers(), {"SimpleRNN", "LSTM", "GRU"}),
        (mst.activation_layers(), {"Activation"}),
    ],
)
def test_each_layer_strategy_draws_its_classes_with_a_valid_input(strategy, class_names):
    seen = set()

    @settings(max_examples=60, database=None, derandomize=True)
    @given(strategy)
    def collect(drawn):
        assert drawn.class_name in class_names
        assert all(d >= 1 for d in drawn.expected_output_shape[1:])  # valid by construction
        seen.add(drawn.class_name)

    collect()
    assert seen == class_names


def test_valid_padding_windows_always_fit():
    @settings(max_examples=200, database=None, derandomize=True)
    @given(mst.conv_layers(rank=2, max_size=4, max_kernel_size=5))
    def fits(drawn):
        assert min(drawn.expected_output_shape[1:]) >= 1

    fits()


def test_grouped_convolutions_divide_channels_and_filters():
    drawn = find(mst.conv_layers(max_groups=4), lambda d: d.config.get("groups", 1) > 1, settings=FIND)
    channels = drawn.input_shape[-1] if drawn.config.get("data_format") != "channels_first" else drawn.input_shape[0]
    assert channels % drawn.config["groups"] == 0 and drawn.config["filters"] % drawn.config["groups"] == 0


@pytest.mark.parametrize("kind", mst.MODEL_KINDS)
def test_models_of_each_kind(kind):
    drawn = find(mst.models(kinds=[kind]), lambda m: True, settings=FIND)
    assert drawn.kind == kind
    if kind == "multi_input":
        assert len(drawn.inputs) >= 2 and isinstance(drawn.expected_output_shape, tuple)
    elif kind == "multi_output":
        assert len(drawn.outputs) == 2 and isinstance(drawn.expected_output_shape, list)
    elif kind == "functional":
        assert {"Add", "Concatenate"} & {n.class_name for n in drawn.nodes}


def test_token_inputs_go_through_an_embedding():
    drawn = find(mst.models(kinds=["sequential"], input_kinds=["tokens"]), lambda m: True, settings=FIND)
    assert drawn.inputs[0].dtype == "int32"
    assert drawn.nodes[0].class_name == "Embedding"
    assert "dtype='int32'" in drawn.layers[0]


def test_excluded_layers_are_never_drawn():
    @settings(max_examples=50, database=None, derandomize=True)
    @given(mst.models(exclude=["Dropout", "LSTM", "Conv2D"]))
    def never(drawn):
        assert not {"Dropout", "LSTM", "Conv2D"} & {n.class_name for n in drawn.nodes}

    never()


def test_a_model_repr_is_its_layer_list():
    drawn = find(mst.models(kinds=["functional"]), lambda m: True, settings=FIND)
    text = repr(drawn)
    assert text.startswith("DrawnModel(functional:")
    for line in drawn.layers:
        assert line in text
    assert f"outputs = [{drawn.outputs[0]}]" in text
    assert all("params" in line for line in drawn.layers[len(drawn.inputs):])


def test_with_config_and_insert_after_check_layer_names():
    drawn = find(mst.models(kinds=["sequential"]), lambda m: True, settings=FIND)
    with pytest.raises(InvalidArgument, match="name='nope' is not a layer"):
        drawn.with_config("nope", trainable=False)
    with pytest.raises(InvalidArgument, match=r"insert_after names unknown layers \['nope'\]"):
        drawn.build(insert_after={"nope": lambda x: x})
    frozen = drawn.with_config(drawn.nodes[-1].name, trainable=False)
    assert frozen.expected_params == drawn.expected_params
    assert frozen.expected_arithmetic[drawn.nodes[-1].name].trainable == 0


def test_build_model_kwargs_stay_in_range_and_narrow():
    @settings(max_examples=100, database=None, derandomize=True)
    @given(mst.build_model_kwargs(n_hidden=(1, 2), n_neurons=(5, 10), learning_rate=(1e-3, 1e-2), input_shape=(4,)))
    def in_range(kwargs):
        assert set(kwargs) == {"n_hidden", "n_neurons", "learning_rate", "input_shape"}
        assert 1 <= kwargs["n_hidden"] <= 2 and 5 <= kwargs["n_neurons"] <= 10
        assert 1e-3 <= kwargs["learning_rate"] <= 1e-2
        assert kwargs["input_shape"] == (4,)

    in_range()
    defaults = mst.build_model_kwargs()
    assert find(defaults, lambda k: k["learning_rate"] < 5e-4, settings=FIND)["learning_rate"] >= 3e-4
    assert find(defaults, lambda k: k["n_hidden"] == 3 and k["n_neurons"] == 99, settings=FIND)


def test_builder_kwargs_reads_a_spec_style_space():
    space = {"n_hidden": [0, 3], "activation": ["relu", "tanh", "elu"], "dropout": [0.0, 0.5], "units": 8}

    @settings(max_examples=60, database=None, derandomize=True)
    @given(mst.builder_kwargs(space))
    def follows(kwargs):
        assert kwargs["n_hidden"] in range(4)
        assert kwargs["activation"] in space["activation"]
        assert 0.0 <= kwargs["dropout"] <= 0.5 and isinstance(kwargs["dropout"], float)
        assert kwargs["units"] == 8

    follows()


def test_profiles_are_registered_and_bounded():
    register_profiles()
    ci = settings.get_profile(CI_PROFILE)
    assert ci.derandomize and ci.deadline is None and ci.max_examples <= 25 and ci.database is None
    thorough = settings.get_profile(THOROUGH_PROFILE)
    assert not thorough.derandomize and thorough.max_examples >= 500 and thorough.deadline is None


CONFTEST = """
from hypothesis import settings
from modelcheck.strategies.profiles import CI_PROFILE, register_profiles

register_profiles()
settings.load_profile(CI_PROFILE)
"""


def test_conftest_snippet_defaults_to_ci_and_obeys_hypothesis_profile(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        from hypothesis import settings

        def test_profile():
            print("PROFILE", settings.default.max_examples, settings.default.derandomize)
        """
    )
    ci = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    ci.stdout.fnmatch_lines(["*PROFILE 20 True*"])
    nightly = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", "--hypothesis-profile=modelcheck-thorough")
    nightly.stdout.fnmatch_lines(["*PROFILE 500 False*"])


def test_a_failing_property_prints_the_shrunk_layer_list(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        from hypothesis import given
        from modelcheck import strategies as mst

        @given(mst.models(kinds=["sequential"], input_kinds=["vector"]))
        def test_small(drawn):
            assert drawn.expected_params < 40
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*: test_small(*",  # "Falsifying example:" before Hypothesis 6.16x, "Failing test case:" after
        "*drawn=DrawnModel(sequential:*",
        "*input = Input(shape=(*",
        "*dense = Dense(units=*params*",
        "*outputs = [[]dense*",
    ])
