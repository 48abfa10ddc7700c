"""Readable differences between two architecture descriptions, aligned by layer.

The layer lists are aligned like a text diff (`difflib.SequenceMatcher`), first on each layer's
class and configuration, then, inside the stretches that differ, on the class alone. Paired
layers report what changed (``layer 2 dense#1: units 300 -> 200; params 235,500 -> 157,000``);
the rest are inserted (``+ layer 3 ...``) or removed (``- layer 3 ...``). Connections are
compared through the alignment, so an inserted layer does not make every later name differ.

No Keras import: this works on the plain dicts of `modelcheck.snapshot.serialize`.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["SnapshotDiff", "compare", "format_value"]

# Configuration keys shown when a whole layer is inserted or removed, in this order.
_KEY_CONFIG = (
    "units", "filters", "kernel_size", "strides", "padding", "dilation_rate", "pool_size",
    "activation", "rate", "axis", "return_sequences", "target_shape", "input_dim", "output_dim",
)
_REF = re.compile(r"^(?P<base>.*?)(?P<suffix>(@\d+)?(\[\d+\])?)$")


@dataclass(frozen=True)
class SnapshotDiff:
    """The differences between a stored architecture and the current one.

    Attributes:
        lines: one readable line per difference, in model order, the totals last;
            empty when the architectures are equal.
    """

    lines: tuple[str, ...] = ()

    @property
    def equal(self) -> bool:
        """True when nothing differs."""
        return not self.lines

    def __str__(self) -> str:
        return "\n".join(self.lines)


def format_value(value: Any) -> str:
    """A config value as a person writes it: shapes as tuples, objects as ``Class(k=v)``."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float, str)):
        return str(value)
    if isinstance(value, list):
        if all(not isinstance(v, (list, dict)) for v in value):
            inner = ", ".join(format_value(v) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        return ", ".join(format_value(v) for v in value)
    if isinstance(value, dict):
        if "class" in value:
            args = ", ".join(f"{k}={format_value(v)}" for k, v in sorted(value.items()) if k != "class")
            return f"{value['class']}({args})"
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in sorted(value.items())) + "}"
    return str(value)


def _count(value: Any) -> str:
    return "unknown" if value is None else f"{value:,}"


# A flat list longer than this (a lookup layer's vocabulary) is diffed by its entries, not printed whole.
_LONG_LIST = 12
_SHOWN_ENTRIES = 5


def _flat_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value)


def _entries(values: list[Any]) -> str:
    """Up to `_SHOWN_ENTRIES` entries, quoted, and how many more."""
    shown = ", ".join(repr(v) for v in values[:_SHOWN_ENTRIES])
    return shown + (f" and {len(values) - _SHOWN_ENTRIES:,} more" if len(values) > _SHOWN_ENTRIES else "")


def _long_list_change(key: str, old: list[Any], new: list[Any]) -> str:
    """``vocabulary (10,000 entries -> 10,001): 'great' removed; 'superb', 'meh' added``: what
    changed in a long list, where printing both lists would fill the terminal."""
    old_set, new_set = set(old), set(new)
    removed = [v for v in old if v not in new_set]
    added = [v for v in new if v not in old_set]
    parts = [f"{_entries(removed)} removed"] if removed else []
    parts += [f"{_entries(added)} added"] if added else []
    if not parts:  # the same values, in another order or repeated another number of times
        first = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
        at = (f"{old[first]!r} -> {new[first]!r}" if first < min(len(old), len(new)) else
              f"{len(old) - first:,} entries removed" if len(old) > first else f"{len(new) - first:,} entries added")
        parts = [f"the same values in another order or number (from position {first}: {at})"]
    return f"{key} ({len(old):,} entries -> {len(new):,}): {'; '.join(parts)}"


