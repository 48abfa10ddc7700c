"""Trial 28: assignment strength (`modelcheck mutants`) on assignments and models modelcheck's authors
did not write: a course module beside the assignment, a custom layer in the reference solution with
helper processes, the survivors' suggestions, and the operators on shapes they had not met."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest

from modelcheck.mutants.assignment import assignment_mutants


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


COURSE = """
    import keras

    @keras.saving.register_keras_serializable(package="t28course")
    class T28Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gamma")

        def call(self, x):
            return x * self.gamma
"""


def _course_assignment(folder: Path, module: str) -> Path:
    _write(folder, f"{module}.py", COURSE)
    _write(folder, "solution.py", f"""
        import keras
        from {module} import T28Scale

        def build_model():
            model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), T28Scale(),
                                      keras.layers.Dense(3, activation="softmax")])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            return model
    """)
    return _write(folder, "a.toml", f"""
        [assignment]
        name = "course"
        builder = "build_model"
        reference = "solution.py"
        custom_objects = ["{module}:T28Scale"]

        [expect]
        input_shape = [6]
        output_shape = [3]

        [points]
        output_shape = 1
    """)


def test_reference_imports_the_course_module_beside_the_assignment(tmp_path: Path) -> None:
    """`from course_layers import Scale` in the reference solution, the course module beside the
    assignment (listed in custom_objects, as grading takes it): before, `modelcheck mutants` stopped with
    'importing the reference solution solution.py raised ModuleNotFoundError: No module named ...'."""
    toml = _course_assignment(tmp_path, "t28_course_a")
    report = assignment_mutants(toml)
    assert report.not_mutable is None
    assert any(m.where == "layer 't28_scale' (T28Scale)" for m in report.judged), [m.where for m in report.judged]


def test_reference_given_by_path_imports_the_course_module_beside_the_assignment(tmp_path: Path) -> None:
    """--reference elsewhere/solution.py:build_model: the course module beside the assignment is found too."""
    toml = _course_assignment(tmp_path, "t28_course_b")
    other = tmp_path / "instructor"
    other.mkdir()
    (tmp_path / "solution.py").rename(other / "mine.py")
    report = assignment_mutants(toml, reference=f"{other / 'mine.py'}:build_model")
    assert report.not_mutable is None and report.judged


def test_helpers_take_mutants_of_a_reference_with_its_own_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A custom layer defined in the reference solution's own file, with --workers 2: before, each helper
    died reading its first mutant (a traceback 'ModuleNotFoundError: No module named
    modelcheck_reference_solution' on stderr) and the command evaluated everything itself, slower than
    with one worker. The helpers now import the reference's file first, and take mutants."""
    from modelcheck.mutants import run

    made: list[run.Helpers] = []

    class Recorded(run.Helpers):
        def __enter__(self) -> run.Helpers:
            made.append(self)
            entered = super().__enter__()
            assert self.wait_ready(120), "the helper did not boot"
            return entered

    monkeypatch.setattr(run, "Helpers", Recorded)
    _write(tmp_path, "solution.py", """
        import keras

        class OwnScale(keras.layers.Layer):
            def build(self, input_shape):
                self.gamma = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gamma")

            def call(self, x):
                return x * self.gamma

        def build_model():
            model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), OwnScale(),
                                      keras.layers.Dense(3, activation="softmax")])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            return model
    """)
    toml = _write(tmp_path, "a.toml", """
        [assignment]
        name = "own_layer"
        builder = "build_model"
        reference = "solution.py"

        [expect]
        input_shape = [6]
        output_shape = [3]

        [points]
        output_shape = 1
    """)
    report = assignment_mutants(toml, workers=2)
    assert len(made) == 1 and made[0].helped > 0, "the helper evaluated no mutant"
    assert report.judged and all(m.status != "invalid" for m in report.mutants)


# survivors' suggestions: each names what does catch the mistake, in the model's own kind of output

