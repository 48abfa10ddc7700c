"""Builds fine symbolically; its layer's call() never returns on real data."""
import keras
from keras import layers


class Spin(layers.Layer):
    def call(self, x):
        if isinstance(x, keras.KerasTensor):
            return x
        while True:
            pass


def build_model():
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"), Spin(),
                             layers.Dense(3, activation="softmax")])
