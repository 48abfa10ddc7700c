"""Every model builder in keras.applications, its documented parameter count, and the sweep's
two halves: the parameter count judged before any weight is allocated (at the default input size,
where the documents count), and the forward and gradient checks on the smallest input the builder
accepts with the same count (global pooling makes most counts independent of the input size).

Shared by tests/realworld/test_applications.py and benchmarks/bench_applications.py."""

from __future__ import annotations

import gc
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import keras

import modelcheck as mc

RUN_CHECKS = ["output_shape", "gradient_flow", "finite", "batch_independence", "input_dependence"]
# Small batches: the checks' verdicts need two samples (batch_independence, and input_dependence
# compares a change with the outputs' variation across the batch); VGG runs at 224 x 224.
SMALL_BATCHES = {"output_shape": {"batch_size": 2}, "gradient_flow": {"batch_size": 2}, "finite": {"batch_size": 2},
                 "batch_independence": {"batch_size": 2}, "input_dependence": {"batch_size": 4}}
DOCUMENTED_FILE = Path(__file__).with_name("applications_documented.json")
# Input sizes tried, smallest first, for the run checks (InceptionV3 and Xception need at least 75 and 71).
SIZE_LADDER = (32, 75, 96, 128, 224, 299, 331)


def builder_names() -> list[str]:
    """Every model builder keras.applications exports (a new Keras release adds its models here)."""
    return sorted(name for name in dir(keras.applications)
                  if name[:1].isupper() and callable(getattr(keras.applications, name)))


def documented() -> dict[str, dict[str, Any]]:
    """The documented figures by model name (see applications_documented.json)."""
    return json.loads(DOCUMENTED_FILE.read_text())["models"]


@dataclass(frozen=True)
class Figure:
    """A printed parameter count: exact ('22,910,480') or rounded millions ('22.9M')."""

    text: str

    @property
    def unit(self) -> int:
        """One unit of the last printed digit (1 for an exact count)."""
        match = re.fullmatch(r"(\d+)(?:\.(\d+))?M", self.text)
        if match is None:
            return 1
        return 10 ** (6 - len(match.group(2) or ""))

    @property
    def value(self) -> int:
        if self.text.endswith("M"):
            return round(float(self.text[:-1]) * 1_000_000)
        return int(self.text.replace(",", ""))

    def agrees(self, count: int) -> bool:
        """True when `count` printed at this figure's precision, rounded or truncated, gives it."""
        return abs(count - self.value) < self.unit if self.unit > 1 else count == self.value


def _build(name: str, size: int | None) -> keras.Model:
    shape = None if size is None else (size, size, 3)
    return getattr(keras.applications, name)(weights=None, input_shape=shape)


def count_unallocated(name: str, size: int | None = None) -> int:
    """The model's parameter count, built without allocating its weights."""
    with keras.StatelessScope(initialize_variables=False):
        count = _build(name, size).count_params()
    keras.backend.clear_session(free_memory=False)
    return count


def smallest_input(name: str) -> int | None:
    """The smallest size of SIZE_LADDER the builder accepts with the count it has at its default
    size (VGG's Flatten makes its count depend on the size: None, the default size)."""
    full = count_unallocated(name)
    for size in SIZE_LADDER:
        try:
            if count_unallocated(name, size) == full:
                return size
        except ValueError:  # the builder's "Input size must be at least 32x32"
            keras.backend.clear_session(free_memory=False)
    return None


def param_count_result(name: str, entry: dict[str, Any]) -> tuple[mc.CheckResult, str]:
    """param_count at the default input size, judged inside ``keras.StatelessScope`` (the
    layers' arithmetic, no weight allocated: ConvNeXtXLarge's 350 million cost nothing), against
    the documented figure: the exact count where one is printed, else the range its rounding
    allows (``max_params`` its top, the bottom checked by the caller through `bottom`). Returns
    the result and a line saying what it was judged against."""
    figure = Figure(entry["documented"])
    with keras.StatelessScope(initialize_variables=False):
        model = _build(name, None)
        if "differs" in entry:
            result = mc.check_param_count(model, total=entry["differs"]["keras"])
            against = f"{entry['differs']['keras']:,} (documented {figure.text}: differs, see the data file)"
        elif "exact" in entry:
            result = mc.check_param_count(model, total=entry["exact"])
            against = f"{entry['exact']:,} (documented {figure.text})"
        else:
            result = mc.check_param_count(model, max_params=figure.value + figure.unit - 1)
            against = f"{figure.text} (at most {figure.value + figure.unit - 1:,})"
    keras.backend.clear_session(free_memory=False)
    return result, against


def run_results(name: str, size: int | None, seed: int = 0) -> list[mc.CheckResult]:
    """The forward and gradient checks on the model built at `size` (its weights allocated)."""
    keras.utils.set_random_seed(seed)
    model = _build(name, size)
    try:
        return mc.run_checks(model, RUN_CHECKS, seed=seed, output_shape=(1000,), options=SMALL_BATCHES)
    finally:
        del model
        keras.backend.clear_session()
        gc.collect()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """fn() and the seconds it took."""
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start
