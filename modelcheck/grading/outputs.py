"""What grading writes to OUT_DIR.

- ``gradebook.csv``: one row per student (student, score, max_score, one column per check);
- ``<student>/results.json``: Gradescope's autograder format;
- ``<student>/feedback.html``: the report's feedback page for that student;
- ``index.html``: class statistics (pass rate per check, score histogram, most common failures)
  with a link to every feedback page.

Everything is written by the grader from the verdicts it holds: a student's files as soon as
that student is graded (`write_student_files`), the gradebook and index as the run goes
(`write_class_files`); each file is written to a temporary name and renamed, so a half-written
file is never left. Each student's folder is a safe slug of the id, the same whoever else is in
the class (never a name such as ``index.html``, ``..`` or one with markup; ids that are not
plain get a hash of the id appended, so no two students share a folder); the id itself is shown
escaped. Writing one student's files cannot stop the others': a failure is recorded on the class
page and the run goes on. Text that is not valid Unicode is replaced; gradebook cells that a
spreadsheet would run as a formula are neutralised (OWASP's rule for CSV injection). No Keras
import here.
"""

from __future__ import annotations

import csv
import io
import json
import hashlib
import math
import os
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Mapping

import jinja2

from ..core.files import write_atomic
from .assignment import Assignment
from .grade import StudentGrade
from .worker import JOB_BACKEND
from .schema import clean_text, display_name

__all__ = ["write_outputs", "write_student_files", "write_class_files", "gradescope_results", "gradebook_rows",
           "class_statistics", "student_slug", "neutralise_cell"]

