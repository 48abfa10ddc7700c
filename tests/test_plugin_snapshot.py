"""Architecture snapshots through `pytest --modelcheck`: create, change, update, xdist, orphans."""

from __future__ import annotations

import json
import textwrap

import pytest

# The builders of tests/test_snapshot.py; each model of the spec is one builder with kwargs
# that a test changes by rewriting models.py.
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
    """
)

MODELS = ("same", "units", "inserted", "removed", "activation", "connection")
ORIGINAL = {"same": {}, "units": {}, "inserted": {}, "removed": {}, "activation": {}, "connection": {}}
CHANGED = {"same": {}, "units": {"units": 200}, "inserted": {"dropout": True}, "removed": {"hidden2": False},
           "activation": {"activation": "tanh"}, "connection": {"skip": False}}


def write_models(folder, kwargs: dict[str, dict]) -> None:
    lines = [BUILDERS]
    for model in MODELS:
        builder = "wide_deep" if model == "connection" else "mlp"
        lines.append(f"def build_{model}():\n    return {builder}(**{kwargs[model]!r})\n")
    (folder / "models.py").write_text("\n".join(lines))
    (folder / "modelcheck.toml").write_text("".join(
        f'[[model]]\nbuilder = "models:build_{model}"\nid = "{model}"\nchecks = ["output_shape"]\n\n'
        for model in MODELS))


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Only the architecture items: the other checks are the plugin's own tests."""
    return pytester.runpytest_subprocess("--modelcheck", "--modelcheck-checks=architecture",
                                         "-p", "no:cacheprovider", *args)


def snapshot_files(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "__modelcheck_snapshots__").glob("*.json"))}


def test_a_project_without_snapshots_is_told_how_to_start_and_update_writes_them(
        pytester: pytest.Pytester) -> None:
    write_models(pytester.path, ORIGINAL)
    fresh = run(pytester, "-v")
    fresh.assert_outcomes(failed=6)  # every declared model has its item; none has a snapshot yet
    fresh.stdout.fnmatch_lines_random([f"modelcheck.toml::{model}::architecture FAILED*" for model in MODELS])
    fresh.stdout.fnmatch_lines([
        "architecture snapshot: expected a stored snapshot activation.json, received no snapshot file, at model 'activation'; *activation.json does not exist",
        "Hint: Re-run pytest with --modelcheck-snapshot-update to create it",
    ])
    # count in the failure reports only: on CI (CI=true) pytest repeats full messages in its short summary
    failures = fresh.stdout.str().split("short test summary info")[0]
    assert failures.count("Hint: Re-run pytest with --modelcheck-snapshot-update to create it") == 6
    assert not (pytester.path / "__modelcheck_snapshots__").exists()  # a plain run writes nothing

    written = run(pytester, "--modelcheck-snapshot-update")
    written.assert_outcomes(passed=6)
    written.stdout.fnmatch_lines(["*- modelcheck snapshots -*", "6 snapshots written, 0 updated",
                                  "  written: __modelcheck_snapshots__/activation.json"])
    assert list(snapshot_files(pytester.path)) == [f"{model}.json" for model in sorted(MODELS)]
    stored = json.loads((pytester.path / "__modelcheck_snapshots__" / "units.json").read_text())
    assert stored["model"] == "units" and stored["architecture"]["totals"]["total"] == 266_610

    plain = run(pytester)
    plain.assert_outcomes(passed=6)
    assert "modelcheck snapshots" not in plain.stdout.str()  # nothing written, updated or orphaned

    (pytester.path / "__modelcheck_snapshots__" / "units.json").unlink()
    missing = run(pytester, "-v")
    missing.assert_outcomes(passed=5, failed=1)
    missing.stdout.fnmatch_lines([
        "modelcheck.toml::units::architecture FAILED*",
        "architecture snapshot: expected a stored snapshot units.json, received no snapshot file, at model 'units'; *units.json does not exist",
        "Hint: Re-run pytest with --modelcheck-snapshot-update to create it",
    ])


