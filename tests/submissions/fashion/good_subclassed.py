"""A correct submission as a subclassed model with get_config, with a Dropout the assignment allows."""
import keras
from keras import layers


@keras.saving.register_keras_serializable(package="student")
class FashionMLP(keras.Model):
    def __init__(self, hidden=(300, 100), **kwargs):
        super().__init__(**kwargs)
        self.hidden = tuple(hidden)
        self.flatten = layers.Flatten()
        self.first = layers.Dense(hidden[0], activation="relu")
        self.dropout = layers.Dropout(0.1)
        self.second = layers.Dense(hidden[1], activation="relu")
        self.classes = layers.Dense(10, activation="softmax")

    def call(self, inputs, training=False):
        x = self.first(self.flatten(inputs))
        return self.classes(self.second(self.dropout(x, training=training)))

    def get_config(self):
        return {**super().get_config(), "hidden": list(self.hidden)}


def build_model():
    model = FashionMLP()
    model.build((None, 28, 28))
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["accuracy"])
    return model
