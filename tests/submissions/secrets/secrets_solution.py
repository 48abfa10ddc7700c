"""The secrets assignment's reference solution (quokka-marker-5531: found anywhere a build job
can reach, the reference leaked)."""
import keras
from keras import layers


def build_model():
    return keras.Sequential([keras.Input(shape=(61,)), layers.Dense(1733, activation="relu"),
                             layers.Dense(3, activation="softmax")])
