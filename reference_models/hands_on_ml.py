"""Document 003 (Hands-On ML, chapter 10): MLPs, Wide & Deep in every style, `build_model`."""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np

from .entries import BuildFailure, Entry, as_printed, param_fields, reference
from .printed import printed_builder
from .reasons import COUNTS, FORWARD, GRADIENTS, LOSS_FALLS, MEMORISE

DOC = "003_ded11992aa720ee9.txt"
MODULE = "reference_models/hands_on_ml.py"

__all__ = [
    "heaviside",
    "build_perceptron",
    "build_xor_mlp",
    "build_fashion_mlp",
    "build_housing_mlp",
    "build_wide_deep",
    "build_wide_deep_two_inputs",
    "build_wide_deep_aux_output",
    "WideAndDeepModel",
    "build_wide_deep_subclassed",
    "build_model",
    "build_model_params",
    "HYPERPARAMETER_SPACE",
    "entries",
]


def heaviside(z):
    """The unit step of equation 10-1: 0 where z < 0, 1 where z >= 0 (it has no useful gradient)."""
    return keras.ops.cast(keras.ops.greater_equal(z, 0), z.dtype)


def build_perceptron(n_inputs: int = 2) -> keras.Model:
    """A single threshold logic unit (figure 10-4): a weighted sum of the inputs, then a step."""
    return keras.models.Sequential(
        [keras.Input(shape=(n_inputs,)), keras.layers.Dense(1, activation=heaviside, name="tlu")]
    )


def build_xor_mlp() -> keras.Model:
    """Figure 10-6's MLP that computes XOR, with its fixed weights.

    Every connection weighs 1 except four: the hidden units' biases -1.5 (an AND) and -0.5
    (an OR), the output's bias -0.5 and its weight -1 from the AND unit.
    """
    model = keras.models.Sequential(
        [
            keras.Input(shape=(2,)),
            keras.layers.Dense(2, activation=heaviside, name="hidden"),
            keras.layers.Dense(1, activation=heaviside, name="output"),
        ]
    )
    model.get_layer("hidden").set_weights([np.ones((2, 2), "float32"), np.array([-1.5, -0.5], "float32")])
    model.get_layer("output").set_weights([np.array([[-1.0], [1.0]], "float32"), np.array([-0.5], "float32")])
    return model


def build_fashion_mlp() -> keras.Model:
    """Flatten 28x28, Dense 300 relu, Dense 100 relu, Dense 10 softmax; sparse CE with sgd.

    Layer names are those of the document's summary (flatten, dense, dense_1, dense_2).
    """
    model = keras.models.Sequential(
        [
            keras.Input(shape=(28, 28)),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(300, activation="relu", name="dense"),
            keras.layers.Dense(100, activation="relu", name="dense_1"),
            keras.layers.Dense(10, activation="softmax", name="dense_2"),
        ]
    )
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return model


