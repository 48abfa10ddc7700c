"""The reference catalogue against the documents' facts: every model of the five source documents
is in it, and Keras 3 computes the figures that reference_models/catalogue.json holds (or, for a
model kept as printed, the catalogue's variant fails as the erratum says).

The documents themselves are not part of the repository. Where they sit beside it
(../shared/seeds/), the cross-checks at the end compare catalogue.json with them; elsewhere those
tests are skipped with the reason. Fast: builds models, never trains them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

import reference_models
from modelcheck.core.registry import CHECK_NAMES
from reference_models import catalog
from reference_models.catalogue_data import FIGURES, documented_models, documents, raw_record

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT.parent / "shared" / "seeds"
# The checks every reference model says yes or no to (learns_linear only suits the toy model).
CORE_CHECKS = ("output_shape", "param_count", "gradient_flow", "overfit_batch", "loss_decrease")

ENTRIES = catalog()
REFERENCES = [e for e in ENTRIES if e.known_fault is None]
FAULTY = [e for e in ENTRIES if e.known_fault is not None]
DOCUMENTED = {model.id: model for model in documented_models()}
ERRATA = {erratum.variant: (model, erratum) for model in DOCUMENTED.values() for erratum in model.errata}


# --- the catalogue holds every documented model, with the data file's source and errata ----------


def test_data_file_is_complete_for_each_model() -> None:
    assert len(DOCUMENTED) == len(documented_models()), "duplicate ids in catalogue.json"
    assert len(DOCUMENTED) >= 29 and len(documents()) == 5
    problems = []
    for model in DOCUMENTED.values():
        if model.document not in documents():
            problems.append(f"{model.id}: unknown document {model.document!r}")
        if not model.sections or not all(model.sections):
            problems.append(f"{model.id}: no section")
        if {"total_params", "output_shape"} - set(model.keras3):
            problems.append(f"{model.id}: keras3 lacks the total or the output shape")
    assert not problems, "\n".join(problems)


def test_every_documented_model_is_in_the_catalogue() -> None:
    have = {entry.id for entry in ENTRIES}
    missing = [m.id for m in DOCUMENTED.values() if not m.optional and m.id not in have]
    assert not missing, f"reference_models lacks {len(missing)} documented model(s): {', '.join(missing)}"


def test_every_catalogue_entry_is_a_documented_model_or_erratum() -> None:
    undocumented = [e.id for e in REFERENCES if e.id not in DOCUMENTED]
    undocumented += [e.id for e in FAULTY if e.id not in ERRATA]
    assert not undocumented, f"not in catalogue.json: {undocumented}"
    misfiled = [e.id for e in FAULTY if ERRATA[e.id][0].id != e.reference_id]
    assert not misfiled, f"variants listed under another model than their reference_id: {misfiled}"


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.id)
def test_entry_names_the_documents_source_and_module(entry: Any) -> None:
    documented = DOCUMENTED[entry.id if entry.is_reference else entry.reference_id]
    assert entry.source.startswith(documented.document + ", "), entry.source
    for section in documented.sections:
        assert f"'{section}'" in entry.source, f"{entry.source!r} does not name section {section!r}"
    assert entry.module == documents()[documented.document]


@pytest.mark.parametrize("variant", ERRATA, ids=str)
def test_each_erratum_is_kept_as_a_variant_that_fails_as_documented(variant: str) -> None:
    model, erratum = ERRATA[variant]
    entry = reference_models.get(variant)
    assert entry.reference_id == model.id and entry.known_fault
    assert (entry.build_failure.exception if entry.build_failure else None) == erratum.build_failure


def test_printed_facts_are_what_the_specs_carry() -> None:
    differ = []
    for model in DOCUMENTED.values():
        extra = reference_models.get(model.id).spec.extra
        for name, value in (model.printed_facts or {}).items():
            if name == "output":
                continue  # words, not a value: the shape is in the printed figures
            carried = extra.get("printed", {}).get(name, extra.get(name))
            if carried != value:
                differ.append(f"{model.id}: {name} is {value!r} in catalogue.json, {carried!r} in the spec")
    assert not differ, "\n".join(differ)


def test_catalogue_api() -> None:
    ids = [entry.id for entry in ENTRIES]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert reference_models.ids() == ids
    assert reference_models.get("fashion_mlp").id == "fashion_mlp"
    with pytest.raises(KeyError, match="no reference model 'nope'.*fashion_mlp"):
        reference_models.get("nope")
    assert [e.id for e in catalog(references_only=True)] == [e.id for e in REFERENCES]


def test_importing_the_package_and_its_data_does_not_import_keras() -> None:
    code = ("import sys, reference_models, reference_models.catalogue_data as d; d.documented_models(); "
            "print('keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _metadata_problems(entry: Any) -> list[str]:
    problems = []
    document = entry.source.split(",")[0]
    if document not in documents() or "section" not in entry.source:
        problems.append(f"source {entry.source!r} names no document and section")
    if not (ROOT / entry.module).is_file() or not entry.module.startswith("reference_models/"):
        problems.append(f"module {entry.module!r} is not a file of reference_models/")
    spec = entry.spec
    if spec.id != entry.id or spec.source != entry.source or spec.known_fault != entry.known_fault:
        problems.append("spec id/source/known_fault differ from the entry's")
    if not spec.checks:
        problems.append("checks must be an explicit, non-empty tuple")
    for check in spec.checks or ():
        if check not in CHECK_NAMES:
            problems.append(f"unknown check {check!r}")
        if not spec.reasons.get(check):
            problems.append(f"no reason given for {check!r}")
    if not set(spec.options) <= set(spec.checks or ()):
        problems.append(f"options for checks that do not run: {set(spec.options) - set(spec.checks or ())}")
    if spec.output is None or spec.output_shape is None or spec.input_shape is None:
        problems.append("output kind, output shape and input shape are all required")
    if entry.is_reference:
        unexplained = [c for c in CORE_CHECKS if c not in spec.checks and not spec.reasons.get(c)]
        if unexplained:
            problems.append(f"no reason why {unexplained} do not apply")
    else:
        if entry.reference_id not in {e.id for e in REFERENCES}:
            problems.append(f"reference_id {entry.reference_id!r} is not a reference entry")
        if not entry.fault_pattern or not entry.known_fault.endswith("."):
            problems.append("a faulty entry needs a fault_pattern and a one-sentence known_fault")
    return [f"{entry.id}: {problem}" for problem in problems]


def test_every_entry_has_complete_metadata() -> None:
    problems = [problem for entry in ENTRIES for problem in _metadata_problems(entry)]
    assert not problems, "\n".join(problems)


def test_metadata_check_catches_an_incomplete_entry() -> None:
    entry = reference_models.get("housing_mlp")
    broken = dataclasses.replace(entry, source="nowhere.txt, section 'x'",
                                 spec=entry.spec.replace(reasons={}, options={"learns_linear": {}}))
    problems = _metadata_problems(broken)
    assert any("no reason given for 'param_count'" in p for p in problems), problems
    assert any("options for checks that do not run" in p for p in problems), problems
    assert any("names no document" in p for p in problems), problems


# --- figures: what Keras computes against the data file and the spec ------------------------------


def _output_shapes(model: Any, spec: Any) -> list[tuple[Any, ...]] | dict[str, tuple[Any, ...]]:
    """Per-sample output shapes, keyed by output name when the spec keys them so."""
    if getattr(model, "outputs", None):
        shapes = [tuple(t.shape[1:]) for t in model.outputs]
        names = [t._keras_history.operation.name for t in model.outputs]
    else:  # subclassed: run it on zeros
        inputs = [np.zeros((2, *s), "float32") for s in spec.input_shape]
        outputs = keras.tree.flatten(model(tuple(inputs)))
        shapes = [tuple(o.shape[1:]) for o in outputs]
        names = [f"output_{i}" for i in range(len(shapes))]
    if isinstance(spec.output_shape, dict):
        return dict(zip(names, shapes))
    return shapes


def _expected_shapes(spec: Any) -> list[tuple[Any, ...]] | dict[str, tuple[Any, ...]]:
    if isinstance(spec.output_shape, dict):
        return dict(spec.output_shape)
    return list(spec.output_shape) if isinstance(spec.output_shape, list) else [spec.output_shape]


def disagreements(model: Any, spec: Any) -> list[str]:
    """Every figure of `spec` that Keras computes differently, one readable line each."""
    found = []
    trainable = sum(math.prod(v.shape) for v in model.trainable_weights)
    non_trainable = sum(math.prod(v.shape) for v in model.non_trainable_weights)
    for label, want, got in (
        ("total", spec.total_params, model.count_params()),
        ("trainable", spec.trainable_params, trainable),
        ("non-trainable", spec.non_trainable_params, non_trainable),
    ):
        if want is not None and want != got:
            found.append(f"{label} params: spec {want}, keras {got}")
    if _output_shapes(model, spec) != _expected_shapes(spec):
        found.append(f"output shapes: spec {_expected_shapes(spec)}, keras {_output_shapes(model, spec)}")
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    per_layer = spec.layer_params or {}
    pairs = per_layer.items() if isinstance(per_layer, dict) else zip([l.name for l in layers], per_layer)
    for name, want in pairs:
        got = model.get_layer(name).count_params()
        if got != want:
            found.append(f"layer {name} params: spec {want}, keras {got}")
    shapes = spec.layer_output_shapes or {}
    pairs = shapes.items() if isinstance(shapes, dict) else zip([l.name for l in layers], shapes)
    for name, want in pairs:
        got = tuple(model.get_layer(name).output.shape[1:])
        if got != tuple(want):
            found.append(f"layer {name} output shape: spec {tuple(want)}, keras {got}")
    return found


def _only(spec: Any, figures: dict[str, Any]) -> Any:
    """`spec` holding exactly `figures` (its output shape kept unless they give one)."""
    cleared = {name: None for name in FIGURES if name != "output_shape"}
    return spec.replace(**{**cleared, **figures})


@pytest.mark.parametrize("entry", REFERENCES, ids=lambda e: e.id)
def test_reference_builds_with_the_documented_figures(entry: Any) -> None:
    model = entry.build()
    assert isinstance(model, keras.Model)
    assert disagreements(model, entry.spec) == [], "the spec's figures"
    documented = DOCUMENTED[entry.id]
    assert disagreements(model, _only(entry.spec, documented.keras3)) == [], "catalogue.json's keras3 figures"
    # a printed figure Keras 3 does not compute is an erratum: a variant carries it, so its checks fail
    if documented.printed and disagreements(model, _only(entry.spec, documented.printed)):
        carriers = [variant for variant, (owner, _) in ERRATA.items() if owner is documented
                    and all(getattr(reference_models.get(variant).spec, name) == value
                            for name, value in documented.printed.items())]
        assert carriers, f"the document prints {documented.printed} and no erratum variant carries it"


def test_figure_comparison_catches_a_wrong_documented_figure() -> None:
    entry = reference_models.get("cifar_small_cnn")
    wrong = {**DOCUMENTED["cifar_small_cnn"].keras3, "layer_params": {"conv2d": 480}, "total_params": 15110}
    found = disagreements(entry.build(), _only(entry.spec, wrong))
    assert found == ["total params: spec 15110, keras 15120", "layer conv2d params: spec 480, keras 490"]


# errata in the figures (shapes, counts); an erratum in the configuration (the compiled loss)
# is caught by its check in tests/test_reference_models.py
FIGURE_ERRATA = [e for e in FAULTY if e.build_failure is None and {"output_shape", "param_count"} & set(e.spec.checks)]


@pytest.mark.parametrize("entry", FIGURE_ERRATA, ids=lambda e: e.id)
def test_buildable_as_printed_entry_disagrees_as_documented(entry: Any) -> None:
    differences = disagreements(entry.build(), entry.spec)
    assert differences, f"{entry.id} agrees with its spec, so its checks cannot catch {entry.known_fault!r}"
    assert any(re.search(entry.fault_pattern, line.replace(",", "")) for line in differences), differences
    # The variant is the document's version: either its model differs from the reference, or
    # its spec holds the figures the document prints (and the reference the correct ones).
    reference = reference_models.get(entry.reference_id)
    model_differs = disagreements(entry.build(), reference.spec) != []
    printed_figures = disagreements(reference.build(), entry.spec) != []
    assert model_differs or printed_figures


@pytest.mark.parametrize("entry", [e for e in FAULTY if e.build_failure is not None], ids=lambda e: e.id)
def test_unbuildable_as_printed_entry_raises_the_documented_error(entry: Any) -> None:
    with pytest.raises(Exception) as info:
        entry.build()
    assert type(info.value).__name__ == entry.build_failure.exception == ERRATA[entry.id][1].build_failure
    assert re.search(entry.build_failure.message, str(info.value)), str(info.value)


# --- document-specific facts -------------------------------------------------------------------


def test_build_model_params_formula_matches_keras_over_the_search_space() -> None:
    from reference_models.hands_on_ml import HYPERPARAMETER_SPACE, build_model, build_model_params

    for n_hidden in HYPERPARAMETER_SPACE["n_hidden"]:
        for n_neurons in (1, 30, 99):
            model = build_model(n_hidden=n_hidden, n_neurons=n_neurons, learning_rate=3e-4)
            assert model.count_params() == build_model_params(n_hidden, n_neurons, 8), (n_hidden, n_neurons)
            assert len(model.layers) == n_hidden + 1


def test_subclassed_wide_and_deep_saves_and_loads(tmp_path: Path) -> None:
    from reference_models.hands_on_ml import WideAndDeepModel, build_wide_deep_subclassed

    model = build_wide_deep_subclassed(units=12, activation="tanh")
    x = (np.ones((3, 5), "float32"), np.ones((3, 6), "float32"))
    path = tmp_path / "wide_deep.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, WideAndDeepModel)
    assert (loaded.units, loaded.activation) == (12, "tanh")
    for before, after in zip(model(x), loaded(x)):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(before), keras.ops.convert_to_numpy(after), rtol=1e-6)


def test_xor_mlp_computes_xor_with_the_figures_weights() -> None:
    table = DOCUMENTED["xor_mlp"].printed_facts["truth_table"]
    x = np.array([[float(v) for v in key.split(",")] for key in table], "float32")
    got = reference_models.get("xor_mlp").build().predict(x, verbose=0).reshape(-1)
    assert got.tolist() == [float(v) for v in table.values()]


def test_fashion_mlp_has_the_printed_kernel_and_bias() -> None:
    facts = DOCUMENTED["fashion_mlp"].printed_facts
    dense = reference_models.get("fashion_mlp").build().get_layer("dense")
    assert tuple(dense.kernel.shape) == tuple(facts["dense_kernel_shape"])
    assert tuple(dense.bias.shape) == tuple(facts["dense_bias_shape"])
    assert facts["dense_bias"] == "zeros" and not np.any(keras.ops.convert_to_numpy(dense.bias))


# --- cross-checks against the documents, where they sit beside the repository ----------------------


@pytest.fixture(scope="module")
def seeds() -> Path:
    """../shared/seeds/, the five documents and their README; skips where they are absent."""
    if not (SEEDS / "README.md").is_file():
        pytest.skip(f"{SEEDS} is absent (a plain clone): the source documents are not part of the repository, "
                    "so catalogue.json, which the tests above check, stands in for them")
    return SEEDS


def readme_rows(text: str) -> dict[str, list[str]]:
    """The README's model table: each id (``a / b`` names two) mapped to its row's cells."""
    rows: dict[str, list[str]] = {}
    in_table = False
    for line in text.splitlines():
        if line.startswith("| id"):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            break
        if not in_table or set(line.replace("|", "").strip()) <= set("-: "):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        for part in cells[0].split("/"):
            rows[part.strip()] = cells
    return rows


# A number as the README writes it: 1,279 / 8.995 / 3.8e-05, not the digit of a name (Conv2D, 2-D
# aside) or of "Keras 1" / "Keras 3". "(784,300)" is read both as 784300 and as 784 and 300.
_NUMBER = re.compile(r"(?<![\w.,])\d[\d,]*(?:\.\d+)?(?:e-?\d+)?")


def numbers(text: str) -> list[list[float]]:
    """Each number of `text` as its readings: [1279.0] for "1,279", [784300.0, 784.0, 300.0] for "784,300"."""
    text = re.sub(r"Keras [123](/2)?", "", text)
    readings = []
    for token in _NUMBER.findall(text.rstrip(",")):
        token = token.rstrip(",")
        parts = [float(part) for part in token.split(",")] if "," in token else []
        readings.append([float(token.replace(",", "")), *parts])
    return readings


def _held(readings: list[float], values: list[float]) -> bool:
    def near(x: float) -> bool:  # counts exactly; rounded decimals ("loss 13.42", "≈ 9") within 0.5%
        tolerance = 0.0 if x.is_integer() and x >= 10 else 5e-3
        return any(math.isclose(x, value, rel_tol=tolerance) for value in values)

    return near(readings[0]) or (len(readings) > 1 and all(near(part) for part in readings[1:]))


def _normalised(text: str) -> str:
    # Document 002 lost its '=' signs and quotes in extraction, document 004 carries pinyin in
    # parentheses after some characters (網(wǎng)); compare without them.
    text = re.sub(r"\([a-z\u00c0-\u024f]+\)", "", text)
    return re.sub(r"[\s='\"]", "", text)


def test_readme_table_is_parsed(seeds: Path) -> None:
    rows = readme_rows((seeds / "README.md").read_text(encoding="utf-8"))
    assert len(rows) >= 27, f"only {len(rows)} ids parsed: {list(rows)}"
    assert {"quickstart_mlp", "cifar_fnn_sequential", "cifar_fnn_functional", "dlwp_shared_lstm"} <= set(rows)
    assert all(re.fullmatch(r"[a-z0-9_]+", i) for i in rows), list(rows)
    assert numbers(rows["toy_linear"][3])[:3] == [[2], [1.9973876], [0.99190086]]
    assert numbers("Dense(output_dim=64) fails on Keras 3, 2-D, Conv2D(1,000)") == [[64], [2], [1000, 1, 0]]
    assert _held([784300.0, 784.0, 300.0], [784.0, 300.0]) and not _held([1279.0, 1.0, 279.0], [1278.0, 279.0])


def test_data_file_holds_exactly_the_readmes_models(seeds: Path) -> None:
    rows = readme_rows((seeds / "README.md").read_text(encoding="utf-8"))
    assert set(DOCUMENTED) == set(rows)
    optional = {i for i, cells in rows.items() if "optional" in cells[-1]}
    assert optional == {m.id for m in DOCUMENTED.values() if m.optional}


def test_every_figure_of_the_readme_is_in_the_data_file(seeds: Path) -> None:
    missing = []
    for id, cells in readme_rows((seeds / "README.md").read_text(encoding="utf-8")).items():
        held = [value for readings in numbers(json.dumps(raw_record(id), ensure_ascii=False))
                for value in readings]
        for readings in numbers(cells[3] + " " + cells[4]):  # the "printed" and "Keras 3" columns
            if not _held(readings, held):
                missing.append(f"{id}: {readings[0]:g}")
    assert not missing, "README figures catalogue.json does not hold:\n" + "\n".join(missing)


def test_sections_printed_figures_and_code_are_in_the_documents(seeds: Path) -> None:
    absent = []
    for model in DOCUMENTED.values():
        text = (seeds / model.document).read_text(encoding="utf-8")
        document = _normalised(text)
        absent += [f"{model.id}: section {s!r}" for s in model.sections if _normalised(s) not in document]
        counts = [model.printed.get(k) for k in ("total_params", "trainable_params", "non_trainable_params")]
        layer_params = model.printed.get("layer_params") or {}
        counts += list(layer_params.values()) if isinstance(layer_params, dict) else list(layer_params)
        absent += [f"{model.id}: printed count {n}" for n in counts
                   if n is not None and n >= 10 and f"{n:,}" not in text and not re.search(rf"\b{n}\b", text)]
        absent += [f"{model.id}: code {e.printed_code!r}" for e in model.errata
                   if e.printed_code and _normalised(e.printed_code) not in document]
    assert not absent, "not in the documents:\n" + "\n".join(absent)


def test_printed_source_is_the_documents_code(seeds: Path) -> None:
    absent = []
    for entry in FAULTY:
        if entry.printed_source is None:
            continue
        document = _normalised((seeds / entry.source.split(",")[0]).read_text(encoding="utf-8"))
        absent += [f"{entry.id}: {line!r}" for line in entry.printed_source.splitlines()
                   if _normalised(line) not in document]
    assert not absent, "lines not in the document:\n" + "\n".join(absent)
