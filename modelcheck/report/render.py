"""Write a run's HTML report (index + one page per model) and students' feedback pages.

Templates are Jinja2 files in ``templates/`` (package data) with autoescaping on: model,
layer and variable names come from user code. Pages are self-contained (inline CSS and SVG,
no script, no network) and the same run gives the same bytes apart from its timestamp.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Mapping

import jinja2

from ..core.files import write_atomic
from ..core.registry import CHECK_NAMES, CHECKS
from ..core.result import ERROR, FAILED, PASSED, SKIPPED, STATUSES
from .charts import charts_for
from .data import KNOWN_FAULT, ModelEntry, Run
from .mutants import PAGE as MUTANTS_PAGE, mutation_views, render_mutants_page

__all__ = ["render_report", "render_student_feedback", "model_page_name"]

PAGE_KINDS = ("detail", "feedback")
VERDICT_WORDS = {PASSED: "passed", FAILED: "failed", ERROR: "error", SKIPPED: "skipped", KNOWN_FAULT: "known fault"}


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("modelcheck.report", "templates"),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        count=_format_count, shape=_format_shape, value=_format_value, json=_format_json
    )
    env.globals.update(verdict_words=VERDICT_WORDS, statuses=STATUSES)
    return env


def _format_count(value: Any) -> str:
    return "—" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def _format_shape(shape: Any) -> str:
    if shape is None:
        return "?"
    if shape and isinstance(shape[0], (list, tuple)):
        return "[" + ", ".join(_format_shape(s) for s in shape) + "]"
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def _is_shape(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(d is None or type(d) is int for d in value)


def _format_value(value: Any) -> str:
    """Expected/received values: shapes as (None, 10), the rest as sorted JSON."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if not isinstance(value, (list, tuple)):  # a float (a mutation score), a dict, a bool
        return _format_json(value)
    if value and _is_shape(value) or (value and all(_is_shape(v) and v for v in value)):
        return _format_shape(value)
    return _format_json(value)


def _format_json(value: Any) -> str:
    return json.dumps(_rounded(value), sort_keys=True, ensure_ascii=False, default=repr)


def _rounded(value: Any) -> Any:
    """Floats to 4 significant digits, for display: 0.29052573442459106 -> 0.2905."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    return value


def _slug(text: str, limit: int = 60) -> str:
    """A file-name/anchor-safe form of `text`; a short hash keeps distinct ids distinct."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")[:limit]
    if safe == text:
        return safe
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{safe}-{digest}" if safe else digest


def model_page_name(model_id: str) -> str:
    """The file name of a model's page inside the report's ``models/`` folder."""
    return f"{_slug(model_id)}.html"


def _check_order(entries: list[ModelEntry]) -> list[str]:
    present = {result.check for entry in entries for result in entry.results}
    known = [name for name in CHECK_NAMES if name in present]
    return known + sorted(present - set(known))


def _describe(check: str) -> str | None:
    info = CHECKS.get(check)
    return info.description if info else None


def _result_views(entry: ModelEntry) -> list[dict[str, Any]]:
    """Each result with its anchor, the check's description and its charts."""
    views = []
    seen: dict[str, int] = {}
    for result in entry.results:
        n = seen.get(result.check, 0)
        seen[result.check] = n + 1
        anchor = f"check-{_slug(result.check)}" + (f"-{n + 1}" if n else "")
        diff = result.details.get("diff")
        views.append({
            "r": result,
            "anchor": anchor,
            "description": _describe(result.check),
            "charts": charts_for(result.details),
            "diff": diff.splitlines() if isinstance(diff, str) else list(diff or []),
            "mutants_href": (f"../{MUTANTS_PAGE}#mutants-{_slug(entry.id)}"
                             if isinstance(result.details.get("mutation"), Mapping) else None),
        })
    return views


def _model_view(entry: ModelEntry) -> dict[str, Any]:
    counts = entry.counts()
    return {
        "e": entry,
        "page": model_page_name(entry.id),
        "counts": counts,
        "results": _result_views(entry),
        "total_params": entry.total_params,
        "total_mismatch": (
            entry.expected_total_params is not None
            and entry.total_params is not None
            and entry.expected_total_params != entry.total_params
        ),
        "problems": counts[FAILED] + counts[ERROR],
        "layer_mismatches": sum(row.mismatch for row in entry.layers),
    }




def _as_run(run: Run | Mapping[str, Any]) -> Run:
    return run if isinstance(run, Run) else Run.from_dict(run)


def render_report(run: Run | Mapping[str, Any], out_dir: str | Path, *, pages: str = "detail") -> Path:
    """Write the report of `run` into `out_dir`; return the path of ``index.html``.

    Writes ``index.html`` (how the run was made, counts by verdict, models x checks with a
    coloured verdict linking to the detail), ``models/<id>.html`` per model and
    ``report.json`` (``run.to_dict()``), and ``mutants.html`` when a result holds a mutation run
    (``details["mutation"]``). `run` may be a `Run` or its ``to_dict()``.
    ``pages="feedback"`` makes the model pages student feedback pages (for grading: the index
    becomes the class overview).
    """
    if pages not in PAGE_KINDS:
        raise ValueError(f"pages must be one of {PAGE_KINDS}; received pages={pages!r}")
    run = _as_run(run)
    out = Path(out_dir)
    env = _environment()
    models = [_model_view(entry) for entry in run.models]
    checks = _check_order(run.models)
    cells = {
        view["e"].id: {
            check: [res for res in view["results"] if res["r"].check == check] for check in checks
        }
        for view in models
    }
    mutations = mutation_views(run.models, model_page_name)
    index = env.get_template("index.html").render(
        run=run,
        mutations=mutations,
        models=models,
        checks=checks,
        cells=cells,
        descriptions={check: _describe(check) for check in checks},
        counts=run.counts(),
        run_statuses=(*STATUSES, KNOWN_FAULT),
        show_score=any(view["e"].score is not None for view in models),
        pages=pages,
    )
    template = env.get_template("feedback.html" if pages == "feedback" else "model.html")
    for view in models:
        html = template.render(run=run, m=view, index_href="../index.html", assignment=None)
        write_atomic(out / "models" / view["page"], html)
    if mutations:
        render_mutants_page(mutations, out / MUTANTS_PAGE, title=run.title, when=run.when, index_href="index.html")
    write_atomic(out / "report.json", json.dumps(run.to_dict(), indent=1, sort_keys=True) + "\n")
    return write_atomic(out / "index.html", index)


def render_student_feedback(
    entry: ModelEntry | Mapping[str, Any],
    out_file: str | Path,
    *,
    run: Run | Mapping[str, Any] | None = None,
    assignment: str | None = None,
    index_href: str | None = None,
) -> Path:
    """Write one student's feedback page to `out_file`; return its path.

    The page says in plain words what passes, what is wrong and how to fix it (each failed
    check's message and hint), with the layer table and the charts of failed training
    checks. `run` adds when/how it was graded; `index_href` adds a link back to a class page.
    """
    entry = entry if isinstance(entry, ModelEntry) else ModelEntry.from_dict(entry)
    html = _environment().get_template("feedback.html").render(
        run=_as_run(run) if run is not None else None,
        m=_model_view(entry),
        assignment=assignment,
        index_href=index_href,
    )
    return write_atomic(Path(out_file), html)

