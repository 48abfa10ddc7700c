"""Small models shared by the core tests: correct ones and ones broken on purpose."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops


def fashion_mlp(units: int = 300) -> keras.Model:
    return keras.Sequential([
        keras.Input((28, 28)), layers.Flatten(),
        layers.Dense(units, activation="relu"), layers.Dense(100, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ], name="fashion_mlp")


def small_classifier(**last: object) -> keras.Model:
    kwargs = {"units": 4, "activation": "softmax", **last}
    return keras.Sequential([keras.Input((6,)), layers.Dense(16, activation="relu"),
                             layers.Dense(**kwargs)])


def frozen_hidden() -> keras.Model:
    model = small_classifier()
    model.layers[0].trainable = False
    return model


def stop_gradient_lambda() -> keras.Model:
    inputs = keras.Input((6,))
    hidden = layers.Dense(16, activation="relu", name="hidden")(inputs)
    cut = layers.Lambda(lambda t: ops.stop_gradient(t), name="cut")(hidden)
    outputs = layers.Dense(4, activation="softmax", name="out")(cut)
    return keras.Model(inputs, outputs)


def zero_initialised() -> keras.Model:
    return keras.Sequential([
        keras.Input((6,)),
        layers.Dense(16, activation="relu", kernel_initializer="zeros", name="hidden_1"),
        layers.Dense(16, activation="relu", kernel_initializer="zeros", name="hidden_2"),
        layers.Dense(4, activation="softmax", name="out"),
    ])


def nan_weights() -> keras.Model:
    model = small_classifier()
    kernel = model.layers[0].kernel
    value = keras.ops.convert_to_numpy(kernel).copy()
    value[0, 0] = np.nan
    kernel.assign(value)
    return model


def toy(**dense: object) -> keras.Model:
    return keras.Sequential([keras.Input((1,)), layers.Dense(1, **dense)])


def two_heads() -> keras.Model:
    wide = keras.Input((5,), name="wide")
    deep = keras.Input((6,), name="deep")
    hidden = layers.Dense(8, activation="relu", name="hidden")(deep)
    merged = layers.concatenate([wide, hidden], name="merge")
    main = layers.Dense(1, name="main")(merged)
    aux = layers.Dense(3, activation="softmax", name="aux")(hidden)
    return keras.Model([wide, deep], [main, aux])


class Tiny(keras.Model):
    """A subclassed model: its wiring lives in `call` (no graph to read or mutate)."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


@keras.saving.register_keras_serializable(package="modelcheck_tests")
class SeededNoise(layers.Layer):
    """Adds noise in inference too (a VAE's sampling, Monte-Carlo Dropout): a new draw at every
    call, from a Keras generator the layer keeps, so modelcheck can repeat its draws."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(11)

    def call(self, x):
        return x + keras.random.normal(ops.shape(x), seed=self.seed_generator)
