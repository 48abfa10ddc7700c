"""Prints 200 MB, then returns a correct model."""
import sys

import keras
from keras import layers

line = "spam " * 2000 + "\n"
for _ in range(200 * 2**20 // len(line)):
    sys.stdout.write(line)


def build_model():
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])