from modelcheck.core.spec import ModelSpec  # noqa: E402
from modelcheck.mutants.format import suggestion  # noqa: E402
from modelcheck.mutants.run import run_mutants  # noqa: E402


def sigmoid_classifier() -> keras.Model:
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu", name="hidden"),
                              keras.layers.Dense(1, activation="sigmoid", name="out")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    return model


def regressor() -> keras.Model:
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu", name="hidden"),
                              keras.layers.Dense(1, name="out")])
    model.compile(optimizer="adam", loss="mse")
    return model


def _suggested(report) -> dict[str, str]:
    return {m.description: suggestion(m, report.checks, expected=report.expected) for m in report.survivors}


def _caught(report) -> dict[str, list[str]]:
    return {m.description: m.caught_by for m in report.judged}


OUTPUT_OPERATORS = ["output_activation", "loss_binary_categorical", "loss_on_regression"]


@pytest.mark.parametrize("builder, kind", [(sigmoid_classifier, "binary"), (regressor, "regression")])
def test_a_survivors_suggestion_names_the_references_kind_of_output_and_following_it_catches(builder, kind):
    """A weak assignment (output_shape alone) of a sigmoid classifier and of a regression: each wrong output
    activation read 'add output = "probabilities" (or the kind of output) to [expect]', which fails the
    reference itself there, and which a relu on a regression output survives whatever kind is given; and
    categorical cross-entropy on the one sigmoid unit, or binary cross-entropy on the regression, read 'no
    check catches it here', where loss_matches_output does. Following each suggestion now catches its mutant."""
    spec = ModelSpec(id=kind, builder=builder, input_shape=(6,), output_shape=(1,))
    weak = run_mutants(spec, points={"output_shape": 1}, operators=OUTPUT_OPERATORS)
    suggested = _suggested(weak)
    assert suggested and all("no check catches it" not in s and '"probabilities"' not in s
                             for s in suggested.values()), suggested
    output = f'add output = "{kind}" to [expect]'
    if kind == "binary":
        assert suggested["activation sigmoid -> linear"] == output
        assert suggested["loss binary_crossentropy -> categorical_crossentropy"] == "add loss_matches_output to [points]"
    else:
        assert suggested["activation linear -> softmax"] == output
        assert suggested["activation linear -> relu"] == "add loss_matches_output to [points]"
        assert suggested["loss mean_squared_error -> binary_crossentropy"] == "add loss_matches_output to [points]"
    followed = run_mutants(spec.replace(output=kind), points={"output_shape": 1, "loss_matches_output": 1},
                           operators=OUTPUT_OPERATORS)
    caught = _caught(followed)
    for description, advice in suggested.items():
        check = "output_shape" if advice == output else "loss_matches_output"
        assert check in caught[description], (description, advice, caught[description])



def test_the_pytest_item_of_a_builder_that_raises_is_its_error_not_a_skip(pytester: pytest.Pytester):
    """`pytest --modelcheck --modelcheck-mutants -k mutants` on a model whose builder raises: the item was
    skipped ('no mutants: the reference model cannot be built: ...', without where), so the run passed;
    it is now the builder's error, with the line that raised, as the model's other items say it."""
    pytester.makepyfile(t28_models="""
        def build_model():
            raise RuntimeError("the data folder is not mounted")
    """)
    pytester.makefile(".toml", modelcheck="""
        [[model]]
        builder = "t28_models:build_model"
        id = "broken"
        output_shape = [3]
        checks = ["output_shape"]
    """)
    result = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-mutants", "-p", "no:cacheprovider",
                                           "-k", "mutants", "--modelcheck-report", "reports")
    result.assert_outcomes(failed=1)
    assert result.ret == 1
    # the report's mutants page still lists the model, with why it has no mutants
    page = (pytester.path / "reports" / "mutants.html").read_text()
    assert 'data-model="broken"' in page and "the data folder is not mounted" in page
    result.stdout.fnmatch_lines(["build_model() raised RuntimeError: the data folder is not mounted",
                                 "  at *t28_models.py:2: raise RuntimeError(*"])
    assert "SKIPPED" not in result.stdout.str()


