"""Document 000 (Keras quick start): a Dense/Activation MLP, Conv2D/MaxPooling2D arithmetic, a CNN."""

from __future__ import annotations

import keras
from keras import layers

from .entries import BuildFailure, Entry, as_printed, param_fields, reference
from .printed import printed_builder
from .reasons import COUNTS, FORWARD, GRADIENTS, LOSS_FALLS, MEMORISE, NO_TASK, no_training

DOC = "000_d46f136e9774935f.txt"
MODULE = "reference_models/quickstart.py"

__all__ = [
    "build_quickstart_mlp",
    "build_conv_example_1_pool",
    "build_conv_example_4",
    "build_quickstart_cnn",
    "entries",
]


def build_quickstart_mlp(loss: str = "binary_crossentropy") -> keras.Model:
    """Dense(29) on 32 inputs, relu, Dense(10) softmax, Dense(2), sigmoid; compiled with adam.

    The document compiles it with categorical_crossentropy, which expects a softmax; two sigmoid
    units are two independent labels, whose loss is binary_crossentropy (the corrected default).
    """
    model = keras.Sequential(
        [
            keras.Input(shape=(32,)),
            layers.Dense(29),
            layers.Activation("relu"),
            layers.Dense(10, activation="softmax"),
            layers.Dense(2),
            layers.Activation("sigmoid"),
        ],
        name="quickstart_mlp",
    )
    model.compile(loss=loss, optimizer="adam", metrics=["accuracy"])
    return model


def build_conv_example_1_pool() -> keras.Model:
    """Example 1's Conv2D(15, 2, strides=2) on 200x200x1 followed by MaxPooling2D(2, 2).

    Layers carry the names of the document's summary, so its figures are keyed by name.
    """
    return keras.Sequential(
        [
            keras.Input(shape=(200, 200, 1)),
            layers.Conv2D(filters=15, kernel_size=2, strides=2, activation="relu", name="conv2d_1"),
            layers.MaxPooling2D(pool_size=2, strides=2, name="max_pooling2d_1"),
        ],
        name="cnn_model_demo_2",
    )


def build_conv_example_4() -> keras.Model:
    """Example 4: Conv2D(32, 3, strides=2, padding="valid") on 128x128x3 gives 63x63x32."""
    return keras.Sequential(
        [
            keras.Input(shape=(128, 128, 3)),
            layers.Conv2D(
                filters=32, kernel_size=3, strides=2, padding="valid", activation="relu", name="conv2d_1"
            ),
        ],
        name="cnn_model_demo_1",
    )


