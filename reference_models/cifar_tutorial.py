"""Document 002: the toy model y = 2x - 1, an FNN and two CNNs for CIFAR-10, a Conv2D filter demo."""

from __future__ import annotations

import keras
from keras import layers, models, optimizers

from .entries import BuildFailure, Entry, as_printed, param_fields, reference
from .printed import printed_builder
from .reasons import COUNTS, FORWARD, GRADIENTS, LINEAR, LOSS_FALLS, MEMORISE, NO_TASK, no_training

DOC = "002_d4b2caf88e8c9017.txt"
MODULE = "reference_models/cifar_tutorial.py"
NUM_CLASSES = 10

__all__ = [
    "build_toy_model",
    "build_fnn_sequential",
    "build_fnn_functional",
    "build_small_cnn",
    "build_full_cnn",
    "build_conv_filter_demo",
    "entries",
]


def build_toy_model() -> keras.Model:
    """One Dense unit on one input, compiled with sgd and mean squared error (section 1.3)."""
    toy_model = models.Sequential([keras.Input(shape=(1,)), layers.Dense(units=1)])
    toy_model.compile(optimizer="sgd", loss="mean_squared_error")
    return toy_model


def _compile_classifier(model: keras.Model) -> keras.Model:
    # Section 2.3: Adam(learning_rate=0.0005), categorical cross-entropy, accuracy. The CNNs of
    # section 3 are trained the same way (their compile code is an image in the document).
    model.compile(
        loss="categorical_crossentropy",
        optimizer=optimizers.Adam(learning_rate=0.0005),
        metrics=["accuracy"],
    )
    return model


def build_fnn_sequential() -> keras.Model:
    """Flatten 32x32x3, Dense 200 relu, Dense 150 relu, Dense 10 softmax (Sequential style).

    Layer names are those of the document's summary (flatten, dense, dense_1, dense_2).
    """
    model = models.Sequential(
        [
            keras.Input(shape=(32, 32, 3)),
            layers.Flatten(name="flatten"),
            layers.Dense(units=200, activation="relu", name="dense"),
            layers.Dense(units=150, activation="relu", name="dense_1"),
            layers.Dense(units=NUM_CLASSES, activation="softmax", name="dense_2"),
        ]
    )
    return _compile_classifier(model)


def build_fnn_functional() -> keras.Model:
    """The same FNN in the functional style (section 2.1.2)."""
    input = layers.Input(shape=(32, 32, 3), name="input_1")
    x = layers.Flatten(name="flatten")(input)
    x = layers.Dense(units=200, activation="relu", name="dense")(x)
    x = layers.Dense(units=150, activation="relu", name="dense_1")(x)
    output = layers.Dense(units=NUM_CLASSES, activation="softmax", name="dense_2")(x)
    return _compile_classifier(models.Model(input, output))


def build_small_cnn() -> keras.Model:
    """Conv2D(10, 4, strides 2, same), Conv2D(20, 3, strides 2, same), Flatten, Dense 10 softmax."""
    input_layer = layers.Input(shape=(32, 32, 3), name="input_1")
    conv_layer_1 = layers.Conv2D(filters=10, kernel_size=(4, 4), strides=2, padding="same", name="conv2d")(input_layer)
    conv_layer_2 = layers.Conv2D(filters=20, kernel_size=(3, 3), strides=2, padding="same", name="conv2d_1")(conv_layer_1)
    flatten_layer = layers.Flatten(name="flatten")(conv_layer_2)
    output_layer = layers.Dense(units=NUM_CLASSES, activation="softmax", name="dense")(flatten_layer)
    return _compile_classifier(models.Model(input_layer, output_layer))


