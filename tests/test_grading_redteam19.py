"""Red team 19: a student who hands in a wrong model and makes it look right to the checks.

The build job exports the model; the clean check job grades that `.keras` file with Keras' own
code only, so what a submission's model can do to its verdicts is what built-in layers, their
configurations and their weights can do. Each test names a wrong model that earned points it
should not have (or a sound one that lost points), before the fix. The class is graded once, with
a toy assignment that has a reference solution.
"""

from __future__ import annotations


import pytest

from modelcheck.grading.grade import StudentGrade
from tests.grading_cluster import grade_files

SOLUTION = """import keras
from keras import layers


def build_model():
    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
"""

ASSIGNMENT = """[assignment]
name = "toy19"
builder = "build_model"
reference = "solution.py"

[expect]
input_shape = [4]
output_shape = [3]
total_params = 67
output = "probabilities"

[points]
output_shape = 1
matches_reference = 1
config_lint = 1
loss_matches_output = 1

[limits]
timeout_s = 20
memory_mb = 1000
output_kb = 16
"""


def _with_hidden(*hidden: str, head: str = "") -> str:
    """The solution's file with the hidden Dense(8, relu) replaced by the layers `hidden`."""
    return head + SOLUTION.replace('layers.Dense(8, activation="relu"),', ", ".join(hidden) + ",")


# submission file name -> its content
CLASS = {
    "good.py": SOLUTION,
    # ReLU(max_value=0.0) outputs 0 whatever its input (a dead hidden layer): max_value=0.0 is falsy,
    # and matches_reference read it as a plain relu, folded into the Dense (as config_lint did not see
    # a missing activation either); likewise keras.activations.relu(x, max_value=0.0) in a functional model
    "relu_max0.py": _with_hidden("layers.Dense(8)", "layers.ReLU(max_value=0.0)"),
    "relu_op_max0.py": SOLUTION.replace(
        "    model = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation=\"relu\"),\n"
        "                              layers.Dense(3, activation=\"softmax\")])\n",
        "    i = keras.Input(shape=(4,))\n"
        "    h = keras.activations.relu(layers.Dense(8)(i), max_value=0.0)\n"
        "    model = keras.Model(i, layers.Dense(3, activation=\"softmax\")(h))\n"),
    # a hidden layer with no activation in effect: Activation("linear") or a LeakyReLU of slope 1 between the
    # Dense layers hid from config_lint that the two collapse into one linear map (it looked through Dropout only)
    "linear_activation_between.py": _with_hidden("layers.Dense(8)", 'layers.Activation("linear")'),
    "leaky_slope_one.py": _with_hidden("layers.Dense(8)", "layers.LeakyReLU(negative_slope=1.0)"),
    # softmax twice (a classic): the probabilities of a softmax (or sigmoid) squashed again by a Softmax layer
    # sum to 1 and train to 100% batch accuracy, so every check but matches_reference passed it
    "double_softmax.py": SOLUTION.replace('layers.Dense(3, activation="softmax")]',
                                          'layers.Dense(3, activation="softmax"), layers.Softmax()]'),
    # the output layer passes its input on unchanged: a softmax behind Identity() compiled with from_logits=True
    # (a softmax taken twice) passed loss_matches_output as "no activation"; and the mixed-precision guide's
    # Activation("linear", dtype="float32") after a softmax lost it as "a linear output" (sound model), and
    # matches_reference's point as a layer not in the reference
    "softmax_identity_logits.py": SOLUTION.replace(
        'layers.Dense(3, activation="softmax")]', 'layers.Dense(3, activation="softmax"), layers.Identity()]').replace(
        'loss="sparse_categorical_crossentropy"', "loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)"),
    "float32_after_softmax.py": SOLUTION.replace(
        'layers.Dense(3, activation="softmax")]',
        'layers.Dense(3, activation="softmax"), layers.Activation("linear", dtype="float32")]'),
    # constant initialisation ("ones"): every hidden unit the same forever; float rounding gave the hidden kernel
    # a gradient of 1e-8, so gradient_flow passed it, and the training checks took it for a slow learner
    "ones_init.py": SOLUTION.replace('activation="relu"', 'activation="relu", kernel_initializer="ones"').replace(
        'activation="softmax"', 'activation="softmax", kernel_initializer="ones"'),
    # sound: a ReLU layer given as the Dense's activation computes the reference's Dense(8, relu), but
    # matches_reference compared the layer's config with "relu" and took a point
    "relu_layer_as_activation.py": _with_hidden("layers.Dense(8, activation=layers.ReLU())"),
    # a missing sigmoid behind a Reshape: Dense(1) then Reshape(()) under binary_crossentropy (not from logits)
    # passed loss_matches_output "on no activation", as a Reshape applies none; an activation of each value
    # alone (a sigmoid, or none) is now read through a Reshape or Flatten
    "binary_reshaped.py": SOLUTION.replace('layers.Dense(3, activation="softmax")]',
                                           'layers.Dense(1), layers.Reshape(())]').replace(
        '"sparse_categorical_crossentropy"', '"binary_crossentropy"'),
    # no softmax: a linear output whose weights make every row sum to 1 within [0, 1] on any probe batch
    # (kernel columns that cancel, bias 1/3 each) passed output_shape's "probabilities", which only
    # measured the values
    # sound, in Keras' own guides' style: a Sequential without keras.Input, built by the grader from the
    # assignment's input shape; it scored 0 ("has no input shape"), as the build job was not told it
    "lazy_sequential.py": SOLUTION.replace("keras.Input(shape=(4,)), ", ""),
    # its own activation function under a name Keras does not know: 0 points with Keras' "could not be deserialized
    # properly ... explicitly deserialized in from_config()", which never named the function
    "own_relu_fn.py": SOLUTION.replace('activation="relu"', "activation=myrelu").replace(
        "\n\ndef build_model", "\n\ndef myrelu(x):\n    return keras.ops.maximum(x, 0.0)\n\n\ndef build_model"),
    "linear_sums_to_one.py": SOLUTION.replace('layers.Dense(3, activation="softmax")])\n', """layers.Dense(3)])
    kernel = np.random.default_rng(0).normal(0, 0.01, (8, 3)).astype("float32")
    model.layers[1].set_weights([kernel - kernel.mean(axis=1, keepdims=True), np.full(3, 1 / 3, "float32")])
""").replace("import keras\n", "import keras\nimport numpy as np\n"),
}


