"""Document 004 (Deep Learning with Python, the functional API): Sequential vs functional,
a two-input QA model, a three-output model, an Inception-style module, a residual
connection and a shared LSTM.

Layers carry the document's variable names (``embedded_text``, ``residual``...) so the
figures the document states about them can be keyed by name.
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import Input, layers
from keras.models import Model, Sequential

from .entries import BuildFailure, Entry, as_printed, param_fields, reference
from .printed import printed_builder
from .reasons import COUNTS, FORWARD, GRADIENTS, LOSS_FALLS, MEMORISE, NO_TASK, TOO_BIG, no_training

DOC = "004_42c2416871156583.txt"
MODULE = "reference_models/dlwp_functional.py"

__all__ = [
    "build_sequential",
    "build_functional",
    "build_qa_model",
    "build_three_output_model",
    "build_inception_block",
    "build_residual_block",
    "build_shared_lstm",
    "entries",
]


def build_sequential() -> keras.Model:
    """Dense 32 relu on 64 inputs, Dense 32 relu, Dense 10 softmax (named as in the summary)."""
    seq_model = Sequential()
    seq_model.add(Input(shape=(64,)))
    seq_model.add(layers.Dense(32, activation="relu", name="dense_1"))
    seq_model.add(layers.Dense(32, activation="relu", name="dense_2"))
    seq_model.add(layers.Dense(10, activation="softmax", name="dense_3"))
    return seq_model


def build_functional() -> keras.Model:
    """The functional equivalent of `build_sequential`."""
    input_tensor = Input(shape=(64,), name="input_1")
    x = layers.Dense(32, activation="relu", name="dense_1")(input_tensor)
    x = layers.Dense(32, activation="relu", name="dense_2")(x)
    output_tensor = layers.Dense(10, activation="softmax", name="dense_3")(x)
    return Model(input_tensor, output_tensor)


def build_qa_model(
    text_vocabulary_size: int = 10000,
    question_vocabulary_size: int = 10000,
    answer_vocabulary_size: int = 500,
    max_length: int | None = None,
) -> keras.Model:
    """Text and question token sequences, embedded and encoded by LSTMs, a softmax over answers.

    Embedding takes (vocabulary size, vector size): the document swaps them.
    """
    text_input = Input(shape=(max_length,), dtype="int32", name="text")
    embedded_text = layers.Embedding(text_vocabulary_size, 64, name="embedded_text")(text_input)
    encoded_text = layers.LSTM(32, name="encoded_text")(embedded_text)
    question_input = Input(shape=(max_length,), dtype="int32", name="question")
    embedded_question = layers.Embedding(question_vocabulary_size, 32, name="embedded_question")(question_input)
    encoded_question = layers.LSTM(16, name="encoded_question")(embedded_question)
    concatenated = layers.concatenate([encoded_text, encoded_question], axis=-1, name="concatenated")
    answer = layers.Dense(answer_vocabulary_size, activation="softmax", name="answer")(concatenated)
    model = Model([text_input, question_input], answer)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["acc"])
    return model


def build_qa_model_as_printed(max_length: int | None = None) -> keras.Model:
    """The QA model with the document's `Embedding(64, text_vocabulary_size)` argument order."""
    text_vocabulary_size = question_vocabulary_size = 10000
    text_input = Input(shape=(max_length,), dtype="int32", name="text")
    embedded_text = layers.Embedding(64, text_vocabulary_size, name="embedded_text")(text_input)
    encoded_text = layers.LSTM(32, name="encoded_text")(embedded_text)
    question_input = Input(shape=(max_length,), dtype="int32", name="question")
    embedded_question = layers.Embedding(32, question_vocabulary_size, name="embedded_question")(question_input)
    encoded_question = layers.LSTM(16, name="encoded_question")(embedded_question)
    concatenated = layers.concatenate([encoded_text, encoded_question], axis=-1, name="concatenated")
    answer = layers.Dense(500, activation="softmax", name="answer")(concatenated)
    model = Model([text_input, question_input], answer)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["acc"])
    return model