_RESERVED = {"index.html", "gradebook.csv", "grading", "con", "nul", "prn", "aux"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def student_slug(student: str) -> str:
    """The folder name of a student id: the id itself when it is plain (lower-case ASCII letters,
    digits, ``_``, ``-``, ``.``, no leading dot, not a name of the class outputs), else its plain
    part followed by a hash of the whole id: unique (also case-insensitively) without knowing the
    rest of the class, so a student's files can be written the moment they are graded."""
    base = re.sub(r"[^a-z0-9_.-]+", "_", student.lower()).strip("._-")[:60] or "student"
    if base == student and base not in _RESERVED:
        return base
    digest = hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{base}-{digest}"


def neutralise_cell(value: str) -> str:
    """A gradebook cell a spreadsheet shows as text: a cell beginning with ``= + - @``, tab or
    carriage return gets a leading single quote (OWASP, CSV injection)."""
    value = clean_text(value, keep_newlines=False)
    return "'" + value if value.startswith(_FORMULA_START) else value


def _json_safe(value: Any) -> Any:
    """`value` with non-finite numbers as text (JSON has no NaN) and lone surrogates replaced."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {_json_safe(str(k)): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


# Gradescope's tests are passed or failed: a check the grader could not judge scores nothing, and
# says so (the class page lists such checks for the instructor).
NOT_JUDGED = "Not judged, so no points (your instructor sees the checks the grader could not judge)"


def gradescope_results(grade: StudentGrade) -> dict[str, Any]:
    """One student's grade in Gradescope's ``results.json`` format."""
    tests = []
    for result in grade.results:
        earned = grade.points.get(result.check, 0.0)
        output = result.describe()
        if result.status == "skipped" and grade.max_points.get(result.check):
            output = f"{NOT_JUDGED}: {output}"
        tests.append({
            "name": result.check,
            "score": earned,
            "max_score": grade.max_points.get(result.check, 0.0),
            "status": "passed" if result.passed and (earned > 0 or not grade.max_points.get(result.check)) else "failed",
            "output": output,
            "visibility": grade.visibility.get(result.check, "visible"),
        })
    shown = [t for t in tests if t["visibility"] == "visible"]
    if len(shown) == len(tests):
        summary = [f"Score {grade.score:g} / {grade.max_score:g}."]
    else:  # a total here would tell how the checks not shown yet went
        summary = [f"Score on the checks shown now: {sum(t['score'] for t in shown):g} / "
                   f"{sum(t['max_score'] for t in shown):g}."]
    if grade.grader_error:
        failed = [t["name"] for t, r in zip(tests, grade.results) if r.details.get("internal") and t in shown]
        which = f" ({', '.join(failed)} scored nothing for now)" if failed else ""
        summary.append(f"The grader itself failed on your submission, not your code{which}: the score is not final; "
                       "your instructor sees this and can regrade it.")
    elif grade.problem:
        summary.append(f"Your submission could not be graded normally: {grade.problem}")
    summary += grade.notes
    if grade.output.strip():
        summary.append(_printed(grade.output))
    return {
        "score": grade.score,
        "max_score": grade.max_score,
        "execution_time": grade.execution_time,
        "output": "\n".join(summary),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {"student": grade.student, "keras_backend": JOB_BACKEND,
                       **({"isolation": grade.isolation} if grade.isolation else {}),
                       **({"grader_error": grade.grader_error} if grade.grader_error else {})},
    }


_PRINTED_SHOWN = 4000  # characters of a submission's output in results.json


def _printed(output: str) -> str:
    """What the submission printed, for results.json: all of it, or its end when it is long."""
    if len(output) <= _PRINTED_SHOWN:
        return "What your code printed:\n" + output
    return f"What your code printed (its last {_PRINTED_SHOWN:,} characters):\n" + output[-_PRINTED_SHOWN:]


def gradebook_rows(grades: Iterable[StudentGrade], checks: list[str]) -> list[list[Any]]:
    """The gradebook as rows, header first: student, score, max_score, one column per check."""
    rows: list[list[Any]] = [["student", "score", "max_score", *checks]]
    for grade in grades:
        rows.append([neutralise_cell(grade.student), f"{grade.score:g}", f"{grade.max_score:g}",
                     *(f"{grade.points.get(check, 0.0):g}" for check in checks)])
    return rows


def _cause(grade: StudentGrade) -> str:
    """Why `grade`'s submission could not be graded, as alike for every student it happened to: its
    gist (before the first "; ") with the student's own file name taken out. Told apart by file name
    ("s37.py defines no function `build_model()`; it defines build_modle()"), six students who
    misnamed the builder were six rows of one on the class page, below the ten shown."""
    line = (grade.problem or "").splitlines()[0] if grade.problem else ""
    name = os.path.basename(grade.submission.rstrip("/"))
    if name:
        their = "<student's file>" if os.path.splitext(name)[1] else "<student's folder>"
        line = re.sub(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", their, line)
    return line.split("; ")[0][:200]


def class_statistics(grades: list[StudentGrade], checks: list[str], max_score: float) -> dict[str, Any]:
    """Pass rate per check, a score histogram and the most common failure messages."""
    n = len(grades) or 1
    pass_rate = {check: sum(g.result(check).passed for g in grades) / n for check in checks}
    bins = max(1, min(10, int(max_score) or 1))
    width = (max_score or 1) / bins
    histogram = [0] * bins
    for grade in grades:
        histogram[min(bins - 1, int(grade.score / width))] += 1
    labels = [f"{i * width:g}–{(i + 1) * width:g}" for i in range(bins)]
    failures: Counter[tuple[str, str]] = Counter()
    not_judged: Counter[tuple[str, str]] = Counter()
    for grade in grades:
        if grade.problem:  # one cause behind every check's error: count it once
            failures[("every check", _cause(grade))] += 1
            continue
        for result in grade.results:
            if result.status in ("failed", "error"):
                failures[(result.check, result.message.splitlines()[0][:200])] += 1
            elif result.status == "skipped" and grade.max_points.get(result.check):
                not_judged[(result.check, result.message.splitlines()[0][:200])] += 1
    scores = [g.score for g in grades]
    return {
        "students": len(grades),
        "mean": sum(scores) / n if grades else 0.0,
        "full_marks": sum(s == max_score for s in scores),
        "pass_rate": pass_rate,
        "histogram": list(zip(labels, histogram)),
        "histogram_max": max(histogram) or 1,
        "failures": [(check, message, count) for (check, message), count in failures.most_common(10)],
        "not_judged": [(check, message, count) for (check, message), count in not_judged.most_common(10)],
        "not_judged_total": sum(not_judged.values()),
    }


_INDEX = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ name }}: class results</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left}
.num{text-align:right}.bar{background:#4a7bd0;height:.9rem;display:inline-block}.muted{color:#777}
.err{color:#a11}
</style></head><body>
<h1>{{ name }}: class results</h1>
<p>{{ stats.students }} submissions · mean score {{ "%.2f"|format(stats.mean) }} / {{ max_score|round(2) }}
 · full marks: {{ stats.full_marks }}</p>
<h2>Pass rate per check</h2>
<table><tr><th>check</th><th class="num">points</th><th class="num">passed</th><th></th></tr>
{% for check in checks %}<tr><td>{{ check }}</td><td class="num">{{ points[check] }}</td>
<td class="num">{{ "%.0f"|format(stats.pass_rate[check] * 100) }}%</td>
<td><span class="bar" style="width:{{ (stats.pass_rate[check] * 200)|round|int }}px"></span></td></tr>
{% endfor %}</table>
<h2>Score histogram</h2>
<table><tr><th>score</th><th class="num">students</th><th></th></tr>
{% for label, count in stats.histogram %}<tr><td>{{ label }}</td><td class="num">{{ count }}</td>
<td><span class="bar" style="width:{{ (count / stats.histogram_max * 200)|round|int }}px"></span></td></tr>
{% endfor %}</table>
<h2>Most common failures</h2>
{% if stats.failures %}<table><tr><th>check</th><th>message</th><th class="num">students</th></tr>
{% for check, message, count in stats.failures %}<tr><td>{{ check }}</td><td>{{ message }}</td><td class="num">{{ count }}</td></tr>
{% endfor %}</table>{% else %}<p class="muted">No failures.</p>{% endif %}
{% if stats.not_judged %}<h2>Not judged ({{ stats.not_judged_total }}: no points given; worth a look)</h2>
<table><tr><th>check</th><th>why</th><th class="num">students</th></tr>
{% for check, message, count in stats.not_judged %}<tr><td>{{ check }}</td><td>{{ message }}</td><td class="num">{{ count }}</td></tr>
{% endfor %}</table>{% endif %}
<h2>Students</h2>
<table><tr><th>student</th><th class="num">score</th><th>note</th></tr>
{% for g, slug, failed in rows %}<tr><td><a href="{{ slug|urlencode }}/feedback.html">{{ g.student }}</a></td>
<td class="num">{{ "%g"|format(g.score) }} / {{ "%g"|format(g.max_score) }}</td>
<td class="err">{{ (g.problem or "").splitlines()[0] if g.problem else "" }}{{ failed }}</td></tr>
{% endfor %}</table>
</body></html>
""")


