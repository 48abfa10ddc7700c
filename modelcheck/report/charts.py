"""Geometry of the report's charts, as plain data that the SVG templates draw.

Each function turns a check's ``details`` into a dict of coordinates, path strings and tick
labels (rounded, so the same numbers give the same bytes). The templates in
``templates/_charts.html`` draw them as inline SVG, with Jinja2 escaping every label (layer
names come from user code). No plotting library, no JavaScript.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["loss_chart", "grad_norm_chart", "line_fit_chart", "charts_for"]

WIDTH = 560
HEIGHT = 240
MAX_POINTS = 800  # longer loss histories are thinned to keep the page small
LABEL_CHARS = 30  # longer variable names are shortened in the gradient chart (full name on hover)


def _c(value: float) -> str:
    """A coordinate, rounded for stable output."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _label(value: float) -> str:
    """A short, readable number: 0.5, 1200, 3.2e-05."""
    if value == 0:
        return "0"
    return f"{value:.3g}"


def _number(value: Any) -> float:
    """A float from a JSON value; "nan"/"inf" strings and None become non-finite floats."""
    if value is None:
        return math.nan
    if isinstance(value, (list, tuple)):  # a (1,) array serialised as a list
        return _number(value[0]) if len(value) == 1 else math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _flat(values: Any) -> list[float]:
    return [_number(v) for v in (values or [])]


@dataclass(frozen=True)
class _Scale:
    """Maps data values in [lo, hi] to pixels in [start, end], linearly or on log10."""

    lo: float
    hi: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        lo, hi, v = self.lo, self.hi, value
        if self.log:
            lo, hi, v = math.log10(lo), math.log10(hi), math.log10(value)
        return self.start + (v - lo) / (hi - lo) * (self.end - self.start)

    def ticks(self) -> list[dict[str, str]]:
        values = _log_ticks(self.lo, self.hi) if self.log else _linear_ticks(self.lo, self.hi)
        return [{"pos": _c(self(v)), "label": _label(v)} for v in values]


