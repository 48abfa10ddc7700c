"""Mutation testing of checks: each operator where it applies and where it does not, the score of a
weak assignment, the console command and the pytest item."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import pytest

from modelcheck.core.spec import ModelSpec
from modelcheck.mutants.generate import NotMutable, generate
from modelcheck.mutants.operators import OPERATORS
from modelcheck.mutants.recipe import StopGradient, build
from modelcheck.mutants.run import run_mutants
from tests.models import Tiny


def mlp() -> keras.Model:
    model = keras.Sequential([
        keras.Input((4, 3)), keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(8, activation="relu", name="hidden"), keras.layers.Dropout(0.2, name="drop"),
        keras.layers.Dense(3, activation="softmax", name="out"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3))
    return model


def cnn() -> keras.Model:
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="out")(x)
    model = keras.Model(inputs, outputs)
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    return model


def embedding() -> keras.Model:
    return keras.Sequential([keras.Input((5,), dtype="int32"), keras.layers.Embedding(20, 4, name="emb"),
                             keras.layers.Flatten(), keras.layers.Dense(2, name="out")])


def regression() -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu", name="hidden"),
                              keras.layers.Dense(1, name="out")])
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=100, decay_rate=0.9)
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(schedule))
    return model


def bare() -> keras.Model:
    """No weights, no activation, no compile, an input of unknown size: no operator applies."""
    return keras.Sequential([keras.Input((None,)), keras.layers.Identity(name="same")])


def layer(model: keras.Model, name: str) -> keras.layers.Layer:
    return model.get_layer(name)


# operator -> (the model where it applies, a property every mutant of it has)
APPLIES: dict[str, tuple[Callable[[], keras.Model], Callable[[keras.Model], bool]]] = {
    "units": (mlp, lambda m: layer(m, "hidden").units == 4),
    "hidden_activation": (mlp, lambda m: layer(m, "hidden").activation.__name__ == "linear"),
    "output_activation": (mlp, lambda m: layer(m, "out").activation.__name__ in ("linear", "relu", "sigmoid")),
    "loss_sparse_categorical": (mlp, lambda m: m.loss == "categorical_crossentropy"),
    "loss_mse": (mlp, lambda m: m.loss == "mean_squared_error"),
    "loss_from_logits": (mlp, lambda m: m.loss.get_config()["from_logits"] is True),
    "loss_binary_categorical": (mlp, lambda m: m.loss == "binary_crossentropy"),
    "loss_on_regression": (regression, lambda m: m.loss == "binary_crossentropy"),
    "frozen": (mlp, lambda m: not all(l.trainable for l in m.layers if l.weights)),
    "zero_init": (mlp, lambda m: not layer(m, "hidden").get_weights()[0].any()),
    "bias_removed": (mlp, lambda m: not all(l.use_bias for l in m.layers if hasattr(l, "use_bias"))),
    "dropout_keep_prob": (mlp, lambda m: layer(m, "drop").rate == 0.9),
    "layer_dropped": (mlp, lambda m: "hidden" not in [l.name for l in m.layers]),
    "layer_added": (mlp, lambda m: "hidden_extra" in [l.name for l in m.layers]),
    "embedding_swapped": (embedding, lambda m: (layer(m, "emb").input_dim, layer(m, "emb").output_dim) == (4, 20)),
    "input_flattened": (mlp, lambda m: tuple(m.inputs[0].shape) == (None, 12) and "flatten" not in
                        [l.name for l in m.layers]),
    "input_shape": (mlp, lambda m: tuple(m.inputs[0].shape) == (None, 4, 3, 1)),
    "channels_order": (cnn, lambda m: tuple(m.inputs[0].shape) == (None, 3, 8, 8)),
    "padding": (cnn, lambda m: {layer(m, "conv").padding, layer(m, "pool").padding} != {"same", "valid"}),
    "strides": (cnn, lambda m: tuple(layer(m, "conv").strides) == (2, 2)),
    "learning_rate": (mlp, lambda m: abs(float(m.optimizer.learning_rate) - 1.0) < 1e-6),
    "stop_gradient": (mlp, lambda m: any(isinstance(l, StopGradient) for l in m.layers)),
    "nan_weight": (mlp, lambda m: any(keras.ops.any(keras.ops.isnan(w.value)) for w in m.weights)),
}


def test_the_catalogue_holds_at_least_15_operators_each_tested():
    assert len(OPERATORS) >= 15
    assert set(APPLIES) == set(OPERATORS)


@pytest.mark.parametrize("operator", list(APPLIES))
def test_each_operator_mutates_where_it_applies_and_nowhere_else(operator):
    factory, holds = APPLIES[operator]
    _, mutants = generate(factory(), operators=[operator])
    assert mutants, f"{operator} made no mutant of {factory.__name__}"
    for mutant in mutants:
        assert mutant.operator == operator and mutant.description and mutant.where
        built = build(mutant.recipe)
        assert holds(built), f"{operator}: {mutant.description} at {mutant.where}"
    assert generate(bare(), operators=[operator])[1] == []


def test_binary_cross_entropy_on_one_sigmoid_unit_becomes_categorical_keeping_from_logits():
    model = cnn()
    model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), optimizer="sgd")
    _, mutants = generate(model, operators=["loss_binary_categorical"])
    assert [m.description for m in mutants] == ["loss binary_crossentropy -> categorical_crossentropy"]
    loss = build(mutants[0].recipe).loss
    assert type(loss).__name__ == "CategoricalCrossentropy" and loss.get_config()["from_logits"] is True
    # a classifier's loss is no regression's mistake, and a regression's loss is no classifier's
    assert generate(cnn(), operators=["loss_on_regression"])[1] == []
    assert generate(regression(), operators=["loss_binary_categorical"])[1] == []


def test_a_learning_rate_schedule_is_mutated_at_its_starting_rates():
    _, mutants = generate(regression(), operators=["learning_rate"])
    assert [m.description for m in mutants] == [
        "learning rate schedule ExponentialDecay: initial_learning_rate 0.001 -> 1 (x1000)"]
    optimizer = build(mutants[0].recipe).optimizer
    schedule = optimizer.get_config()["learning_rate"]
    assert schedule["class_name"] == "ExponentialDecay" and schedule["config"]["decay_rate"] == 0.9
    assert float(optimizer.learning_rate) == pytest.approx(1.0)  # the rate at step 0
    piecewise = keras.optimizers.schedules.PiecewiseConstantDecay([10], [1e-2, 1e-3])
    model = regression()
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(piecewise))
    _, mutants = generate(model, operators=["learning_rate"])
    assert [m.description for m in mutants] == [
        "learning rate schedule PiecewiseConstantDecay: values (0.01, 0.001) -> (10, 1) (x1000)"]
    assert build(mutants[0].recipe).optimizer.get_config()["learning_rate"]["config"]["values"] == pytest.approx([10, 1])


def _own_loss(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


def test_a_model_with_its_own_loss_function_or_a_masking_embedding_is_mutated():
    """Both crashed the mutants item with a raw traceback (trial 19): a plain function's loss config is its
    name, not a dict; an Embedding's mask adds an operation (not_equal) to the graph, which is no layer."""
    own = regression()
    own.compile(loss=_own_loss, optimizer="adam")
    _, mutants = generate(own, operators=["units", "loss_mse", "loss_on_regression", "learning_rate"])
    assert [m.operator for m in mutants] == ["units", "learning_rate"]  # no Keras loss to swap
    assert all(build(m.recipe).loss is _own_loss for m in mutants)  # compiled again with the user's function
    inputs = keras.Input((6,), dtype="int32")
    hidden = keras.layers.LSTM(4, name="lstm")(keras.layers.Embedding(20, 3, mask_zero=True, name="emb")(inputs))
    masked = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid", name="out")(hidden))
    masked.compile(loss="binary_crossentropy", optimizer="adam")
    _, mutants = generate(masked, operators=["units", "frozen"])
    assert {m.where for m in mutants} == {"layer 'lstm' (LSTM)", "layer 'emb' (Embedding)", "layer 'out' (Dense)"}