def _conv_block(x, filters: int, strides: int):
    x = layers.Conv2D(filters=filters, kernel_size=3, strides=strides, padding="same")(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.LeakyReLU()(x)


def build_full_cnn() -> keras.Model:
    """Section 3.5: four Conv2D + BatchNormalization + LeakyReLU blocks, Dense 128, dropout, softmax.

    `BatchNormalization(momentum=0.9)` is the document's own BatchNormalization line (3.3).
    """
    input_layer = layers.Input(shape=(32, 32, 3))
    x = _conv_block(input_layer, 32, 1)
    x = _conv_block(x, 32, 2)
    x = _conv_block(x, 64, 1)
    x = _conv_block(x, 64, 2)
    x = layers.Flatten()(x)
    x = layers.Dense(128)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.LeakyReLU()(x)
    x = layers.Dropout(rate=0.5)(x)
    x = layers.Dense(NUM_CLASSES)(x)
    output_layer = layers.Activation("softmax")(x)
    return _compile_classifier(models.Model(input_layer, output_layer))


def build_conv_filter_demo() -> keras.Model:
    """Two 3x3 filters over a 64x64 grey image, strides 1, padding "same" (section 3.1)."""
    input = layers.Input(shape=(64, 64, 1))
    conv_layer_1 = layers.Conv2D(filters=2, kernel_size=(3, 3), strides=1, padding="same")(input)
    return models.Model(input, conv_layer_1)


TOY_PRINTED = """\
from tensorflow.keras import models, layers, optimizers, utils, datasets
toy_model = models.Sequential(
    layers.Dense(input_shape=[1], units=1)
)
toy_model.compile(optimizer="sgd", loss="mean_squared_error")
"""


def entries() -> list[Entry]:
    """The catalogue entries of document 002."""
    fnn_layers = {"flatten": 0, "dense": 614600, "dense_1": 30150, "dense_2": 1510}
    fnn_shapes = {"flatten": (3072,), "dense": (200,), "dense_1": (150,), "dense_2": (10,)}
    classifier_checks = {
        "output_shape": FORWARD + " Ten class probabilities that sum to 1.",
        "param_count": COUNTS + " The document prints every layer's count and the total.",
        "gradient_flow": GRADIENTS,
        "overfit_batch": MEMORISE,
    }
    toy = reference(
        "toy_linear",
        build_toy_model,
        source=f"{DOC}, section '1.3 极简神经网络' (the simplest network)",
        module=MODULE,
        input_shape=(1,),
        output_shape=(1,),
        **param_fields(2),
        output="regression",
        checks={
            "output_shape": FORWARD,
            "param_count": COUNTS + " The document explains why there are 2: w and the bias b.",
            "gradient_flow": GRADIENTS,
            "learns_linear": LINEAR,
        },
        skipped=no_training("learns_linear is this model's training check, as in the document."),
        options={
            "learns_linear": {
                "slope": 2.0, "intercept": -1.0, "steps": 500, "learning_rate": 0.01, "predict_at": 5.0,
            }
        },
        extra={
            "printed": {
                "x": [-1, 0, 1, 2, 3, 4],
                "y": [-3, -1, 1, 3, 5, 7],
                "epochs": 500,
                "weights": {"w": 1.9973876, "b": -0.99190086},
                "prediction_at_5": 8.995,
                "loss_first_epoch": 13.4237,
                "loss_last_epoch": 3.8166e-05,
            }
        },
    )
    toy_printed = as_printed(
        toy,
        printed_builder(TOY_PRINTED, entry_id="toy_linear__as_printed", result="toy_model"),
        fault="It passes a single layer to `models.Sequential(layers.Dense(...))`; Keras 3 "
        "expects a list of layers and raises \"'Dense' object is not iterable\".",
        printed_source=TOY_PRINTED,
        build_failure=BuildFailure("TypeError", r"^'Dense' object is not iterable$"),
        fault_pattern=r"raised TypeError: 'Dense' object is not iterable",
        checks={"output_shape": "Building the model is the first step of every check."},
    )
    fnn_seq = reference(
        "cifar_fnn_sequential",
        build_fnn_sequential,
        source=f"{DOC}, section '2.1.1 序列式' (sequential FNN)",
        module=MODULE,
        labels="one_hot",  # the document one-hot encodes y with to_categorical()
        input_shape=(32, 32, 3),
        output_shape=(10,),
        layer_output_shapes=fnn_shapes,
        **param_fields(646_260),
        layer_params=fnn_layers,
        output="probabilities",
        checks=classifier_checks,
        skipped={"loss_decrease": "overfit_batch already trains this model."},
        options={"overfit_batch": {"max_steps": 200}},
    )
    fnn_fun = reference(
        "cifar_fnn_functional",
        build_fnn_functional,
        source=f"{DOC}, section '2.1.2 函数式' (functional FNN) and '2.2 检查模型' (its summary)",
        module=MODULE,
        labels="one_hot",  # the document one-hot encodes y with to_categorical()
        input_shape=(32, 32, 3),
        output_shape=(10,),
        layer_output_shapes=fnn_shapes,
        **param_fields(646_260),
        layer_params=fnn_layers,
        output="probabilities",
        checks={k: v for k, v in classifier_checks.items() if k != "overfit_batch"},
        skipped={
            "overfit_batch": "The same network as cifar_fnn_sequential, which is trained; one is enough.",
            "loss_decrease": "The same network as cifar_fnn_sequential, which is trained; one is enough.",
        },
    )
    small = reference(
        "cifar_small_cnn",
        build_small_cnn,
        source=f"{DOC}, section '3.2 拼接卷积层' (stacking convolutional layers)",
        module=MODULE,
        labels="one_hot",  # the document one-hot encodes y with to_categorical()
        input_shape=(32, 32, 3),
        output_shape=(10,),
        layer_output_shapes={"conv2d": (16, 16, 10), "conv2d_1": (8, 8, 20), "flatten": (1280,), "dense": (10,)},
        **param_fields(15_120),
        layer_params={"conv2d": 490, "conv2d_1": 1820, "flatten": 0, "dense": 12810},
        output="probabilities",
        checks=classifier_checks,
        skipped={"loss_decrease": "overfit_batch already trains this model."},
        options={"overfit_batch": {"max_steps": 200}},
    )
    full = reference(
        "cifar_full_cnn",
        build_full_cnn,
        source=f"{DOC}, section '3.5 完整模型' (the complete CNN)",
        module=MODULE,
        labels="one_hot",  # the document one-hot encodes y with to_categorical()
        input_shape=(32, 32, 3),
        output_shape=(10,),
        **param_fields(592_554, non_trainable=640),
        output="probabilities",
        checks={
            "output_shape": FORWARD + " Ten class probabilities that sum to 1.",
            "param_count": COUNTS + " The document prints 592,554 in all and 640 non-trainable "
            "(the moving means and variances of five BatchNormalization layers).",
            "gradient_flow": GRADIENTS,
            "loss_decrease": LOSS_FALLS + " Dropout 0.5 and BatchNormalization on a tiny batch make "
            "memorising one batch slow and noisy; a falling loss is the cheap, steady check.",
        },
        skipped={"overfit_batch": "Dropout 0.5 and BatchNormalization make memorising one batch slow and noisy."},
        options={"loss_decrease": {"steps": 30, "batch_size": 16}},
    )
    demo = reference(
        "conv_filter_demo",
        build_conv_filter_demo,
        source=f"{DOC}, section '3.1 基本概念' (filters)",
        module=MODULE,
        input_shape=(64, 64, 1),
        output_shape=(64, 64, 2),
        **param_fields(20),
        output="regression",
        checks={
            "output_shape": FORWARD + " padding='same' with strides 1 keeps 64x64.",
            "param_count": COUNTS + " 2 filters of 3*3*1 weights + 2 biases.",
            "gradient_flow": GRADIENTS,
        },
        skipped=no_training(NO_TASK),
    )
    return [toy, toy_printed, fnn_seq, fnn_fun, small, full, demo]