def build_housing_mlp(n_features: int = 8) -> keras.Model:
    """The California-housing regressor: Dense(30, relu) on 8 features, Dense(1); mse with sgd."""
    model = keras.models.Sequential(
        [
            keras.Input(shape=(n_features,)),
            keras.layers.Dense(30, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(loss="mean_squared_error", optimizer="sgd")
    return model


def build_wide_deep(n_features: int = 8) -> keras.Model:
    """Wide & Deep on one input: the input is concatenated with the second hidden layer."""
    input_ = keras.layers.Input(shape=(n_features,))
    hidden1 = keras.layers.Dense(30, activation="relu")(input_)
    hidden2 = keras.layers.Dense(30, activation="relu")(hidden1)
    concat = keras.layers.Concatenate()([input_, hidden2])
    output = keras.layers.Dense(1)(concat)
    model = keras.Model(inputs=[input_], outputs=[output])
    # "Compile, train, evaluate as before": the housing regressor's mse with sgd.
    model.compile(loss="mean_squared_error", optimizer="sgd")
    return model


def _wide_and_deep_trunk():
    input_A = keras.layers.Input(shape=[5], name="wide_input")
    input_B = keras.layers.Input(shape=[6], name="deep_input")
    hidden1 = keras.layers.Dense(30, activation="relu")(input_B)
    hidden2 = keras.layers.Dense(30, activation="relu")(hidden1)
    concat = keras.layers.concatenate([input_A, hidden2])
    return input_A, input_B, hidden2, concat


def build_wide_deep_two_inputs() -> keras.Model:
    """Five features to the wide path, six to the deep path, one output named "output"."""
    input_A, input_B, _, concat = _wide_and_deep_trunk()
    output = keras.layers.Dense(1, name="output")(concat)
    model = keras.Model(inputs=[input_A, input_B], outputs=[output])
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=1e-3))
    return model


def build_wide_deep_aux_output() -> keras.Model:
    """Two inputs and an auxiliary output on the deep path; losses weighted 0.9 / 0.1."""
    input_A, input_B, hidden2, concat = _wide_and_deep_trunk()
    output = keras.layers.Dense(1, name="main_output")(concat)
    aux_output = keras.layers.Dense(1, name="aux_output")(hidden2)
    model = keras.Model(inputs=[input_A, input_B], outputs=[output, aux_output])
    model.compile(loss=["mse", "mse"], loss_weights=[0.9, 0.1], optimizer="sgd")
    return model


@keras.saving.register_keras_serializable(package="reference_models")
class WideAndDeepModel(keras.Model):
    """The subclassed Wide & Deep model: inputs (wide, deep), outputs (main, aux)."""

    def __init__(self, units: int = 30, activation: str = "relu", **kwargs) -> None:
        super().__init__(**kwargs)  # handles standard args (e.g., name)
        self.units = units
        self.activation = activation
        self.hidden1 = keras.layers.Dense(units, activation=activation)
        self.hidden2 = keras.layers.Dense(units, activation=activation)
        self.main_output = keras.layers.Dense(1)
        self.aux_output = keras.layers.Dense(1)

    def call(self, inputs):
        input_A, input_B = inputs
        hidden1 = self.hidden1(input_B)
        hidden2 = self.hidden2(hidden1)
        concat = keras.layers.concatenate([input_A, hidden2])
        main_output = self.main_output(concat)
        aux_output = self.aux_output(hidden2)
        return main_output, aux_output

    def get_config(self) -> dict:
        # The document's class cannot be saved; with its constructor arguments it can.
        return {**super().get_config(), "units": self.units, "activation": self.activation}


def build_wide_deep_subclassed(units: int = 30, activation: str = "relu") -> keras.Model:
    """`WideAndDeepModel`, built on a (5,) wide and a (6,) deep input and compiled as the functional one."""
    model = WideAndDeepModel(units=units, activation=activation)
    model((np.zeros((1, 5), "float32"), np.zeros((1, 6), "float32")))  # create the weights
    model.compile(loss=["mse", "mse"], loss_weights=[0.9, 0.1], optimizer="sgd")
    return model


def build_model(
    n_hidden: int = 1,
    n_neurons: int = 30,
    learning_rate: float = 3e-3,
    input_shape: Sequence[int] = (8,),
) -> keras.Model:
    """The hyper-parameter search builder: `n_hidden` Dense(n_neurons, relu) layers, Dense(1), SGD."""
    model = keras.models.Sequential()
    model.add(keras.Input(shape=tuple(input_shape)))
    for layer in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, activation="relu"))
    model.add(keras.layers.Dense(1))
    optimizer = keras.optimizers.SGD(learning_rate=learning_rate)
    model.compile(loss="mse", optimizer=optimizer)
    return model


# The document's search space: RandomizedSearchCV over these.
HYPERPARAMETER_SPACE = {
    "n_hidden": (0, 1, 2, 3),
    "n_neurons": (1, 99),  # np.arange(1, 100): 1 to 99 inclusive
    "learning_rate": (3e-4, 3e-2),  # reciprocal(3e-4, 3e-2): log-uniform
}


def build_model_params(n_hidden: int = 1, n_neurons: int = 30, n_inputs: int = 8) -> int:
    """The parameter count of `build_model(n_hidden, n_neurons, input_shape=(n_inputs,))`."""
    if n_hidden == 0:
        return n_inputs + 1
    return (n_inputs + 1) * n_neurons + (n_hidden - 1) * (n_neurons + 1) * n_neurons + n_neurons + 1


WIDE_DEEP_TWO_INPUTS_PRINTED = """\
input_A = keras.layers.Input(shape=[5], name="wide_input")
input_B = keras.layers.Input(shape=[6], name="deep_input")
hidden1 = keras.layers.Dense(30, activation="relu")(input_B)
hidden2 = keras.layers.Dense(30, activation="relu")(hidden1)
concat = keras.layers.concatenate([input_A, hidden2])
output = keras.layers.Dense(1, name="output")(concat)
model = keras.Model(inputs=[input_A, input_B], outputs=[output])
model.compile(loss="mse", optimizer=keras.optimizers.SGD(lr=1e-3))
"""

