"""Architecture snapshots: regression tests for accidental architecture changes.

- `architecture(model)`: the stable, JSON-able description of a model (``serialize``).
- `compare(old, new)`: a readable diff aligned by layer (``diff``).
- `snapshot_path`, `read_snapshot`, `write_snapshot`, `find_orphans`, `delete_snapshots`:
  one JSON file per model in ``__modelcheck_snapshots__/`` (``store``).
- `check_architecture(model, snapshot_file=..., update=...)`: the check the pytest plugin's
  ``architecture`` item runs (``check``).

Importing this package does not import Keras.
"""

from __future__ import annotations

from .check import CHECK_NAME, UPDATE_OPTION, check_architecture
from .diff import SnapshotDiff, compare, format_value
from .serialize import FORMAT_VERSION, architecture, is_auto_name, to_json
from .store import (
    SNAPSHOT_DIR,
    delete_snapshots,
    find_orphans,
    read_snapshot,
    snapshot_path,
    snapshot_text,
    write_snapshot,
)

__all__ = [
    "CHECK_NAME",
    "FORMAT_VERSION",
    "SNAPSHOT_DIR",
    "SnapshotDiff",
    "UPDATE_OPTION",
    "architecture",
    "check_architecture",
    "compare",
    "delete_snapshots",
    "find_orphans",
    "format_value",
    "is_auto_name",
    "read_snapshot",
    "snapshot_path",
    "snapshot_text",
    "to_json",
    "write_snapshot",
]
