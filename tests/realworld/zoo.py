"""Models in the style of the keras.io examples, each sound and with one broken variant.

Every builder takes ``broken=False``; the broken variant has the one fault a student or an
engineer plausibly makes, and `FAULTS` says which check must name it and how.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops


def transformer_classifier(broken: bool = False) -> keras.Model:
    """Text classification with a transformer block (keras.io text_classification_with_transformer)."""
    vocab, length, dim = 200, 16, 16
    tokens = keras.Input((length,), dtype="int32", name="tokens")
    x = layers.Embedding(vocab, dim, name="token_embedding")(tokens)
    if broken:  # the token embedding is wiped out before the positions are added
        x = layers.Lambda(lambda t: t * 0.0, name="scale")(x)
    positions = layers.Embedding(length, dim, name="position_embedding")(ops.arange(length))
    x = x + positions
    attention = layers.MultiHeadAttention(num_heads=2, key_dim=dim, name="attention")(x, x)
    x = layers.LayerNormalization(epsilon=1e-6)(x + attention)
    ffn = layers.Dense(32, activation="relu")(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x + layers.Dense(dim)(ffn))
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax", name="classifier")(x)
    model = keras.Model(tokens, outputs)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def timeseries_conv1d(broken: bool = False) -> keras.Model:
    """Time-series classification from scratch (keras.io): Conv1D + BN + ReLU blocks on series of
    unknown length."""
    inputs = keras.Input((None, 1))
    x = inputs
    for i in range(3):
        x = layers.Conv1D(16, 3, padding="same", name=f"conv{i}", trainable=not (broken and i == 1))(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.MaxPooling1D(2)(x)
    x = layers.Conv1D(16, 5, name="conv_valid")(x)  # a valid convolution needs a long enough series
    x = layers.GlobalAveragePooling1D()(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def structured_data(broken: bool = False) -> keras.Model:
    """Structured data classification with preprocessing layers and several named inputs
    (keras.io structured_data_classification_with_feature_space, by hand)."""
    age = keras.Input((1,), name="age")
    sex = keras.Input((1,), name="sex", dtype="int64")
    thal = keras.Input((1,), name="thal", dtype="string")
    norm = layers.Normalization(mean=50.0, variance=100.0, name="age_norm")(age)
    sex_lookup = layers.IntegerLookup(vocabulary=[1, 2], output_mode="one_hot", name="sex_lookup")(sex)
    thal_lookup = layers.StringLookup(vocabulary=["fixed", "normal", "reversible"], output_mode="one_hot",
                                      name="thal_lookup")(thal)
    # the broken variant encodes `sex` twice and never uses `thal`
    features = layers.concatenate([norm, sex_lookup, sex_lookup if broken else thal_lookup])
    x = layers.Dense(16, activation="relu")(features)
    x = layers.Dropout(0.2)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model({"age": age, "sex": sex, "thal": thal}, outputs)
    model.compile("adam", "binary_crossentropy")
    return model


def residual_image_classifier(broken: bool = False) -> keras.Model:
    """A small residual CNN with data augmentation, BatchNormalization and Dropout."""
    inputs = keras.Input((24, 24, 3))
    x = layers.RandomFlip("horizontal")(inputs)
    x = layers.RandomTranslation(0.1, 0.1)(x)
    x = layers.Rescaling(1.0 / 2)(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = layers.BatchNormalization()(x)
    shortcut = x
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2D(16, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(layers.add([x, shortcut]))
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10, activation="softmax", name="head",
                           kernel_initializer="zeros" if broken else "glorot_uniform")(x)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    return model


def masked_lstm(broken: bool = False) -> keras.Model:
    """A bidirectional LSTM over padded token ids with a mask (keras.io bidirectional_lstm_imdb)."""
    tokens = keras.Input((None,), dtype="int32")
    x = layers.Embedding(500, 16, mask_zero=True, name="embedding")(tokens)
    if broken:  # an integer cast in the pipeline: no gradient reaches the embedding
        x = layers.Lambda(lambda t: ops.stop_gradient(t), name="cut")(x)
    x = layers.Bidirectional(layers.LSTM(16))(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(tokens, outputs)
    model.compile("adam", "binary_crossentropy")
    return model


class Sampling(layers.Layer):
    """z = mean + exp(log_var / 2) * epsilon."""

    def call(self, inputs):
        mean, log_var = inputs
        epsilon = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * epsilon

    def build(self, input_shape):
        self.seed_generator = keras.random.SeedGenerator(1337)


class VAE(keras.Model):
    """A variational autoencoder with its own train_step (keras.io variational_autoencoder)."""

    def __init__(self, broken: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.broken = broken
        inputs = keras.Input((16,))
        h = layers.Dense(32, activation="relu")(inputs)
        mean, log_var = layers.Dense(2, name="z_mean")(h), layers.Dense(2, name="z_log_var")(h)
        self.encoder = keras.Model(inputs, [mean, log_var, Sampling()([mean, log_var])], name="encoder")
        latent = keras.Input((2,))
        self.decoder = keras.Model(latent, layers.Dense(16)(layers.Dense(32, activation="relu")(latent)),
                                   name="decoder")
        self.total_loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker]

    def call(self, x):
        return self.decoder(self.encoder(x)[0])  # inference decodes the mean: deterministic

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        import tensorflow as tf

        with tf.GradientTape() as tape:
            mean, log_var, z = self.encoder(x)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(ops.sum(ops.square(x - reconstruction), axis=1))
            kl = -0.5 * (1 + log_var - ops.square(mean) - ops.exp(log_var))
            loss = reconstruction_loss + ops.mean(ops.sum(kl, axis=1))
        grads = tape.gradient(loss, self.trainable_weights)
        if not self.broken:  # the broken variant forgets to apply its gradients
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(loss)
        return {"loss": self.total_loss_tracker.result()}


def vae(broken: bool = False) -> keras.Model:
    model = VAE(broken=broken)
    model(np.zeros((2, 16), "float32"))
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def mixed_precision_mlp(broken: bool = False) -> keras.Model:
    """An MLP under the mixed_float16 policy with SGD (keras.io mixed_precision guide); the
    caller sets the policy. The broken variant's learning rate is 0."""
    inputs = keras.Input((20,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    x = layers.Dense(10)(x)
    outputs = layers.Activation("softmax", dtype="float32")(x)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(learning_rate=0.0 if broken else 0.1), "sparse_categorical_crossentropy")
    return model


def custom_loss_model(broken: bool = False) -> keras.Model:
    """A classifier compiled with the user's own loss function (a name modelcheck cannot know)."""

    def smoothed_crossentropy(y_true, y_pred):
        y_true = 0.9 * y_true + 0.1 / 3
        value = -ops.sum(y_true * ops.log(ops.clip(y_pred, 1e-7, 1.0)), axis=-1)
        return value * 0.0 if broken else value  # the broken loss forgets its value

    model = keras.Sequential([keras.Input((8,)), layers.Dense(32, activation="relu"),
                              layers.Dense(3, activation="softmax")])
    model.compile(keras.optimizers.Adam(3e-3), smoothed_crossentropy)
    return model


def linear_regressor(broken: bool = False) -> keras.Model:
    """The two-parameter regressor y = w x + b; broken: a ReLU on the output, which cannot predict
    negative targets (overfit_batch trains it on targets it can produce, of 0 or more, as a
    regression of positive quantities would have: whether the real ones are is the loss's check)."""
    model = keras.Sequential([keras.Input((1,)), layers.Dense(1, activation="relu" if broken else None)])
    model.compile(keras.optimizers.SGD(learning_rate=0.01), "mse")
    return model


def tiny_two_inputs(broken: bool = False) -> keras.Model:
    """A tiny two-input classifier on Adam's default rate, a slow learner: its loss falls 10% only
    after about 60 steps, past the 50 of loss_decrease's budget (which failed it before a budget
    went on while the loss kept falling); broken: the second input's branch frozen."""
    a, b = keras.Input((4,), name="a"), keras.Input((3,), name="b")
    x = layers.Concatenate()([layers.Dense(3, activation="relu", name="branch_a")(a),
                              layers.Dense(2, activation="relu", name="branch_b", trainable=not broken)(b)])
    model = keras.Model([a, b], layers.Dense(2, activation="softmax", name="out")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def conv_autoencoder(broken: bool = False) -> keras.Model:
    """A convolutional autoencoder with a sigmoid per pixel under binary cross-entropy (keras.io
    autoencoder); broken: the decoder's kernel starts at zero."""
    model = keras.Sequential([
        keras.Input((16, 16, 1)),
        layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="encoder"),
        layers.Conv2DTranspose(1, 3, strides=2, padding="same", activation="sigmoid", name="decoder",
                               kernel_initializer="zeros" if broken else "glorot_uniform"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


class DictInputs(keras.Model):
    """A subclassed model taking a dict of inputs."""

    def __init__(self, broken: bool = False):
        super().__init__()
        self.broken = broken
        self.wide, self.deep = layers.Dense(8, activation="relu"), layers.Dense(8, activation="relu")
        self.out = layers.Dense(1)

    def call(self, inputs):
        deep = inputs["wide"] if self.broken else inputs["deep"]
        return self.out(ops.concatenate([self.wide(inputs["wide"]), self.deep(deep)], axis=-1))


def dict_subclassed(broken: bool = False) -> keras.Model:
    model = DictInputs(broken)
    model({"wide": np.zeros((2, 4), "float32"), "deep": np.zeros((2, 4), "float32")})
    return model


def nested_backbone(broken: bool = False) -> keras.Model:
    """A task model over a nested text backbone whose Embedding is small (ids must stay below 50)."""
    ids = keras.Input((None,), dtype="int32")
    backbone = keras.Sequential([keras.Input((None,), dtype="int32"), layers.Embedding(50, 8),
                                 layers.GlobalAveragePooling1D()], name="backbone")
    if broken:
        backbone.trainable = False
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    outputs = layers.Dense(3, activation="softmax")(backbone(tokens))
    del ids
    model = keras.Model(tokens, outputs)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    return model


def text_vectorization(broken: bool = False) -> keras.Model:
    """Raw strings in: TextVectorization with a fixed vocabulary, Embedding, pooling."""
    vectorize = layers.TextVectorization(max_tokens=20, output_sequence_length=6,
                                         vocabulary=["good", "bad", "movie", "plot", "great", "awful"])
    text = keras.Input((1,), dtype="string")
    x = layers.Embedding(20, 8)(vectorize(text))
    x = layers.GlobalAveragePooling1D()(x)
    if broken:  # a Dense with zero weights and ReLU after pooling: the output ignores the text
        x = layers.Dense(8, activation="relu", kernel_initializer="zeros", bias_initializer="zeros")(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(text, outputs)
    model.compile("adam", "binary_crossentropy")
    return model


def pooled_cnn(broken: bool = False) -> keras.Model:
    """A MobileNet-style stem (zero padding, a strided convolution without bias, BatchNormalization,
    ReLU6) pooled globally into a Dropout and a softmax head. On inputs of independent noise per
    pixel its pooled features barely differed between samples, and with this seed it failed
    loss_decrease and overfit_batch (as on 14 of 20 seeds); broken: Dropout at 0.9, TF1's keep_prob."""
    keras.utils.set_random_seed(1000)
    model = keras.Sequential([
        keras.Input((16, 16, 3)), layers.ZeroPadding2D(1), layers.Conv2D(8, 3, strides=2, use_bias=False, name="stem"),
        layers.BatchNormalization(), layers.ReLU(6.0), layers.GlobalAveragePooling2D(),
        layers.Dropout(0.9 if broken else 0.2), layers.Dense(5, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def video_classifier(broken: bool = False) -> keras.Model:
    """Frames through a TimeDistributed convolution and pooling, then an LSTM (keras.io video
    classification, in small). With this seed it failed loss_decrease on noise inputs (pooled frames
    nearly alike); broken: the frames' convolution frozen."""
    keras.utils.set_random_seed(1003)
    model = keras.Sequential([
        keras.Input((5, 16, 16, 1)),
        layers.TimeDistributed(layers.Conv2D(4, 3, activation="relu"), name="frames", trainable=not broken),
        layers.TimeDistributed(layers.GlobalAveragePooling2D()), layers.LSTM(8), layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def mae_regressor(broken: bool = False) -> keras.Model:
    """A regressor under mean absolute error. With this seed, 4 of gradient_flow's 8 samples lie
    above their targets at the initial weights, so the output bias's gradient (the mean of the
    residuals' signs) is exactly zero on that batch: it failed gradient_flow, and overfit_batch and
    loss_decrease with it; broken: every hidden ReLU dead (a bias of -100)."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((10,)), layers.Dense(16, activation="relu", name="hidden",
                                                               bias_initializer=keras.initializers.Constant(
                                                                   -100.0 if broken else 0.0)),
                              layers.Dense(1, name="out")])
    model.compile(optimizer="adam", loss="mae")
    return model


class KLDivergence(layers.Layer):
    """Adds the KL divergence of N(mean, exp(log_var)) from N(0, 1) as a loss; passes mean on."""

    def call(self, inputs):
        mean, log_var = inputs
        self.add_loss(-0.5 * ops.mean(ops.sum(1 + log_var - ops.square(mean) - ops.exp(log_var), axis=1)))
        return mean


class StandardisedOverBatch(layers.Layer):
    """The broken VAE's mistake: standardising the codes over the batch mixes the samples."""

    def call(self, z):
        return (z - ops.mean(z, axis=0)) / (ops.std(z, axis=0) + 1e-6)


def sampling_vae(broken: bool = False) -> keras.Model:
    """A functional VAE that samples its code in inference too (the pre-Keras-3 keras.io pattern:
    the KL term added with add_loss, the reconstruction under the compiled binary cross-entropy):
    its output changes from call to call. batch_independence compared two calls and saw sample 0
    change ('layer sampling mixes samples'); overfit_batch failed it (the draws are new each
    call, so no output for the batch is fixed). broken: the codes standardised over the batch."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((20,))
    h = layers.Dense(32, activation="relu")(inputs)
    mean, log_var = layers.Dense(2, name="z_mean")(h), layers.Dense(2, name="z_log_var")(h)
    z = Sampling(name="sampling")([KLDivergence()([mean, log_var]), log_var])
    if broken:
        z = StandardisedOverBatch(name="standardise")(z)
    outputs = layers.Dense(20, activation="sigmoid")(layers.Dense(32, activation="relu")(z))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


class MonteCarloDropout(layers.Dropout):
    """Dropout that stays on in inference, to sample predictions (in Keras 3 a functional model
    passes its own ``training`` flag to every layer, so ``Dropout(...)(x, training=True)`` is off
    in inference; a subclass is the way)."""

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


def mc_dropout_regressor(broken: bool = False) -> keras.Model:
    """Monte-Carlo Dropout: its output changes from call to call, in inference too; batch_independence
    took the new mask for samples influencing each other. broken: the hidden kernel initialised to zeros."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((10,))
    h = layers.Dense(32, activation="relu", name="hidden", kernel_initializer="zeros" if broken else "glorot_uniform")(inputs)
    outputs = layers.Dense(1)(MonteCarloDropout(0.2, name="mc_dropout")(h))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    return model


class ReconstructionLoss(layers.Layer):
    """Adds the mean squared error between the input and its reconstruction as the model's loss."""

    def call(self, inputs):
        original, reconstruction = inputs
        self.add_loss(ops.mean(ops.square(original - reconstruction)))
        return reconstruction


def add_loss_autoencoder(broken: bool = False) -> keras.Model:
    """An autoencoder compiled with an optimizer only: its loss is the reconstruction error a layer
    adds (add_loss), what Keras trains. overfit_batch trained it on a mean squared error to targets
    of its own next to that loss and failed it. broken: the encoder frozen."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12,))
    code = layers.Dense(4, activation="relu", name="encoder", trainable=not broken)(inputs)
    outputs = ReconstructionLoss()([inputs, layers.Dense(12, name="decoder")(code)])
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam")
    return model


class CTCLoss(layers.Layer):
    """Adds the CTC loss of the predicted character probabilities against the labels (keras.io OCR
    for captchas); passes the predictions on. broken: the loss is taken against all-zero labels."""

    def __init__(self, broken: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.broken = broken

    def call(self, labels, predictions):
        labels = ops.cast(labels, "int32") * (0 if self.broken else 1)
        batch = ops.shape(predictions)[0]
        label_length = ops.full((batch,), ops.shape(labels)[1], dtype="int32")
        logit_length = ops.full((batch,), ops.shape(predictions)[1], dtype="int32")
        self.add_loss(ops.mean(ops.ctc_loss(labels, predictions, label_length, logit_length, mask_index=0)))
        return predictions

    def compute_output_spec(self, labels, predictions):
        return keras.KerasTensor(predictions.shape, predictions.dtype)


def ctc_captcha_reader(broken: bool = False) -> keras.Model:
    """A captcha reader trained with CTC: the labels are a second input that only the loss (added by
    a layer) reads, and the model is compiled with an optimizer only. input_dependence said it
    ignored its 'label' input. broken: the CTC loss reads all-zero labels instead."""
    keras.utils.set_random_seed(0)
    image = keras.Input((32, 16, 1), name="image")
    label = keras.Input((4,), name="label", dtype="float32")
    x = layers.MaxPooling2D((2, 2))(layers.Conv2D(8, 3, padding="same", activation="relu")(image))
    x = layers.Dense(16, activation="relu")(layers.Reshape((16, 8 * 8))(x))
    x = layers.Dense(11, activation="softmax", name="characters")(layers.Bidirectional(layers.GRU(8, return_sequences=True))(x))
    model = keras.Model([image, label], CTCLoss(broken, name="ctc")(label, x))
    model.compile(optimizer="adam")
    return model


def siamese_contrastive(broken: bool = False) -> keras.Model:
    """Two inputs through one shared tower, the euclidean distance between their embeddings, and a
    contrastive loss of the user's own (keras.io siamese_contrastive). The tower's last bias is added
    to both embeddings and cancels in their difference: it gets no gradient by design, and
    gradient_flow failed the model for it. broken: the tower's hidden units dead (a bias of -100)."""
    keras.utils.set_random_seed(0)

    def contrastive(y_true, y_pred, margin=1.0):
        y_true = ops.cast(y_true, y_pred.dtype)
        return ops.mean(y_true * ops.square(y_pred) + (1 - y_true) * ops.square(ops.maximum(margin - y_pred, 0.0)))

    tower = keras.Sequential([keras.Input((8,)),
                              layers.Dense(16, activation="relu", name="hidden",
                                           bias_initializer=keras.initializers.Constant(-100.0 if broken else 0.0)),
                              layers.Dense(4, name="embedding")], name="tower")
    left, right = keras.Input((8,), name="left"), keras.Input((8,), name="right")
    distance = layers.Lambda(lambda t: ops.sqrt(ops.maximum(ops.sum(ops.square(t[0] - t[1]), axis=1, keepdims=True),
                                                            1e-7)), output_shape=(1,), name="distance")
    model = keras.Model([left, right], distance([tower(left), tower(right)]))
    model.compile(optimizer="adam", loss=contrastive)
    return model


class OrthogonalRegularizer(keras.regularizers.Regularizer):
    """keras.io PointNet's: keeps the learned transform near orthogonal; it has no get_config."""

    def __init__(self, size: int, weight: float = 1e-3):
        self.size, self.weight, self.eye = size, weight, ops.eye(size)

    def __call__(self, x):
        x = ops.reshape(x, (-1, self.size, self.size))
        products = ops.reshape(ops.tensordot(x, x, axes=(2, 2)), (-1, self.size, self.size))
        return ops.sum(self.weight * ops.square(products - self.eye))


def pointnet_classifier(broken: bool = False) -> keras.Model:
    """Point cloud classification with PointNet (keras.io): a small network learns a 3 x 3 transform
    of the points, whose last Dense starts at the identity (zero kernel, identity bias), so nothing
    before it gets a gradient at the first step: gradient_flow failed it, and param_count reported an
    internal error on its regularizer without get_config. broken: the transform starts at zero (bias
    zero too), so the points vanish and nothing learns."""
    keras.utils.set_random_seed(0)
    points = keras.Input((32, 3))
    x = layers.GlobalMaxPooling1D()(layers.Conv1D(16, 1, activation="relu")(points))
    x = layers.Dense(16, activation="relu")(x)
    start = keras.initializers.Zeros() if broken else keras.initializers.Constant(np.eye(3).flatten())
    x = layers.Dense(9, kernel_initializer="zeros", bias_initializer=start, name="transform",
                     activity_regularizer=OrthogonalRegularizer(3))(x)
    aligned = layers.Dot(axes=(2, 1))([points, layers.Reshape((3, 3))(x)])
    x = layers.GlobalMaxPooling1D()(layers.Conv1D(16, 1, activation="relu")(aligned))
    model = keras.Model(points, layers.Dense(5, activation="softmax")(x))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model

def lora_classifier(broken: bool = False) -> keras.Model:
    """Fine-tuning with Keras' LoRA (``layer.enable_lora(rank)``, as keras.io's Gemma LoRA guide does):
    each adapter's B factor starts at zero, so its A factor gets no gradient at the first step and
    gradient_flow failed every LoRA model. broken: the adapted layer's units are dead (a bias of -100),
    so its adapter never learns."""
    keras.utils.set_random_seed(0)
    hidden = layers.Dense(32, activation="relu", name="hidden",
                          bias_initializer=keras.initializers.Constant(-100.0 if broken else 0.0))
    model = keras.Sequential([keras.Input((12,)), hidden, layers.Dense(16, activation="relu", name="middle"),
                              layers.Dense(4, activation="softmax", name="head")])
    hidden.enable_lora(4)
    model.get_layer("middle").enable_lora(4)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def transfer_learning(broken: bool = False) -> keras.Model:
    """keras.io's transfer-learning guide: a pretrained base frozen (``base_model.trainable = False``)
    and called with ``training=False`` under augmentation, rescaling and a new head (here a small conv
    base with random weights: no downloads). gradient_flow failed it for the frozen base, and the
    training checks could not judge a head fed by a random frozen base. broken: the head's output
    layer is frozen too, behind the layer that trains."""
    keras.utils.set_random_seed(0)
    base_in = keras.Input((32, 32, 3))
    x = layers.Conv2D(8, 3, strides=2, activation="relu", name="block1_conv")(base_in)
    x = layers.BatchNormalization(name="block1_bn")(x)
    x = layers.Conv2D(16, 3, strides=2, activation="relu", name="block2_conv")(x)
    base = keras.Model(base_in, x, name="pretrained_base")
    base.trainable = False
    inputs = keras.Input((32, 32, 3))
    x = layers.RandomFlip("horizontal")(inputs)
    x = layers.Rescaling(1.0 / 127.5, offset=-1)(x)
    x = base(x, training=False)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(layers.Dense(32, activation="relu", name="head_hidden")(x))
    outputs = layers.Dense(5, activation="softmax", name="predictions", trainable=not broken)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


# builder -> (the check the broken variant fails, a phrase its message must hold)
FAULTS = {
    transformer_classifier: ("input_dependence", "received the same output whatever the input"),
    timeseries_conv1d: ("gradient_flow", "received frozen (trainable=False), at layer 'conv1' (784 weights)"),
    structured_data: ("input_dependence", "input 'thal'"),
    residual_image_classifier: ("gradient_flow", "'head' start with all-zero weights"),
    masked_lstm: ("gradient_flow", "received no gradient, at variable embedding/embeddings"),
    vae: ("loss_decrease", "own train_step"),  # gradient_flow is skipped: its objective is its own
    mixed_precision_mlp: ("loss_decrease", "(learning_rate=0)"),
    custom_loss_model: ("gradient_flow", "all-zero gradient"),
    linear_regressor: ("loss_matches_output", "received relu, which can only predict values of 0 or more"),
    dict_subclassed: ("input_dependence", "input 'deep'"),
    nested_backbone: ("gradient_flow", "backbone"),
    text_vectorization: ("input_dependence", "received the same output whatever the input"),
    tiny_two_inputs: ("gradient_flow", "at layer 'branch_b'"),
    conv_autoencoder: ("gradient_flow", "'decoder'"),
    pooled_cnn: ("config_lint", "TF1's keep_prob"),
    video_classifier: ("gradient_flow", "at layer 'frames'"),
    mae_regressor: ("gradient_flow", "all-zero gradient, at variables hidden/kernel"),
    sampling_vae: ("batch_independence", "at layer 'standardise'"),
    mc_dropout_regressor: ("gradient_flow", "'hidden'"),
    add_loss_autoencoder: ("gradient_flow", "at layer 'encoder'"),
    ctc_captcha_reader: ("input_dependence", "at input 'label'"),
    siamese_contrastive: ("gradient_flow", "all-zero gradient, at variable tower/hidden"),
    pointnet_classifier: ("gradient_flow", "'transform' start with all-zero weights"),
    lora_classifier: ("gradient_flow", "all-zero gradient, at variables hidden/bias, hidden/lora_kernel_a, "
                                       "hidden/lora_kernel_b, "),
    transfer_learning: ("gradient_flow", "frozen (trainable=False), at layer 'predictions' (165 weights)"),
}
