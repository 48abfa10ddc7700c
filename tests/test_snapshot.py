"""Architecture snapshots: stable JSON, layer-aligned diffs, snapshot files, the check."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import pytest
from keras import layers

from modelcheck.snapshot import (
    SNAPSHOT_DIR,
    architecture,
    check_architecture,
    compare,
    delete_snapshots,
    find_orphans,
    is_auto_name,
    read_snapshot,
    snapshot_path,
    snapshot_text,
    to_json,
    write_snapshot,
)

# Builders as source text, so a subprocess can build exactly the same models.
BUILDERS = textwrap.dedent(
    """
    import keras
    from keras import layers

    def mlp(units=300, activation="relu", dropout=False, hidden2=True):
        stack = [keras.Input((28, 28)), layers.Flatten(), layers.Dense(units, activation=activation)]
        if dropout:
            stack.append(layers.Dropout(0.5, seed=7))
        if hidden2:
            stack.append(layers.Dense(100, activation="relu"))
        stack.append(layers.Dense(10, activation="softmax"))
        return keras.Sequential(stack)

    def wide_deep(skip=True):
        inputs = keras.Input((8,), name="features")
        hidden = layers.Dense(16, activation="relu")(inputs)
        shared = layers.Dense(4)
        a, b = shared(hidden), shared(layers.Dense(16)(inputs))
        merged = layers.Concatenate()([inputs, a, b] if skip else [a, b])
        return keras.Model(inputs, layers.Dense(1, name="price")(merged))

    def burn_names():
        # Advance Keras' name counters, as other models built earlier in a process would.
        for _ in range(3):
            layers.Dense(1), layers.Flatten(), layers.Concatenate(), layers.Dropout(0.1)
            keras.Input((2,))
    """
)


@pytest.fixture(scope="module")
def builders() -> dict:
    namespace: dict = {}
    exec(BUILDERS, namespace)
    return namespace


# --- stable JSON ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mlp", "wide_deep"])
def test_same_model_gives_identical_json_whatever_the_name_counters(builders, name):
    first = to_json(architecture(builders[name]()))
    builders["burn_names"]()
    second_model = builders[name]()
    assert any(l.name.endswith(("_3", "_4", "_5", "_6", "_7")) for l in second_model.layers)
    assert to_json(architecture(second_model)) == first


def test_json_is_identical_in_another_process(builders):
    script = BUILDERS + textwrap.dedent(
        """
        import sys
        from modelcheck.snapshot import architecture, to_json
        burn_names()
        sys.stdout.write(to_json(architecture(mlp())) + "----\\n" + to_json(architecture(wide_deep())))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = to_json(architecture(builders["mlp"]())) + "----\n" + to_json(architecture(builders["wide_deep"]()))
    assert done.stdout == expected


def test_json_format_sorted_keys_two_space_indent_trailing_newline(builders):
    text = to_json(architecture(builders["mlp"]()))
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text.splitlines()[1].startswith('  "') and not text.splitlines()[1].startswith('   ')
    data = json.loads(text)
    assert json.dumps(data, sort_keys=True) == json.dumps(json.loads(text), sort_keys=True)
    assert list(data) == sorted(data)
    assert '"output_shape": [null, 300]' in text  # plain lists stay on one line


def test_auto_names_become_positional_and_user_names_stay(builders):
    builders["burn_names"]()
    arch = architecture(builders["wide_deep"]())
    names = [layer["name"] for layer in arch["layers"]]
    assert names == ["features", "dense#1", "dense#2", "dense#3", "concatenate#1", "price"]
    concat = arch["layers"][4]
    assert concat["inputs"] == [["features", "dense#3@1", "dense#3@2"]]
    shared = arch["layers"][3]
    assert shared["inputs"] == [["dense#1"], ["dense#2"]]
    assert shared["output_shape"] == [[None, 4], [None, 4]]
    assert arch["outputs"] == [{"layer": "price", "shape": [None, 1], "dtype": "float32"}]
    assert arch["totals"] == {"total": 144 + 144 + 68 + 17, "trainable": 373, "non_trainable": 0}