def build_three_output_model(
    vocabulary_size: int = 50000,
    num_income_groups: int = 10,
    sequence_length: int | None = None,
) -> keras.Model:
    """Social-media posts to three heads: age (regression), income (softmax), gender (sigmoid).

    `sequence_length` None keeps the document's variable-length input; the five valid
    Conv1D(5) and two MaxPooling1D(5) layers need at least 269 tokens.
    """
    posts_input = Input(shape=(sequence_length,), dtype="int32", name="posts")
    embedded_posts = layers.Embedding(vocabulary_size, 256, name="embedded_posts")(posts_input)
    x = layers.Conv1D(128, 5, activation="relu")(embedded_posts)
    x = layers.MaxPooling1D(5)(x)
    x = layers.Conv1D(256, 5, activation="relu")(x)
    x = layers.Conv1D(256, 5, activation="relu")(x)
    x = layers.MaxPooling1D(5)(x)
    x = layers.Conv1D(256, 5, activation="relu")(x)
    x = layers.Conv1D(256, 5, activation="relu")(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dense(128, activation="relu")(x)
    age_prediction = layers.Dense(1, name="age")(x)
    income_prediction = layers.Dense(num_income_groups, activation="softmax", name="income")(x)
    gender_prediction = layers.Dense(1, activation="sigmoid", name="gender")(x)
    model = Model(posts_input, [age_prediction, income_prediction, gender_prediction])
    model.compile(
        optimizer="rmsprop",
        loss={"age": "mse", "income": "categorical_crossentropy", "gender": "binary_crossentropy"},
        loss_weights={"age": 0.25, "income": 1.0, "gender": 10.0},
    )
    return model


def build_inception_block(input_shape: Sequence[int] = (16, 16, 64), padding: str = "same") -> keras.Model:
    """Four branches, each striding by 2, concatenated on the channels.

    Corrected: the average pooling takes no activation, and every layer uses padding="same"
    so that the four branches come out the same size (`padding` exists to rebuild the
    document's padding="valid", which cannot be concatenated).
    """
    x = Input(shape=tuple(input_shape), name="x")
    branch_a = layers.Conv2D(128, 1, activation="relu", strides=2, padding=padding, name="branch_a")(x)
    branch_b = layers.Conv2D(128, 1, activation="relu", padding=padding)(x)
    branch_b = layers.Conv2D(128, 3, activation="relu", strides=2, padding=padding, name="branch_b")(branch_b)
    branch_c = layers.AveragePooling2D(3, strides=2, padding=padding)(x)
    branch_c = layers.Conv2D(128, 3, activation="relu", padding=padding, name="branch_c")(branch_c)
    branch_d = layers.Conv2D(128, 1, activation="relu", padding=padding)(x)
    branch_d = layers.Conv2D(128, 3, activation="relu", padding=padding)(branch_d)
    branch_d = layers.Conv2D(128, 3, activation="relu", strides=2, padding=padding, name="branch_d")(branch_d)
    output = layers.concatenate([branch_a, branch_b, branch_c, branch_d], axis=-1, name="output")
    return Model(x, output)


def build_residual_block(
    input_shape: Sequence[int] = (16, 16, 64), residual_filters: int = 128, padding: str = "same"
) -> keras.Model:
    """Two Conv2D(128, 3) and a MaxPooling2D(2, 2), plus a strided 1x1 convolution shortcut.

    Corrected: the shortcut is `Conv2D(128, 1, strides=2)` (the document gives no kernel size
    and 1 filter), and the convolutions use padding="same" so both paths end at the same size.
    `residual_filters` and `padding` exist to rebuild the document's partly corrected variants.
    """
    x = Input(shape=tuple(input_shape), name="x")
    y = layers.Conv2D(128, 3, activation="relu", padding=padding)(x)
    y = layers.Conv2D(128, 3, activation="relu", padding=padding)(y)
    y = layers.MaxPooling2D(2, strides=2)(y)
    residual = layers.Conv2D(residual_filters, 1, strides=2, name="residual")(x)
    y = layers.add([y, residual], name="y")
    return Model(x, y)


def build_shared_lstm(sequence_length: int | None = None) -> keras.Model:
    """One LSTM(32) instance applied to two sequences of 128-vectors; a sigmoid on both encodings."""
    lstm = layers.LSTM(32, name="lstm")
    left_input = Input(shape=(sequence_length, 128), name="left_input")
    left_output = lstm(left_input)
    right_input = Input(shape=(sequence_length, 128), name="right_input")
    right_output = lstm(right_input)
    merged = layers.concatenate([left_output, right_output], axis=-1, name="merged")
    predictions = layers.Dense(1, activation="sigmoid", name="predictions")(merged)
    return Model([left_input, right_input], predictions)


THREE_OUTPUTS_PRINTED = """\
from keras import layers
from keras import Input
from keras.models import Model
vocabulary_size = 50000
num_income_groups = 10
posts_input = Input(shape=(None,), dtype='int32', name='posts')
embedded_posts = layers.Embedding(256, vocabulary_size)(posts_input)
x = layers.Conv1D(128, 5, activation='relu')(embedded_posts)
x = layers.MaxPooling1D(5)(x)
x = layers.Conv1D(256, 5, activation='relu')(x)
x = layers.Conv1D(256, 5, activation='relu')(x)
x = layers.MaxPooling1D(5)(x)
x = layers.Conv1D(256, 5, activation='relu')(x)
x = layers.Conv1D(256, 5, activation='relu')(x)
x = layers.GlobalMaxPooling1D()(x)
x = layers.Dense(128, activation='relu')(x)
# Note that we are giving names to the output layers.
age_prediction = layers.Dense(1, name='age')(x)
income_prediction = layers.Dense(num_income_groups, activation='softmax', name='income')(x)
gender_prediction = layers.Dense(1, activation='sigmoid', name='gender')(x)
model = Model(input_posts, [age_prediction, income_prediction, gender_prediction])
"""

INCEPTION_PRINTED = """\
from keras import layers
# We assume the existence of a 4D input tensor `x`
# Every branch has the same stride value (2), which is necessary to keep all
# branch outputs the same size, so as to be able to concatenate them.
branch_a = layers.Conv2D(128, 1, activation='relu', strides=2)(x)
# In this branch, the striding occurs in the spatial convolution layer
branch_b = layers.Conv2D(128, 1, activation='relu')(x)
branch_b = layers.Conv2D(128, 3, activation='relu', strides=2)(branch_b)
# In this branch, the striding occurs in the average pooling layer
branch_c = layers.AveragePooling2D(3, strides=2, activation='relu')(x)
branch_c = layers.Conv2D(128, 3, activation='relu')(branch_c)
branch_d = layers.Conv2D(128, 1, activation='relu')(x)
branch_d = layers.Conv2D(128, 3, activation='relu')(branch_d)
branch_d = layers.Conv2D(128, 3, activation='relu', strides=2)(branch_d)
# Finally, we concatenate the branch outputs to obtain the module output
output = layers.concatenate([branch_a, branch_b, branch_c, branch_d], axis=-1)
"""

RESIDUAL_PRINTED = """\
from keras import layers
# We assume the existence of a 4D input tensor `x`
y = layers.Conv2D(128, 3, activation='relu')(x)
y = layers.Conv2D(128, 3, activation='relu')(y)
y = layers.MaxPooling2D(2, strides=2)(y)
# We use a 1x1 convolution to linearly downsample
# the original `x` tensor to the same shape as `y`
residual = layers.Conv2D(1, strides=2)(x)
# We add the residual tensor back to the output features
y = layers.add([y, residual])
"""

# The document assumes "a 4D input tensor x"; the variants get the reference's input.
X_PRELUDE = "x = keras.Input(shape=(16, 16, 64), name='x')\n"
_CONCATENATE_ERROR = (r"A `Concatenate` layer requires inputs with matching shapes except for the concatenation axis\. "
                      r"Received: input_shape=\[\(None, 8, 8, 128\), \(None, 7, 7, 128\), \(None, 5, 5, 128\), "
                      r"\(None, 6, 6, 128\)\]")


def entries() -> list[Entry]:
    """The catalogue entries of document 004."""
    api = f"{DOC}, section '如何使用API' (using the functional API)"
    dense_checks = {
        "output_shape": FORWARD + " Ten class probabilities.",
        "param_count": COUNTS + " The document prints a per-layer summary and the total 3,466.",
        "gradient_flow": GRADIENTS,
        "overfit_batch": MEMORISE,
    }
    correct_layers = {"dense_1": 2080, "dense_2": 1056, "dense_3": 330}
    printed_layers = {"dense_1": 2080, "dense_2": 105, "dense_3": 33}
    dense_common = dict(
        module=MODULE,
        input_shape=(64,),
        output_shape=(10,),
        layer_output_shapes={"dense_1": (32,), "dense_2": (32,), "dense_3": (10,)},
        **param_fields(3466),
        output="probabilities",
        checks=dense_checks,
        skipped={"loss_decrease": "overfit_batch already trains this small model."},
        options={"overfit_batch": {"max_steps": 300}},
    )
    seq = reference("dlwp_sequential", build_sequential, source=api, layer_params=correct_layers, **dense_common)
    fun = reference("dlwp_functional", build_functional, source=api + ", its functional equivalent",
                    layer_params=correct_layers, **dense_common)
    printed_fault = (
        "The printed summary gives dense_2 105 and dense_3 33 parameters; a Dense(32) on 32 inputs "
        "has 32*32+32 = 1,056 and a Dense(10) on 32 inputs 330 (the total 3,466 is right)."
    )
    counts_only = {"param_count": "The document's summary figures are what is wrong."}
    seq_printed = as_printed(
        seq, build_sequential, fault=printed_fault, checks=counts_only, layer_params=printed_layers,
        fault_pattern=r"parameters: expected 105, received 1,?056, at layer 'dense_2' \(Dense\)|layer dense_2 params: spec 105 keras 1056",
    )
    fun_printed = as_printed(
        fun, build_functional, fault=printed_fault, checks=counts_only, layer_params=printed_layers,
        fault_pattern=r"parameters: expected 105, received 1,?056, at layer 'dense_2' \(Dense\)|layer dense_2 params: spec 105 keras 1056",
    )

    qa = reference(
        "dlwp_qa_two_inputs",
        build_qa_model,
        source=f"{DOC}, section '【實例】問答系統' (a question-answering model with two inputs)",
        module=MODULE,
        labels="one_hot",  # "Answers are one-hot encoded, not integers"
        builder_kwargs={"max_length": 20},
        input_shape={"text": (20,), "question": (20,)},
        output_shape=(500,),
        layer_output_shapes={"embedded_text": (20, 64), "embedded_question": (20, 32), "answer": (500,)},
        **param_fields(1_000_052),
        layer_params={"embedded_text": 640000, "encoded_text": 12416, "embedded_question": 320000,
                      "encoded_question": 3136, "answer": 24500},
        output="probabilities",
        checks={
            "output_shape": FORWARD + " The comments say: vectors of size 64 (text) and 32 (question), "
            "a softmax over 500 answers; sequences of 20 tokens keep it cheap.",
            "param_count": COUNTS + " Embedding(10000, 64) holds 640,000 weights, the LSTMs 12,416 and 3,136.",
            "gradient_flow": GRADIENTS,
            "loss_decrease": LOSS_FALLS + " RMSprop as compiled, at learning rate 0.01 (ten times its default) "
            "so that 20 cheap steps show a 500-way softmax moving.",
        },
        skipped={"overfit_batch": "500 answer classes on a tiny batch: loss_decrease is the cheaper sign of life."},
        options={"loss_decrease": {"steps": 20, "batch_size": 8, "learning_rate": 0.01}, "gradient_flow": {"batch_size": 4}},
    )
    qa_printed = as_printed(
        qa,
        build_qa_model_as_printed,
        fault="It writes `Embedding(64, text_vocabulary_size)` and `Embedding(32, question_vocabulary_size)`: "
        "the arguments are (input_dim, output_dim), so the vocabulary is 64 tokens and the vectors "
        "10,000 wide; real token ids up to 9,999 fail.",
        builder_kwargs={"max_length": 20},
        checks={
            "output_shape": "The comments promise vectors of size 64 and 32 out of the embeddings.",
            "param_count": "The encoders' counts follow from the vector size.",
        },
        fault_pattern=(r"output shape: expected \(None, 20, 64\), received \(None, 20, 10000\), at layer 'embedded_text'"
                       r"|parameters: expected 12,416, received 1,284,224, at layer 'encoded_text'"
                       r"|layer encoded_text params: spec 12416 keras 1284224"),
    )

    three = reference(
        "dlwp_three_outputs",
        build_three_output_model,
        source=f"{DOC}, section '【實例】多輸出情況' (a model with three outputs)",
        module=MODULE,
        builder_kwargs={"sequence_length": 270},
        input_shape=(270,),
        output_shape={"age": (1,), "income": (10,), "gender": (1,)},
        **param_fields(14_146_316),
        layer_params={"embedded_posts": 12800000, "age": 129, "income": 1290, "gender": 129},
        output={"age": "regression", "income": "probabilities", "gender": "binary"},
        checks={
            "output_shape": FORWARD + " Three named heads; 270 tokens (the valid convolutions and "
            "poolings need at least 269) keep it cheap.",
            "param_count": COUNTS + " 14,146,316, of which the 50,000 x 256 embedding is 12,800,000.",
            "gradient_flow": GRADIENTS + " On a batch of 2 short sequences.",
        },
        skipped=no_training(TOO_BIG + " It holds 14 million parameters."),
        options={"output_shape": {"batch_size": 2}, "gradient_flow": {"batch_size": 2}},
    )
    three_printed = as_printed(
        three,
        printed_builder(THREE_OUTPUTS_PRINTED, entry_id="dlwp_three_outputs__as_printed"),
        fault="It ends with `Model(input_posts, ...)` but the input is called `posts_input`, so "
        "Python raises NameError (and `Embedding(256, vocabulary_size)` swaps the arguments).",
        printed_source=THREE_OUTPUTS_PRINTED,
        build_failure=BuildFailure("NameError", r"name 'input_posts' is not defined"),
        fault_pattern=r"raised NameError: name 'input_posts' is not defined",
        checks={"param_count": "Building the model is the first step of every check."},
    )

    block_checks = {
        "output_shape": FORWARD,
        "param_count": COUNTS,
        "gradient_flow": GRADIENTS,
    }
    inception = reference(
        "dlwp_inception_block",
        build_inception_block,
        source=f"{DOC}, section '圖模樣的網絡構建' (an Inception-style module)",
        module=MODULE,
        input_shape=(16, 16, 64),
        output_shape=(8, 8, 512),
        layer_output_shapes={"branch_a": (8, 8, 128), "branch_b": (8, 8, 128), "branch_c": (8, 8, 128),
                             "branch_d": (8, 8, 128)},
        **param_fields(541_568),
        output="regression",
        checks={**block_checks, "output_shape": FORWARD + " The comment: every branch strides by 2 so the "
                "outputs have the same size and can be concatenated."},
        skipped=no_training(NO_TASK),
    )
    inception_printed = as_printed(
        inception,
        printed_builder(INCEPTION_PRINTED, entry_id="dlwp_inception_block__as_printed", prelude=X_PRELUDE,
                        finish="model = keras.Model(x, output)\n"),
        fault="It writes `AveragePooling2D(3, strides=2, activation='relu')`; pooling layers take "
        "no activation and Keras 3 rejects the argument.",
        printed_source=INCEPTION_PRINTED,
        build_failure=BuildFailure(
            "ValueError", r"Unrecognized keyword arguments passed to AveragePooling2D: \{'activation': 'relu'\}"),
        fault_pattern=r"raised ValueError: pooling layers take no `activation` argument",
        checks={"output_shape": "Building the model is the first step of every check."},
    )
    inception_valid = as_printed(
        inception,
        build_inception_block,
        suffix="valid_padding",
        builder_kwargs={"padding": "valid"},
        fault="Even without the pooling activation, the branches as printed use padding='valid', so "
        "on a 16x16 input they end 8x8, 7x7, 5x5 and 6x6 and cannot be concatenated.",
        build_failure=BuildFailure("ValueError", _CONCATENATE_ERROR),
        fault_pattern=rf"raised ValueError: {_CONCATENATE_ERROR}",
        checks={"output_shape": "Building the model is the first step of every check."},
    )

    residual = reference(
        "dlwp_residual_block",
        build_residual_block,
        source=f"{DOC}, section '殘差網絡的構建' (a residual connection)",
        module=MODULE,
        input_shape=(16, 16, 64),
        output_shape=(8, 8, 128),
        layer_output_shapes={"residual": (8, 8, 128), "y": (8, 8, 128)},
        **param_fields(229_760),
        layer_params={"residual": 8320},
        output="regression",
        checks={**block_checks, "output_shape": FORWARD + " The comment: the 1x1 convolution brings x "
                "to the same shape as y."},
        skipped=no_training(NO_TASK),
    )
    residual_printed = as_printed(
        residual,
        printed_builder(RESIDUAL_PRINTED, entry_id="dlwp_residual_block__as_printed", prelude=X_PRELUDE,
                        finish="model = keras.Model(x, y)\n"),
        fault="It writes `Conv2D(1, strides=2)`: a convolution needs a kernel size, so Keras 3 "
        "raises TypeError (and 1 filter could not match y's 128 channels).",
        printed_source=RESIDUAL_PRINTED,
        build_failure=BuildFailure(
            "TypeError", r"Conv2D\.__init__\(\) missing 1 required positional argument: 'kernel_size'"),
        fault_pattern=r"raised TypeError: a convolution layer needs a kernel size",
        checks={"output_shape": "Building the model is the first step of every check."},
    )
    residual_one = as_printed(
        residual,
        build_residual_block,
        suffix="one_filter",
        builder_kwargs={"residual_filters": 1},
        fault="With a kernel size added, the printed shortcut `Conv2D(1, 1, strides=2)` has 1 filter: "
        "Keras 3 `add` silently broadcasts (8, 8, 1) onto (8, 8, 128), so nothing fails but the "
        "shortcut is not x brought to y's shape (65 parameters instead of 8,320).",
        checks={
            "output_shape": "The document's comment: the shortcut has the same shape as y.",
            "param_count": "A 1x1 convolution from 64 to 128 channels holds 8,320 parameters.",
        },
        fault_pattern=(r"output shape: expected \(None, 8, 8, 128\), received \(None, 8, 8, 1\), at layer 'residual'"
                       r"|parameters: expected 8,320, received 65, at layer 'residual'"
                       r"|layer residual params: spec 8320 keras 65"),
    )
    residual_valid = as_printed(
        residual,
        build_residual_block,
        suffix="valid_padding",
        builder_kwargs={"padding": "valid"},
        fault="With the shortcut corrected but the printed padding='valid', y shrinks to 6x6 while "
        "the shortcut is 8x8, and `add` cannot combine them.",
        checks={"output_shape": "Building the model is the first step of every check."},
        build_failure=BuildFailure(
            "ValueError", r"Inputs have incompatible shapes\. Received shapes \(6, 6, 128\) and \(8, 8, 128\)"),
        fault_pattern=r"raised ValueError: Inputs have incompatible shapes\. Received shapes \(6, 6, 128\) and \(8, 8, 128\)",
    )

    shared = reference(
        "dlwp_shared_lstm",
        build_shared_lstm,
        source=f"{DOC}, section '我們還遇到了需要共享某一層的情況' (a shared LSTM)",
        module=MODULE,
        builder_kwargs={"sequence_length": 12},
        input_shape={"left_input": (12, 128), "right_input": (12, 128)},
        output_shape=(1,),
        **param_fields(20_673),
        layer_params={"lstm": 20608, "predictions": 65},
        output="binary",
        checks={
            "output_shape": FORWARD + " One sigmoid per pair; sequences of 12 vectors keep it cheap.",
            "param_count": COUNTS + " The LSTM's 20,608 weights are shared, so counted once.",
            "gradient_flow": GRADIENTS + " The shared LSTM gets gradients from both branches.",
            "overfit_batch": MEMORISE,
        },
        skipped={"loss_decrease": "overfit_batch already trains this small model."},
        options={"overfit_batch": {"max_steps": 300}},
    )
    return [
        seq, seq_printed, fun, fun_printed, qa, qa_printed, three, three_printed,
        inception, inception_printed, inception_valid,
        residual, residual_printed, residual_one, residual_valid, shared,
    ]
