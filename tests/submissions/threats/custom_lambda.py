"""A Lambda layer: Keras' safe mode refuses to load it, so the model is measured in the
submission's own process and those verdicts are marked unverified."""
import keras
from keras import layers


def build_model():
    return keras.Sequential([keras.Input(shape=(4,)), layers.Lambda(lambda x: x * 2.0),
                             layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")])
