"""The source documents' facts, kept in the repository: reads `catalogue.json`.

    from reference_models.catalogue_data import documented_models, documents
    for model in documented_models():
        model.id, model.document, model.sections   # "fashion_mlp", "003_....txt", ("使用Sequential API创建图片分类器",)
        model.printed                               # figures the document prints: {"total_params": 266610, ...}
        model.keras3                                # the same figures as Keras 3 computes them
        model.errata                                # (Erratum(variant="...__as_printed", ...), ...)

Figures use the names of `modelcheck.core.spec.ModelSpec` fields, and shapes come back as
tuples (a list of shapes for several outputs, a dict for named ones), so a figure can be
compared with, or put into, a spec. No Keras import: this is plain data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["CATALOGUE_FILE", "FIGURES", "DocumentedModel", "Erratum", "documented_models", "documents", "raw_record"]

CATALOGUE_FILE = Path(__file__).with_name("catalogue.json")
# The figure fields of ModelSpec that the documents print or Keras computes.
FIGURES = ("total_params", "trainable_params", "non_trainable_params", "output_shape",
           "layer_params", "layer_output_shapes")
_SHAPES = ("output_shape", "layer_output_shapes")


@dataclass(frozen=True)
class Erratum:
    """A mistake of a document, kept as a catalogue variant built the way the document prints it.

    Attributes:
        variant: the id of the catalogue entry that keeps the document's version.
        erratum: what is wrong, in one sentence.
        build_failure: the exception class Keras 3 raises building it, or None if it builds.
        printed_code: the offending code as the document prints it, if the mistake is in code.
    """

    variant: str
    erratum: str
    build_failure: str | None = None
    printed_code: str | None = None


@dataclass(frozen=True)
class DocumentedModel:
    """One model of a source document and the facts the tests hold its builder to.

    Attributes:
        id: the catalogue id of the corrected reference model.
        document: the source document's file name.
        sections: the headings of the sections that show it, as the document spells them.
        model: the architecture in one line.
        printed: figures the document prints (ModelSpec field names; may be empty).
        keras3: the same figures as Keras 3 computes them for the corrected model.
        errata: the document's mistakes, each kept as a variant.
        printed_facts: other values the document prints (trained weights, a truth table...).
        optional: True for a model the catalogue need not hold.
        notes: what the figures assume, in words.
    """

    id: str
    document: str
    sections: tuple[str, ...]
    model: str
    printed: dict[str, Any]
    keras3: dict[str, Any]
    errata: tuple[Erratum, ...] = ()
    printed_facts: dict[str, Any] | None = None
    optional: bool = False
    notes: str = ""


def _shape(value: Any) -> Any:
    """JSON lists as spec shapes: [2] -> (2,), [[1], [1]] -> [(1,), (1,)], {"a": [1]} -> {"a": (1,)}."""
    if isinstance(value, dict):
        return {name: tuple(shape) for name, shape in value.items()}
    if value and isinstance(value[0], list):
        return [tuple(shape) for shape in value]
    return tuple(value)


def _figures(raw: dict[str, Any], where: str) -> dict[str, Any]:
    unknown = set(raw) - set(FIGURES)
    if unknown:
        raise ValueError(f"{CATALOGUE_FILE.name}: {where} has unknown figure(s) {sorted(unknown)}; "
                         f"known figures are {', '.join(FIGURES)}")
    return {name: _shape(value) if name in _SHAPES else value for name, value in raw.items()}


def _model(raw: dict[str, Any]) -> DocumentedModel:
    return DocumentedModel(
        id=raw["id"],
        document=raw["document"],
        sections=tuple(raw["sections"]),
        model=raw["model"],
        printed=_figures(raw["printed"], f"{raw['id']}: printed"),
        keras3=_figures(raw["keras3"], f"{raw['id']}: keras3"),
        errata=tuple(Erratum(**erratum) for erratum in raw["errata"]),
        printed_facts=raw.get("printed_facts"),
        optional=raw.get("optional", False),
        notes=raw.get("notes", ""),
    )


@lru_cache(maxsize=1)
def _load() -> dict[str, Any]:
    return json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))


def documented_models() -> list[DocumentedModel]:
    """Every model of the five source documents, in the documents' order."""
    return [_model(raw) for raw in _load()["models"]]


def documents() -> dict[str, str]:
    """Each source document's file name mapped to the module of its builders (repository-relative)."""
    return {name: about["module"] for name, about in _load()["documents"].items()}


def raw_record(id: str) -> dict[str, Any]:
    """The JSON record of model `id` as stored (for cross-checks that read every written fact)."""
    for raw in _load()["models"]:
        if raw["id"] == id:
            return raw
    raise KeyError(f"no model {id!r} in {CATALOGUE_FILE.name}")
