"""Examples per second of the Hypothesis properties in tests/test_properties.py.

    python benchmarks/bench_strategies.py [--examples 200]

Each row runs one property the way the test-suite does (derandomised, no database, no
deadline) for a fixed number of examples, after a warm-up that pays Keras' import and first
trace, and prints examples per second. The static properties compare modelcheck's analytic
counts and shapes with Keras' symbolic build inside ``keras.StatelessScope`` (no weights are
allocated, nothing runs); the allocated row shows what the same check costs without it.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from modelcheck import strategies as mst  # noqa: E402
from modelcheck.checks.gradients import check_gradient_flow  # noqa: E402

HEALTHY = dict(activations=("linear", "tanh", "sigmoid"), exclude=("Dropout", "BatchNormalization"), max_layers=3)


def layer_matches(drawn: mst.DrawnLayer) -> None:
    with keras.StatelessScope(initialize_variables=False):
        layer = drawn.build()
        output = layer(keras.Input(drawn.input_shape, dtype=drawn.input_dtype))
    assert layer.count_params() == drawn.expected_params, drawn
    assert tuple(output.shape) == drawn.expected_output_shape, drawn


def model_matches(drawn: mst.DrawnModel, allocate: bool = False) -> None:
    if allocate:
        model = drawn.build()
    else:
        with keras.StatelessScope(initialize_variables=False):
            model = drawn.build()
    shapes = [tuple(t.shape) for t in model.outputs]
    assert model.count_params() == drawn.expected_params, drawn
    assert (shapes[0] if len(shapes) == 1 else shapes) == drawn.expected_output_shape, drawn


def gradient_flows(drawn: mst.DrawnModel) -> None:
    result = check_gradient_flow(drawn.build(), batch_size=8, seed=0)
    assert result.passed, result.message


def rate(strategy: st.SearchStrategy[Any], prop: Callable[[Any], None], examples: int) -> float:
    """Examples per second of `prop` over `examples` derandomised draws of `strategy`."""

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(value: Any) -> None:
        prop(value)

    start = time.perf_counter()
    run()
    return examples / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="examples per property")
    args = parser.parse_args()
    n = args.examples
    rows = [
        ("drawing models only (no Keras)", mst.models(), lambda d: d.expected_params, n),
        ("static: layer configs vs Keras", mst.layer_configs(), layer_matches, n),
        ("static: models vs Keras", mst.models(), model_matches, n),
        ("static: models vs Keras, weights allocated", mst.models(), lambda d: model_matches(d, True), n),
        ("gradient flow on drawn models", mst.models(**HEALTHY), gradient_flows, max(10, n // 4)),
    ]
    rate(mst.models(), model_matches, 5)  # warm-up: Keras' first symbolic build
    rate(mst.models(**HEALTHY), gradient_flows, 3)  # warm-up: first eager step
    print(f"{'property':46s} {'examples':>8s} {'examples/s':>10s}")
    for label, strategy, prop, examples in rows:
        keras.backend.clear_session()
        speed = rate(strategy, prop, examples)
        print(f"{label:46s} {examples:8d} {speed:10.1f}")
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: other processes slow these figures)")


if __name__ == "__main__":
    main()