# an output activation layer: Dense(3) then Softmax() is the output, not a hidden Dense and a softmax

from modelcheck.mutants.generate import generate  # noqa: E402
from modelcheck.mutants.recipe import build  # noqa: E402


def _classifier(last: str, functional: bool = False) -> keras.Model:
    tail = {"softmax_layer": [keras.layers.Softmax(name="probs")],
            "activation_layer": [keras.layers.Activation("softmax", name="probs")],
            "activation_argument": []}[last]
    scores = keras.layers.Dense(3, activation="softmax" if last == "activation_argument" else None, name="scores")
    layers = [keras.layers.Dense(8, activation="relu", name="hidden"), scores, *tail]
    if functional:
        inputs = keras.Input((6,))
        x = inputs
        for layer in layers:
            x = layer(x)
        model = keras.Model(inputs, x)
    else:
        model = keras.Sequential([keras.Input((6,)), *layers])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def _by_operator(model: keras.Model) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for m in generate(model)[1]:
        found.setdefault(m.operator, []).append(f"{m.description} at {m.where.split(' (')[0]}")
    return found


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
@pytest.mark.parametrize("last", ["softmax_layer", "activation_layer"])
def test_the_scores_layer_before_an_output_activation_layer_is_no_hidden_layer(last, functional):
    """`Dense(3)` then `Softmax()` (Keras' guides write it so): the Dense giving the class scores was taken for a
    hidden layer ('units 3 -> 1', 'hidden layer 'scores' left out', 'kernel initialised to zeros', a second Dense
    added after it, a stop_gradient after it: mistakes of the output described as hidden ones, which the same
    model with Dense(3, activation="softmax") does not get), and with Softmax() no wrong output activation nor
    from_logits=True was made at all. Each of the three forms now gets the same mutants."""
    same = _by_operator(_classifier("activation_argument", functional))
    found = _by_operator(_classifier(last, functional))
    for operator in ("units", "zero_init", "layer_dropped", "layer_added", "stop_gradient", "hidden_activation"):
        assert found.get(operator) == same.get(operator), operator
        assert not any("'scores'" in m for m in found.get(operator, [])), found[operator]
    assert found["output_activation"] == [f"activation softmax -> {a} at layer 'probs'" for a in ("linear", "relu",
                                                                                                   "sigmoid")]
    assert found["loss_from_logits"] == same["loss_from_logits"]


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
def test_a_softmax_layers_wrong_activation_mutants_build_and_are_judged(functional):
    spec = ModelSpec(id="softmax_layer", builder=lambda: _classifier("softmax_layer", functional=functional),
                     input_shape=(6,), output_shape=(3,), output="probabilities")
    report = run_mutants(spec, points={"output_shape": 1}, operators=["output_activation"])
    assert [(m.description, m.status) for m in report.mutants] == [
        ("activation softmax -> linear", "caught"), ("activation softmax -> relu", "caught"),
        ("activation softmax -> sigmoid", "caught")]


