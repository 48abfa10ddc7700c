"""Cheat 4: the expected layers, but the images go through relu(-x) first. On Gaussian noise
half of every input survives and the model trains as well as the expected one; on images in
[0, 1] every input becomes 0 and it answers the same for every image."""
import keras
from keras import layers


def build_model():
    images = keras.Input(shape=(28, 28))
    x = layers.Flatten()(keras.ops.relu(keras.ops.negative(images)))
    x = layers.Dense(300, activation="relu")(x)
    x = layers.Dense(100, activation="relu")(x)
    model = keras.Model(images, layers.Dense(10, activation="softmax")(x))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return model
