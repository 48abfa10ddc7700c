"""The report's page for mutation runs: which mistakes each model's checks catch.

A ``mutants`` result (``pytest --modelcheck --modelcheck-mutants``) carries its run in
``details["mutation"]`` (`modelcheck.mutants.run.MutationReport.to_json`); `mutation_views` reads
those from a `Run`, and the page shows per model the table (mistake, what and where, caught by,
points), the survivors with what would catch each, and the mutation score. `render_mutants_page`
writes the same page from ``modelcheck mutants --html`` (the JSON of one or several reports).

No Keras import.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["PAGE", "mutation_views", "views_of_json", "render_mutants_page"]

PAGE = "mutants.html"


def _points(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else "—"


def _view(model: str, data: Mapping[str, Any], anchor: str, page: str | None) -> dict[str, Any]:
    """One model's mutation run, ready for the template."""
    checks = dict(data.get("checks") or {})
    total_points = sum(float(v) for v in checks.values())
    rows = []
    for m in data.get("mutants") or []:
        caught_by = list(m.get("caught_by") or [])
        rows.append({"mistake": m.get("mistake") or m.get("operator"), "description": m.get("description"),
                     "where": m.get("where"), "caught_by": caught_by, "survived": not caught_by,
                     "points": f"{_points(m.get('points'))}/{_points(total_points)}",
                     "suggestion": m.get("suggestion"), "messages": dict(m.get("messages") or {})})
    caught, total = data.get("caught"), data.get("total")
    score = data.get("score")
    return {
        "model": model,
        "anchor": anchor,
        "page": page,
        "score": score,
        "percent": None if score is None else f"{100 * score:.0f}%",
        "score_line": None if score is None else f"mutation score: {100 * score:.0f}% ({caught}/{total})",
        "caught": caught,
        "total": total,
        "equivalent": data.get("equivalent") or 0,
        "invalid": data.get("invalid") or 0,
        "dropped_counts": _dropped_counts(data),
        "checks": [{"name": name, "points": _points(value), "reference": (data.get("reference") or {}).get(name)}
                   for name, value in checks.items()],
        "useless": [name for name, status in (data.get("reference") or {}).items() if status != "passed"],
        "reference_messages": dict(data.get("reference_messages") or {}),
        "dropped": list(data.get("dropped") or []),
        "rows": rows,
        "survivors": [row for row in rows if row["survived"]],
        "not_mutable": data.get("not_mutable"),
        "seconds": data.get("seconds"),
    }


def _dropped_counts(data: Mapping[str, Any]) -> str:
    from ..mutants.format import WORDS, dropped_counts

    words = data.get("words") if data.get("words") in WORDS else "spec"  # a run saved before "words" was
    return dropped_counts(int(data.get("equivalent") or 0), int(data.get("invalid") or 0), words)


def mutation_views(models: Sequence[Any], page_of: Any) -> list[dict[str, Any]]:
    """The views of every result of `models` (`ModelEntry` objects) that holds a mutation run;
    `page_of(model_id)` names the model's own page."""
    from .render import _slug

    views = []
    for entry in models:
        for result in entry.results:
            data = (result.details or {}).get("mutation")
            if isinstance(data, Mapping):
                views.append(_view(entry.id, data, f"mutants-{_slug(entry.id)}", page_of(entry.id)))
    return views


def views_of_json(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The views of ``modelcheck mutants --json``'s data: one report, or ``{"models": [...]}``."""
    from .render import _slug

    reports = data["models"] if "models" in data else [data]
    return [_view(str(r.get("model")), r, f"mutants-{_slug(str(r.get('model')))}", None) for r in reports]


def render_mutants_page(views: Sequence[Mapping[str, Any]], out_file: str | Path, *, title: str,
                        when: str | None = None, index_href: str | None = None) -> Path:
    """Write the mutants page of `views` (see `mutation_views`) to `out_file`; return its path."""
    from ..core.files import write_atomic
    from .render import _environment

    caught = sum(v["caught"] or 0 for v in views if v["score"] is not None)
    total = sum(v["total"] or 0 for v in views if v["score"] is not None)
    scored = [v for v in views if v["score"] is not None]
    html = _environment().get_template(PAGE).render(
        title=title, when=when, index_href=index_href, views=views,
        overall=f"{100 * caught / total:.0f}% ({caught}/{total})" if total else None,
        lowest=min(scored, key=lambda v: v["score"]) if scored else None,
    )
    return write_atomic(Path(out_file), html)