def _dict_changes(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """``key old -> new`` for every differing key; nested dicts give dotted keys; long flat lists
    (a vocabulary) give the entries removed and added."""
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict) and a.get("class") == b.get("class"):
            changes.extend(_dict_changes(a, b, f"{prefix}{key}."))
        elif _flat_list(a) and _flat_list(b) and max(len(a), len(b)) > _LONG_LIST:
            changes.append(_long_list_change(f"{prefix}{key}", a, b))
        else:
            changes.append(f"{prefix}{key} {format_value(a)} -> {format_value(b)}")
    return changes


def _user_named(name: str) -> bool:
    return "#" not in name


def _strong_signature(layer: dict[str, Any]) -> str:
    name = layer["name"] if _user_named(layer["name"]) else ""
    return json.dumps([layer["class"], name, layer.get("config"), layer.get("model")], sort_keys=True)


def align(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[tuple[int | None, int | None]]:
    """Pairs (old index, new index); ``(i, None)`` is a removed layer, ``(None, j)`` an inserted one."""
    steps: list[tuple[int | None, int | None]] = []
    strong = difflib.SequenceMatcher(
        None, [_strong_signature(l) for l in old], [_strong_signature(l) for l in new], autojunk=False
    )
    for tag, i1, i2, j1, j2 in strong.get_opcodes():
        if tag == "equal":
            steps.extend(zip(range(i1, i2), range(j1, j2)))
            continue
        steps.extend(_align_changed(old[i1:i2], new[j1:j2], i1, j1))
    return _pair_moved(old, new, steps)


def _pair_moved(old: list[dict[str, Any]], new: list[dict[str, Any]],
                steps: list[tuple[int | None, int | None]]) -> list[tuple[int | None, int | None]]:
    """Pair a removed and an inserted layer that have the same user-given name and class: the
    layer moved in ``model.layers`` (an Input now used first), it was not replaced. Unpaired, the
    diff said "- layer 3 extra", "+ layer 1 extra" and "inputs [dense#1, extra (removed)]"."""
    removed = {old[i]["name"]: i for i, j in steps if j is None and _user_named(old[i]["name"])}
    moved = {j: removed[new[j]["name"]] for i, j in steps if i is None and new[j]["name"] in removed
             and old[removed[new[j]["name"]]]["class"] == new[j]["class"]}
    if not moved:
        return steps
    gone = set(moved.values())
    return [(moved[j], j) if i is None and j in moved else (i, j) for i, j in steps
            if not (j is None and i in gone)]


# Above this many candidate pairs a changed stretch is aligned by class alone (difflib), not by likeness.
_MAX_PAIRS = 40_000


def _likeness(a: dict[str, Any], b: dict[str, Any]) -> float:
    """How alike two layers of one class are: the share of their configuration keys with equal values."""
    x, y = a.get("config") or {}, b.get("config") or {}
    keys = set(x) | set(y)
    return sum(x.get(key) == y.get(key) for key in keys) / len(keys) if keys else 1.0


def _align_changed(old: list[dict[str, Any]], new: list[dict[str, Any]], i0: int,
                   j0: int) -> list[tuple[int | None, int | None]]:
    """Pairs for a stretch in which no layer is unchanged: as many layers of the same class paired, in
    order, as can be, and among those pairings the one whose pairs are most alike. A removed Dense(8)
    before a changed Dense(3, softmax) pairs the new Dense(3, sigmoid) with the Dense(3), not with the
    Dense(8) that merely comes first."""
    if len(old) * len(new) > _MAX_PAIRS:
        steps: list[tuple[int | None, int | None]] = []
        by_class = difflib.SequenceMatcher(None, [l["class"] for l in old], [l["class"] for l in new], autojunk=False)
        for tag, a1, a2, b1, b2 in by_class.get_opcodes():
            if tag == "equal":
                steps.extend(zip(range(i0 + a1, i0 + a2), range(j0 + b1, j0 + b2)))
            else:
                steps.extend((i, None) for i in range(i0 + a1, i0 + a2))
                steps.extend((None, j) for j in range(j0 + b1, j0 + b2))
        return steps
    n, m = len(old), len(new)
    # best[i][j]: the best score aligning old[i:] with new[j:]; a pair scores 1 plus its likeness, so
    # more pairs always win and likeness decides between as many
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    paired: dict[tuple[int, int], float] = {}  # the score of pairing old[i] with new[j], kept for the trace back
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            score = max(best[i + 1][j], best[i][j + 1])
            if old[i]["class"] == new[j]["class"]:
                paired[i, j] = 1.0 + _likeness(old[i], new[j]) + best[i + 1][j + 1]
                score = max(score, paired[i, j])
            best[i][j] = score
    steps, i, j = [], 0, 0
    while i < n or j < m:
        if (i, j) in paired and best[i][j] == paired[i, j]:
            steps.append((i0 + i, j0 + j))
            i, j = i + 1, j + 1
        elif i < n and (j == m or best[i][j] == best[i + 1][j]):
            steps.append((i0 + i, None))
            i += 1
        else:
            steps.append((None, j0 + j))
            j += 1
    return steps


class _Renamer:
    """Translates the old snapshot's layer references into the new snapshot's names."""

    def __init__(self, old: list[dict[str, Any]], new: list[dict[str, Any]], steps: list[tuple[int | None, int | None]]) -> None:
        self._names = {}
        for i, j in steps:
            if i is not None:
                self._names[old[i]["name"]] = new[j]["name"] if j is not None else f"{old[i]['name']} (removed)"

    def __call__(self, ref: str) -> str:
        match = _REF.match(ref)
        base, suffix = (match["base"], match["suffix"]) if match else (ref, "")
        if base not in self._names:
            return ref
        name = self._names[base]
        return name.replace(" (removed)", suffix + " (removed)") if name.endswith(" (removed)") else name + suffix


def _format_calls(calls: list[list[str]]) -> str:
    return " | ".join("[" + ", ".join(call) + "]" for call in calls) or "[]"


def _describe_layer(layer: dict[str, Any]) -> str:
    config = layer.get("config") or {}
    parts = [f"{key} {format_value(config[key])}" for key in _KEY_CONFIG if key in config]
    parts.append(f"params {_count(layer.get('params'))}")
    if layer.get("output_shape") is not None:
        parts.append(f"output {format_value(layer['output_shape'])}")
    if layer.get("inputs"):
        parts.append(f"inputs {_format_calls(layer['inputs'])}")
    return f"{layer['name']} ({layer['class']}): " + ", ".join(parts)


def _layer_changes(a: dict[str, Any], b: dict[str, Any], rename: _Renamer) -> tuple[list[str], list[str]]:
    """The changes of a paired layer (one line's parts), and the nested-model diff lines."""
    changes = []
    if a["name"] != b["name"] and (_user_named(a["name"]) or _user_named(b["name"])):
        changes.append(f"name {a['name']} -> {b['name']}")
    changes.extend(_dict_changes(a.get("config") or {}, b.get("config") or {}))
    if a.get("params") != b.get("params"):
        changes.append(f"params {_count(a.get('params'))} -> {_count(b.get('params'))}")
    if a.get("input_shape") != b.get("input_shape"):
        changes.append(f"input {format_value(a.get('input_shape'))} -> {format_value(b.get('input_shape'))}")
    if a.get("output_shape") != b.get("output_shape"):
        changes.append(f"output {format_value(a.get('output_shape'))} -> {format_value(b.get('output_shape'))}")
    if "inputs" in a or "inputs" in b:
        mapped = [[rename(r) for r in call] for call in a.get("inputs") or []]
        if mapped != (b.get("inputs") or []):
            changes.append(f"inputs {_format_calls(mapped)} -> {_format_calls(b.get('inputs') or [])}")
    nested: list[str] = []
    if a.get("model") != b.get("model"):
        if isinstance(a.get("model"), dict) and isinstance(b.get("model"), dict):
            nested = ["    " + line for line in compare(a["model"], b["model"]).lines]
        else:
            changes.append("nested model " + ("added" if b.get("model") else "removed"))
    return changes, nested


def _io_lines(kind: str, old: list[dict[str, Any]], new: list[dict[str, Any]], rename: _Renamer) -> list[str]:
    """Differences of the model's inputs or outputs, compared by position."""
    key = "name" if kind == "input" else "layer"
    lines = []
    for n in range(max(len(old), len(new))):
        a = old[n] if n < len(old) else None
        b = new[n] if n < len(new) else None
        if a is not None and b is not None:
            a = dict(a, **{key: rename(a[key])})
            if a == b:
                continue
            changes = []
            if a[key] != b[key]:
                changes.append(f"{'name' if kind == 'input' else 'from'} {a[key]} -> {b[key]}")
            for field in ("shape", "dtype"):
                if a.get(field) != b.get(field):
                    changes.append(f"{field} {format_value(a.get(field))} -> {format_value(b.get(field))}")
            lines.append(f"{kind} {n + 1} {b[key]}: " + "; ".join(changes))
        else:
            sign, item = ("-", a) if b is None else ("+", b)
            lines.append(
                f"{sign} {kind} {n + 1} {item[key]}: shape {format_value(item.get('shape'))}, dtype {item.get('dtype')}"
            )
    return lines


def _totals_lines(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    a, b = old.get("totals") or {}, new.get("totals") or {}
    total = f"total params {_count(a.get('total'))} -> {_count(b.get('total'))}"
    if a.get("total") == b.get("total"):
        total = f"total params {_count(b.get('total'))} (unchanged)"
    lines = [total]
    if a.get("non_trainable") != b.get("non_trainable"):  # else trainable moved exactly as total
        for key in ("trainable", "non_trainable"):
            lines.append(f"{key.replace('_', '-')} params {_count(a.get(key))} -> {_count(b.get(key))}")
    return lines


def compare(old: dict[str, Any], new: dict[str, Any]) -> SnapshotDiff:
    """Compare two `architecture()` dicts (stored first, current second).

    Example lines::

        layer 2 dense#1: units 300 -> 200; params 235,500 -> 157,000; output (None, 300) -> (None, 200)
        + layer 3 dropout#1 (Dropout): rate 0.5, params 0, output (None, 200)
        layer 5 concatenate#1: inputs [input_layer#1, dense#1] -> [dense#1]
        total params 266,610 -> 188,110
    """
    if old == new:
        return SnapshotDiff()
    lines = []
    if old.get("kind") != new.get("kind"):
        lines.append(f"model kind {old.get('kind')} -> {new.get('kind')}")
    old_layers, new_layers = old.get("layers") or [], new.get("layers") or []
    steps = align(old_layers, new_layers)
    rename = _Renamer(old_layers, new_layers, steps)
    lines.extend(_io_lines("input", old.get("inputs") or [], new.get("inputs") or [], rename))
    for i, j in steps:
        if j is None:
            lines.append(f"- layer {i + 1} {_describe_layer(old_layers[i])}")
        elif i is None:
            lines.append(f"+ layer {j + 1} {_describe_layer(new_layers[j])}")
        else:
            changes, nested = _layer_changes(old_layers[i], new_layers[j], rename)
            if changes or nested:
                where = f"layer {j + 1} {new_layers[j]['name']}"
                if (i, old_layers[i]["name"]) != (j, new_layers[j]["name"]):
                    where += f" (was layer {i + 1} {old_layers[i]['name']})"
                lines.append(f"{where}: " + ("; ".join(changes) or "nested model changed"))
                lines.extend(nested)
    lines.extend(_io_lines("output", old.get("outputs") or [], new.get("outputs") or [], rename))
    if not lines and old.get("totals") == new.get("totals"):
        # Keys this module does not read (a newer snapshot format): still report, never hide.
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        lines.append("snapshot differs in: " + ", ".join(keys))
    lines.extend(_totals_lines(old, new))
    return SnapshotDiff(tuple(lines))