def test_snapshot_holds_configuration_but_no_seed_or_name(builders):
    text = to_json(architecture(builders["mlp"](dropout=True)))
    dense = architecture(builders["mlp"]())["layers"][1]
    assert dense["config"]["units"] == 300 and dense["config"]["activation"] == "relu"
    assert dense["config"]["kernel_initializer"] == "GlorotUniform"
    assert dense["params"] == 235_500 and dense["output_shape"] == [None, 300]
    assert '"seed"' not in text
    assert re.search(r"dense_\d|dropout_\d|input_layer_\d|flatten_\d", text) is None


def test_initializer_seed_does_not_matter_but_initializer_does():
    def build(init):
        return keras.Sequential([keras.Input((3,)), layers.Dense(2, kernel_initializer=init)])

    seeded = architecture(build(keras.initializers.GlorotUniform(seed=1)))
    assert compare(seeded, architecture(build(keras.initializers.GlorotUniform(seed=2)))).equal
    diff = compare(seeded, architecture(build(keras.initializers.HeNormal())))
    assert diff.lines[0] == "layer 1 dense#1: kernel_initializer GlorotUniform -> HeNormal"


@pytest.mark.parametrize("pattern", [("dense", "Dense", True), ("dense_12", "Dense", True),
                                     ("conv2d_1", "Conv2D", True), ("batch_normalization", "BatchNormalization", True),
                                     ("hidden", "Dense", False), ("dense_a", "Dense", False)])
def test_is_auto_name(pattern):
    name, class_name, expected = pattern
    assert is_auto_name(name, class_name) is expected


