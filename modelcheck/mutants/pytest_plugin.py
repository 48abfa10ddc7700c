"""Mutation runs in ``pytest --modelcheck --modelcheck-mutants``: one ``mutants`` item per model.

``<file>::<model>::mutants`` mutates the declared model (spec files, ``@modelcheck.expect``
builders, reference models) and runs the model's own selected checks on every mutant, with the
comparison against its stored architecture snapshot when the run has one; it fails
when they catch fewer than `MIN_SCORE` of the mutants, naming the survivors and what would catch
each. A model kept as a document printed it (known fault) gets no item: its checks already fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..core.messages import mismatch
from ..core.result import CheckResult
from ..plugin.nodes import CheckItem, ModelCollector
from ..plugin.options import SETTINGS_KEY, Settings

__all__ = ["ModelcheckMutants", "MutantsItem", "MIN_SCORE", "NAME"]

NAME = "mutants"
MIN_SCORE = 0.95


def report_result(report: object, min_score: float = MIN_SCORE) -> CheckResult:
    """The `CheckResult` of a `MutationReport`: passed at `min_score` or more, else the survivors."""
    from .format import WORDS, dropped_counts, format_report, score_line, suggestion
    from .run import MutationReport

    assert isinstance(report, MutationReport)
    details = {"mutation": report.to_json(), "text": format_report(report)}
    if report.build_failure is not None:  # the builder's error (or ours), as every other item of the model says it
        failure = report.build_failure
        return CheckResult.from_dict({**failure, "check": NAME, "duration_s": 0.0,  # the page lists it too
                                      "details": {**(failure.get("details") or {}), **details}})
    if report.not_mutable or report.score is None:
        dropped = dropped_counts(len(report.equivalent), len(report.invalid), report.words)
        why = report.not_mutable or (f"every mutant was dropped ({dropped})" if report.mutants
                                     else "no mutation operator applies to this model")
        return CheckResult.skip(NAME, f"no mutants: {why}", details=details)
    line = score_line(len(report.caught), len(report.judged))
    expected = f"at least {min_score:.0%} of the mutants caught"
    if report.score >= min_score:
        return CheckResult.ok(NAME, f"{line}; the checks catch {expected[9:]}", expected=expected,
                              received=report.score, details=details)
    found = {"snapshot_missing": report.snapshot_missing, "expected": report.expected, "words": WORDS[report.words]}
    grouped: dict[str, list[str]] = {}  # one suggestion, said once, for every survivor it catches
    for m in report.survivors:
        grouped.setdefault(suggestion(m, report.checks, **found), []).append(f"{m.description} at {m.where}")
    survivors = "; ".join(f"{', '.join(mutants)} ({advice})" for advice, mutants in grouped.items())
    return CheckResult.fail(NAME, mismatch("mutation score", expected, line.removeprefix("mutation score: "),
                                           at=f"model {report.model!r}", note=f"survivors: {survivors}"),
                            expected=expected, received=report.score, details=details)


class MutantsItem(CheckItem):
    """Runs the model's checks on its mutants."""

    def evaluate(self) -> CheckResult:
        from ..checks.common import internal_error
        from ..core.errors import ModelcheckError, UserCodeError
        from .run import run_mutants

        node = self.model_node
        settings = self.config.stash[SETTINGS_KEY]
        checks = [c for c in settings.selected_checks(node.spec)]
        try:
            report = run_mutants(node.spec, checks=checks, seed=settings.seed, base_dir=node.base_dir,
                                 overrides=settings.overrides(), snapshot=self.snapshot_file(settings))
            report.words = "spec"  # the model is declared in its own spec, not in an assignment's tables
            result = report_result(report)
        except UserCodeError as exc:  # the builder's error: the user's, with its hint
            result = exc.to_result(NAME)
        except ModelcheckError:
            raise  # the spec's error, told as such
        except Exception as exc:  # a bug of ours: the item says so with its traceback, as a check's does
            result = internal_error(NAME, exc, f"mutating model {node.spec.id!r}")
        result.model = node.spec.id
        return result

    def snapshot_file(self, settings: Settings) -> Path | None:
        """The model's stored snapshot when the run compares it (its ``architecture`` item is
        collected): a mutant whose architecture differs from it is caught, as the item would."""
        from ..snapshot import snapshot_path
        from ..snapshot.pytest_plugin import ARCHITECTURE, snapshot_folder

        if settings.checks is not None and ARCHITECTURE not in settings.checks:
            return None
        return snapshot_path(snapshot_folder(self.model_node), self.model_node.spec.id)

    def is_known_fault(self, result: CheckResult) -> bool:
        return False


class ModelcheckMutants:
    """Adds the ``mutants`` item to every declared model that is not a known fault."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def pytest_modelcheck_model_items(self, node: ModelCollector) -> list[pytest.Item]:
        if node.known_fault is not None:
            return []
        return [MutantsItem.from_parent(node, name=NAME, check=NAME)]
