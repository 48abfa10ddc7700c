"""matches_reference: equivalent forms are equal, names never matter, each difference is worded
for a student; and instructor samples / input ranges reach every check that runs the model."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from modelcheck import check_matches_reference
from modelcheck.checks.reference import canonical_architecture
from modelcheck.checks.common import prepare_batch
from modelcheck.model.inputs import set_instructor_data, synthetic_inputs
from modelcheck.snapshot.serialize import architecture


def reference() -> keras.Model:
    return keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(30, activation="relu"),
                             layers.Dense(10, activation="relu"), layers.Dense(5, activation="softmax")])


def functional_separate_activations() -> keras.Model:
    x = keras.Input((28, 28), name="pixels")
    h = layers.Dense(30, name="hidden")(layers.Flatten()(x))
    h = layers.Dense(10)(layers.ReLU()(h))
    return keras.Model(x, layers.Softmax()(layers.Dense(5)(layers.Activation("relu")(h))))


class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flat, self.a = layers.Flatten(), layers.Dense(30, activation="relu")
        self.b, self.out = layers.Dense(10, activation="relu"), layers.Dense(5, activation="softmax")

    def call(self, x):
        return self.out(self.b(self.a(self.flat(x))))


def subclassed() -> keras.Model:
    model = Subclassed()
    model.build((None, 28, 28))
    return model


@pytest.mark.parametrize("builder", [reference, functional_separate_activations, subclassed])
def test_equivalent_forms_match_the_reference(builder):
    result = check_matches_reference(builder(), reference=reference)
    assert result.passed, result.message


class DefinedOutOfOrder(keras.Model):
    """The reference, written with its layers defined in another order than it calls them and an
    activation as a keras.ops call: its call() is what counts."""

    def __init__(self, skip_relu: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.skip_relu = skip_relu
        self.out = layers.Dense(5, activation="softmax")
        self.b, self.a, self.flat = layers.Dense(10, activation="relu"), layers.Dense(30), layers.Flatten()

    def call(self, x):
        h = self.a(self.flat(x))
        return self.out(self.b(h if self.skip_relu else keras.ops.relu(h)))


def defined_out_of_order(skip_relu: bool = False) -> keras.Model:
    model = DefinedOutOfOrder(skip_relu)
    model(np.zeros((1, 28, 28), "float32"))
    return model


@pytest.mark.parametrize("reference_", [reference, defined_out_of_order])
@pytest.mark.parametrize("builder", [reference, functional_separate_activations, subclassed, defined_out_of_order])
def test_a_subclassed_model_is_compared_as_the_graph_its_call_makes(builder, reference_):
    result = check_matches_reference(builder(), reference=reference_)
    assert result.passed, result.message


@pytest.mark.parametrize("reference_", [reference, defined_out_of_order])
def test_an_operation_a_subclassed_call_leaves_out_is_a_difference(reference_):
    result = check_matches_reference(defined_out_of_order(skip_relu=True), reference=reference_)
    assert result.status == "failed"
    assert result.message.splitlines()[1:] == ["layer 2 (Dense 30): activation relu expected, none received"]


@pytest.mark.parametrize(("layers_", "expected"), [
    ([layers.Flatten(), layers.Dense(30), layers.Dense(10, activation="relu"), layers.Dense(5, activation="softmax")],
     "layer 2 (Dense 30): activation relu expected, none received"),
    ([layers.Flatten(), layers.Dense(31, activation="relu"), layers.Dense(10, activation="relu"),
      layers.Dense(5, activation="softmax")], "layer 2 (Dense 31): units 30 expected, 31 received"),
    ([layers.Flatten(), layers.Dense(30, activation="relu"), layers.Dense(5, activation="softmax")],
     "before layer 3 (Dense 5): Dense 10 with activation relu expected (as in the reference solution), missing"),
    ([layers.Flatten(), layers.Dense(30, activation="relu"), layers.Dropout(0.5), layers.Dense(10, activation="relu"),
      layers.Dense(5, activation="softmax")], "layer 3 (Dropout 0.5): not in the reference solution"),
])
def test_each_difference_is_worded_for_a_student(layers_, expected):
    model = keras.Sequential([keras.Input((28, 28)), *layers_])
    result = check_matches_reference(model, reference=architecture(reference()))
    assert result.status == "failed"
    assert result.message.splitlines()[0].startswith("architecture: expected the reference solution's, received ")
    assert expected in result.message.splitlines()[1:]


def test_allowed_extra_layers_and_ignored_keys_pass():
    model = keras.Sequential([keras.Input((28, 28)), layers.Flatten(),
                              layers.Dense(30, activation="relu", kernel_initializer="he_normal"), layers.Dropout(0.3),
                              layers.Dense(10, activation="relu"), layers.Dense(5, activation="softmax")])
    assert not check_matches_reference(model, reference=reference).passed
    assert check_matches_reference(model, reference=reference, allow_extra=["Dropout"],
                                   ignore=["initializers"]).passed


def _logits_of_reference(activation: str | None = None) -> keras.Model:
    x = keras.Input((28, 28), name="pixels")
    h = layers.Dense(10, activation="relu")(layers.Dense(30, activation="relu")(layers.Flatten()(x)))
    return keras.Model(x, layers.Dense(5, activation=activation)(h))


def test_an_output_declared_classes_may_give_the_logits_of_the_references_softmax():
    """Under output = "classes" a logits student lost matches_reference's points for the softmax they left to
    their loss (from_logits=True), which the assignment had just accepted."""
    for activation in (None, "log_softmax"):
        logits = _logits_of_reference(activation)
        result = check_matches_reference(logits, reference=reference)
        assert result.status == "failed" and "layer 4 (Dense 5)" in result.message
        assert check_matches_reference(logits, reference=reference, output="classes").passed
        by_name = {logits.output_names[0]: "classes"}
        assert check_matches_reference(logits, reference=reference, output=by_name).passed
        assert check_matches_reference(logits, reference=reference, output="probabilities").status == "failed"
    # only the logits of the same scores: another activation, or a hidden layer's, is still a difference
    wrong = check_matches_reference(_logits_of_reference("relu"), reference=reference, output="classes")
    assert wrong.status == "failed" and "activation softmax expected, relu received" in wrong.message
    hidden = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(30), layers.Dense(10, activation="relu"),
                               layers.Dense(5, activation="softmax")])
    assert check_matches_reference(hidden, reference=reference, output="classes").status == "failed"


def test_connections_count_a_skip_that_the_reference_lacks():
    def chain(skip: bool) -> keras.Model:
        x = keras.Input((8,))
        a = layers.Dense(8, activation="relu")(x)
        b = layers.Dense(8, activation="relu")(a)
        return keras.Model(x, layers.Dense(2)(layers.Add()([b, a if skip else b])))

    result = check_matches_reference(chain(True), reference=chain(False))
    assert "layer 3 (Add): reads layer 2 (Dense 8), layer 2 (Dense 8) expected, layer 2 (Dense 8), " \
           "layer 1 (Dense 8) received" in result.message


def test_without_a_reference_the_check_is_skipped():
    assert check_matches_reference(reference()).status == "skipped"


def test_instructor_samples_and_labels_replace_synthetic_batches():
    model = reference()
    x = np.random.default_rng(0).random((12, 28, 28)).astype("float32")
    y = np.arange(12) % 5
    set_instructor_data(model, x=[x], y=[y])
    assert np.array_equal(synthetic_inputs(model, 8, 0), x[:8])
    assert not np.array_equal(synthetic_inputs(model, 8, 1), synthetic_inputs(model, 8, 0))
    batch = prepare_batch("loss_decrease", model, batch_size=8, seed=0, fittable=True)
    assert np.array_equal(batch.x, x[:8]) and list(batch.targets[0].reshape(-1)) == list(y[:8])


def test_an_input_range_bounds_synthetic_inputs():
    model = reference()
    set_instructor_data(model, input_range=[0, 1])
    x = synthetic_inputs(model, 16, 0)
    assert x.min() >= 0 and x.max() <= 1 and x.std() > 0.2


# --- every call of a layer counts -------------------------------------------------------------

ONCE = ("layer 2 (Dense 8): called 3 times, once expected (calling a layer again reuses its weights; "
        "the reference solution calls it once)")


def three_dense() -> keras.Model:
    x = keras.Input((4,))
    return keras.Model(x, layers.Dense(3)(layers.Dense(8)(layers.Dense(8)(x))))


def functional_reusing_a_layer() -> keras.Model:
    d1, d2, d3 = layers.Dense(8), layers.Dense(8), layers.Dense(3)
    x = keras.Input((4,))
    return keras.Model(x, d3(d2(d2(d2(d1(x))))))


class ReusingALayer(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d1, self.d2, self.d3 = layers.Dense(8), layers.Dense(8), layers.Dense(3)

    def call(self, x):
        return self.d3(self.d2(self.d2(self.d2(self.d1(x)))))


def subclassed_reusing_a_layer() -> keras.Model:
    model = ReusingALayer()
    model(np.zeros((1, 4), "float32"))
    return model


def nested_block_called_three_times() -> keras.Model:
    block = keras.Sequential([keras.Input((8,)), layers.Dense(8)])
    x = keras.Input((4,))
    return keras.Model(x, layers.Dense(3)(block(block(block(layers.Dense(8)(x))))))


@pytest.mark.parametrize("as_dict", [True, False], ids=["stored", "builder"])
@pytest.mark.parametrize(("builder", "expected"), [
    (functional_reusing_a_layer, ONCE),
    (subclassed_reusing_a_layer, ONCE),
    (nested_block_called_three_times, ONCE.replace("(Dense 8)", "(Dense 8; inside the nested Sequential)")),
])
def test_a_layer_called_again_is_a_difference(builder, expected, as_dict):
    keras.utils.set_random_seed(0)
    cheat = builder()
    assert cheat.count_params() == three_dense().count_params()  # the same weights, used three times
    result = check_matches_reference(cheat, reference=architecture(three_dense()) if as_dict else three_dense)
    assert result.status == "failed"
    assert result.message.splitlines()[1:] == [expected]


class SkippingALayer(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d1, self.d2, self.d3 = layers.Dense(8), layers.Dense(8), layers.Dense(3)

    def call(self, x):
        return self.d3(self.d1(x))  # d2 is built by nothing and computes nothing


@pytest.mark.filterwarnings("ignore:`build\\(\\)` was called on layer:UserWarning")  # d2 stays unbuilt
def test_a_layer_a_subclassed_model_never_calls_is_a_difference():
    keras.utils.set_random_seed(0)
    model = SkippingALayer()
    model(np.zeros((1, 4), "float32"))
    result = check_matches_reference(model, reference=architecture(three_dense()))
    assert result.message.splitlines()[1:] == [
        "layer 2 (Dense 8): never called, once expected (a layer that is never called does nothing; "
        "the reference solution calls it once)"]


def siamese() -> keras.Model:
    """The reference: one tower (a nested Sequential) applied to both inputs, sharing its weights."""
    tower = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(8)])
    a, b = keras.Input((4,)), keras.Input((4,))
    return keras.Model([a, b], layers.Dense(1, activation="sigmoid")(layers.Concatenate()([tower(a), tower(b)])))


def flat_siamese(*, share: bool = True, second_first: bool = False, second_reads_a: bool = False) -> keras.Model:
    d1, d2 = layers.Dense(8), layers.Dense(8)
    e1, e2 = (d1, d2) if share else (layers.Dense(8), layers.Dense(8))
    a, b = keras.Input((4,)), keras.Input((4,))
    if second_first:  # the calls made in the other order: the same network
        tb = e2(layers.ReLU()(e1(b)))
        ta = d2(layers.ReLU()(d1(a)))
    else:
        ta = d2(layers.ReLU()(d1(a)))
        tb = e2(layers.ReLU()(e1(a if second_reads_a else b)))
    return keras.Model([a, b], layers.Dense(1, activation="sigmoid")(layers.Concatenate()([ta, tb])))


@pytest.mark.parametrize("builder", [siamese, flat_siamese, lambda: flat_siamese(second_first=True)],
                         ids=["nested", "flat", "calls_in_another_order"])
def test_a_reference_that_shares_a_layer_matches_a_model_that_shares_it(builder):
    keras.utils.set_random_seed(0)
    assert check_matches_reference(builder(), reference=architecture(siamese())).passed
    assert check_matches_reference(builder(), reference=siamese).passed


class SharingALayer(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d1, self.d2, self.d3 = layers.Dense(8), layers.Dense(8), layers.Dense(3)

    def call(self, x):
        return self.d3(self.d2(self.d2(self.d1(x))))


def subclassed_sharing_a_layer() -> keras.Model:
    model = SharingALayer()
    model(np.zeros((1, 4), "float32"))
    return model


def functional_sharing_a_layer() -> keras.Model:
    d1, d2, d3 = layers.Dense(8), layers.Dense(8), layers.Dense(3)
    x = keras.Input((4,))
    return keras.Model(x, d3(d2(d2(d1(x)))))


@pytest.mark.parametrize("reference_", [subclassed_sharing_a_layer, functional_sharing_a_layer])
def test_a_subclassed_model_and_a_reference_calling_a_layer_twice(reference_):
    keras.utils.set_random_seed(0)
    assert check_matches_reference(subclassed_sharing_a_layer(), reference=reference_).passed
    assert check_matches_reference(functional_sharing_a_layer(), reference=reference_).passed
    result = check_matches_reference(subclassed_reusing_a_layer(), reference=reference_)
    assert result.message.splitlines()[1:] == [
        "layer 2 (Dense 8): called 3 times, twice expected (calling a layer again reuses its weights; "
        "the reference solution calls it twice)"]
    assert not check_matches_reference(three_dense(), reference=reference_).passed


def test_a_reference_that_shares_a_layer_fails_a_model_that_does_not():
    keras.utils.set_random_seed(0)
    result = check_matches_reference(flat_siamese(share=False), reference=architecture(siamese()))
    assert result.status == "failed"
    lines = result.message.splitlines()[1:]
    assert "layer 1 (Dense 8): called once, twice expected (the reference solution calls this same layer twice, " \
           "so every call uses the same weights; a new layer for each call has weights of its own)" in lines
    assert "layer 2 (Dense 8): not in the reference solution" in lines

    result = check_matches_reference(flat_siamese(second_reads_a=True), reference=architecture(siamese()))
    assert result.message.splitlines()[1:] == ["layer 1 (Dense 8), 2nd call: reads input 2 expected, input 1 received"]


def pooling_net(reuse: bool) -> keras.Model:
    relu, pool = layers.ReLU(), layers.MaxPooling2D()
    x = keras.Input((16, 16, 3))
    h = (pool if reuse else layers.MaxPooling2D())((relu if reuse else layers.ReLU())(layers.Conv2D(4, 3)(x)))
    h = (pool if reuse else layers.MaxPooling2D())((relu if reuse else layers.ReLU())(layers.Conv2D(8, 3)(h)))
    return keras.Model(x, layers.Dense(2)(layers.Flatten()(h)))


def test_a_layer_without_weights_may_be_called_again():
    keras.utils.set_random_seed(0)
    assert canonical_architecture(architecture(pooling_net(True))) == canonical_architecture(
        architecture(pooling_net(False)))
    assert check_matches_reference(pooling_net(True), reference=architecture(pooling_net(False))).passed


def test_the_canonical_form_of_a_model_without_reuse_is_unchanged():
    form = canonical_architecture(architecture(reference()), ignore=["initializers"])
    assert form == {"inputs": [[None, 28, 28]], "layers": [
        {"class": "Flatten", "config": {"data_format": "channels_last"}, "sources": ["input 1"]},
        {"class": "Dense", "config": {"units": 30, "activation": "relu", "use_bias": True}, "sources": [0]},
        {"class": "Dense", "config": {"units": 10, "activation": "relu", "use_bias": True}, "sources": [1]},
        {"class": "Dense", "config": {"units": 5, "activation": "softmax", "use_bias": True}, "sources": [2]}]}


def test_an_activation_is_not_folded_into_a_layer_that_another_layer_also_reads():
    def skip(relu_both: bool) -> keras.Model:
        x = keras.Input((8,))
        a = layers.Dense(8)(x)
        b = layers.ReLU()(a)
        return keras.Model(x, layers.Dense(2)(layers.Add()([b, b if relu_both else a])))

    result = check_matches_reference(skip(True), reference=architecture(skip(False)))
    assert result.status == "failed"


# --- the batch size is not part of the architecture -----------------------------------------

def test_a_declared_batch_size_is_not_a_difference():
    keras.utils.set_random_seed(0)
    x = keras.Input((4,), batch_size=1)
    fixed = keras.Model(x, layers.Dense(3)(layers.Dense(8)(layers.Dense(8)(x))))
    assert check_matches_reference(fixed, reference=architecture(three_dense())).passed
    sequential = keras.Sequential([keras.Input((28, 28), batch_size=32), *reference().layers])
    assert check_matches_reference(sequential, reference=reference).passed
    assert check_matches_reference(three_dense(), reference=architecture(fixed)).passed

    y = keras.Input((5,), batch_size=1)
    wider = keras.Model(y, layers.Dense(3)(layers.Dense(8)(layers.Dense(8)(y))))
    result = check_matches_reference(wider, reference=architecture(three_dense()))
    assert result.message.splitlines()[1:] == ["input 1: shape (4,) expected, (5,) received"]


# --- a nested model is compared as its layers -----------------------------------------------

def _wrapped(output: str) -> keras.Model:
    x = keras.Input((28, 28))
    y = reference()(x)
    return keras.Model(x, {"plain": y, "tuple": (y,), "list": [y]}[output])


def sequential_block_in_sequential() -> keras.Model:
    block = keras.Sequential([layers.Dense(30), layers.ReLU(), layers.Dense(10, activation="relu")], name="block")
    return keras.Sequential([keras.Input((28, 28)), layers.Flatten(), block, layers.Dense(5), layers.Softmax()])


def functional_in_functional() -> keras.Model:
    i = keras.Input((784,))
    inner = keras.Model(i, layers.Dense(10, activation="relu")(layers.Dense(30, activation="relu")(i)))
    x = keras.Input((28, 28))
    return keras.Model(x, layers.Dense(5, activation="softmax")(inner(layers.Flatten()(x))))


class WithABlock(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flat = layers.Flatten()
        self.block = keras.Sequential([layers.Dense(30, activation="relu"), layers.Dense(10, activation="relu")])
        self.out = layers.Dense(5, activation="softmax")

    def call(self, x):
        return self.out(self.block(self.flat(x)))


def subclassed_with_a_block() -> keras.Model:
    model = WithABlock()
    model(np.zeros((1, 28, 28), "float32"))
    return model


@pytest.mark.parametrize("builder", [
    lambda: _wrapped("plain"), lambda: _wrapped("tuple"), lambda: _wrapped("list"),
    sequential_block_in_sequential, functional_in_functional, subclassed_with_a_block,
], ids=["wrapped", "wrapped_tuple", "wrapped_list", "sequential_in_sequential", "functional_in_functional",
        "subclassed_with_a_block"])
def test_a_nested_model_equals_its_layers(builder):
    keras.utils.set_random_seed(0)
    for ref in (reference, architecture(reference())):
        result = check_matches_reference(builder(), reference=ref)
        assert result.passed, result.message


def test_a_difference_inside_a_nested_model_names_the_inner_layer():
    keras.utils.set_random_seed(0)
    block = keras.Sequential([layers.Dense(30, activation="relu"), layers.Dense(11, activation="relu")], name="block")
    model = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), block, layers.Dense(5, activation="softmax")])
    result = check_matches_reference(model, reference=architecture(reference()))
    assert result.message.splitlines()[1:] == [
        "layer 3 (Dense 11; inside the nested Sequential 'block'): units 10 expected, 11 received"]

    x = keras.Input((28, 28))
    wrapped = keras.Model(x, keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(30),
                                               layers.Dense(10, activation="relu"),
                                               layers.Dense(5, activation="softmax")])(x))
    result = check_matches_reference(wrapped, reference=reference)
    assert result.message.splitlines()[1:] == [
        "layer 2 (Dense 30; inside the nested Sequential): activation relu expected, none received"]


# --- operations between layers (keras.ops, operators on symbolic tensors) --------------------

def dense_relu_softmax() -> keras.Model:
    return keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])


def ops_relu_softmax() -> keras.Model:
    i = keras.Input((4,))
    h = keras.ops.relu(layers.Dense(8)(i))
    return keras.Model(i, keras.ops.softmax(layers.Dense(3)(h)))


def times(factor: float, first: bool = False) -> keras.Model:
    i = keras.Input((4,))
    h = layers.Dense(8, activation="relu")(i)
    return keras.Model(i, layers.Dense(3, activation="softmax")(factor * h if first else h * factor))


MULTIPLY = "an operation multiply (keras.ops.multiply or the * operator)"


def test_activations_written_as_operations_equal_the_layers_activations():
    keras.utils.set_random_seed(0)
    for model, ref in [(ops_relu_softmax, dense_relu_softmax), (dense_relu_softmax, ops_relu_softmax)]:
        for reference_ in (ref, architecture(ref())):
            result = check_matches_reference(model(), reference=reference_)
            assert result.passed, result.message
    assert canonical_architecture(architecture(ops_relu_softmax())) == canonical_architecture(
        architecture(dense_relu_softmax()))


def test_an_operation_the_reference_lacks_is_named_for_a_student():
    keras.utils.set_random_seed(0)
    result = check_matches_reference(times(2.0), reference=dense_relu_softmax)
    assert result.status == "failed"
    assert result.message.splitlines()[1:] == [
        f"layer 2 (operation multiply): {MULTIPLY}, with arguments (<tensor>, 2.0), not in the reference solution"]
    result = check_matches_reference(dense_relu_softmax(), reference=architecture(times(2.0)))
    assert result.message.splitlines()[1:] == [
        f"before layer 2 (Dense 3): {MULTIPLY} expected (as in the reference solution), missing"]


def test_the_constant_operands_of_an_operation_are_compared():
    keras.utils.set_random_seed(0)
    assert check_matches_reference(times(2.0, first=True), reference=architecture(times(2.0))).passed
    result = check_matches_reference(times(3.0), reference=times(2.0))
    assert result.message.splitlines()[1:] == [
        "layer 2 (operation multiply): arguments (<tensor>, 2.0) expected, (<tensor>, 3.0) received"]


@pytest.mark.parametrize(("activation", "op"), [
    ("relu", keras.ops.relu), ("sigmoid", keras.ops.sigmoid), ("tanh", keras.ops.tanh),
    ("gelu", lambda x: keras.ops.gelu(x, approximate=False)), ("swish", keras.ops.silu), ("silu", keras.ops.swish),
    ("elu", keras.ops.elu), ("selu", keras.ops.selu), ("softplus", keras.ops.softplus), ("relu6", keras.ops.relu6),
    ("leaky_relu", keras.ops.leaky_relu), ("log_softmax", keras.ops.log_softmax), ("softmax", keras.ops.softmax),
    ("exponential", keras.ops.exp), ("relu", keras.activations.relu), ("gelu", keras.activations.gelu),
], ids=lambda value: value if isinstance(value, str) else None)
def test_an_activation_operation_equals_a_layer_activation(activation, op):
    def with_op() -> keras.Model:
        i = keras.Input((4,))
        return keras.Model(i, layers.Dense(3)(op(layers.Dense(8)(i))))

    def with_layer(act: str) -> keras.Model:
        return keras.Sequential([keras.Input((4,)), layers.Dense(8, activation=act), layers.Dense(3)])

    keras.utils.set_random_seed(0)
    for model, ref in [(with_op(), with_layer(activation)), (with_layer(activation), with_op())]:
        result = check_matches_reference(model, reference=architecture(ref))
        assert result.passed, result.message
    other = "tanh" if activation != "tanh" else "relu"
    result = check_matches_reference(with_op(), reference=with_layer(other))
    assert result.message.splitlines()[1:] == [
        f"layer 1 (Dense 8): activation {other} expected, "
        f"{layers.Dense(8, activation=activation).get_config()['activation']} received"]


def test_an_operation_with_other_arguments_than_the_activation_is_not_folded():
    def net(op) -> keras.Model:
        i = keras.Input((4,))
        return keras.Model(i, layers.Dense(3)(op(layers.Dense(8)(i))))

    keras.utils.set_random_seed(0)
    gelu = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="gelu"), layers.Dense(3)])
    result = check_matches_reference(net(keras.ops.gelu), reference=gelu)  # approximate=True by default
    assert result.message.splitlines()[1:] == [
        "layer 1 (Dense 8): activation gelu expected, none received",
        "layer 2 (operation gelu): an operation gelu (keras.ops.gelu), with approximate True, not in the reference "
        "solution"]
    leaky = keras.Sequential([keras.Input((4,)), layers.Dense(8), layers.LeakyReLU(negative_slope=0.1),
                              layers.Dense(3)])
    assert check_matches_reference(net(lambda x: keras.ops.leaky_relu(x, negative_slope=0.1)), reference=leaky).passed
    assert not check_matches_reference(net(keras.ops.leaky_relu), reference=leaky).passed


def test_a_softmax_over_another_axis_than_the_last_is_not_folded():
    def net(axis: int) -> keras.Model:
        i = keras.Input((5, 6))
        return keras.Model(i, keras.ops.softmax(layers.Dense(3)(i), axis=axis))

    keras.utils.set_random_seed(0)
    folded = keras.Sequential([keras.Input((5, 6)), layers.Dense(3, activation="softmax")])
    assert check_matches_reference(net(-1), reference=folded).passed
    result = check_matches_reference(net(1), reference=folded)
    assert result.message.splitlines()[1:] == ["layer 1 (Dense 3): activation softmax expected, none received",
                                               "layer 2 (Softmax): not in the reference solution"]
    softmax_layer = keras.Sequential([keras.Input((5, 6)), layers.Dense(3), layers.Softmax(axis=1)])
    assert check_matches_reference(net(1), reference=softmax_layer).passed


def merged(concatenate) -> keras.Model:
    a, b = keras.Input((4,)), keras.Input((5,))
    return keras.Model([a, b], layers.Dense(2)(concatenate([layers.Dense(5, activation="relu")(a), b])))


def test_concatenate_written_as_an_operation_equals_the_layer_along_the_same_axis():
    """keras.ops.concatenate(xs, axis=-1) is Concatenate(); its default axis, 0, joins the batches:
    a Concatenate(axis=0), a different network."""
    keras.utils.set_random_seed(0)
    reference_ = merged(layers.Concatenate())
    for ref in (reference_, architecture(reference_)):
        result = check_matches_reference(merged(lambda xs: keras.ops.concatenate(xs, axis=-1)), reference=ref)
        assert result.passed, result.message
    assert check_matches_reference(reference_, reference=merged(lambda xs: keras.ops.concatenate(xs, axis=-1))).passed
    result = check_matches_reference(merged(keras.ops.concatenate), reference=reference_)
    assert result.message.splitlines()[1:] == ["layer 2 (Concatenate): axis -1 expected, 0 received"]


def test_an_activation_operation_in_a_branch_keeps_the_layer_order():
    def net(first_op: bool, second_op: bool) -> keras.Model:
        x = keras.Input((4,))
        a = keras.ops.relu(layers.Dense(4)(x)) if first_op else layers.Dense(4, activation="relu")(x)
        b = keras.ops.relu(layers.Dense(8)(x)) if second_op else layers.Dense(8, activation="relu")(x)
        return keras.Model(x, layers.Concatenate()([a, b]))

    keras.utils.set_random_seed(0)
    for first_op, second_op in [(True, False), (False, True), (True, True)]:
        result = check_matches_reference(net(first_op, second_op), reference=net(False, False))
        assert result.passed, result.message


def test_an_activation_operation_is_not_folded_into_a_layer_another_call_reads():
    def skip(relu_op: bool, relu_both: bool = False) -> keras.Model:
        x = keras.Input((8,))
        a = layers.Dense(8)(x)
        b = keras.ops.relu(a) if relu_op else layers.ReLU()(a)
        if relu_op:  # a + b: Add()([a, b])
            return keras.Model(x, layers.Dense(2)(b + (b if relu_both else a)))
        return keras.Model(x, layers.Dense(2)(layers.Add()([b, a])))

    keras.utils.set_random_seed(0)
    assert check_matches_reference(skip(True), reference=architecture(skip(False))).passed
    assert not check_matches_reference(skip(True, relu_both=True), reference=architecture(skip(False))).passed


def test_operations_inside_a_nested_model_count():
    def block(extra: bool) -> keras.Model:
        i = keras.Input((784,))
        h = keras.ops.relu(layers.Dense(30)(i))
        return keras.Model(i, keras.ops.relu(layers.Dense(10)(h * 0.5 if extra else h)), name="block")

    def net(extra: bool) -> keras.Model:
        x = keras.Input((28, 28))
        return keras.Model(x, keras.ops.softmax(layers.Dense(5)(block(extra)(layers.Flatten()(x)))))

    keras.utils.set_random_seed(0)
    assert check_matches_reference(net(False), reference=reference).passed
    result = check_matches_reference(net(True), reference=architecture(reference()))
    assert result.message.splitlines()[1:] == [
        "layer 3 (operation multiply; inside the nested Functional 'block'): an operation multiply "
        "(keras.ops.multiply or the * operator), with arguments (<tensor>, 0.5), not in the reference solution"]


def test_a_model_without_operations_has_the_architecture_it_had():
    for model in (reference(), functional_separate_activations(), siamese()):
        assert "operations" not in architecture(model)
    assert "operations" in architecture(ops_relu_softmax())


def test_ignoring_activations_leaves_activation_layers_out_as_well():
    """With ignore=["activations"], an Activation layer that folds into the layer before it used to
    stay as 'layer 2 (Activation None): not in the reference solution': folding read the config
    the ignore had already emptied."""
    reference = keras.Sequential([keras.Input((4,)), layers.Dense(8, activation="relu"),
                                  layers.Dense(2, activation="sigmoid")])
    separate = keras.Sequential([keras.Input((4,)), layers.Dense(8), layers.Activation("tanh"), layers.Dense(2),
                                 layers.Activation("sigmoid")])
    assert check_matches_reference(separate, reference=reference, ignore=["activations"]).passed
    stacked = keras.Sequential([keras.Input((4,)), layers.Dense(8), layers.Activation("tanh"), layers.ReLU(),
                                layers.Dense(2, activation="sigmoid")])
    assert check_matches_reference(stacked, reference=reference, ignore=["activations"]).passed
    wider = keras.Sequential([keras.Input((4,)), layers.Dense(8), layers.Activation("relu"), layers.Dense(3)])
    result = check_matches_reference(wider, reference=reference, ignore=["activations"])
    assert not result.passed and "layer 2 (Dense 3): units 2 expected, 3 received" in result.message
    assert "activation" not in result.message


def _softmax_over(axis, *, op: bool = False, time_steps: int = 0) -> keras.Model:
    """The reference with its softmax applied over `axis` (a Softmax layer, or keras.ops.softmax)."""
    x = keras.Input((28, 28))
    h = layers.Dense(10, activation="relu")(layers.Dense(30, activation="relu")(layers.Flatten()(x)))
    z = layers.Dense(5)(h)
    if time_steps:
        z = layers.Reshape((1, 5))(z)
    return keras.Model(x, keras.ops.softmax(z, axis=axis) if op else layers.Softmax(axis=axis)(z))


@pytest.mark.parametrize("axis", [-1, 1, [1], (1,)])
@pytest.mark.parametrize("op", [False, True])
def test_a_softmax_over_the_last_axis_named_by_a_positive_number_is_the_reference_softmax(axis, op):
    """Softmax(axis=1) on a (None, 5) output is Softmax(): it must fold into the Dense layer, as -1 does."""
    if op and not isinstance(axis, int):
        pytest.skip("keras.ops.softmax takes an int or a tuple")
    result = check_matches_reference(_softmax_over(axis, op=op), reference=reference)
    assert result.passed, result.message


def test_a_softmax_over_another_axis_than_the_last_is_not_the_reference_softmax():
    """On a (None, 1, 5) output, axis=1 is not the class axis: it stays a difference."""
    result = check_matches_reference(_softmax_over(1, time_steps=1), reference=reference)
    assert not result.passed and "activation softmax expected" in result.message, result.message


def _fashion(*, input_dtype: str = "float32", flatten_dtype: str | None = None, quantize: bool = False,
             hidden_output: bool = False) -> keras.Model:
    """The reference (28x28 -> 30 relu -> 10 relu -> 5 softmax) with one change of dtype or outputs."""
    x = keras.Input((28, 28), dtype=input_dtype)
    flat = layers.Flatten(**({"dtype": flatten_dtype} if flatten_dtype else {}))(x)
    hidden = layers.Dense(30, activation="relu")(flat)
    out = layers.Dense(5, activation="softmax")(layers.Dense(10, activation="relu")(hidden))
    model = keras.Model(x, [out, hidden] if hidden_output else out)
    if quantize:
        model.quantize("int8")
    return model


def _depth(value, level: int = 0) -> int:
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()] or [level])
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value] or [level])
    return level


@pytest.mark.filterwarnings("ignore:Layer .* does not have a `quantize` method")
def test_a_quantized_model_is_told_in_words_and_its_result_stays_shallow():
    """model.quantize("int8") (red team 14) put each Dense layer's quantizer config, 8 levels deep,
    into `received`: the grading schema refused the whole report and every check scored 0."""
    from modelcheck.grading.schema import CHECK_RESULT

    result = check_matches_reference(_fashion(quantize=True), reference=reference)
    assert not result.passed
    assert result.message.splitlines()[1] == (
        "layer 2 (Dense 30): float weights expected (as in the reference solution), weights quantized to int8 "
        "received; model.quantize() stores the kernels as frozen low-precision values that training cannot change: "
        "build and train the float model, and quantize it afterwards, outside build_model")
    data = result.to_dict()
    assert max(_depth(data["expected"]), _depth(data["received"]), _depth(data["details"])) <= 3
    CHECK_RESULT(data, "result")  # the grading schema takes it
    assert data["received"]["layers"][:2] == ["Flatten", "Dense 30 relu"]


def test_a_result_never_nests_deeper_than_a_report_may():
    from modelcheck.core.result import MAX_NESTING, CheckResult

    deep: dict = {"leaf": 1}
    for _ in range(10):
        deep = {"inner": [deep]}
    data = CheckResult.fail("x", "m", received=deep, details={"deep": deep}).to_dict()
    assert _depth(data["received"]) <= MAX_NESTING and _depth(data["details"]) <= MAX_NESTING
    assert '"leaf": 1' in str(data["received"])


@pytest.mark.parametrize("change, line", [
    ({"input_dtype": "bool"}, "input 1: dtype float32 expected (as in the reference solution), bool received; it "
     "turns every value it reads into True or False"),
    ({"input_dtype": "uint8"}, "input 1: dtype float32 expected (as in the reference solution), uint8 received; it "
     "turns every value it reads into whole numbers"),
    ({"flatten_dtype": "bool"}, "layer 1 (Flatten): dtype float expected (as in the reference solution), dtype bool "
     "received; the layer turns every value it reads into True or False"),
])
def test_an_input_or_layer_dtype_that_loses_the_values_is_a_difference(change, line):
    """A bool or integer input (or layer) sees pixels in [0, 1] as 0 or 1 (red team 14: full marks before)."""
    result = check_matches_reference(_fashion(**change), reference=reference)
    assert not result.passed and result.message.splitlines()[1].startswith(line), result.message


@pytest.mark.parametrize("change", [{"input_dtype": "float16"}, {"input_dtype": "float64"},
                                    {"flatten_dtype": "mixed_float16"}, {"flatten_dtype": "bfloat16"}])
def test_float_precisions_and_mixed_precision_are_not_a_difference(change):
    result = check_matches_reference(_fashion(**change), reference=reference)
    assert result.passed, result.message


def test_a_float_input_where_the_reference_takes_integer_ids_is_not_a_difference():
    """Wider than the reference's loses nothing: an Embedding casts float ids back to int."""
    def embedder(dtype: str) -> keras.Model:
        x = keras.Input((6,), dtype=dtype)
        return keras.Model(x, layers.Dense(2)(layers.Flatten()(layers.Embedding(50, 4)(x))))

    assert check_matches_reference(embedder("float32"), reference=embedder("int32")).passed
    result = check_matches_reference(embedder("bool"), reference=embedder("int32"))
    assert not result.passed and "dtype int32 expected" in result.message


