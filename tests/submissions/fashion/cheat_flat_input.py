"""Cheat 1: the model reads flat 784-vectors, though the assignment says 28 x 28 images
(same layers, same 266,610 parameters)."""
import keras
from keras import layers


def build_model():
    model = keras.Sequential([
        keras.Input(shape=(784,)),
        layers.Dense(300, activation="relu"),
        layers.Dense(100, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return model
