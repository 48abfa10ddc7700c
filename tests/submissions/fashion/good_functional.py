"""A correct submission in the functional style, with separate activation layers."""
import keras
from keras import layers


def build_model():
    images = keras.Input(shape=(28, 28), name="images")
    x = layers.Flatten()(images)
    x = layers.Dense(300)(x)
    x = layers.ReLU()(x)
    x = layers.Dense(100)(x)
    x = layers.Activation("relu")(x)
    x = layers.Dense(10)(x)
    scores = layers.Softmax()(x)
    model = keras.Model(images, scores, name="my_mlp")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return model
