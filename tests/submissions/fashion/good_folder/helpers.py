from keras import layers

HIDDEN = (300, 100)


def dense_stack(sizes):
    return [layers.Dense(size, activation="relu") for size in sizes]