def build_quickstart_cnn() -> keras.Model:
    """The complete CNN: three Conv2D + MaxPooling2D pairs, dropout, Dense(500), Dense(10) softmax."""
    model = keras.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(filters=16, kernel_size=2, padding="same", activation="relu"),
            layers.MaxPooling2D(pool_size=2),
            layers.Conv2D(filters=32, kernel_size=2, padding="same", activation="relu"),
            layers.MaxPooling2D(pool_size=2),
            layers.Conv2D(filters=64, kernel_size=2, padding="same", activation="relu"),
            layers.MaxPooling2D(pool_size=2),
            layers.Dropout(0.2),
            layers.Flatten(),
            layers.Dense(500, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(10, activation="softmax"),
        ],
        name="cnn_model",
    )
    model.compile(loss="categorical_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    return model


QUICKSTART_MLP_PRINTED = """\
from keras.models import Sequential
model = Sequential()
from keras.layers.core import Dense, Activation
model.add(Dense(29, input_dim=32))
model.add(Activation('relu'))
model.add(Dense(10, activation='softmax'))
model.add(Dense(2))
model.add(Activation('sigmoid'))
model.compile(loss="categorical_crossentropy", optimizer="adam", metrics = ['accuracy'])
"""


def entries() -> list[Entry]:
    """The catalogue entries of document 000."""
    section_nn = f"{DOC}, section '使用 Keras 建立神经网络' (building a network with Keras)"
    section_conv = f"{DOC}, section 'Keras 中创建卷积层' (convolutional layers)"
    section_pool = f"{DOC}, section 'Keras 中创建最大池化层' (max pooling layers)"
    section_cnn = f"{DOC}, section '用 Keras 建立一个完整的 CNN 模型架构' (a complete CNN)"

    mlp = reference(
        "quickstart_mlp",
        build_quickstart_mlp,
        source=section_nn,
        module=MODULE,
        input_shape=(32,),
        output_shape=(2,),
        **param_fields(1279),
        output="binary",
        checks={
            "output_shape": FORWARD + " The document says the model outputs 2 values.",
            "param_count": COUNTS,
            "gradient_flow": GRADIENTS,
            "overfit_batch": MEMORISE,
            "loss_matches_output": "Compiled as the document compiles it, with the loss corrected for sigmoid units.",
        },
        skipped={"loss_decrease": "overfit_batch already trains this small model."},
        options={"overfit_batch": {"max_steps": 500, "learning_rate": 0.01}},  # the softmax bottleneck stalls Adam(1e-3) on some seeds
    )
    mlp_loss_printed = as_printed(
        mlp,
        build_quickstart_mlp,
        fault="It compiles categorical_crossentropy, which expects one softmax distribution, on an output of "
        "two independent sigmoid units; binary_crossentropy fits them.",
        suffix="categorical_on_sigmoid",
        builder_kwargs={"loss": "categorical_crossentropy"},
        checks={"loss_matches_output": "The document's own compile call, judged from its configuration."},
        fault_pattern=r"output activation: expected softmax for categorical_crossentropy, which expects probabilities "
        r"that sum to 1, received sigmoid, at output 'activation_1'",
    )
    pool = reference(
        "conv_example_1_pool",
        build_conv_example_1_pool,
        source=section_pool,
        module=MODULE,
        input_shape=(200, 200, 1),
        output_shape=(50, 50, 15),
        layer_output_shapes={"conv2d_1": (100, 100, 15), "max_pooling2d_1": (50, 50, 15)},
        **param_fields(75),
        layer_params={"conv2d_1": 75, "max_pooling2d_1": 0},
        output="regression",
        checks={
            "output_shape": FORWARD + " The document prints both layers' output shapes.",
            "param_count": COUNTS + " The document prints 75 and 0.",
            "gradient_flow": GRADIENTS,
        },
        skipped=no_training(NO_TASK),
    )
    conv4 = reference(
        "conv_example_4",
        build_conv_example_4,
        source=section_conv,
        module=MODULE,
        input_shape=(128, 128, 3),
        output_shape=(63, 63, 32),
        layer_output_shapes={"conv2d_1": (63, 63, 32)},
        **param_fields(896),
        layer_params={"conv2d_1": 896},
        output="regression",
        checks={
            "output_shape": FORWARD + " The document prints (None, 63, 63, 32) for padding='valid'.",
            "param_count": COUNTS + " The document prints 896.",
            "gradient_flow": GRADIENTS,
        },
        skipped=no_training(NO_TASK),
    )
    cnn = reference(
        "quickstart_cnn",
        build_quickstart_cnn,
        source=section_cnn,
        module=MODULE,
        labels="one_hot",  # the document compiles categorical_crossentropy
        input_shape=(32, 32, 3),
        output_shape=(10,),
        **param_fields(528_054),
        output="probabilities",
        checks={
            "output_shape": FORWARD + " Ten class probabilities.",
            "param_count": COUNTS + " The document prints no summary; 528,054 is the Keras 3 figure.",
            "gradient_flow": GRADIENTS,
            "loss_decrease": LOSS_FALLS
            + " Dropout 0.2/0.3 makes memorising one batch noisy, so the cheaper, steadier "
            "loss-decrease check stands in for overfit_batch.",
        },
        skipped={"overfit_batch": "Dropout 0.2/0.3 makes memorising one batch noisy; loss_decrease stands in."},
        options={"loss_decrease": {"steps": 30, "batch_size": 16}},
    )
    mlp_printed = as_printed(
        mlp,
        printed_builder(QUICKSTART_MLP_PRINTED, entry_id="quickstart_mlp__as_printed"),
        fault="It imports Dense and Activation from `keras.layers.core`, a Keras 1/2 module path "
        "that no longer exists in Keras 3.",
        printed_source=QUICKSTART_MLP_PRINTED,
        build_failure=BuildFailure("ModuleNotFoundError", r"^No module named 'keras\.layers\.core'$"),
        fault_pattern=r"raised ModuleNotFoundError: the `keras\.layers\.core` / `\.embeddings` / `\.convolutional` import paths are gone",
        checks={"output_shape": "Building the model is the first step of every check."},
    )
    return [mlp, mlp_printed, mlp_loss_printed, pool, conv4, cnn]