def test_a_wrapped_layer_is_rebuilt_for_what_reaches_it_after_an_edit_upstream():
    """TimeDistributed and Bidirectional record their inner layer's build shape in their config: a
    mutant that changes the width before them must still run, as the student's model would."""
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.GRU(4, return_sequences=True, name="gru"),
                              keras.layers.TimeDistributed(keras.layers.Dense(2), name="per_step"),
                              keras.layers.Bidirectional(keras.layers.LSTM(3, return_sequences=True), name="both")])
    model.compile(loss="mse", optimizer="adam")
    _, mutants = generate(model, operators=["units", "layer_dropped"])
    described = {m.description for m in mutants}
    assert "units 4 -> 2" in described and "hidden layer 'gru' left out" in described
    for mutant in mutants:
        built = build(mutant.recipe)
        assert tuple(built(np.zeros((2, 5, 3), "float32")).shape) == (2, 5, 6), mutant.description


def test_a_subclassed_model_is_mutated_as_the_graph_its_call_makes():
    model = Tiny()
    model(keras.ops.zeros((1, 3)))
    recipe, mutants = generate(model)
    assert recipe.kind == "functional" and mutants
    assert ("trainable=False (frozen)", "layer 'dense' (Dense)") in [(m.description, m.where) for m in mutants]
    for mutant in mutants:
        built = build(mutant.recipe)
        assert isinstance(built, keras.Model) and built.get_layer("dense") is not model.dense