@pytest.fixture(scope="module")
def graded(pool, tmp_path_factory: pytest.TempPathFactory) -> dict[str, StudentGrade]:
    folder = tmp_path_factory.mktemp("redteam19")
    (folder / "solution.py").write_text(SOLUTION)
    (folder / "toy19.toml").write_text(ASSIGNMENT)
    return grade_files(folder / "subs", CLASS, folder / "toy19.toml", pool)


def _status(grade: StudentGrade) -> dict[str, str]:
    return {result.check: result.status for result in grade.results}


def test_the_reference_itself_gets_full_marks(graded):
    grade = graded["good"]
    assert grade.score == grade.max_score, [(r.check, r.message) for r in grade.results]


@pytest.mark.parametrize("student", ["relu_max0", "relu_op_max0"])
def test_a_relu_clamped_to_zero_is_not_the_references_relu(graded, student):
    grade = graded[student]
    result = next(r for r in grade.results if r.check == "matches_reference")
    assert result.status == "failed", result.message
    assert "Dense 8" in result.message and "activation relu expected" in result.message, result.message


def test_a_linear_output_is_not_probabilities_whatever_values_its_weights_give(graded):
    result = next(r for r in graded["linear_sums_to_one"].results if r.check == "output_shape")
    assert result.status == "failed", result.message
    assert result.message.startswith("output activation: expected softmax (probabilities outputs), received none "
                                     "(raw scores, from "), result.message
    assert "is the softmax missing?" in result.message


@pytest.mark.parametrize("student", ["linear_activation_between", "leaky_slope_one"])
def test_a_layer_that_passes_values_on_unchanged_is_no_activation_between_dense_layers(graded, student):
    result = next(r for r in graded[student].results if r.check == "config_lint")
    assert result.status == "failed", result.message
    assert "two Dense layers with no activation between them collapse into one linear map" in result.message
    assert "'dense'" in result.message


def test_a_softmax_over_probabilities_is_a_configuration_mistake(graded):
    grade = graded["double_softmax"]
    result = next(r for r in grade.results if r.check == "config_lint")
    assert result.status == "failed", result.message
    assert result.message.startswith("output activation: expected one softmax over the class scores, received a "
                                     "softmax over the softmax outputs of 'dense_1', at output 'softmax';"), result.message
    assert _status(grade)["output_shape"] == "passed"  # its outputs are probabilities, only squashed twice


def test_a_layer_that_passes_values_on_does_not_hide_the_outputs_activation(graded):
    hidden = next(r for r in graded["softmax_identity_logits"].results if r.check == "loss_matches_output")
    assert hidden.status == "failed", hidden.message
    assert "since the output applies softmax, received sparse_categorical_crossentropy compiled with " \
           "from_logits=True" in hidden.message, hidden.message
    sound = graded["float32_after_softmax"]  # (matches_reference: an Activation("linear") computes nothing)
    assert sound.score == sound.max_score, [(r.check, r.message) for r in sound.results]


def test_hidden_units_that_start_identical_are_a_configuration_mistake(graded):
    result = next(r for r in graded["ones_init"].results if r.check == "config_lint")
    assert result.status == "failed", result.message
    assert result.message.startswith("hidden units: expected units that start with different weights, received 8 "
                                     "units with identical weights in and out, at layer 'dense' (Dense);"), result.message


def test_a_relu_layer_given_as_an_activation_is_the_relu_it_applies(graded):
    grade = graded["relu_layer_as_activation"]
    assert grade.score == grade.max_score, [(r.check, r.message) for r in grade.results]


def test_a_reshape_does_not_hide_a_missing_sigmoid(graded):
    result = next(r for r in graded["binary_reshaped"].results if r.check == "loss_matches_output")
    assert result.status == "failed", result.message
    assert result.message.startswith("output activation: expected sigmoid for binary_crossentropy, which expects "
                                     "probabilities between 0 and 1, received 'linear', at output 'reshape';"), \
        result.message


def test_a_sequential_without_an_input_is_built_from_the_assignments_input_shape(graded):
    grade = graded["lazy_sequential"]
    assert grade.score == grade.max_score, (grade.problem, [(r.check, r.message) for r in grade.results])


def test_a_function_of_ones_own_as_an_activation_is_named_when_the_model_cannot_be_loaded(graded):
    grade = graded["own_relu_fn"]
    assert grade.score == 0
    said = grade.problem or ""
    assert "the model cannot be graded as you built it: layer 'dense' (Dense) uses your own function myrelu() as its " \
           "activation: a model file keeps a function's name only" in said, (said, grade.results)