def test_a_model_with_an_adapted_text_vectorization_is_mutated_and_compared_as_it_is(tmp_path: Path) -> None:
    """A text classifier whose TextVectorization was adapted in the builder: 'no mutants: Keras cannot
    rebuild the model from its configuration (FailedPreconditionError: ... TextVectorization.call())', since
    get_config leaves the adapted vocabulary out. The rebuild now takes the vocabulary, and reports it as
    the reference does: matches_reference catches the layer changes only, not a loss or a learning rate."""
    _write(tmp_path, "solution.py", """
        import keras
        import numpy as np

        def build_model():
            vectorize = keras.layers.TextVectorization(max_tokens=50, output_sequence_length=6)
            vectorize.adapt(np.array(["the film was great", "a dull plot", "i loved it", "boring and long"]))
            text = keras.Input((1,), dtype="string")
            x = keras.layers.Embedding(50, 4)(vectorize(text))
            x = keras.layers.GlobalAveragePooling1D()(x)
            out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Dense(4, activation="relu")(x))
            model = keras.Model(text, out)
            model.compile(optimizer="adam", loss="binary_crossentropy")
            return model
    """)
    toml = _write(tmp_path, "a.toml", """
        [assignment]
        name = "text"
        builder = "build_model"
        reference = "solution.py"

        [expect]
        output_shape = [1]
        output = "binary"

        [points]
        output_shape = 1
        matches_reference = 1
    """)
    report = assignment_mutants(toml)
    assert report.not_mutable is None and report.reference["matches_reference"] == "passed"
    by = {m.description: m for m in report.mutants}
    assert by["loss binary_crossentropy -> mean_squared_error"].status == "survived"
    assert "matches_reference" not in by["learning rate 0.001 -> 1 (x1000)"].caught_by
    assert "matches_reference" in by["units 4 -> 2"].caught_by
    assert not report.invalid and not report.equivalent


def test_a_bidirectional_or_time_distributed_layer_gets_the_mistakes_of_the_layer_it_wraps():
    """Bidirectional(LSTM(8)) in a text classifier: no units, removed activation, zero initialisation, bias or
    left-out mutant was made (their settings live in the wrapped layer's config), so a text assignment's
    recurrent layer was never mutated but for frozen, NaN and stop_gradient. Both directions change."""
    def text() -> keras.Model:
        tokens = keras.Input((7,), dtype="int32")
        x = keras.layers.Embedding(30, 4, name="emb")(tokens)
        x = keras.layers.TimeDistributed(keras.layers.Dense(6, activation="relu"), name="per_step")(x)
        x = keras.layers.Bidirectional(keras.layers.LSTM(8), name="bi")(x)
        model = keras.Model(tokens, keras.layers.Dense(1, activation="sigmoid", name="out")(x))
        model.compile(optimizer="adam", loss="binary_crossentropy")
        return model

    spec = ModelSpec(id="bi", builder=text, input_shape=(7,), output_shape=(1,))
    report = run_mutants(spec, points={"output_shape": 1},
                         operators=["units", "hidden_activation", "zero_init", "bias_removed", "layer_dropped"])
    made = {(m.operator, m.where.split(" (")[0]): m for m in report.mutants}
    for operator in ("units", "hidden_activation", "zero_init", "bias_removed", "layer_dropped"):
        for layer in ("layer 'bi'", "layer 'per_step'"):
            assert (operator, layer) in made, (operator, layer, sorted(made))
            assert made[operator, layer].status in ("caught", "survived"), made[operator, layer].note
    assert made["units", "layer 'bi'"].description == "units 8 -> 4"
    assert "counts" in made["units", "layer 'bi'"].changes  # 4 units each way: fewer parameters
    rebuilt = build(next(m for m in generate(text())[1] if m.operator == "units" and "'bi'" in m.where).recipe)
    bi = rebuilt.get_layer("bi")
    assert bi.forward_layer.units == bi.backward_layer.units == 4


def _op_output(op: str) -> keras.Model:
    inputs = keras.Input((6,))
    scores = keras.layers.Dense(3 if op == "softmax" else 1, name="scores")(
        keras.layers.Dense(8, activation="relu", name="hidden")(inputs))
    model = keras.Model(inputs, getattr(keras.ops, op)(scores))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy" if op == "softmax" else "binary_crossentropy")
    return model