def test_each_change_fails_with_its_aligned_diff_and_update_accepts_it(pytester: pytest.Pytester) -> None:
    write_models(pytester.path, ORIGINAL)
    run(pytester, "--modelcheck-snapshot-update").assert_outcomes(passed=6)

    write_models(pytester.path, CHANGED)
    changed = run(pytester, "--modelcheck-report", "reports/latest")
    changed.assert_outcomes(passed=1, failed=5)
    for expected in (
        ["*_ ?modelcheck? units::architecture _*",
         "architecture: expected the one stored in units.json, received 2 changes, at model 'units'",
         "  layer 2 dense#1: units 300 -> 200; params 235,500 -> 157,000; output (None, 300) -> (None, 200)",
         "  layer 3 dense#2: params 30,100 -> 20,100",
         "  total params 266,610 -> 178,110",
         "Hint: If the change is intended, re-run pytest with --modelcheck-snapshot-update to accept it"],
        ["  + layer 3 dropout#1 (Dropout): rate 0.5, params 0, output (None, 300)",
         "  total params 266,610 (unchanged)"],
        ["  - layer 3 dense#2 (Dense): units 100, activation relu, params 30,100, output (None, 100)",
         "  layer 3 dense#2 (was layer 4 dense#3): params 1,010 -> 3,010",
         "  total params 266,610 -> 238,510"],
        ["  layer 2 dense#1: activation relu -> tanh"],
        ["  layer 5 concatenate#1: output (None, 16) -> (None, 8); "
         "inputs [features, dense#3@1, dense#3@2] -> [dense#3@1, dense#3@2]",
         "  layer 6 price: params 17 -> 9",
         "  total params 373 -> 365"],
    ):
        changed.stdout.fnmatch_lines(expected)
    page = (pytester.path / "reports" / "latest" / "models" / "connection.html").read_text()
    assert "inputs [features, dense#3@1, dense#3@2] -&gt; [dense#3@1, dense#3@2]" in page  # the diff, escaped

    updated = run(pytester, "--modelcheck-snapshot-update")
    updated.assert_outcomes(passed=6)
    updated.stdout.fnmatch_lines(["0 snapshots written, 5 updated", "  updated: __modelcheck_snapshots__/activation.json"])
    assert "same.json" not in updated.stdout.str()  # unchanged: not rewritten, not listed
    run(pytester).assert_outcomes(passed=6)


@pytest.mark.extended
def test_xdist_gives_the_same_verdicts_and_byte_identical_snapshot_files(pytester: pytest.Pytester) -> None:
    for folder in ("serial", "xdist"):
        write_models(pytester.mkdir(folder), ORIGINAL)
    run(pytester, "--modelcheck-snapshot-update", "serial").assert_outcomes(passed=6)
    run(pytester, "--modelcheck-snapshot-update", "xdist", "-n", "2").assert_outcomes(passed=6)
    serial, xdist = snapshot_files(pytester.path / "serial"), snapshot_files(pytester.path / "xdist")
    assert list(serial) == [f"{model}.json" for model in sorted(MODELS)]
    assert serial == xdist

    for folder in ("serial", "xdist"):
        write_models(pytester.path / folder, CHANGED)
    outcomes = {}
    for folder, extra in (("serial", []), ("xdist", ["-n", "2"])):
        result = run(pytester, "-rf", folder, *extra)
        result.assert_outcomes(passed=1, failed=5)
        failed = [line.split(" - ")[0].replace(folder + "/", "") for line in result.outlines
                  if line.startswith("FAILED ")]
        messages = [line for line in result.outlines if line.startswith(("architecture:", "  "))]
        outcomes[folder] = (sorted(failed), sorted(messages))
    assert outcomes["serial"] == outcomes["xdist"]
    assert len(outcomes["serial"][0]) == 5 and len(outcomes["serial"][1]) >= 15


@pytest.mark.parametrize("xdist", [[], pytest.param(["-n", "2"], marks=pytest.mark.extended)], ids=["serial", "xdist"])
def test_orphaned_snapshots_are_reported_then_deleted_with_the_update_flag(
        pytester: pytest.Pytester, xdist: list[str]) -> None:
    write_models(pytester.path, ORIGINAL)
    run(pytester, "--modelcheck-snapshot-update", *xdist).assert_outcomes(passed=6)
    stale = pytester.path / "__modelcheck_snapshots__" / "retired_model.json"
    stale.write_text((pytester.path / "__modelcheck_snapshots__" / "same.json").read_text())

    reported = run(pytester, *xdist)
    reported.assert_outcomes(passed=6)
    reported.stdout.fnmatch_lines([
        "1 snapshot belongs to no declared model; re-run pytest with --modelcheck-snapshot-update to delete them:",
        "  orphaned: __modelcheck_snapshots__/retired_model.json",
    ])
    assert stale.exists()

    deleted = run(pytester, "--modelcheck-snapshot-update", *xdist)
    deleted.assert_outcomes(passed=6)
    deleted.stdout.fnmatch_lines(["1 orphaned snapshot deleted (no declared model):",
                                  "  deleted: __modelcheck_snapshots__/retired_model.json"])
    assert not stale.exists() and len(snapshot_files(pytester.path)) == 6


def test_a_run_of_one_file_or_a_k_selection_calls_no_snapshot_an_orphan(pytester: pytest.Pytester) -> None:
    write_models(pytester.path, ORIGINAL)
    run(pytester, "--modelcheck-snapshot-update").assert_outcomes(passed=6)
    # a builder module beside the spec file declares its own model in the same folder
    pytester.makepyfile(modelcheck_more="import modelcheck\nfrom models import mlp\n\n"
                                        "@modelcheck.expect(checks=['output_shape'])\n"
                                        "def extra():\n    return mlp(units=5)\n")
    run(pytester, "--modelcheck-snapshot-update", "modelcheck_more.py").assert_outcomes(passed=1)

    one_file = run(pytester, "--modelcheck-snapshot-update", "modelcheck.toml")
    one_file.assert_outcomes(passed=6)
    selected = run(pytester, "--modelcheck-snapshot-update", "-k", "units")
    selected.assert_outcomes(passed=1, deselected=6)
    for result in (one_file, selected):
        assert "no declared model" not in result.stdout.str()
    assert len(snapshot_files(pytester.path)) == 7