class Branchy(keras.Model):
    """A subclassed model whose call branches on a tensor's value: no graph of its layers to trace."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        if keras.ops.convert_to_numpy(keras.ops.sum(x)) > 0:
            return self.dense(x)
        return self.dense(-x)


def test_a_subclassed_model_whose_call_cannot_be_traced_cannot_be_mutated():
    model = Branchy()
    model(keras.ops.zeros((1, 3)))
    with pytest.raises(NotMutable, match=r"Branchy is a subclassed model: .* it has none: Keras recorded no input shape "):
        generate(model)


def test_a_run_without_mutants_reports_no_score_rather_than_100_percent():
    from modelcheck.mutants.format import format_report

    report = run_mutants(ModelSpec(id="branchy", builder=Branchy, input_shape=(3,), output_shape=(2,)),
                         points={"output_shape": 1})
    assert report.not_mutable and report.score is None
    lines = format_report(report).splitlines()
    assert lines[1].startswith("no mutants: Branchy is a subclassed model")
    assert lines[-1] == "mutation score: none (no mutant was made or judged, so the checks' strength is unknown)"


def test_the_reference_rebuilt_from_its_recipe_is_equivalent_and_dropped():
    from modelcheck.mutants.generate import baseline_of, is_equivalent
    from modelcheck.mutants.recipe import recipe_of

    recipe = recipe_of(mlp())
    assert is_equivalent(build(recipe), recipe, baseline_of(recipe, 0))
    _, mutants = generate(mlp(), operators=["units"])
    assert not is_equivalent(build(mutants[0].recipe), mutants[0].recipe, baseline_of(recipe, 0))
    # evaluated, such a mutant is dropped with why, as an invalid one is
    from dataclasses import replace

    from modelcheck.mutants.run import EQUIVALENT, SAME_AS_REFERENCE, evaluate

    same = evaluate(replace(mutants[0], recipe=recipe), weak_spec(), ["output_shape"], {"output_shape": 1.0},
                    {"output_shape": "passed"}, baseline_of(recipe, 0), 0)
    assert (same.status, same.note) == (EQUIVALENT, SAME_AS_REFERENCE)


def weak_spec() -> ModelSpec:
    return ModelSpec(id="weak", builder=mlp, input_shape=(4, 3), output_shape=(3,), output="probabilities")


def test_a_weak_assignment_scores_low_and_names_its_survivors():
    from modelcheck.mutants.format import format_report

    report = run_mutants(weak_spec(), points={"output_shape": 1})
    assert report.score is not None and report.score < 0.5
    survived = {m.operator for m in report.survivors}
    assert {"units", "hidden_activation", "layer_dropped", "frozen", "bias_removed"} <= survived
    caught = {m.operator for m in report.caught}
    assert {"output_activation", "nan_weight"} <= caught
    text = format_report(report)
    assert "units 8 -> 4, at layer 'hidden' (Dense): add total_params to [expect] and param_count to [points]" in text
    assert "activation relu removed, at layer 'hidden' (Dense): add config_lint to [points]" in text
    assert text.splitlines()[-1] == f"mutation score: {100 * report.score:.0f}% ({len(report.caught)}/" \
                                    f"{len(report.judged)})"
    data = report.to_json()
    assert data["score"] == report.score
    assert {"operator", "description", "caught_by", "points"} <= set(data["mutants"][0])


def test_static_checks_catch_what_output_shape_alone_misses():
    report = run_mutants(weak_spec().replace(total_params=131, layer_params=[0, 104, 0, 27]),
                         points={"output_shape": 1, "param_count": 1, "config_lint": 1, "loss_matches_output": 1},
                         operators=["units", "hidden_activation", "dropout_keep_prob", "loss_from_logits",
                                    "bias_removed", "input_shape"])
    assert report.reference == dict.fromkeys(report.checks, "passed")
    assert report.survivors == [], [m.description for m in report.survivors]
    by_operator = {m.operator: m.caught_by for m in report.caught}
    assert by_operator["hidden_activation"] == ["config_lint"]
    assert by_operator["dropout_keep_prob"] == ["config_lint"]
    assert by_operator["loss_from_logits"] == ["loss_matches_output"]
    assert by_operator["input_shape"] == ["output_shape", "config_lint"]  # the declared input shape is enforced


WEAK_ASSIGNMENT = """
[assignment]
name = "weak"
builder = "build_model"
reference = "solution.py"

[expect]
input_shape = [4, 3]
output_shape = [3]
output = "probabilities"

[points]
output_shape = 1
"""

SOLUTION = """
import keras


