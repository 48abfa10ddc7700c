"""Secrets stay outside (issue 14): the build job receives only the builder's name, its keyword
arguments and the seed, and a submission that searches everything in its reach (its memory,
arguments, environment, its parent's, readable files) finds no expected figure, no reference
and no sample, so it cannot adapt to them."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from modelcheck.grading import Grader, load_assignment
from modelcheck.grading.confine import landlock_abi

SECRETS = Path(__file__).parent / "submissions" / "secrets"


def _spy_source(folder: Path) -> str:
    return (SECRETS / "spy.py").read_text().replace("@ASSIGNMENT_FOLDER@", str(folder))


def test_the_build_job_receives_only_what_building_needs():
    assignment = load_assignment(SECRETS / "secrets.toml")
    # the course's custom_objects are not secret: the build job gets its modules too; nor is the input shape,
    # which builds a Sequential written without keras.Input
    assert assignment.build_params() == {"builder": "build_model", "builder_kwargs": {}, "seed": 0,
                                         "custom_objects": [], "input_shape": (61,)}


def test_the_spy_finds_the_secrets_where_they_are_in_reach(tmp_path):
    """The needles work: searching the instructor's folder itself finds every kind of secret."""
    spy_file = tmp_path / "spy_here.py"
    spy_file.write_text(_spy_source(SECRETS))
    spec = importlib.util.spec_from_file_location("spy_here", spy_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found: list[str] = []
    module._files(found, roots=[str(SECRETS)])
    assert {entry.split(" in ")[0] for entry in found} >= {"total_params", "reference", "expect table"}


@pytest.mark.skipif(landlock_abi() < 1, reason="needs Landlock (Linux >= 5.13) to keep the instructor's folder unreadable")
def test_a_submission_finds_no_secret_anywhere_in_its_reach_and_cannot_adapt(tmp_path):
    spy = tmp_path / "spy.py"
    spy.write_text(_spy_source(SECRETS))
    assignment = load_assignment(SECRETS / "secrets.toml")
    with Grader(assignment, workers=1) as grader:
        grade = grader.grade(spy)
    report = [line for line in grade.output.splitlines() if line.startswith("SPY:")]
    assert report and report[0].endswith("found nothing"), grade.output[-2000:]
    scanned_mb = int(report[0].split("scanned ")[1].split(" MB")[0])
    assert scanned_mb > 50  # it did read its own memory
    assert grade.result("param_count").status == "failed"
    assert "layer 1 (Dense 1000): units 1733 expected, 1000 received" in grade.result("matches_reference").message
    assert grade.score == 1 < grade.max_score
