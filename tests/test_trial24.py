"""Trial 24: a model author's property tests and an ML engineer's snapshots, from the README alone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = "pytester"

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def _python_blocks(section: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_readmes_property_test_runs_as_written_in_a_users_project(pytester: pytest.Pytester) -> None:
    """The README's example, copied into a project of one's own: with Hypothesis' default deadline
    (200 ms) building Keras models failed it with DeadlineExceeded / FlakyFailure on sound models;
    the README now shows the conftest.py that loads the bounded profile, and that is what runs here."""
    conftest, test = _python_blocks(_readme_section("Property tests with Hypothesis"))[:2]
    assert "conftest.py" in conftest.splitlines()[0] and "@given" in test
    pytester.makeconftest(conftest + "\nprint('DEADLINE', settings.default.deadline, settings.default.max_examples)\n")
    pytester.makepyfile(test_properties=test)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.stdout.fnmatch_lines(["*DEADLINE None 20*"])
    result.assert_outcomes(passed=1)
