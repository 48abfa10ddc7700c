"""HTML reports: plain-data runs (`Run`, `ModelEntry`, `LayerRow`) and their Jinja2 rendering.

    from modelcheck.report import ModelEntry, Run, render_report
    run = Run(models=[ModelEntry.from_spec(spec, results, model=model)], seed=1234)
    index = render_report(run, "reports/")

Workers send ``entry.to_dict()``; the controller rebuilds with ``ModelEntry.from_dict`` (or
passes the dicts straight to ``Run(models=...)``, which merges entries sharing an id).
Importing this package does not import Keras.
"""

from __future__ import annotations

from .data import LayerRow, ModelEntry, Run, collect_versions, entries_from_records, merge_entries
from .layers import layer_rows
from .render import model_page_name, render_report, render_student_feedback

__all__ = [
    "LayerRow",
    "ModelEntry",
    "Run",
    "collect_versions",
    "entries_from_records",
    "layer_rows",
    "merge_entries",
    "model_page_name",
    "render_report",
    "render_student_feedback",
]