def build_model():
    model = keras.Sequential([keras.Input((4, 3)), keras.layers.Flatten(), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    return model
"""


def test_the_console_command_prints_the_table_survivors_and_score_and_writes_json(tmp_path, capsys):
    from modelcheck.cli import main

    (tmp_path / "weak.toml").write_text(WEAK_ASSIGNMENT)
    (tmp_path / "solution.py").write_text(SOLUTION)
    out = tmp_path / "mutants.json"
    page = tmp_path / "mutants.html"
    assert main(["mutants", str(tmp_path / "weak.toml"), "--json", str(out), "--html", str(page)]) == 0
    lines = capsys.readouterr().out.splitlines()
    data = json.loads(out.read_text())
    caught = sum(1 for m in data["mutants"] if m["caught_by"])
    assert lines[-1] == f"mutation score: {100 * data['score']:.0f}% ({caught}/{len(data['mutants'])})"
    assert data["score"] < 0.5
    assert any(line.startswith("survivors (") for line in lines)
    assert any("SURVIVED" in line for line in lines)
    html = page.read_text()
    assert f"<b>{lines[-1]}</b>" in html and "<title>Mutants · weak: mutants</title>" in html
    assert html.count('data-status="survived"') == len(data["mutants"]) - caught


def test_a_reference_builder_that_raises_is_named_as_given(tmp_path, capsys):
    from modelcheck.cli import main

    (tmp_path / "weak.toml").write_text(WEAK_ASSIGNMENT)
    (tmp_path / "solution.py").write_text(SOLUTION)
    (tmp_path / "other.py").write_text(SOLUTION + "\n\ndef draft():\n    raise RuntimeError('not finished')\n")
    assert main(["mutants", str(tmp_path / "weak.toml"), "--reference", f"{tmp_path / 'other.py'}:draft"]) == 2
    err = capsys.readouterr().err
    # --reference names draft(), not the assignment's build_model()
    assert "the reference solution's draft() raised RuntimeError: not finished" in err
    assert "build_model" not in err


def test_reference_overrides_the_assignments_reference_file_which_need_not_exist(tmp_path, capsys):
    from modelcheck.cli import main

    # the instructor keeps solution.py elsewhere and passes it: the file the assignment names is not read
    (tmp_path / "weak.toml").write_text(WEAK_ASSIGNMENT)
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "mine.py").write_text(SOLUTION)
    assert main(["mutants", str(tmp_path / "weak.toml"), "--reference",
                 f"{tmp_path / 'private' / 'mine.py'}:build_model"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("mutation score: ")
    # without --reference, the missing file is the usage error it was
    assert main(["mutants", str(tmp_path / "weak.toml")]) == 2
    assert "the file solution.py it names (solution.py) does not exist beside it" in capsys.readouterr().err


def test_the_console_command_without_a_reference_is_a_usage_error(tmp_path, capsys):
    from modelcheck.cli import main

    (tmp_path / "weak.toml").write_text(WEAK_ASSIGNMENT.replace('reference = "solution.py"\n', ""))
    assert main(["mutants", str(tmp_path / "weak.toml")]) == 2
    assert "no reference solution; add reference = \"solution.py\"" in capsys.readouterr().err


SPEC = """
[[model]]
builder = "models:build_model"
id = "weak"
input_shape = [4, 3]
output_shape = [3]
output = "probabilities"
checks = ["output_shape"]
"""


def test_the_pytest_item_fails_below_95_percent_naming_the_survivors(pytester: pytest.Pytester):
    pytester.makepyfile(models=SOLUTION)
    pytester.makefile(".toml", modelcheck=SPEC)
    result = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-mutants", "-p", "no:cacheprovider",
                                           "-k", "mutants", "--modelcheck-report", "reports")
    result.assert_outcomes(failed=1)
    first = next(line for line in result.stdout.lines if line.startswith("mutation score: "))
    head, _, survivors = first.partition("; survivors: ")
    assert head.startswith("mutation score: expected at least 95% of the mutants caught, received ")
    assert head.endswith(", at model 'weak'")
    # no snapshot is stored for the model yet: recording it is what catches an architecture change
    record = ("(record the model's architecture snapshot (weak.json, written by pytest --modelcheck "
              "--modelcheck-snapshot-update): comparing with it catches this change)")
    assert survivors.startswith("units 8 -> 4 at layer 'dense' (Dense), activation relu removed at layer 'dense' "
                                "(Dense), ")
    # said once for all the survivors it catches, not once per survivor
    assert survivors.count(record) == 1 and survivors.index(record) < survivors.index("; ")
    assert "learning rate 0.001 -> 1 (x1000) at the Adam optimizer (add config_lint to its checks)" in survivors
    # the report's mutants page: the table, the survivors with what would catch them, the score
    page = (pytester.path / "reports" / "mutants.html").read_text()
    assert '<section class="mutation" id="mutants-weak" data-model="weak">' in page
    assert ("<b>units 8 -&gt; 4</b>, at layer &#39;dense&#39; (Dense): <span class=\"suggestion\">record the "
            "model&#39;s architecture snapshot") in page
    # without the architecture comparison in the run, the checks' own suggestions
    narrowed = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-mutants", "-p", "no:cacheprovider",
                                             "-k", "mutants", "--modelcheck-checks", "output_shape")
    narrowed.assert_outcomes(failed=1)
    line = next(line for line in narrowed.stdout.lines if line.startswith("mutation score: "))
    assert "; survivors: units 8 -> 4 at layer 'dense' (Dense), " in line
    assert line.count("(add total_params to the model's spec and param_count to its checks)") == 1
    # a spec file has no [expect] or [points] tables
    assert "[expect]" not in line and "[points]" not in line
    assert "<b>mutation score: " in page and 'data-status="caught"' in page
    assert 'href="../mutants.html#mutants-weak"' in (pytester.path / "reports" / "models" / "weak.html").read_text()


def test_without_the_flag_there_is_no_mutants_item(pytester: pytest.Pytester):
    pytester.makepyfile(models=SOLUTION)
    pytester.makefile(".toml", modelcheck=SPEC)
    result = pytester.runpytest_subprocess("--modelcheck", "-p", "no:cacheprovider", "--collect-only", "-q")
    assert not any("::mutants" in line for line in result.stdout.lines)


REPO = Path(__file__).resolve().parents[1]
# A representative subset of the reference models, one of each kind: a Conv2D with pooling (whose
# activation and padding only the snapshot guards), a one-unit sigmoid, SGD on the toy model, a
# user's step activation with fixed weights, an Embedding, a regression MLP and a classifier with
# one-hot labels (the loss swap only config_lint's `labels` sees). `python benchmarks/bench_mutants.py
# --references` runs every reference model.
REFERENCE_SUBSET = ["conv_example_1_pool", "methods_dense_sigmoid", "toy_linear", "xor_mlp", "methods_embedding",
                    "housing_mlp", "methods_mlp"]


@pytest.mark.slow
def test_reference_models_mutants_are_caught_at_95_percent_or_more(pytester: pytest.Pytester):
    selected = f"mutants and ({' or '.join(REFERENCE_SUBSET)})"
    result = pytester.runpytest_subprocess("--modelcheck", "--modelcheck-mutants", "-p", "no:cacheprovider",
                                           "--rootdir", str(REPO), str(REPO / "reference_models"), "-rA",
                                           "-k", selected)
    result.assert_outcomes(passed=len(REFERENCE_SUBSET))
    for model in REFERENCE_SUBSET:
        result.stdout.fnmatch_lines([f"PASSED *::{model}::mutants"])


def conv() -> keras.Model:
    """One convolution before a max-pooling: its relu and its padding change no shape or count."""
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 2, strides=2, activation="relu",
                                                                         name="conv"),
                              keras.layers.MaxPooling2D(name="pool")])
    return model


def test_the_stored_snapshot_catches_what_no_run_sees(tmp_path):
    from modelcheck.snapshot import architecture, write_snapshot

    spec = ModelSpec(id="conv", builder=conv, input_shape=(8, 8, 1), output_shape=(2, 2, 2), total_params=10)
    checks = ["output_shape", "param_count"]
    plain = run_mutants(spec, checks=checks, operators=["hidden_activation", "padding"])
    assert {m.description for m in plain.survivors} >= {"activation relu removed", "padding valid -> same"}
    missing = run_mutants(spec, checks=checks, operators=["padding"], snapshot=tmp_path / "none.json")
    assert missing.checks == checks  # no snapshot file: nothing more to compare
    snapshot = tmp_path / "conv.json"
    write_snapshot(snapshot, architecture(conv()), "conv")
    guarded = run_mutants(spec, checks=checks, operators=["hidden_activation", "padding"], snapshot=snapshot)
    assert guarded.checks == [*checks, "architecture"] and guarded.reference["architecture"] == "passed"
    assert guarded.survivors == [] and guarded.score == 1.0
    assert all(m.caught_by == ["architecture"] for m in guarded.caught)
    assert guarded.caught[0].messages["architecture"].startswith("architecture: expected the one stored in conv.json")


def test_a_snapshot_of_another_architecture_catches_nothing(tmp_path):
    from modelcheck.snapshot import architecture, write_snapshot

    snapshot = tmp_path / "conv.json"
    write_snapshot(snapshot, architecture(mlp()), "conv")
    spec = ModelSpec(id="conv", builder=conv, input_shape=(8, 8, 1))
    report = run_mutants(spec, checks=["output_shape"], operators=["padding"], snapshot=snapshot)
    assert report.reference["architecture"] == "failed"
    assert all("architecture" not in m.caught_by for m in report.judged)
    # the note says how the model differs from the snapshot, not only that it does
    from modelcheck.mutants.format import format_report

    note = next(line for line in format_report(report).splitlines() if line.startswith("note: architecture"))
    why = note.split("so it catches nothing: ")[1]
    assert why == report.reference_messages["architecture"] and why != "failed" and "conv" in why


def step(z):
    """A user's own activation function (a step), as in the perceptron of Hands-On ML."""
    return keras.ops.cast(keras.ops.greater_equal(z, 0), z.dtype)


def test_a_model_with_a_users_activation_function_is_mutated():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, activation=step, name="hidden"),
                              keras.layers.Dense(1, activation=step, name="out")])
    _, mutants = generate(model, operators=["layer_added", "units"])
    assert [m.operator for m in mutants] == ["layer_added", "units"]
    added = build(mutants[0].recipe)
    assert [layer.name for layer in added.layers] == ["hidden", "hidden_extra", "out"]
    assert added.get_layer("hidden_extra").activation is step