def test_a_model_that_also_outputs_a_hidden_layer_does_not_match():
    """Red team 14: the reference graph plus its hidden Dense as a second output 'matched'."""
    result = check_matches_reference(_fashion(hidden_output=True), reference=reference)
    assert not result.passed
    assert result.message.splitlines()[1].startswith(
        "outputs: 1 expected, 2 received: layer 4 (Dense 5), layer 2 (Dense 30)"), result.message


def test_the_outputs_of_a_two_output_model_are_compared_layer_by_layer():
    def two_heads(swap: bool) -> keras.Model:
        x = keras.Input((8,))
        h = layers.Dense(16, activation="relu")(x)
        a, b = layers.Dense(3, activation="softmax")(h), layers.Dense(1)(h)
        return keras.Model(x, [b, a] if swap else [a, b])

    assert check_matches_reference(two_heads(False), reference=two_heads(False)).passed
    assert not check_matches_reference(two_heads(True), reference=two_heads(False)).passed


def _with_dropout(*rates: float) -> keras.Model:
    stack = [layers.Flatten(), layers.Dense(30, activation="relu")]
    stack += [layers.Dropout(rate) for rate in rates]
    return keras.Sequential([keras.Input((28, 28)), *stack, layers.Dense(10, activation="relu"),
                             layers.Dense(5, activation="softmax")])


