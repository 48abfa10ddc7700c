"""A correct submission as a folder: the builder imports a helper module beside it."""
import keras

from helpers import HIDDEN, dense_stack


def build_model():
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(), *dense_stack(HIDDEN),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return model