def test_an_assignments_mutants_are_checked_as_graded_submissions(tmp_path):
    from modelcheck.mutants.assignment import graded_like_submissions, load_for_mutants, resolve_reference

    path = tmp_path / "weak.toml"
    path.write_text(WEAK_ASSIGNMENT.replace("output_shape = 1\n", "output_shape = 1\nmatches_reference = 2\n"))
    (tmp_path / "solution.py").write_text(SOLUTION)
    assignment, key = load_for_mutants(path)
    spec, overrides, data = graded_like_submissions(assignment, path, resolve_reference(assignment, path,
                                                                                        reference=key, option=None))
    assert spec.total_params == 131  # filled in from the reference solution, as grading does
    report = run_mutants(spec, points=assignment.points, overrides=overrides, prepare=data,
                         operators=["units", "hidden_activation"])
    assert report.reference["matches_reference"] == "passed"
    assert all("matches_reference" in m.caught_by for m in report.judged)
    assert report.judged[0].points == 1.0  # output_shape's point kept, matches_reference's two lost


def compiled_conv() -> keras.Model:
    model = conv()
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(0.01))
    return model


def test_survivors_of_a_model_without_its_snapshot_suggest_recording_it(tmp_path):
    from modelcheck.mutants.format import format_report

    spec = ModelSpec(id="conv", builder=compiled_conv, input_shape=(8, 8, 1), output_shape=(2, 2, 2), total_params=10)
    checks = ["output_shape", "param_count"]
    missing = tmp_path / "__modelcheck_snapshots__" / "conv.json"
    report = run_mutants(spec, checks=checks, operators=["hidden_activation", "padding", "learning_rate"],
                         snapshot=missing)
    assert report.snapshot_missing == str(missing) and report.checks == checks
    by_description = {m.description: m for m in report.survivors}
    relu = by_description["activation relu removed"]
    assert relu.architecture_changed
    row = next(r for r in report.to_json()["mutants"] if r["description"] == "activation relu removed")
    assert row["suggestion"] == ("record the model's architecture snapshot (conv.json, written by pytest --modelcheck "
                                 "--modelcheck-snapshot-update): comparing with it catches this change")
    assert "activation relu removed, at layer 'conv' (Conv2D): record the model's architecture snapshot" in \
        format_report(report)
    # a compile setting is no part of the snapshot: the suggestion stays the check that sees it
    rate = by_description["learning rate 0.01 -> 10 (x1000)"]
    assert not rate.architecture_changed
    assert next(r for r in report.to_json()["mutants"] if r["operator"] == "learning_rate")["suggestion"] == \
        "add config_lint to [points]"
    # with no snapshot in play, the usual suggestion (config_lint flags no relu missing before a pooling)
    plain = run_mutants(spec, checks=checks, operators=["hidden_activation"])
    assert plain.snapshot_missing is None
    assert plain.to_json()["mutants"][0]["suggestion"] == \
        "add matches_reference to [points] (it compares the layers with the reference solution's)"


