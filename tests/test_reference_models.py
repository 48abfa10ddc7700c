"""Every reference model passes every check that applies to it, and every model kept as a
document printed it is caught by its checks with a message that names the fault.

Runs the real checks (training included) through `modelcheck.session.runner.run_spec`, seeded.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from modelcheck.core.result import ERROR, FAILED, PASSED
from modelcheck.session.runner import run_spec
from reference_models import catalog, get

ENTRIES = catalog()
REFERENCES = [e for e in ENTRIES if e.known_fault is None]
FAULTY = [e for e in ENTRIES if e.known_fault is not None]
SEED = 0


def _report(results: list[Any]) -> str:
    return "\n".join(f"  {r.check}: {r.status}: {r.describe()}" for r in results)


@pytest.mark.parametrize("entry", REFERENCES, ids=lambda e: e.id)
def test_reference_model_passes_its_checks(entry: Any) -> None:
    results = run_spec(entry.spec, seed=SEED)
    assert [r.check for r in results] == list(entry.spec.checks)
    # loss_matches_output judges a compiled loss: it skips (does not apply) where the document
    # never compiles the model; every other declared check must pass
    not_passed = [r for r in results if r.status != PASSED
                  and not (r.check == "loss_matches_output" and r.status == "skipped")]
    assert not not_passed, f"{entry.id} ({entry.source}):\n{_report(not_passed)}"


@pytest.mark.parametrize("entry", FAULTY, ids=lambda e: e.id)
def test_as_printed_fault_is_caught_and_named(entry: Any) -> None:
    results = run_spec(entry.spec, seed=SEED)
    assert results, f"{entry.id} runs no check"
    escaped = [r for r in results if r.status not in (FAILED, ERROR)]
    assert not escaped, f"{entry.id}: the checks missed {entry.known_fault!r}:\n{_report(escaped)}"
    unnamed = [r for r in results if not re.search(entry.fault_pattern, r.message)]
    assert not unnamed, (f"{entry.id}: the message does not name the fault "
                         f"(/{entry.fault_pattern}/):\n{_report(unnamed)}")
    if entry.build_failure is not None:
        for result in results:
            assert result.status == ERROR and entry.build_failure.exception in result.message, _report(results)


def test_each_fault_pattern_names_only_its_own_erratum() -> None:
    """A pattern that matched any failure would turn every new bug of a faulty entry into an xfail."""
    messages = {entry.id: [r.message for r in run_spec(entry.spec, seed=SEED)] for entry in FAULTY}
    for entry in FAULTY:
        if entry.build_failure is not None:  # the build error as modelcheck words it, with its exception type
            assert entry.fault_pattern.startswith(f"raised {entry.build_failure.exception}: "), entry.id
        others = [m for other in FAULTY if other.fault_pattern != entry.fault_pattern for m in messages[other.id]]
        assert not [m for m in others if re.search(entry.fault_pattern, m)], entry.id


def test_dlwp_printed_counts_are_reported_against_the_real_ones() -> None:
    (result,) = run_spec(get("dlwp_sequential__as_printed").spec, seed=SEED)
    assert result.status == FAILED
    assert result.message == ("parameters: expected 105, received 1,056, at layer 'dense_2' (Dense); "
                              "its arithmetic: dense_2: (32 + 1) x 32 = 1,056")


def test_toy_model_reproduces_the_document() -> None:
    entry = get("toy_linear")
    (result,) = run_spec(entry.spec, checks=["learns_linear"], seed=SEED)
    assert result.passed, result.describe()
    printed = entry.spec.extra["printed"]
    assert result.details["w"] == pytest.approx(printed["weights"]["w"], abs=0.01)
    assert result.details["b"] == pytest.approx(printed["weights"]["b"], abs=0.01)
    assert result.details["prediction"] == pytest.approx(printed["prediction_at_5"], abs=0.01)
    assert result.details["loss_history"][-1] < 1e-3 < result.details["loss_history"][0]


def test_checks_are_deterministic_for_a_seed() -> None:
    spec = get("wide_deep").spec
    first = run_spec(spec, checks=["gradient_flow", "overfit_batch"], seed=SEED)
    second = run_spec(spec, checks=["gradient_flow", "overfit_batch"], seed=SEED)
    assert [r.message for r in first] == [r.message for r in second]
    assert first[1].details["loss_history"] == second[1].details["loss_history"]
