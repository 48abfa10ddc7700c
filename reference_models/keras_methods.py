"""Document 001 (Keras methods): a Sequential MLP, a Dense example, Embedding, Flatten after a channels_first Conv2D."""

from __future__ import annotations

import keras
from keras import layers

from .entries import BuildFailure, Entry, as_printed, param_fields, reference
from .printed import printed_builder
from .reasons import COUNTS, FORWARD, GRADIENTS, MEMORISE, NO_TASK, no_training

DOC = "001_10c5819406fed9b4.txt"
MODULE = "reference_models/keras_methods.py"

__all__ = [
    "build_methods_mlp",
    "build_methods_dense_sigmoid",
    "build_methods_embedding",
    "build_methods_flatten_channels_first",
    "entries",
]


def build_methods_mlp() -> keras.Model:
    """Dense(64) on 100 inputs, relu, Dense(10), softmax; SGD(0.01, momentum 0.9, Nesterov)."""
    model = keras.Sequential(
        [
            keras.Input(shape=(100,)),
            layers.Dense(units=64),
            layers.Activation("relu"),
            layers.Dense(units=10),
            layers.Activation("softmax"),
        ]
    )
    # The document compiles twice; the second, explicit optimizer is the one that stays.
    model.compile(
        loss="categorical_crossentropy",
        optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True),
    )
    return model


def build_methods_dense_sigmoid() -> keras.Model:
    """The Dense example: 512 sigmoid units on 2 inputs, with a bias."""
    return keras.Sequential(
        [keras.Input(shape=(2,)), layers.Dense(512, activation="sigmoid", use_bias=True)]
    )


def build_methods_embedding(input_dim: int = 200, output_dim: int = 32, input_length: int = 50) -> keras.Model:
    """Embedding(200, 32) over 50-token documents, then Flatten and a Dense, as the text suggests.

    Keras 3 drops `input_length` from Embedding; the length is the Input's shape instead.
    The text names no head; one sigmoid unit (the classic word-embedding example) is used.
    """
    return keras.Sequential(
        [
            keras.Input(shape=(input_length,), dtype="int32"),
            layers.Embedding(input_dim=input_dim, output_dim=output_dim, name="embedding"),
            layers.Flatten(name="flatten"),
            layers.Dense(1, activation="sigmoid", name="dense"),
        ]
    )


def build_methods_flatten_channels_first() -> keras.Model:
    """Conv2D(64, 3, padding="same") on channels-first 3x32x32 images, then Flatten (65,536 values)."""
    return keras.Sequential(
        [
            keras.Input(shape=(3, 32, 32)),
            layers.Conv2D(64, (3, 3), padding="same", data_format="channels_first"),
            layers.Flatten(),
        ]
    )


METHODS_MLP_PRINTED = """\
from keras.models import Sequential
model = Sequential()
from keras.layers import Dense, Activation
model.add(Dense(output_dim=64, input_dim=100))
model.add(Activation("relu"))
model.add(Dense(output_dim=10))
model.add(Activation("softmax"))
"""

FLATTEN_PRINTED = """\
from keras.models import Sequential
from keras.layers.core import Flatten
from keras.layers.convolutional import Convolution2D
from keras.utils.vis_utils import plot_model

model = Sequential()
model.add(Convolution2D(64,3,3,border_mode="same",input_shape=(3,32,32)))
# now:model.output_shape==(None,64,32,32)

model.add(Flatten())
# now: model.output_shape==(None,65536)
"""

# The printed layer calls after Keras 3 imports: the Keras 1 argument spelling remains.
FLATTEN_LAYERS_PRINTED = """\
model = Sequential()
model.add(Convolution2D(64,3,3,border_mode="same",input_shape=(3,32,32)))
model.add(Flatten())
"""
KERAS3_IMPORTS = "from keras.models import Sequential\nfrom keras.layers import Flatten, Convolution2D\n"