def _feedback_html(grade: StudentGrade, assignment: Assignment, path: Path) -> None:
    """The one place that renders a student's page (the report package's feedback page)."""
    from ..report import ModelEntry, render_student_feedback

    entry = ModelEntry(id=grade.student, source=display_name(os.path.basename(grade.submission)), layers=grade.layers,
                       results=grade.results, expected_total_params=assignment.spec.total_params,
                       score=grade.score, max_score=grade.max_score, notes=list(grade.notes))
    render_student_feedback(entry, path, assignment=assignment.name, index_href="../index.html")


def write_student_files(grade: StudentGrade, assignment: Assignment, out_dir: str | Path) -> str:
    """Write one student's results.json and feedback.html into ``OUT/<student_slug>/``.

    Returns "" when written, else the note for the class page; the failure is also named on stderr,
    and never stops the others' files."""
    folder = Path(out_dir) / student_slug(grade.student)
    try:
        write_atomic(folder / "results.json", json.dumps(_json_safe(gradescope_results(grade)), indent=1) + "\n")
        _feedback_html(grade, assignment, folder / "feedback.html")
    except (OSError, ValueError, UnicodeError, RecursionError, jinja2.TemplateError) as exc:
        failed = f" (the grader could not write this student's files: {type(exc).__name__}: {exc})"
        print(clean_text(f"modelcheck: {grade.student}:{failed}", keep_newlines=False), file=sys.stderr)
        return failed
    return ""


def write_class_files(grades: list[StudentGrade], assignment: Assignment, out_dir: str | Path,
                      failures: Mapping[str, str] | None = None) -> Path:
    """(Re)write gradebook.csv and index.html from `grades`; return the index's path.

    `failures` maps a student to the note `write_student_files` returned. The class statistics
    leave out grades the grader could not decide (``grader_error``): those are no verdict on the
    student, and their gradebook cells are blank, not zero.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = failures or {}
    checks = assignment.checks
    table = gradebook_rows(grades, checks)
    for row, grade in zip(table[1:], grades):
        if grade.grader_error:  # no verdict: blank, not a zero
            row[1:] = ["", row[2], *([""] * len(checks))]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(table)
    write_atomic(out_dir / "gradebook.csv", buffer.getvalue())
    rows = [(grade, student_slug(grade.student), failures.get(grade.student, "")) for grade in grades]
    decided = [grade for grade in grades if not grade.grader_error]
    stats = class_statistics(decided, checks, assignment.max_score)
    write_atomic(out_dir / "index.html", _INDEX.render(name=assignment.name, stats=stats, checks=checks,
                                                       points=assignment.points, max_score=assignment.max_score,
                                                       rows=rows))
    return out_dir / "index.html"


def write_outputs(grades: list[StudentGrade], assignment: Assignment, out_dir: str | Path) -> Path:
    """Write each student's results.json and feedback.html, the gradebook and index.html."""
    failures = {grade.student: write_student_files(grade, assignment, out_dir) for grade in grades}
    return write_class_files(grades, assignment, out_dir, failures)