# --workers: helper processes that take mutants from the run's queue

HELPER_POINTS = {"output_shape": 1, "param_count": 1, "config_lint": 1, "gradient_flow": 1}
HELPER_OPERATORS = ["units", "hidden_activation", "frozen", "bias_removed", "dropout_keep_prob", "nan_weight"]


def _verdicts(report: Any) -> list[tuple[Any, ...]]:
    return [(m.operator, m.where, m.description, m.status, m.caught_by, m.points, m.statuses) for m in report.mutants]


class ExitInHelper:
    """A `prepare` that ends a helper process as it starts a mutant (as an out-of-memory kill would)."""

    def __call__(self, model: keras.Model) -> None:
        import multiprocessing
        import os

        if multiprocessing.parent_process() is not None:
            os._exit(3)


class FailOnMutants:
    """A `prepare` that raises on every mutant (it passes the reference, its first model)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, model: keras.Model) -> None:
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("prepare failed on a mutant")


def _with_booted_helper(**kwargs: Any) -> tuple[Any, Any]:
    """run_mutants with one helper that has booted before the run starts (so it takes mutants), and the helper."""
    from modelcheck.mutants.pool import Helpers

    with Helpers(1) as helpers:
        assert helpers.wait_ready(timeout=120)
        report = run_mutants(weak_spec(), points=HELPER_POINTS, operators=HELPER_OPERATORS, workers=2,
                             helpers=helpers, **kwargs)
        return report, helpers


def test_helper_processes_give_the_report_of_one_process():
    one = run_mutants(weak_spec(), points=HELPER_POINTS, operators=HELPER_OPERATORS)
    two, helpers = _with_booted_helper()
    assert len(one.mutants) >= 8 and helpers.helped > 0
    assert _verdicts(two) == _verdicts(one)


def test_the_mutants_of_a_helper_that_dies_are_evaluated_by_the_run():
    one = run_mutants(weak_spec(), points=HELPER_POINTS, operators=HELPER_OPERATORS)
    two, helpers = _with_booted_helper(prepare=ExitInHelper())
    assert helpers.processes[0].exitcode == 3 and helpers.helped == 0
    assert _verdicts(two) == _verdicts(one)


def test_an_error_evaluating_a_mutant_in_a_helper_is_raised_as_without_helpers():
    with pytest.raises(RuntimeError, match="prepare failed on a mutant"):
        run_mutants(weak_spec(), points=HELPER_POINTS, operators=HELPER_OPERATORS, prepare=FailOnMutants())
    with pytest.raises(RuntimeError, match="prepare failed on a mutant"):
        _with_booted_helper(prepare=FailOnMutants())


def test_the_command_with_two_workers_starts_its_helper_before_reading_the_assignment(tmp_path, monkeypatch):
    from modelcheck.mutants import assignment as module
    from modelcheck.mutants.assignment import assignment_mutants
    from modelcheck.mutants.pool import Helpers

    order = []
    enter = Helpers.__enter__
    monkeypatch.setattr(Helpers, "__enter__", lambda self: order.append("helpers") or enter(self))
    reading = module.load_for_mutants
    monkeypatch.setattr(module, "load_for_mutants",
                        lambda path, **kw: order.append("assignment") or reading(path, **kw))
    path = tmp_path / "weak.toml"
    path.write_text(WEAK_ASSIGNMENT)
    (tmp_path / "solution.py").write_text(SOLUTION)
    report = assignment_mutants(path, workers=2)
    assert order == ["helpers", "assignment"] and report.score is not None


# survivors' suggestions: each names what does catch the mistake on this model


def pooled_cnn() -> keras.Model:
    """A convolution (valid, relu) into a max-pooling whose 'same' padding gives the same 2 x 2."""
    model = keras.Sequential([
        keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, activation="relu", name="conv"),
        keras.layers.MaxPooling2D(name="pool"), keras.layers.Flatten(name="flatten"),
        keras.layers.Dense(3, activation="softmax", name="out"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-3))
    return model


def pooled_spec() -> ModelSpec:
    # the counts as an assignment's reference solution fills them in
    return ModelSpec(id="pooled", builder=pooled_cnn, input_shape=(6, 6, 1), output_shape=(3,),
                     total_params=47, trainable_params=47)


SUGGESTION_OPERATORS = ["hidden_activation", "padding", "learning_rate", "frozen"]


def _suggestions(report: Any) -> dict[tuple[str, str], str]:
    return {(row["description"], row["where"]): row["suggestion"]
            for row in report.to_json()["mutants"] if "suggestion" in row}


def test_a_survivors_suggestion_names_what_catches_it_on_this_model():
    keras.utils.set_random_seed(0)
    report = run_mutants(pooled_spec(), points={"output_shape": 1}, operators=SUGGESTION_OPERATORS)
    suggested = _suggestions(report)
    compare = "add matches_reference to [points] (it compares the layers with the reference solution's)"
    # config_lint flags no relu missing before a pooling, and 'same' leaves the pooled 2 x 2 as it was
    assert suggested[("activation relu removed", "layer 'conv' (Conv2D)")] == compare
    assert suggested[("padding valid -> same", "layer 'pool' (MaxPooling2D)")] == compare
    # a 'same' convolution does change a layer's output shape
    assert suggested[("padding valid -> same", "layer 'conv' (Conv2D)")] == "add layer_output_shapes to [expect]"
    # Adam at 1 still lowers a short run's loss; config_lint flags the rate
    assert suggested[("learning rate 0.001 -> 1 (x1000)", "the Adam optimizer")] == "add config_lint to [points]"
    # the trainable count is expected already: the check that compares it is what is missing
    assert suggested[("trainable=False (frozen)", "layer 'conv' (Conv2D)")] == "add param_count to [points]"


def test_adding_the_check_a_survivor_suggests_catches_it():
    keras.utils.set_random_seed(0)
    weak = run_mutants(pooled_spec(), points={"output_shape": 1}, operators=SUGGESTION_OPERATORS)
    added = {s.split()[1] for s in _suggestions(weak).values() if s.startswith("add ") and "to [points]" in s}
    assert {"config_lint", "param_count", "matches_reference"} <= added
    added.discard("matches_reference")  # needs a reference solution: an assignment's (tested with the command)
    stronger = run_mutants(pooled_spec(), points={"output_shape": 1, **{check: 1 for check in added}},
                           operators=SUGGESTION_OPERATORS)
    for row in stronger.to_json()["mutants"]:
        suggested = _suggestions(weak).get((row["description"], row["where"]), "")
        if any(suggested == f"add {check} to [points]" for check in added):
            assert row["caught_by"], (row["description"], row["where"], suggested)


def test_a_check_that_fails_on_the_reference_says_why(tmp_path, capsys):
    from modelcheck.cli import main
    from modelcheck.report.mutants import render_mutants_page, views_of_json

    # [expect] says 12 values per sample where the reference solution takes 4 x 3: every correct submission
    # would fail output_shape, so the note must show the instructor the mismatch to fix
    (tmp_path / "wrong.toml").write_text(WEAK_ASSIGNMENT.replace("input_shape = [4, 3]", "input_shape = [12]"))
    (tmp_path / "solution.py").write_text(SOLUTION)
    out = tmp_path / "mutants.json"
    assert main(["mutants", str(tmp_path / "wrong.toml"), "--json", str(out)]) == 0
    note = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("note: "))
    assert note.startswith("note: output_shape does not pass on the reference itself (failed), so it catches "
                           "nothing: input shape: expected (None, 12), received (None, 4, 3)")
    data = json.loads(out.read_text())
    assert data["reference_messages"]["output_shape"] == note.split("catches nothing: ")[1]
    page = render_mutants_page(views_of_json(data), tmp_path / "m.html", title="wrong").read_text()
    assert "<code>output_shape</code>: input shape: expected (None, 12), received (None, 4, 3)" in page


def test_the_dropped_mutants_are_named_with_why(tmp_path):
    from modelcheck.mutants.format import format_report

    report = run_mutants(pooled_spec(), points={"output_shape": 1}, operators=["channels_order"])
    assert len(report.invalid) == 1 and not report.judged
    lines = format_report(report).splitlines()
    at = lines.index("dropped: 1 that Keras cannot build")
    assert lines[at + 1].startswith("  input shape (6, 6, 1) -> (1, 6, 6) (channels_first data in a channels_last "
                                    "model), at input ")
    assert "ValueError: " in lines[at + 1]
    assert [(d["operator"], d["status"]) for d in report.to_json()["dropped"]] == [("channels_order", "invalid")]
    assert all(d["note"].startswith("ValueError: ") for d in report.to_json()["dropped"])
    from modelcheck.report.mutants import render_mutants_page, views_of_json

    page = render_mutants_page(views_of_json(report.to_json()), tmp_path / "m.html", title="pooled").read_text()
    assert "<li>input shape (6, 6, 1) -&gt; (1, 6, 6) (channels_first data in a channels_last model), at input" in page


def test_the_libraries_warnings_about_a_mutant_are_not_shown():
    import warnings

    # softmax on the one sigmoid unit: Keras warns at every call that the softmax always gives 1
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        report = run_mutants(ModelSpec(id="cnn", builder=cnn, input_shape=(8, 8, 3), output_shape=(1,)),
                             points={"output_shape": 1, "loss_matches_output": 1}, operators=["output_activation"])
    assert any(m.description.endswith("-> softmax") for m in report.judged)
    assert not [str(w.message) for w in seen if "softmax" in str(w.message)]


def token_classifier() -> keras.Model:
    model = keras.Sequential([keras.Input((20,), dtype="int32"), keras.layers.Embedding(1000, 8, name="emb"),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    return model


def test_a_nan_weight_no_sample_reaches_is_a_mistake_not_an_equivalent_mutant():
    # the NaN goes to the embedding's row 0, a token the four synthetic sequences happen not to hold
    report = run_mutants(ModelSpec(id="tokens", builder=token_classifier, input_shape=(20,), output_shape=(2,)),
                         points={"output_shape": 1}, operators=["nan_weight"])
    embedding = next(m for m in report.mutants if m.where == "layer 'emb' (Embedding)")
    assert embedding.status == "caught" and embedding.caught_by == ["output_shape"]
    assert "expected finite values, received NaN" in embedding.messages["output_shape"]
    assert not report.equivalent


def logits_mlp() -> keras.Model:
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), optimizer="adam")
    return model


def test_the_sparse_categorical_swap_keeps_from_logits_so_it_is_one_mistake():
    _, mutants = generate(logits_mlp(), operators=["loss_sparse_categorical"])
    assert [m.description for m in mutants] == ["loss sparse_categorical_crossentropy -> categorical_crossentropy"]
    loss = build(mutants[0].recipe).loss
    assert type(loss).__name__ == "CategoricalCrossentropy" and loss.get_config()["from_logits"] is True
    # so what catches it is what tells class ids from one-hot rows, not a loss that reads logits as probabilities
    spec = ModelSpec(id="logits", builder=logits_mlp, input_shape=(6,), output_shape=(3,), output="logits")
    report = run_mutants(spec, points={"loss_matches_output": 1}, operators=["loss_sparse_categorical"])
    assert [m.status for m in report.mutants] == ["survived"]


def test_the_pytest_item_says_every_mutant_was_dropped_rather_than_none_applied():
    from modelcheck.mutants.pytest_plugin import report_result

    report = run_mutants(pooled_spec(), points={"output_shape": 1}, operators=["channels_order"])
    result = report_result(report)
    assert result.status == "skipped"
    assert result.message == "no mutants: every mutant was dropped (1 that Keras cannot build)"


def test_the_text_report_the_pytest_item_and_the_page_count_the_dropped_mutants_alike(tmp_path):
    """The three said "0 equivalent to the model, 2 ..." / "2 ..." / "equivalent to the reference" of one run."""
    from modelcheck.mutants.format import format_report
    from modelcheck.mutants.pytest_plugin import report_result
    from modelcheck.report.mutants import render_mutants_page, views_of_json

    report = run_mutants(pooled_spec(), points={"output_shape": 1}, operators=["channels_order"])
    said = "1 that Keras cannot build"
    assert f"dropped: {said}\n" in format_report(report)
    assert report_result(report).message.endswith(f"({said})")
    page = render_mutants_page(views_of_json(report.to_json()), tmp_path / "m.html", title="t").read_text()
    assert f"Dropped: {said}." in page and "0 equivalent" not in page


@pytest.mark.parametrize("command", ["mutants", "grade"])
def test_workers_below_one_are_a_usage_error(tmp_path, capsys, command):
    """`modelcheck mutants --workers 0` ran with one worker, silently."""
    from modelcheck.cli import main

    (tmp_path / "weak.toml").write_text(WEAK_ASSIGNMENT)
    extra = [str(tmp_path), "--out", str(tmp_path / "out")] if command == "grade" else []
    assert main([command, str(tmp_path / "weak.toml"), *extra, "--workers", "0"]) == 2
    assert "--workers must be at least 1, received 0" in capsys.readouterr().err


def test_a_wrong_input_length_of_token_ids_is_told_as_sequences_not_as_a_column():
    """Trial 21: the sentiment assignment's mutant read "one feature too many (the target column left in)"."""
    tokens = keras.Input((50,), dtype="int32")
    x = keras.layers.GlobalAveragePooling1D()(keras.layers.Embedding(100, 8)(tokens))
    model = keras.Model(tokens, keras.layers.Dense(1, activation="sigmoid")(x))
    _, mutants = generate(model, operators=["input_shape"])
    assert [m.description for m in mutants] == ["input shape (50) -> (51) (sequences padded to 51 tokens instead of 50)"]
    features = keras.Input((50,))
    table = keras.Model(features, keras.layers.Dense(1)(features))
    assert [m.description for m in generate(table, operators=["input_shape"])[1]] == [
        "input shape (50) -> (51) (one feature too many (the target column left in))"]