def entries() -> list[Entry]:
    """The catalogue entries of document 001."""
    mlp = reference(
        "methods_mlp",
        build_methods_mlp,
        source=f"{DOC}, section '1. keras.models.Sequential模型'",
        module=MODULE,
        labels="one_hot",  # the document compiles categorical_crossentropy for Y_train
        input_shape=(100,),
        output_shape=(10,),
        **param_fields(7114),
        output="probabilities",
        checks={
            "output_shape": FORWARD,
            "param_count": COUNTS + " 100*64+64 + 64*10+10 = 7,114.",
            "gradient_flow": GRADIENTS,
            "overfit_batch": MEMORISE,
        },
        skipped={"loss_decrease": "overfit_batch already trains this small model."},
        options={"overfit_batch": {"max_steps": 300}},
    )
    dense = reference(
        "methods_dense_sigmoid",
        build_methods_dense_sigmoid,
        source=f"{DOC}, section '2. keras.layers.Dense方法'",
        module=MODULE,
        input_shape=(2,),
        output_shape=(512,),
        **param_fields(1536),
        output="binary",
        checks={
            "output_shape": FORWARD + " 512 sigmoid values in [0, 1].",
            "param_count": COUNTS + " 2*512 weights + 512 biases.",
            "gradient_flow": GRADIENTS,
        },
        skipped=no_training(NO_TASK),
    )
    embedding = reference(
        "methods_embedding",
        build_methods_embedding,
        source=f"{DOC}, section '3. keras.layers.embeddings的Embedding 方法'",
        module=MODULE,
        input_shape=(50,),
        output_shape=(1,),
        layer_output_shapes={"embedding": (50, 32), "flatten": (1600,)},
        **param_fields(8001),
        layer_params={"embedding": 6400, "flatten": 0, "dense": 1601},
        output="binary",
        checks={
            "output_shape": FORWARD + " The document says the Embedding's output is 2-D per sample: (50, 32).",
            "param_count": COUNTS + " The Embedding holds a 200x32 table: 6,400 weights.",
            "gradient_flow": GRADIENTS + " The Embedding rows of the tokens seen must receive gradients.",
            "overfit_batch": MEMORISE,
        },
        skipped={"loss_decrease": "overfit_batch already trains this small model."},
        options={"overfit_batch": {"max_steps": 300}},
    )
    flatten = reference(
        "methods_flatten_channels_first",
        build_methods_flatten_channels_first,
        source=f"{DOC}, section '4. keras.layers.core 的Flatten层'",
        module=MODULE,
        input_shape=(3, 32, 32),
        output_shape=(65536,),
        layer_output_shapes=[(64, 32, 32), (65536,)],
        **param_fields(1792),
        output="regression",
        checks={
            "output_shape": FORWARD + " The document prints (None, 64, 32, 32) then (None, 65536); "
            "TensorFlow on CPU runs this channels_first convolution (checked on keras 3.15 / TF 2.21).",
            "param_count": COUNTS + " 3*3*3*64 + 64 = 1,792.",
            "gradient_flow": GRADIENTS,
        },
        skipped=no_training(NO_TASK),
    )
    mlp_printed = as_printed(
        mlp,
        printed_builder(METHODS_MLP_PRINTED, entry_id="methods_mlp__as_printed"),
        fault="It writes `Dense(output_dim=64, input_dim=100)`, the Keras 1 spelling; Keras 3 "
        "requires `units`.",
        printed_source=METHODS_MLP_PRINTED,
        build_failure=BuildFailure("TypeError", r"Dense\.__init__\(\) missing 1 required positional argument: 'units'"),
        fault_pattern=r"raised TypeError: `Dense\(output_dim=\.\.\.\)` is the Keras 1 spelling",
        checks={"output_shape": "Building the model is the first step of every check."},
    )
    flatten_printed = as_printed(
        flatten,
        printed_builder(FLATTEN_PRINTED, entry_id="methods_flatten_channels_first__as_printed"),
        fault="It imports from `keras.layers.core` and `keras.layers.convolutional`, module paths "
        "that Keras 3 removed (and spells the layer the Keras 1 way, see the __keras1_conv variant).",
        printed_source=FLATTEN_PRINTED,
        build_failure=BuildFailure("ModuleNotFoundError", r"^No module named 'keras\.layers\.core'$"),
        fault_pattern=r"raised ModuleNotFoundError: the `keras\.layers\.core` / `\.embeddings` / `\.convolutional` import paths are gone",
        checks={"output_shape": "Building the model is the first step of every check."},
    )
    flatten_layer = as_printed(
        flatten,
        printed_builder(FLATTEN_LAYERS_PRINTED, entry_id="methods_flatten_channels_first__keras1_conv",
                        prelude=KERAS3_IMPORTS),
        suffix="keras1_conv",
        fault="With Keras 3 imports, `Convolution2D(64, 3, 3, border_mode=\"same\")` still fails: "
        "Keras 3 takes one kernel_size and `padding`, so the third 3 becomes strides and "
        "`border_mode` is rejected.",
        printed_source=FLATTEN_LAYERS_PRINTED,
        build_failure=BuildFailure("ValueError", r"Unrecognized keyword arguments passed to Conv2D: \{'border_mode'"),
        fault_pattern=r"raised ValueError: `Convolution2D\(64, 3, 3, border_mode=\.\.\.\)` is the Keras 1 spelling",
        checks={"output_shape": "Building the model is the first step of every check."},
    )
    return [mlp, mlp_printed, dense, embedding, flatten, flatten_printed, flatten_layer]
