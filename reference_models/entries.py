"""One catalogue entry: a model of the source documents, its builder and its expectations.

No Keras import here: the document modules (quickstart.py, hands_on_ml.py, ...) import Keras
and create their entries with `reference` and `as_printed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from modelcheck.core.spec import ModelSpec

from .reasons import RECIPE

__all__ = ["Entry", "reference", "as_printed", "BuildFailure", "param_fields"]


@dataclass(frozen=True)
class BuildFailure:
    """The error a faulty entry raises when built on Keras 3.

    Attributes:
        exception: the exception class name, e.g. ``"TypeError"``.
        message: a regular expression the exception's text matches.
    """

    exception: str
    message: str


@dataclass(frozen=True)
class Entry:
    """A reference model of one source document.

    Attributes:
        id: the catalogue id, e.g. ``"fashion_mlp"``; as-printed variants end in ``__as_printed``
            (or ``__<what is wrong>`` for a partly corrected variant).
        source: the document's file name and section.
        module: the Python file that defines the builder, relative to the repository root.
        spec: the expectations (`modelcheck.core.spec.ModelSpec`) whose ``builder`` builds the model.
        known_fault: for a variant kept as the document printed it, the erratum in one sentence.
        printed_source: the document's code as text, for variants that Keras 3 cannot build.
        reference_id: for a faulty variant, the id of the corrected reference entry.
        build_failure: for a variant that cannot be built, the error Keras 3 raises.
        fault_pattern: for a faulty variant, a regular expression that the message of each of
            its checks matches when it fails: it names the fault (the layer and the figures
            that differ, or the Keras 1/2 spelling that Keras 3 rejects).
    """

    id: str
    source: str
    module: str
    spec: ModelSpec
    known_fault: str | None = None
    printed_source: str | None = None
    reference_id: str | None = None
    build_failure: BuildFailure | None = None
    fault_pattern: str | None = None

    @property
    def is_reference(self) -> bool:
        """True for a corrected model that every applicable check must pass."""
        return self.known_fault is None

    def build(self) -> Any:
        """A fresh ``keras.Model`` (raises the document's Keras error for unbuildable variants)."""
        return self.spec.resolved_builder()(**self.spec.builder_kwargs)


def param_fields(total: int, *, non_trainable: int = 0) -> dict[str, int]:
    """The three parameter-count fields of a spec, from the total and the non-trainable part."""
    return {"total_params": total, "trainable_params": total - non_trainable, "non_trainable_params": non_trainable}


def _spec(
    id: str,
    builder: Callable[..., Any],
    source: str,
    checks: dict[str, str],
    skipped: dict[str, str] | None = None,
    known_fault: str | None = None,
    **fields: Any,
) -> ModelSpec:
    return ModelSpec(
        id=id,
        builder=builder,
        source=source,
        checks=tuple(checks),
        reasons={**(skipped or {}), **checks},
        known_fault=known_fault,
        **fields,
    )


def reference(
    id: str,
    builder: Callable[..., Any],
    *,
    source: str,
    module: str,
    checks: dict[str, str],
    skipped: dict[str, str] | None = None,
    labels: str | None = None,
    **fields: Any,
) -> Entry:
    """A corrected reference model.

    `checks` maps each check that applies to the reason it applies (the cheap recipe checks of
    `reasons.RECIPE` are added unless `skipped` names them), `skipped` each check left
    out to the reason why (both kept in ``spec.reasons``); `labels` is how the document gives
    a classifier's labels (``"integers"`` or ``"one_hot"``), which config_lint holds the
    cross-entropy to; the other keyword arguments are `ModelSpec` fields (shapes, counts,
    options, extra...).
    """
    if labels is not None:
        options = dict(fields.pop("options", {}))
        options["config_lint"] = {**options.get("config_lint", {}), "labels": labels}
        fields["options"] = options
    left_out = skipped or {}
    checks = {**checks, **{name: why for name, why in RECIPE.items() if name not in checks and name not in left_out}}
    spec = _spec(id, builder, source, checks, skipped, **fields)
    return Entry(id=id, source=source, module=module, spec=spec)


def as_printed(
    ref: Entry,
    builder: Callable[..., Any],
    *,
    fault: str,
    suffix: str = "as_printed",
    checks: dict[str, str] | None = None,
    printed_source: str | None = None,
    fault_pattern: str,
    build_failure: BuildFailure | None = None,
    **changes: Any,
) -> Entry:
    """A variant of `ref` kept as the document printed it, with its erratum `fault`.

    The spec starts as a copy of the reference spec; `changes` replace fields with what the
    document prints (e.g. its wrong per-layer counts), so the checks fail on the variant.
    `fault_pattern` is what a failing check's message says about the fault; `build_failure`
    is given when Keras 3 cannot build the variant at all.
    """
    id = f"{ref.id}__{suffix}"
    base = ref.spec
    selected = checks if checks is not None else dict(zip(base.checks or (), (base.reasons[c] for c in base.checks or ())))
    spec = base.replace(
        id=id,
        builder=builder,
        builder_kwargs=changes.pop("builder_kwargs", {}),
        checks=tuple(selected),
        reasons=dict(selected),
        known_fault=fault,
        options={k: v for k, v in base.options.items() if k in selected},
        **changes,
    )
    return Entry(
        id=id,
        source=ref.source,
        module=ref.module,
        spec=spec,
        known_fault=fault,
        printed_source=printed_source,
        reference_id=ref.id,
        build_failure=build_failure,
        fault_pattern=fault_pattern,
    )
