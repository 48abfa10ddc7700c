"""Bad input from the user's code is a clear error with a hint, never a crash of the tool."""

import keras
import numpy as np
import pytest
from keras import layers

import modelcheck as mc
from modelcheck.core.errors import UserCodeError, call_user_code
from modelcheck.core.result import CheckResult


def keras1_dense():
    model = keras.Sequential()
    model.add(layers.Dense(output_dim=64, input_dim=100))
    return model


def keras1_conv():
    return keras.Sequential([layers.Convolution2D(64, 3, 3, border_mode="same")])


def old_optimizer():
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(lr=0.01), loss="mse")
    return model


def returns_none():
    keras.Sequential([keras.Input((3,)), layers.Dense(1)])


def raises():
    raise RuntimeError("my own bug")


def calls_exit():
    raise SystemExit(3)


def reads_colab_drive():
    np.load("/content/drive/MyDrive/train.npy")


def reads_a_missing_file():
    np.load("train.npy")


def swapped_embedding():
    return keras.Sequential([keras.Input((5,), dtype="int32"), layers.Embedding(64, 10000)])


@pytest.mark.parametrize(
    ("builder", "message", "hint"),
    [
        (keras1_dense, "Keras 1 spelling; Keras 3 calls it `units`", "layers.Dense(units=64)"),
        (keras1_conv, "Convolution2D(64, 3, 3, border_mode=...)", 'padding="same"'),
        (old_optimizer, "optimizers no longer accept `lr=`", "learning_rate="),
        (returns_none, "returned None; expected a keras.Model", "return model"),
        (calls_exit, "called sys.exit(3)", "remove the exit() call"),
        (reads_colab_drive, "a file under /content (Colab's runtime, where drive.mount puts Google Drive) is not here",
         'if __name__ == "__main__":'),
    ],
)
def test_builder_errors_are_explained(builder, message, hint):
    result = mc.check_output_shape(builder, (None, 1))
    assert isinstance(result, CheckResult)
    assert result.status == "error"
    assert message in result.message
    assert hint in result.hint


def test_a_missing_file_elsewhere_keeps_its_own_message():
    result = mc.check_param_count(reads_a_missing_file, total=1)
    assert result.status == "error" and "No such file or directory: 'train.npy'" in result.message
    assert "Colab" not in result.message and not result.hint


def test_user_exception_shows_the_user_line():
    result = mc.check_param_count(raises, total=1)
    assert result.status == "error"
    assert "RuntimeError: my own bug" in result.message
    assert 'raise RuntimeError("my own bug")' in result.message
    assert "test_user_errors.py" in result.message


def test_swapped_embedding_arguments_are_explained_at_run_time():
    model = swapped_embedding()
    result = mc.check_output_shape(model, (None, 5, 10000))
    # synthetic ids stay within input_dim (64), so the forward pass works; real ids would not:
    assert result.passed
    with pytest.raises(UserCodeError) as info:
        call_user_code("running the model", model, keras.ops.convert_to_tensor([[500, 1, 2, 3, 4]]))
    assert "Embedding(10000, 64)" in info.value.hint


def test_not_a_model():
    result = mc.check_output_shape(lambda: layers.Dense(3), (None, 3))
    assert result.status == "error" and "not a layer" in result.hint


def test_removed_methods_and_imports_are_explained():
    model = keras.Sequential([keras.Input((1,)), layers.Dense(1)])
    with pytest.raises(UserCodeError) as info:
        call_user_code("predicting", lambda: model.predict_classes([[1.0]]))
    assert "np.argmax(model.predict(x), axis=-1)" in info.value.hint
    with pytest.raises(UserCodeError) as info:
        call_user_code("importing", __import__, "keras.layers.core")
    assert "from keras.layers import" in info.value.hint
    with pytest.raises(UserCodeError) as info:
        call_user_code("training", lambda: model.fit([[1.0]], [[1.0]], nb_epoch=3))
    assert "epochs=10" in info.value.hint


def single_layer_sequential():
    return keras.Sequential(layers.Dense(1))


def test_sequential_without_a_list_is_explained():
    result = mc.check_output_shape(single_layer_sequential, (None, 1))
    assert result.status == "error"
    assert "takes a list of layers" in result.message
    assert "keras.Sequential([layers.Dense(1)])" in result.hint