def _nice_step(span: float, count: int = 5) -> float:
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _linear_range(values: Sequence[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if lo == hi:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = _nice_step(hi - lo)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step


def _linear_ticks(lo: float, hi: float) -> list[float]:
    step = _nice_step(hi - lo)
    first = math.ceil(lo / step - 1e-9)
    return [round(k * step, 12) for k in range(first, int(math.floor(hi / step + 1e-9)) + 1)]


def _log_range(values: Sequence[float]) -> tuple[float, float]:
    lo = math.floor(math.log10(min(values)))
    hi = math.ceil(math.log10(max(values)))
    if hi == lo:
        hi += 1
    return 10.0**lo, 10.0**hi


def _log_ticks(lo: float, hi: float) -> list[float]:
    first, last = round(math.log10(lo)), round(math.log10(hi))
    stride = max(1, math.ceil((last - first) / 8))
    return [10.0**k for k in range(first, last + 1, stride)]


def _frame(width: int, height: int, left: int, bottom: int = 36) -> dict[str, float]:
    return {"width": width, "height": height, "x0": left, "x1": width - 16, "y0": 14, "y1": height - bottom}


def loss_chart(history: Any, title: str = "loss per training step") -> dict[str, Any] | None:
    """A line chart of a loss history (floats, maybe "nan"/"inf"); None when there is none.

    The path breaks at non-finite values, which are marked in red along the top. The y axis
    turns logarithmic when every value is positive and they span two decades or more.
    """
    values = _flat(history)
    if not values:
        return None
    finite = [v for v in values if math.isfinite(v)]
    box = _frame(WIDTH, HEIGHT, left=60)
    log = bool(finite) and min(finite) > 0 and max(finite) / min(finite) >= 100
    lo, hi = (_log_range(finite) if log else _linear_range(finite)) if finite else (0.0, 1.0)
    ys = _Scale(lo, hi, box["y1"], box["y0"], log=log)
    last = max(len(values) - 1, 1)
    xs = _Scale(0, last, box["x0"], box["x1"])
    stride = max(1, math.ceil(len(values) / MAX_POINTS))
    keep = [i for i in range(len(values)) if i % stride == 0 or i == len(values) - 1 or not math.isfinite(values[i])]

    segments: list[str] = []
    current: list[str] = []
    bad: list[dict[str, str]] = []
    for i in keep:
        value = values[i]
        if math.isfinite(value):
            current.append(f"{_c(xs(i))},{_c(ys(value))}")
            continue
        bad.append({"x": _c(xs(i)), "y": _c(box["y0"]), "title": f"step {i}: {value}"})
        if current:
            segments.append(current)
            current = []
    if current:
        segments.append(current)
    path = " ".join("M" + " L".join(seg if len(seg) > 1 else seg * 2) for seg in segments)
    summary = f"{len(values)} steps"
    if finite:
        summary += f"; first {_label(values[0]) if math.isfinite(values[0]) else values[0]}, last "
        summary += _label(values[-1]) if math.isfinite(values[-1]) else str(values[-1])
    if bad:
        summary += f"; {len([v for v in values if not math.isfinite(v)])} non-finite values (marked in red)"
    return {
        "kind": "loss",
        "title": title,
        "box": box,
        "path": path,
        "nonfinite": bad,
        "xticks": _Scale(0, last, box["x0"], box["x1"]).ticks(),
        "yticks": ys.ticks(),
        "xlabel": "step",
        "ylabel": "loss (log scale)" if log else "loss",
        "log": log,
        "summary": summary,
    }


def _short(name: str) -> str:
    return name if len(name) <= LABEL_CHARS else "…" + name[-(LABEL_CHARS - 1):]


def grad_norm_chart(norms: Mapping[str, Any], title: str = "gradient norm per variable") -> dict[str, Any] | None:
    """Horizontal bars of gradient norms on a log scale, in the order given (layer order).

    Zero and non-finite norms cannot sit on a log axis: they get a red mark and a word instead.
    """
    items = [(str(name), _number(value)) for name, value in (norms or {}).items()]
    if not items:
        return None
    row = 22
    left = 220
    height = 14 + row * len(items) + 40
    box = _frame(WIDTH + 120, height, left=left, bottom=40)
    positive = [v for _, v in items if math.isfinite(v) and v > 0]
    lo, hi = _log_range(positive) if positive else (1e-8, 1.0)
    lo /= 10  # one decade of room, so the smallest norm still gets a visible bar
    xs = _Scale(lo, hi, box["x0"], box["x1"], log=True)
    bars = []
    for index, (name, value) in enumerate(items):
        y = box["y0"] + index * row
        bar: dict[str, Any] = {
            "name": _short(name),
            "full": name,
            "y": _c(y + 3),  # bar top
            "h": _c(row - 6),
            "ty": _c(y + row / 2 + 4),  # text baseline
            "cy": _c(y + row / 2),  # centre of the mark for a missing gradient
        }
        if math.isfinite(value) and value > 0:
            length = max(xs(value) - box["x0"], 1.0)
            bar.update(kind="ok", w=_c(length), end=_c(box["x0"] + length + 6), value=_label(value))
        else:
            word = "0 (no gradient)" if value == 0 else str(value)
            bar.update(kind="bad", w="0.0", end=_c(box["x0"] + 10), value=word)
        bars.append(bar)
    return {
        "kind": "grad",
        "title": title,
        "box": box,
        "bars": bars,
        "xticks": xs.ticks(),
        "xlabel": "gradient norm (log scale)",
        "log": True,
        "summary": f"{len(items)} variables; {len(items) - len(positive)} without a usable gradient",
    }


def line_fit_chart(details: Mapping[str, Any], title: str = "learned line against the data") -> dict[str, Any] | None:
    """The data points and the learned line ``y = w·x + b`` (or the model's predictions)."""
    x, y = _flat(details.get("x")), _flat(details.get("y"))
    pairs = [(a, b) for a, b in zip(x, y) if math.isfinite(a) and math.isfinite(b)]
    if not pairs:
        return None
    w, b = _number(details.get("w")), _number(details.get("b"))
    predictions = _flat(details.get("predictions"))
    xmin, xmax = min(a for a, _ in pairs), max(a for a, _ in pairs)
    pad = (xmax - xmin) * 0.1 or 1.0
    if math.isfinite(w) and math.isfinite(b):
        line = [(xmin - pad, w * (xmin - pad) + b), (xmax + pad, w * (xmax + pad) + b)]
        legend = f"learned: y = {w:.4g}·x {'−' if b < 0 else '+'} {abs(b):.4g}"
    else:
        line = sorted((a, p) for a, p in zip(x, predictions) if math.isfinite(a) and math.isfinite(p))
        legend = "model predictions" if line else "no finite predictions"
    box = _frame(WIDTH, HEIGHT, left=60)
    xs = _Scale(*_linear_range([a for a, _ in pairs + line]), box["x0"], box["x1"])
    ys = _Scale(*_linear_range([v for _, v in pairs + line]), box["y1"], box["y0"])
    return {
        "kind": "fit",
        "log": False,
        "title": title,
        "box": box,
        "points": [{"x": _c(xs(a)), "y": _c(ys(v)), "title": f"x={_label(a)}, y={_label(v)}"} for a, v in pairs],
        "path": ("M" + " L".join(f"{_c(xs(a))},{_c(ys(v))}" for a, v in line)) if line else "",
        "xticks": xs.ticks(),
        "yticks": ys.ticks(),
        "xlabel": "x",
        "ylabel": "y",
        "legend": legend,
        "summary": f"{len(pairs)} data points; {legend}",
    }


def charts_for(details: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every chart a result's details call for, in a fixed order."""
    charts: Iterable[dict[str, Any] | None] = (
        loss_chart(details.get("loss_history")) if "loss_history" in details else None,
        grad_norm_chart(details.get("grad_norms") or {}) if "grad_norms" in details else None,
        line_fit_chart(details) if "x" in details and "y" in details else None,
    )
    return [chart for chart in charts if chart is not None]