def test_the_command_line_quiets_tensorflows_start_up_lines_unless_the_user_set_their_level(tmp_path):
    """`modelcheck mutants` printed a mutant's 'Incompatible shapes' WARNINGs from TensorFlow above its
    table; the pytest plugin already set TF_CPP_MIN_LOG_LEVEL (now 3: TensorFlow's cuInit ERROR too)."""
    import os
    import subprocess
    import sys

    code = ("import os, sys; from modelcheck.cli import main; main(['mutants', sys.argv[1]]); "
            "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'))")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    missing = str(tmp_path / "missing.toml")
    out = subprocess.run([sys.executable, "-c", code, missing], env=env, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "3", out.stderr
    out = subprocess.run([sys.executable, "-c", code, missing], env={**env, "TF_CPP_MIN_LOG_LEVEL": "0"},
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "0", out.stderr


class TwoLayer(keras.Model):
    """A subclassed model with a hidden activation: mutated as its functional twin."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(4, activation="relu")
        self.out = keras.layers.Dense(2)

    def call(self, x):
        return self.out(self.hidden(x))


def _two_layer():
    keras.utils.set_random_seed(0)
    model = TwoLayer()
    model(keras.ops.zeros((1, 3)))
    return model


def test_a_subclassed_models_snapshot_catches_its_twins_mutants(tmp_path):
    # its stored snapshot lists the subclass's layers, the mutants are rebuilt as the twin's graph: the
    # comparison was skipped ("its rebuild from its configuration does not" match), and the reference
    # model wide_deep_subclassed kept 3 survivors that differed from it in a layer's activation
    from modelcheck.snapshot import architecture, write_snapshot

    snapshot = tmp_path / "two.json"
    write_snapshot(snapshot, architecture(_two_layer()), "two")
    spec = ModelSpec(id="two", builder=_two_layer, input_shape=(3,), output_shape=(2,))
    report = run_mutants(spec, checks=["output_shape"], operators=["hidden_activation", "learning_rate"],
                         snapshot=snapshot)
    assert report.reference["architecture"] == "passed", report.reference_messages
    removed = next(m for m in report.judged if m.description == "activation relu removed")
    assert removed.caught_by == ["architecture"]
    assert removed.messages["architecture"].startswith("architecture: expected the one stored in two.json")
    assert all(m.caught_by != ["architecture"] for m in report.judged if m.operator == "learning_rate")