BUILD_MODEL_PRINTED = """\
def build_model(n_hidden=1, n_neurons=30, learning_rate=3e-3, input_shape=[8]):
    model = keras.models.Sequential()
    model.add(keras.layers.InputLayer(input_shape=input_shape))
    for layer in range(n_hidden):
        model.add(keras.layers.Dense(n_neurons, activation="relu"))
    model.add(keras.layers.Dense(1))
    optimizer = keras.optimizers.SGD(lr=learning_rate)
    model.compile(loss="mse", optimizer=optimizer)
    return model
"""

_SGD_LR_FAULT = BuildFailure("ValueError", r"Argument\(s\) not recognized: \{'lr'")


def entries() -> list[Entry]:
    """The catalogue entries of document 003."""
    regression_checks = {
        "output_shape": FORWARD + " One unbounded value per sample.",
        "param_count": COUNTS,
        "gradient_flow": GRADIENTS,
        "overfit_batch": MEMORISE,
    }
    trained_once = {"loss_decrease": "overfit_batch already trains this small model."}
    functional = f"{DOC}, section '使用Functional API搭建复杂模型' (Wide & Deep with the functional API)"

    step_reason = ("A step function has a zero gradient almost everywhere: the text replaces it with the "
                   "logistic function precisely so that backpropagation can work.")
    no_gradient = {"gradient_flow": step_reason, "overfit_batch": step_reason, "loss_decrease": step_reason}
    perceptron = reference(
        "perceptron",
        build_perceptron,
        source=f"{DOC}, section '感知机' (the perceptron, figure 10-4)",
        module=MODULE,
        input_shape=(2,),
        output_shape=(1,),
        **param_fields(3),
        output="binary",
        checks={
            "output_shape": FORWARD + " One step output, 0 or 1.",
            "param_count": COUNTS + " Two weights (petal length and width) and a bias.",
        },
        skipped=no_gradient,
        extra={"note": "The text trains it with scikit-learn's Perceptron; the Keras unit shows the TLU."},
    )
    xor = reference(
        "xor_mlp",
        build_xor_mlp,
        source=f"{DOC}, section '感知机' (the perceptron, figure 10-6: an MLP that solves XOR)",
        module=MODULE,
        input_shape=(2,),
        output_shape=(1,),
        layer_output_shapes={"hidden": (2,), "output": (1,)},
        **param_fields(9),
        layer_params={"hidden": 6, "output": 3},
        output="binary",
        checks={
            "output_shape": FORWARD + " One step output, 0 or 1.",
            "param_count": COUNTS + " Two TLUs on two inputs, one TLU on those two: 6 + 3.",
        },
        skipped=no_gradient,
        extra={"truth_table": {"0,0": 0, "0,1": 1, "1,0": 1, "1,1": 0}},
    )
    fashion = reference(
        "fashion_mlp",
        build_fashion_mlp,
        source=f"{DOC}, section '使用Sequential API创建图片分类器' (an image classifier with the Sequential API)",
        module=MODULE,
        labels="integers",  # the document's sparse labels, class ids 0 to 9
        input_shape=(28, 28),
        output_shape=(10,),
        layer_output_shapes={"flatten": (784,), "dense": (300,), "dense_1": (100,), "dense_2": (10,)},
        **param_fields(266_610),
        layer_params={"flatten": 0, "dense": 235500, "dense_1": 30100, "dense_2": 1010},
        output="probabilities",
        checks={
            "output_shape": FORWARD + " The document prints every layer's output shape.",
            "param_count": COUNTS + " The document prints 235,500 / 30,100 / 1,010, total 266,610.",
            "gradient_flow": GRADIENTS,
            "overfit_batch": MEMORISE + " Sparse integer labels, as the document compiles it.",
        },
        skipped=trained_once,
        options={"overfit_batch": {"max_steps": 200}},
        extra={"printed": {"dense_kernel_shape": [784, 300], "dense_bias_shape": [300], "dense_bias": "zeros"}},
    )
    housing = reference(
        "housing_mlp",
        build_housing_mlp,
        source=f"{DOC}, section '使用Sequential API搭建回归MLP' (a regression MLP)",
        module=MODULE,
        input_shape=(8,),
        output_shape=(1,),
        **param_fields(301),
        output="regression",
        checks=regression_checks,
        skipped=trained_once,
        options={"overfit_batch": {"max_steps": 500}},
    )
    wide_deep = reference(
        "wide_deep",
        build_wide_deep,
        source=functional,
        module=MODULE,
        input_shape=(8,),
        output_shape=(1,),
        **param_fields(1239),
        output="regression",
        checks=regression_checks,
        skipped=trained_once,
        options={"overfit_batch": {"max_steps": 500}},
    )
    two_inputs = reference(
        "wide_deep_two_inputs",
        build_wide_deep_two_inputs,
        source=functional + ", multiple inputs",
        module=MODULE,
        input_shape={"wide_input": (5,), "deep_input": (6,)},
        output_shape={"output": (1,)},
        **param_fields(1176),
        output="regression",
        checks={
            **{k: v for k, v in regression_checks.items() if k != "overfit_batch"},
            "loss_decrease": LOSS_FALLS + " Two named inputs, with the document's SGD(learning_rate=1e-3).",
        },
        skipped={"overfit_batch": "SGD at the document's learning rate 1e-3 needs far more than a cheap "
                 "budget of steps to memorise a batch; the same network is memorised as wide_deep_aux_output."},
        options={"loss_decrease": {"steps": 150}},
    )
    aux = reference(
        "wide_deep_aux_output",
        build_wide_deep_aux_output,
        source=functional + ", auxiliary output",
        module=MODULE,
        input_shape={"wide_input": (5,), "deep_input": (6,)},
        output_shape={"main_output": (1,), "aux_output": (1,)},
        **param_fields(1207),
        output={"main_output": "regression", "aux_output": "regression"},
        checks={**regression_checks, "overfit_batch": MEMORISE + " Both outputs, losses weighted 0.9 / 0.1."},
        skipped=trained_once,
        options={"overfit_batch": {"max_steps": 2000}},  # 20 seeds: the slowest (seed 15) needs over 1000 steps
    )
    subclassed = reference(
        "wide_deep_subclassed",
        build_wide_deep_subclassed,
        source=f"{DOC}, section '使用Subclassing API搭建动态模型' (a subclassed model)",
        module=MODULE,
        builder_kwargs={"units": 30, "activation": "relu"},
        input_shape=[(5,), (6,)],
        output_shape=[(1,), (1,)],
        **param_fields(1207),
        output=["regression", "regression"],
        checks={
            "output_shape": FORWARD + " Two outputs (main, aux) from a call() the tool cannot inspect.",
            "param_count": COUNTS + " The same 1,207 as the functional model with an auxiliary output.",
            "gradient_flow": GRADIENTS,
        },
        skipped={
            "overfit_batch": "The same network as wide_deep_aux_output, which is trained; one is enough.",
            "loss_decrease": "The same network as wide_deep_aux_output, which is trained; one is enough.",
        },
    )
    search = reference(
        "build_model",
        build_model,
        source=f"{DOC}, section '微调神经网络的超参数' (fine-tuning hyper-parameters)",
        module=MODULE,
        builder_kwargs={"n_hidden": 1, "n_neurons": 30, "learning_rate": 3e-3, "input_shape": (8,)},
        input_shape=(8,),
        output_shape=(1,),
        **param_fields(build_model_params(1, 30, 8)),
        output="regression",
        checks={
            "output_shape": FORWARD,
            "param_count": COUNTS + " For the defaults; build_model_params() gives any point of the space.",
            "gradient_flow": GRADIENTS,
            "loss_decrease": "SGD at the default learning rate 3e-3 must lower the mse in a few steps.",
        },
        skipped={"overfit_batch": "Memorising at learning rate 3e-3 takes long; housing_mlp covers the same network."},
        options={"loss_decrease": {"steps": 50}},
        extra={"hyperparameter_space": {k: list(v) for k, v in HYPERPARAMETER_SPACE.items()}},
    )
    two_inputs_printed = as_printed(
        two_inputs,
        printed_builder(WIDE_DEEP_TWO_INPUTS_PRINTED, entry_id="wide_deep_two_inputs__as_printed"),
        fault="It compiles with `keras.optimizers.SGD(lr=1e-3)`; Keras 3 optimizers only accept `learning_rate=`.",
        printed_source=WIDE_DEEP_TWO_INPUTS_PRINTED,
        build_failure=_SGD_LR_FAULT,
        fault_pattern=r"raised ValueError: optimizers no longer accept `lr=`",
        checks={"output_shape": "Building the model is the first step of every check."},
    )
    search_printed = as_printed(
        search,
        printed_builder(BUILD_MODEL_PRINTED, entry_id="build_model__as_printed", finish="model = build_model()\n"),
        fault="It creates its optimizer with `keras.optimizers.SGD(lr=learning_rate)`; Keras 3 "
        "only accepts `learning_rate=`.",
        printed_source=BUILD_MODEL_PRINTED,
        build_failure=_SGD_LR_FAULT,
        fault_pattern=r"raised ValueError: optimizers no longer accept `lr=`",
        checks={"output_shape": "Building the model is the first step of every check."},
    )
    return [
        perceptron, xor, fashion, housing, wide_deep, two_inputs, two_inputs_printed, aux, subclassed, search, search_printed,
    ]
