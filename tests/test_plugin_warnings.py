"""A clean project gets a clean run: modelcheck's items add nothing to the user's warnings summary
(neither the libraries' deprecation notices nor warnings that modelcheck's own calls cause),
while a warning raised by the user's builder is still shown."""

from __future__ import annotations

import pytest

MODELS = """
import warnings

import keras
from keras import layers


def build_wide_deep():
    # the inputs as a list of one, as the book writes it: the checks must call it that way
    input_ = keras.Input(shape=(8,))
    hidden = layers.Dense(30, activation="relu")(input_)
    concat = layers.Concatenate()([input_, hidden])
    model = keras.Model(inputs=[input_], outputs=[layers.Dense(1)(concat)])
    model.compile(loss="mean_squared_error", optimizer="sgd")
    return model


def build_noisy():
    warnings.warn("the builder's own warning", UserWarning)
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(1)])
"""

SPEC = """
[[model]]
builder = "models:build_wide_deep"
id = "wide_deep"
output_shape = [1]

[[model]]
builder = "models:build_noisy"
id = "noisy"
output_shape = [1]
checks = ["output_shape"]
"""


def test_only_the_users_own_warning_reaches_the_summary(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(models=MODELS)
    pytester.makefile(".toml", modelcheck=SPEC)
    result = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-checks=output_shape,param_count,"
                                           "gradient_flow,finite,batch_independence,input_dependence,"
                                           "loss_matches_output", "-p", "no:cacheprovider", "-W", "default")
    result.assert_outcomes(passed=8)  # output_shape of both models
    text = result.stdout.str()
    summary = text[text.index("warnings summary"):] if "warnings summary" in text else ""
    assert "the builder's own warning" in summary
    assert summary.count("Warning:") == 1, summary


USER_TESTS = """
import keras
import modelcheck as mc


def build():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_library_checks():
    model = build()
    for result in (mc.check_output_shape(model, (None, 3)), mc.check_gradient_flow(model),
                   mc.check_finite(model), mc.check_overfit_batch(model)):
        assert result.status == "passed", result.message


def test_a_keras_warning_about_the_model_is_not_an_error_of_the_check():
    # Keras warns (UserWarning) when from_logits=True meets a softmax: the checks still judge the model
    model = build()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    for result in (mc.check_gradient_flow(model), mc.check_loss_decrease(model)):
        assert result.status in ("passed", "failed"), result.message
    assert mc.check_loss_matches_output(model).status == "failed"
"""


def test_library_checks_run_in_a_project_that_turns_warnings_into_errors(pytester: pytest.Pytester) -> None:
    """``filterwarnings = ["error"]`` is a common strict setting: the libraries' deprecation notices
    raised inside a check (Keras' ``convert_to_numpy`` on NumPy 2) are not the check's internal error,
    nor is Keras' warning about the model's own configuration an error of the check."""
    pytester.makepyfile(test_user=USER_TESTS)
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=2)


def _warn_from(module: str) -> None:
    import warnings

    warnings.warn_explicit("a library's warning about the model", UserWarning, f"{module}.py", 1, module=module)


def test_the_libraries_warnings_in_a_check_follow_the_users_filters_but_never_raise_for_a_blanket_error():
    import warnings

    from modelcheck.core.quiet import library_deprecations_quieted

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("error")
        with library_deprecations_quieted():
            _warn_from("keras.src.backend.tensorflow.nn")  # shown, not raised
            with pytest.raises(UserWarning):
                _warn_from("students_model")  # the user's own code: their filter applies
        assert [str(w.message) for w in seen] == ["a library's warning about the model"]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("ignore")  # an "ignore" the user wrote still wins
        with library_deprecations_quieted():
            _warn_from("keras.src.backend.tensorflow.nn")
        assert seen == []
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.filterwarnings("error", module="keras")  # an error the user asked of Keras' own warnings
        with library_deprecations_quieted(), pytest.raises(UserWarning):
            _warn_from("keras.src.backend.tensorflow.nn")


def test_a_failing_item_shows_no_tensorflow_log_lines_as_its_captured_stderr(pytester: pytest.Pytester,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """On a machine without a GPU, TensorFlow logs "failed call to cuInit: CUDA error" as an ERROR when
    the first model is built: with TF_CPP_MIN_LOG_LEVEL=2 it was the "Captured stderr call" of the first
    failing item, a CUDA error in a report about a wrong output shape."""
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    pytester.makepyfile(models=MODELS)
    pytester.makefile(".toml", modelcheck=SPEC.replace("output_shape = [1]", "output_shape = [2]", 1))
    result = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-checks=output_shape", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*output shape: expected (None, 2), received (None, 1)*"])
    assert "Captured stderr" not in result.stdout.str(), result.stdout.str()