def test_subclassed_and_unbuilt_models_do_not_crash():
    class TwoLayers(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = layers.Dense(4)
            self.out = layers.Dense(1)

        def call(self, x):
            return self.out(self.hidden(x))

    model = TwoLayers()
    unbuilt = architecture(model)
    assert unbuilt["kind"] == "subclassed" and unbuilt["totals"]["total"] is None
    model(keras.ops.zeros((2, 3)))
    built = architecture(model)
    assert [(l["name"], l["params"], l["input_shape"]) for l in built["layers"]] == [
        ("dense#1", 16, [None, 3]), ("dense#2", 5, [None, 4])
    ]
    assert built["inputs"] == [{"name": "input#1", "shape": [None, 3], "dtype": None}]
    assert built["totals"]["total"] == 21
    lines = compare(unbuilt, built).lines
    assert "layer 1 dense#1: params unknown -> 16; input None -> (None, 3)" in lines
    assert "+ input 1 input#1: shape (None, 3), dtype None" in lines and "total params unknown -> 21" in lines
    sequential = architecture(keras.Sequential([layers.Dense(3)]))
    assert sequential["layers"][0]["params"] is None


def test_a_layer_also_used_in_another_model_shows_only_this_models_calls():
    encoder = layers.Dense(3)
    other_input = keras.Input((5,))
    keras.Model(other_input, encoder(other_input))  # the same layer, called in another graph
    inputs = keras.Input((5,))
    arch = architecture(keras.Model(inputs, encoder(inputs)))
    assert arch["layers"][1]["inputs"] == [["input_layer#1"]]
    assert arch["layers"][1]["output_shape"] == [None, 3]


def test_a_custom_layer_whose_get_config_raises_is_recorded_not_fatal():
    class Broken(layers.Layer):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def get_config(self):
            raise RuntimeError("student forgot get_config")

        def call(self, x):
            return x * self.factor

    inputs = keras.Input((2,))
    arch = architecture(keras.Model(inputs, Broken(2.0)(inputs)))
    assert arch["layers"][1]["class"] == "Broken"
    assert arch["layers"][1]["config"] == {"trainable": True, "config_error": "RuntimeError"}
    assert arch["layers"][1]["name"] == "broken#1"


def test_nested_model_diff_is_indented_under_its_layer():
    def build(units):
        inner = keras.Sequential([keras.Input((4,)), layers.Dense(units)])
        inputs = keras.Input((4,))
        return keras.Model(inputs, layers.Dense(1)(inner(inputs)))

    diff = compare(architecture(build(2)), architecture(build(3)))
    assert diff.lines == (
        "layer 2 sequential#1: params 10 -> 15; output (None, 2) -> (None, 3)",
        "    layer 1 dense#1: units 2 -> 3; params 10 -> 15; output (None, 2) -> (None, 3)",
        "    output 1 dense#1: shape (None, 2) -> (None, 3)",
        "    total params 10 -> 15",
        "layer 3 dense#1: params 3 -> 4",
        "total params 13 -> 19",
    )


# --- diffs ---------------------------------------------------------------------------------


def _diff(builders, name, old_kwargs, new_kwargs):
    old = architecture(builders[name](**old_kwargs))
    new = architecture(builders[name](**new_kwargs))
    return compare(old, new)


def test_equal_models_have_no_diff(builders):
    diff = _diff(builders, "mlp", {}, {})
    assert diff.equal and diff.lines == ()


def test_diff_changed_units(builders):
    diff = _diff(builders, "mlp", {}, {"units": 200})
    assert not diff.equal
    assert diff.lines == (
        "layer 2 dense#1: units 300 -> 200; params 235,500 -> 157,000; output (None, 300) -> (None, 200)",
        "layer 3 dense#2: params 30,100 -> 20,100",
        "total params 266,610 -> 178,110",
    )


def test_diff_inserted_layer(builders):
    diff = _diff(builders, "mlp", {}, {"dropout": True})
    assert diff.lines == (
        "+ layer 3 dropout#1 (Dropout): rate 0.5, params 0, output (None, 300)",
        "total params 266,610 (unchanged)",
    )


def test_diff_removed_layer_is_aligned_not_compared_by_index(builders):
    diff = _diff(builders, "mlp", {}, {"hidden2": False})
    assert diff.lines == (
        "- layer 3 dense#2 (Dense): units 100, activation relu, params 30,100, output (None, 100)",
        "layer 3 dense#2 (was layer 4 dense#3): params 1,010 -> 3,010",
        "total params 266,610 -> 238,510",
    )


def test_diff_changed_activation(builders):
    diff = _diff(builders, "mlp", {}, {"activation": "tanh"})
    assert diff.lines == ("layer 2 dense#1: activation relu -> tanh", "total params 266,610 (unchanged)")


def test_diff_changed_connection_in_functional_model(builders):
    diff = _diff(builders, "wide_deep", {"skip": True}, {"skip": False})
    assert diff.lines == (
        "layer 5 concatenate#1: output (None, 16) -> (None, 8); "
        "inputs [features, dense#3@1, dense#3@2] -> [dense#3@1, dense#3@2]",
        "layer 6 price: params 17 -> 9",
        "total params 373 -> 365",
    )


def test_diff_changed_input_shape():
    def build(size):
        return keras.Sequential([keras.Input((size,)), layers.Dense(2)])

    diff = compare(architecture(build(3)), architecture(build(5)))
    assert diff.lines == (
        "input 1 input_layer#1: shape (None, 3) -> (None, 5)",
        "layer 1 dense#1: params 8 -> 12",
        "total params 8 -> 12",
    )


# --- files ---------------------------------------------------------------------------------


def test_snapshot_path_is_one_readable_file_per_model(tmp_path):
    assert snapshot_path(tmp_path, "fashion_mlp") == tmp_path / SNAPSHOT_DIR / "fashion_mlp.json"
    assert snapshot_path(tmp_path, "ch10/mlp[sgd]").name == "ch10_mlp_sgd_.json"


def test_write_then_read_round_trip_and_no_rewrite_when_unchanged(tmp_path, builders):
    arch = architecture(builders["mlp"]())
    path = snapshot_path(tmp_path, "mlp")
    assert write_snapshot(path, arch, "mlp") is True
    assert path.read_text(encoding="utf-8") == snapshot_text(arch, "mlp")
    assert json.loads(path.read_text())["model"] == "mlp"
    assert read_snapshot(path) == json.loads(to_json(arch))
    assert write_snapshot(path, arch, "mlp") is False
    assert read_snapshot(tmp_path / "missing.json") is None


def test_orphans_are_snapshots_of_no_current_model(tmp_path, builders):
    arch = architecture(builders["mlp"]())
    for model_id in ("kept", "gone", "also_gone"):
        write_snapshot(snapshot_path(tmp_path, model_id), arch, model_id)
    orphans = find_orphans(tmp_path, {"kept", "not_written_yet"})
    assert [p.name for p in orphans] == ["also_gone.json", "gone.json"]
    assert delete_snapshots(orphans) == orphans
    assert find_orphans(tmp_path, {"kept"}) == []
    assert snapshot_path(tmp_path, "kept").exists()
    assert find_orphans(tmp_path / "elsewhere", {"kept"}) == []
    delete_snapshots([snapshot_path(tmp_path, "kept")])
    assert not (tmp_path / SNAPSHOT_DIR).exists()


# --- the check -----------------------------------------------------------------------------


def test_missing_snapshot_fails_with_the_hint_to_create_it(tmp_path, builders):
    path = snapshot_path(tmp_path, "mlp")
    result = check_architecture(builders["mlp"](), snapshot_file=path, update=False, model_id="mlp")
    assert result.check == "architecture" and result.status == "failed"
    assert result.message == (f"architecture snapshot: expected a stored snapshot mlp.json, received no snapshot file, "
                              f"at model 'mlp'; {path} does not exist")
    assert result.hint == "Re-run pytest with --modelcheck-snapshot-update to create it"
    assert not path.exists()


def test_a_missing_snapshot_names_the_file_of_the_same_architecture_when_the_model_was_renamed(tmp_path, builders):
    """A model id renamed in the spec read as a missing snapshot plus an orphan, with nothing
    linking the two: the message names the file that holds the model's very architecture."""
    old = snapshot_path(tmp_path, "mlp")
    write_snapshot(old, architecture(builders["mlp"]()), "mlp")
    write_snapshot(snapshot_path(tmp_path, "small"), architecture(builders["mlp"](units=10)), "small")
    path = snapshot_path(tmp_path, "fashion_mlp")
    result = check_architecture(builders["mlp"](), snapshot_file=path, update=False, model_id="fashion_mlp")
    assert result.status == "failed"
    assert result.message.endswith(f"{path} does not exist; mlp.json in the same folder holds this very "
                                   "architecture: if the model was renamed, rename that file to fashion_mlp.json "
                                   "to keep its history")
    assert result.details["same_architecture"] == [str(old)]
    other = check_architecture(builders["mlp"](units=50), snapshot_file=path, update=False, model_id="fashion_mlp")
    assert other.message.endswith("does not exist") and other.details["same_architecture"] == []
    # a model declared beside it and built the same on purpose is no renamed model
    twin = check_architecture(builders["mlp"](), snapshot_file=path, update=False, model_id="fashion_mlp",
                              declared=["mlp", "small", "fashion_mlp"])
    assert twin.message.endswith("does not exist") and twin.details["same_architecture"] == []


def test_update_writes_then_passes_then_a_change_fails_with_the_diff(tmp_path, builders):
    path = snapshot_path(tmp_path, "mlp")
    written = check_architecture(builders["mlp"](), snapshot_file=path, update=True, model_id="mlp")
    assert written.passed and written.details["snapshot_written"] is True
    first_bytes = path.read_bytes()

    again = check_architecture(builders["mlp"](), snapshot_file=path, update=False, model_id="mlp")
    assert again.passed, again.describe()
    assert path.read_bytes() == first_bytes

    changed = check_architecture(builders["mlp"](units=200), snapshot_file=path, update=False, model_id="mlp")
    assert changed.status == "failed"
    assert changed.details["diff"] == list(_diff(builders, "mlp", {}, {"units": 200}).lines)
    summary, *body = changed.message.splitlines()
    assert summary == "architecture: expected the one stored in mlp.json, received 2 changes, at model 'mlp'"
    assert body == ["  " + line for line in changed.details["diff"]]
    assert "--modelcheck-snapshot-update" in changed.hint
    assert changed.to_dict()["details"]["diff"] == changed.details["diff"]

    accepted = check_architecture(builders["mlp"](units=200), snapshot_file=path, update=True, model_id="mlp")
    assert accepted.passed and accepted.details["snapshot_updated"] is True
    assert check_architecture(builders["mlp"](units=200), snapshot_file=path, update=False).passed
    assert not check_architecture(builders["mlp"](), snapshot_file=path, update=False).passed


def test_corrupt_snapshot_is_an_error_until_updated(tmp_path, builders):
    path = snapshot_path(tmp_path, "mlp")
    path.parent.mkdir()
    path.write_text("<<<<<<< HEAD\n{}\n", encoding="utf-8")
    broken = check_architecture(builders["mlp"](), snapshot_file=path, update=False)
    assert broken.status == "error" and "is not valid JSON (line 1" in broken.message
    fixed = check_architecture(builders["mlp"](), snapshot_file=path, update=True)
    assert fixed.passed and fixed.details["snapshot_updated"] is True
    assert check_architecture(builders["mlp"](), snapshot_file=path, update=False).passed


def test_something_else_than_a_model_is_an_error(tmp_path):
    result = check_architecture(None, snapshot_file=tmp_path / "x.json", update=True)
    assert result.status == "error" and result.message == "model to snapshot: expected a keras.Model, received NoneType, at model 'x'"
    assert not (tmp_path / "x.json").exists()


def test_importing_the_snapshot_package_does_not_import_keras():
    code = "import sys, modelcheck.snapshot; print('keras' in sys.modules, 'tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False False", done.stderr[-2000:]


def _lookup_model(vocabulary: list[str]) -> keras.Model:
    inputs = keras.Input((1,), dtype="string")
    return keras.Model(inputs, layers.Dense(1)(layers.StringLookup(vocabulary=vocabulary, output_mode="one_hot")(inputs)))


def test_a_changed_vocabulary_shows_the_words_that_changed_not_both_lists():
    """A lookup layer given 2,000 words: one word replaced is one short line, not 4,000 words."""
    words = [f"w{i}" for i in range(2_000)]
    diff = compare(architecture(_lookup_model(words)), architecture(_lookup_model([*words[:3], "new", *words[4:]])))
    line = next(line for line in diff.lines if "vocabulary" in line)
    assert line.endswith("vocabulary (2,000 entries -> 2,000): 'w3' removed; 'new' added")
    reordered = compare(architecture(_lookup_model(words)), architecture(_lookup_model([words[1], words[0], *words[2:]])))
    assert "the same values in another order or number (from position 0: 'w0' -> 'w1')" in str(reordered)
    assert len(str(diff)) < 300


def test_a_long_list_that_only_repeats_a_value_once_more_is_a_change_not_an_error():
    """Equal as sets, one longer than the other: no position differs in their common part."""
    from modelcheck.snapshot.diff import _long_list_change

    assert _long_list_change("boundaries", [0] * 13, [0] * 15) == (
        "boundaries (13 entries -> 15): the same values in another order or number (from position 13: 2 entries "
        "added)")


def test_diff_pairs_a_changed_layer_with_the_one_it_most_resembles_not_the_first_of_its_class():
    def mlp(*hidden):
        return keras.Sequential([keras.Input((8,)), layers.Dense(16, activation="relu"), *hidden,
                                 layers.Dense(3, activation="softmax" if hidden else "sigmoid")])

    old = architecture(mlp(layers.Dense(8, activation="relu")))
    diff = compare(old, architecture(mlp()))
    assert diff.lines == (
        "- layer 2 dense#2 (Dense): units 8, activation relu, params 136, output (None, 8)",
        "layer 2 dense#2 (was layer 3 dense#3): activation softmax -> sigmoid; params 27 -> 51",
        "total params 307 -> 195",
    )