@pytest.mark.parametrize("rates", [(), (0.5,), (0.3, 0.2)])
def test_a_class_allowed_extra_does_not_count_where_the_reference_has_it_either(rates):
    """An instructor whose reference has Dropout(0.3) and who allows Dropout: a student without it, or with
    another rate, lost the reference's points (5 of 7 correct CNNs in trial 21)."""
    reference_model = architecture(_with_dropout(0.3))
    assert check_matches_reference(_with_dropout(*rates), reference=reference_model, allow_extra=["Dropout"]).passed
    result = check_matches_reference(_with_dropout(*rates), reference=reference_model)
    assert not result.passed and "Dropout" in result.message


def test_a_class_allowed_extra_still_leaves_the_other_layers_compared():
    reference_model = architecture(_with_dropout(0.3))
    wrong = keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(30, activation="relu"),
                              layers.Dense(5, activation="softmax")])
    result = check_matches_reference(wrong, reference=reference_model, allow_extra=["Dropout"])
    assert not result.passed and "missing" in result.message


def test_a_missing_layer_is_placed_before_the_students_next_layer_which_is_compared_with_its_likeness():
    def mlp(*hidden, head="softmax"):
        return keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"), *hidden,
                                 layers.Dense(3, activation=head)])

    result = check_matches_reference(mlp(head="sigmoid"), reference=lambda: mlp(layers.Dense(8, activation="relu")))
    assert result.status == "failed"
    assert result.message.splitlines() == [
        "architecture: expected the reference solution's, received 2 differences, at layer 2 (Dense 3)",
        "before layer 2 (Dense 3): Dense 8 with activation relu expected (as in the reference solution), missing",
        "layer 2 (Dense 3): activation softmax expected, sigmoid received"]
    result = check_matches_reference(keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu")]),
                                     reference=mlp)
    assert result.message.splitlines()[1:] == [
        "after layer 1 (Dense 16): Dense 3 with activation softmax expected (as in the reference solution), missing"]