def test_syntax_error_quotes_the_students_line(tmp_path):
    import importlib
    import sys

    (tmp_path / "broken_student.py").write_text("import keras\n\ndef build_model(:\n    pass\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(UserCodeError) as info:
            call_user_code("importing broken_student", importlib.import_module, "broken_student")
    finally:
        sys.path.remove(str(tmp_path))
    assert info.value.location[1] == 3
    assert "def build_model(:" in str(info.value)


def test_an_error_inside_a_compiled_step_is_told_without_tensorflows_node_traceback():
    """TensorFlow's 'Graph execution error' opens with where the failing node was defined, a traceback of
    File lines (modelcheck's own among them), and the error itself came after the message's 600 characters:
    a student saw 'Detected at node ... File ".../modelcheck/session/runner.py"' and never the error."""
    from modelcheck.model.inputs import set_instructor_data

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # one unit: label 1 is out of range
    set_instructor_data(model, x=[np.random.default_rng(0).normal(size=(8, 3))], y=[np.arange(8) % 2])
    result = mc.check_loss_decrease(model)
    assert result.status == "error", result.message
    assert "Received a label value of 1 which is outside the valid range of [0, 1)" in result.message
    assert "File " not in result.message and "Detected at node" not in result.message
    assert "[[{{node" not in result.message
    eager = mc.check_gradient_flow(model)  # the same error raised eagerly: no {{function_node ...}} nor [Op:...]
    assert eager.message.endswith("raised InvalidArgumentError: Received a label value of 1 which is outside the "
                                  "valid range of [0, 1).  Label values: 0 1 0 1 0 1 0 1"), eager.message


def test_a_token_id_beyond_the_embedding_names_the_assignments_samples():
    """An Embedding(1000, 16) fed the assignment's reviews (ids up to 9,999) was told it failed 'running the
    model on a synthetic batch', and only that its arguments might be swapped: the batch is the instructor's
    samples, and the vocabulary is simply too small for them."""
    from modelcheck.model.inputs import set_instructor_data

    model = keras.Sequential([keras.Input((20,), dtype="int32"), layers.Embedding(1000, 4),
                              layers.GlobalAveragePooling1D(), layers.Dense(1, activation="sigmoid")])
    set_instructor_data(model, x=[np.random.default_rng(0).integers(0, 10_000, (8, 20))], y=[np.arange(8) % 2])
    result = mc.check_output_shape(model, (None, 1))
    assert result.status == "error"
    assert result.message.startswith("running the model on the assignment's sample inputs raised "), result.message
    assert "must be larger than every token id the model reads" in result.hint


@pytest.mark.parametrize("raised", [TypeError("Exception encountered when calling Functional.call().\n\n"
                                              "data type 'string' not understood"),
                                    ValueError("Exception encountered when calling Functional.call().\n\n"
                                               "Invalid dtype: object")], ids=["jax", "torch"])
def test_a_string_input_on_jax_or_pytorch_is_explained(raised):
    """A text model (a string keras.Input before TextVectorization) run on JAX or PyTorch: Keras'
    bare "data type 'string' not understood" / "Invalid dtype: object" becomes what it means and
    what to do (the errors are those Keras 3.15 raises on each backend)."""
    error = UserCodeError.from_exception(raised, "running the model on a synthetic batch")
    assert error.message.startswith(f"running the model on a synthetic batch raised {type(raised).__name__}: the model "
                                    "takes strings")
    assert "KERAS_BACKEND=tensorflow" in error.hint


def test_a_frame_of_pythons_standard_library_is_never_given_as_the_users_line():
    """An error raised inside contextlib (TensorFlow's name scopes) was shown 'at .../contextlib.py:137'."""
    import json

    with pytest.raises(UserCodeError) as raised:
        call_user_code("reading the model's settings", json.loads, "{")
    assert raised.value.location is None


def test_a_name_tensorflow_refuses_as_a_scope_is_named_with_the_fix():
    """A layer named '<b>' trains under TensorFlow's name scopes, which refuse it (fit fails too)."""
    raised = ValueError("Exception encountered when calling Sequential.call().\n\n'<b>' is not a valid scope name. "
                        "A scope name has to match the following pattern: ^[A-Za-z0-9_.\\\\/>-]*$")
    error = UserCodeError.from_exception(raised, "training the model")
    assert error.message == ("training the model raised ValueError: the name '<b>' (a layer's or the model's) holds "
                             "a character TensorFlow refuses in the name scopes it builds while training (allowed: "
                             "letters, digits and _ . - /), so training the model fails, under Keras' fit too.")
    assert error.hint.startswith("rename it: name=\"block_1\"")


def test_a_url_in_a_layers_name_is_not_taken_for_a_download():
    """Red team 18: a layer named '=HYPERLINK("http://x","y")' got Keras' error on its '/' explained as 'loading
    a data set failed: there is no network'. A URL read on the user's own line still is a download."""
    with pytest.raises(UserCodeError) as raised:
        call_user_code("building the model", lambda: keras.Sequential(
            [keras.Input((4,)), layers.Dense(2, name='=HYPERLINK("http://evil.example/x","y")')]))
    assert "loading a data set failed" not in raised.value.message
    assert "cannot contain character `/`" in raised.value.message, raised.value.message

    def download():
        import urllib.request
        return urllib.request.urlopen("https://example.invalid/data.csv", timeout=0.001)

    with pytest.raises(UserCodeError) as raised:
        call_user_code("building the model", download)
    assert "loading a data set failed: when graded there is no network" in raised.value.message, raised.value.message


class _Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("describing me fails")


class _BadCode:
    def __repr__(self):
        raise RuntimeError("describing me fails")


def test_an_error_or_exit_code_that_cannot_be_described_is_still_the_users_error():
    """Red team 18: an exception whose __str__ raises (or an exit code whose __repr__ does) raised out of
    call_user_code itself, so a library or pytest-plugin user got a crash inside modelcheck."""
    import sys

    def raises():
        raise _Unprintable()

    def exits():
        sys.exit(_BadCode())

    for builder, said in ((raises, "building the model raised _Unprintable: <a message that cannot be shown"),
                          (exits, "building the model called sys.exit(<a message that cannot be shown")):
        with pytest.raises(UserCodeError) as raised:
            call_user_code("building the model", builder)
        assert raised.value.message.startswith(said), raised.value.message
        assert raised.value.to_result("builds").status == "error"
