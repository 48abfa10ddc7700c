"""The practitioners' recipe checks that run by default pass on every corrected reference model."""

import pytest

from modelcheck.session.runner import run_spec
from reference_models import catalog

RECIPE = ("finite", "loss_matches_output", "batch_independence", "input_dependence")
REFERENCES = [entry for entry in catalog() if entry.is_reference]


@pytest.mark.parametrize("entry", REFERENCES, ids=[entry.id for entry in REFERENCES])
def test_recipe_checks_pass_on_reference(entry):
    results = run_spec(entry.spec, checks=RECIPE, seed=0)
    bad = [f"{r.check}: {r.status}: {r.message}" for r in results if r.status not in ("passed", "skipped")]
    assert not bad, "\n".join(bad)