@pytest.mark.parametrize("op", ["softmax", "sigmoid"])
def test_an_output_made_by_an_operation_is_mutated_as_an_output_activation(op):
    """`keras.ops.softmax(Dense(3)(x))` as the output: generating its mutants raised ValueError ('No such
    layer: softmax'), which `modelcheck mutants` printed as a usage error; the scores Dense is its output
    layer (no hidden-layer mistakes), and the operation gets the wrong output activations as Softmax() does."""
    spec = ModelSpec(id=op, builder=lambda: _op_output(op), input_shape=(6,),
                     output_shape=(3,) if op == "softmax" else (1,),
                     output="probabilities" if op == "softmax" else "binary")
    report = run_mutants(spec, points={"output_shape": 1, "loss_matches_output": 1})
    assert not any("'scores'" in m.where for m in report.mutants if m.operator in (
        "units", "zero_init", "layer_dropped", "layer_added", "stop_gradient"))
    wrong = [(m.description, m.status) for m in report.mutants if m.operator == "output_activation"]
    assert wrong == [(f"activation {op} -> {a}", "caught")
                     for a in ("linear", "relu", "sigmoid" if op == "softmax" else "softmax")]
    assert not report.invalid


def test_an_operator_failing_on_a_model_is_told_as_modelchecks_error(monkeypatch: pytest.MonkeyPatch):
    """An operator that raised on a model it did not expect (as 'No such layer: softmax' did above) reached
    `modelcheck mutants` as a bare ValueError, which it prints as 'modelcheck: error: ...' like a mistake in
    the user's files; it is now an InternalError naming what modelcheck was doing."""
    from modelcheck.core.errors import InternalError
    from modelcheck.mutants import operators

    def broken(site):
        raise ValueError("No such layer: softmax")
        yield  # pragma: no cover

    monkeypatch.setitem(operators.OPERATORS, "units", operators.Operator("units", "wrong units", broken))
    spec = ModelSpec(id="plain", builder=regressor, input_shape=(6,), output_shape=(1,))
    with pytest.raises(InternalError, match="internal error in modelcheck while generating the mutants of model "
                                            "'plain': ValueError: No such layer: softmax"):
        run_mutants(spec, points={"output_shape": 1}, operators=["units"])


def test_a_frozen_bidirectional_mutant_is_frozen_in_training():
    """The 'frozen' mutant of Bidirectional(LSTM(4)) set trainable=False on the wrapper only: Keras then builds
    its two LSTMs trainable, model.trainable_weights still held their 265 parameters and fit trained them, so
    the mutant was not the mistake it names (param_count's trainable count did not see it)."""
    inputs = keras.Input((5, 3))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Bidirectional(keras.layers.LSTM(4), name="bi")(inputs)))
    model.compile(optimizer="adam", loss="mse")
    frozen = next(m for m in generate(model, operators=["frozen"])[1] if "'bi'" in m.where)
    rebuilt = build(frozen.recipe)
    assert not rebuilt.get_layer("bi").forward_layer.trainable
    assert sum(int(np.prod(w.shape)) for w in rebuilt.trainable_weights) == 9  # the Dense alone


# Helper session mutants29: trial 28's proposals 10, 11 and 13, and the `mutants` command's internal errors.

def grayscale_cnn() -> keras.Model:
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_the_input_shape_mistake_of_a_grayscale_image_is_colour_and_is_caught():
    """On (6, 6, 1) the operator added a channel axis, (6, 6, 1, 1), which no Conv2D builds: on every grayscale
    CNN the mistake was dropped as one Keras cannot build. Colour images instead of grayscale build, and
    output_shape (which enforces the declared input shape) catches them."""
    _, mutants = generate(grayscale_cnn(), operators=["input_shape"])
    assert [m.description for m in mutants] == ["input shape (6, 6, 1) -> (6, 6, 3) (colour instead of grayscale)"]
    assert tuple(build(mutants[0].recipe).inputs[0].shape) == (None, 6, 6, 3)
    spec = ModelSpec(id="gray", builder=grayscale_cnn, input_shape=(6, 6, 1), output_shape=(3,))
    report = run_mutants(spec, points={"output_shape": 1}, operators=["input_shape"])
    assert not report.invalid and [m.caught_by for m in report.mutants] == [["output_shape"]]


class _Times(keras.layers.Layer):
    """A layer whose constructor argument is not in its config: Keras cannot rebuild it from its configuration."""

    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def call(self, x):
        return x * self.factor


