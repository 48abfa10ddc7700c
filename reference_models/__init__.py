"""Reference models: a builder for every model of the five source documents, whose facts (sections,
printed and Keras 3 figures, errata) are kept in catalogue.json (read by `catalogue_data`).

    from reference_models import catalog, get
    for entry in catalog():
        entry.id, entry.source, entry.module   # "fashion_mlp", "003_....txt, section '...'", "reference_models/hands_on_ml.py"
        model = entry.build()                   # a fresh keras.Model
        entry.spec                              # a modelcheck.core.spec.ModelSpec: shapes, counts, checks, reasons, options
        entry.known_fault                       # None, or the erratum of a variant kept as printed
        entry.printed_source                    # the document's code, for variants Keras 3 cannot build

Each corrected model is the reference; where a document is wrong, a variant kept as printed
(id ``<reference>__as_printed``, or ``__<what>`` for a partly corrected one) carries the
erratum and the document's figures, so the checks fail on it.

Importing this package does not import Keras; `catalog()` imports the document modules.
"""

from __future__ import annotations

import importlib

from .entries import BuildFailure, Entry

__all__ = ["Entry", "BuildFailure", "catalog", "get", "ids", "DOCUMENT_MODULES"]

# One module per source document, in the documents' order.
DOCUMENT_MODULES = (
    "reference_models.quickstart",  # 000
    "reference_models.keras_methods",  # 001
    "reference_models.cifar_tutorial",  # 002
    "reference_models.hands_on_ml",  # 003
    "reference_models.dlwp_functional",  # 004
)


def catalog(*, references_only: bool = False) -> list[Entry]:
    """Every catalogue entry, document by document (fresh objects on every call).

    With `references_only`, the variants kept as printed (``known_fault`` set) are left out.
    """
    found: list[Entry] = []
    for name in DOCUMENT_MODULES:
        found.extend(importlib.import_module(name).entries())
    seen: set[str] = set()
    for entry in found:
        if entry.id in seen:
            raise RuntimeError(f"reference_models: duplicate catalogue id {entry.id!r}")
        seen.add(entry.id)
    if references_only:
        return [entry for entry in found if entry.is_reference]
    return found


def get(id: str) -> Entry:
    """The entry called `id`; a KeyError that lists the known ids otherwise."""
    entries = {entry.id: entry for entry in catalog()}
    try:
        return entries[id]
    except KeyError:
        raise KeyError(f"no reference model {id!r}; known ids are {', '.join(entries)}") from None


def ids() -> list[str]:
    """The ids of every entry, in catalogue order."""
    return [entry.id for entry in catalog()]
