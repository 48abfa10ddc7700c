"""A correct submission that sorts before every attacker."""


def build_model():
    import keras
    from keras import layers

    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])
