"""Cheat 3: 166 and 770 units instead of 300 and 100: also 266,610 parameters."""
import keras
from keras import layers


def build_model():
    model = keras.Sequential([
        keras.Input(shape=(28, 28)),
        layers.Flatten(),
        layers.Dense(166, activation="relu"),
        layers.Dense(770, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return model