class _SubclassedTimes(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(4, activation="relu")
        self.times = _Times(2.0)
        self.out = keras.layers.Dense(2)

    def call(self, x):
        return self.out(self.times(self.hidden(x)))


class _SubclassedMlp(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(4, activation="relu")
        self.out = keras.layers.Dense(3, activation="softmax")

    def call(self, x):
        return self.out(self.hidden(x))


def subclassed_mlp() -> keras.Model:
    model = _SubclassedMlp()
    model(np.zeros((1, 6), "float32"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def test_a_subclassed_reference_is_mutated_as_the_graph_its_call_makes():
    """A subclassed reference solution got no mutant at all ('subclassed model ... cannot edit'): it is
    mutated as its functional twin now, the same layers and weights, and its checks judge every mutant."""
    spec = ModelSpec(id="sub", builder=subclassed_mlp, input_shape=(6,), output_shape=(3,), total_params=43)
    report = run_mutants(spec, points={"output_shape": 1, "param_count": 1})
    assert report.not_mutable is None and not report.invalid
    operators = {m.operator for m in report.judged}
    assert {"units", "output_activation", "loss_sparse_categorical", "bias_removed"} <= operators
    assert {m.description for m in report.caught} >= {"units 4 -> 2", "use_bias True -> False"}


@pytest.mark.filterwarnings("ignore:`build\\(\\)` was called on layer")  # Keras' notice on a class without build()
def test_a_subclassed_model_whose_graph_keras_cannot_rebuild_says_so():
    from modelcheck.mutants.generate import NotMutable

    model = _SubclassedTimes()
    model.build((None, 6))  # records the input shape to trace on, which a first call of this one does not
    with pytest.raises(NotMutable, match=r"_SubclassedTimes is a subclassed model: .* Keras cannot rebuild that "
                                         r"graph from its configuration \(TypeError: "):
        generate(model)


def _rebuild_fails(monkeypatch: pytest.MonkeyPatch, mutants_only: bool) -> None:
    """Make modelcheck's own rebuild step (`recipe._strip_builds`) raise, on every model or only on the
    mutants of `regressor` with 4 hidden units."""
    from modelcheck.mutants import recipe

    original = recipe._strip_builds

    def broken(config):
        if not mutants_only or '"units": 4,' in json.dumps(config):
            recipe._entry_name({})  # KeyError: 'config', a slip raised in our code (a raise here is user code)
        return original(config)

    monkeypatch.setattr(recipe, "_strip_builds", broken)


def test_a_failure_of_modelchecks_own_rebuild_of_a_mutant_is_its_internal_error_not_a_dropped_mutant(
        monkeypatch: pytest.MonkeyPatch):
    """Any exception rebuilding a mutant counted it as 'that Keras cannot build': a bug in modelcheck's own
    rebuild dropped every mutant silently, as if they were mistakes Keras refuses."""
    from modelcheck.core.errors import InternalError

    _rebuild_fails(monkeypatch, mutants_only=True)
    spec = ModelSpec(id="plain", builder=regressor, input_shape=(6,), output_shape=(1,))
    with pytest.raises(InternalError, match=r"internal error in modelcheck while rebuilding the mutant 'units 8 -> 4' "
                                            r"\(layer 'hidden' \(Dense\)\): KeyError: 'config'"):
        run_mutants(spec, points={"output_shape": 1}, operators=["units"])


def test_a_failure_of_modelchecks_own_rebuild_of_the_reference_is_its_internal_error(monkeypatch: pytest.MonkeyPatch):
    from modelcheck.core.errors import InternalError

    _rebuild_fails(monkeypatch, mutants_only=False)
    spec = ModelSpec(id="plain", builder=regressor, input_shape=(6,), output_shape=(1,))
    with pytest.raises(InternalError, match="while rebuilding the reference model 'plain' from its configuration: "
                                            "KeyError"):
        run_mutants(spec, points={"output_shape": 1}, operators=["units"])


def test_a_mutant_keras_refuses_is_still_dropped_with_what_keras_said():
    spec = ModelSpec(id="gray", builder=grayscale_cnn, input_shape=(6, 6, 1), output_shape=(3,))
    report = run_mutants(spec, points={"output_shape": 1}, operators=["channels_order", "strides"])
    assert [m.operator for m in report.invalid] == ["channels_order"]
    assert report.invalid[0].note.startswith("ValueError: ")


def _weak_assignment(folder: Path) -> Path:
    _write(folder, "solution.py", """
        import keras

        def build_model():
            model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                                      keras.layers.Dense(3, activation="softmax")])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            return model
    """)
    return _write(folder, "a.toml", """
        [assignment]
        name = "weak"
        builder = "build_model"
        reference = "solution.py"

        [expect]
        input_shape = [6]
        output_shape = [3]

        [points]
        output_shape = 1
    """)


def test_the_mutants_command_prints_modelchecks_internal_error_as_ours(tmp_path: Path, monkeypatch, capsys):
    """An InternalError (an operator failing on a model it did not expect) escaped `modelcheck mutants` as a raw
    traceback; it is printed as modelcheck's own error, with its traceback and where to report it, exit 1."""
    from modelcheck.cli import main
    from modelcheck.mutants import operators

    def broken(site):
        raise TypeError("'NoneType' object is not subscriptable")
        yield  # pragma: no cover

    monkeypatch.setitem(operators.OPERATORS, "units", operators.Operator("units", "wrong units", broken))
    assert main(["mutants", str(_weak_assignment(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "\nmodelcheck: internal error in modelcheck while generating the mutants of model 'weak': TypeError: " in err
    assert err.rstrip().endswith("modelcheck: this is a bug in modelcheck, not in your files: please report it to the "
                                 "modelcheck maintainers with the traceback above.")
    assert "modelcheck: error:" not in err


def test_the_mutants_command_tells_any_other_error_of_its_own_as_ours_and_a_usage_error_as_before(
        tmp_path: Path, monkeypatch, capsys):
    from modelcheck.cli import main
    from modelcheck.mutants import format as formatting

    assignment = _weak_assignment(tmp_path)
    monkeypatch.setattr(formatting, "format_report", lambda report: {}["table"])
    assert main(["mutants", str(assignment), "--workers", "1"]) == 1
    assert "modelcheck: internal error in modelcheck while measuring the assignment's mutants: KeyError: 'table'" in \
        capsys.readouterr().err
    assert main(["mutants", str(tmp_path / "missing.toml")]) == 2
    assert capsys.readouterr().err.startswith("modelcheck: error: ")


@pytest.mark.parametrize("words, compared_by, original", [("spec", "architecture", "the model"),
                                                          ("assignment", "matches_reference", "the reference")])
def test_a_survivor_of_a_comparison_that_ran_is_not_told_to_add_it(words, compared_by, original):
    """A subclassed model's stored snapshot (its layers in creation order) cannot judge its mutants (rebuilt as
    the graph its call makes): wide_deep_subclassed's pytest item told its survivors to 'compare the model
    with its stored architecture snapshot', which the run had done."""
    from modelcheck.mutants.format import WORDS
    from modelcheck.mutants.run import SURVIVED, MutantResult

    # a 'same' max-pooling that keeps the shape: only a comparison of the layers sees it
    survivor = MutantResult("padding", "valid vs same padding", "padding valid -> same", "layer 'pool' (MaxPooling2D)",
                            SURVIVED, architecture_changed=True, changes=["architecture"])
    assert suggestion(survivor, ["output_shape", compared_by], words=WORDS[words]) == (
        f"no check catches it here: {compared_by}, which sees every layer change, does not pass on {original} "
        "itself, so it catches nothing")
    assert compared_by in suggestion(survivor, ["output_shape"], words=WORDS[words])