@pytest.mark.parametrize(("student", "reference", "passes"), [
    ("leaky_layer_as_activation", "dense_then_leaky", True), ("leaky_string", "dense_then_leaky", True),
    ("leaky_string", "dense_then_leaky_03", False), ("relu", "dense_then_leaky", False),
    ("elu_string", "dense_then_elu", True), ("elu_string", "dense_then_elu_05", False),
])
def test_a_leaky_relu_or_elu_layer_folds_into_the_layer_it_reads(student, reference, passes):
    """Dense(128, activation=LeakyReLU(0.2)), as GAN tutorials write it, against a reference written with Dense then
    a LeakyReLU(0.2) layer, failed as a layer missing and an activation changed (red team 19); a slope other than
    the activation string's 0.2 equals only the same slope."""
    def seq(*middle) -> keras.Model:
        return keras.Sequential([keras.Input((4,)), *middle, layers.Dense(3)])

    models = {"leaky_layer_as_activation": lambda: seq(layers.Dense(8, activation=layers.LeakyReLU(0.2))),
              "leaky_string": lambda: seq(layers.Dense(8, activation="leaky_relu")),
              "relu": lambda: seq(layers.Dense(8, activation="relu")),
              "elu_string": lambda: seq(layers.Dense(8, activation="elu")),
              "dense_then_leaky": lambda: seq(layers.Dense(8), layers.LeakyReLU(0.2)),
              "dense_then_leaky_03": lambda: seq(layers.Dense(8), layers.LeakyReLU(0.3)),
              "dense_then_elu": lambda: seq(layers.Dense(8), layers.ELU()),
              "dense_then_elu_05": lambda: seq(layers.Dense(8), layers.ELU(0.5))}
    keras.utils.set_random_seed(0)
    result = check_matches_reference(models[student](), reference=models[reference])
    assert result.passed is passes, result.message
    if not passes:
        assert result.message.splitlines()[1].startswith("layer 1 (Dense 8): activation "), result.message
