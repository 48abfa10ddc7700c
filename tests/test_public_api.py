"""The public API is pinned: a change to it is a deliberate edit of this file. And the import
boundaries hold: the core, the plugin and the report import no Keras or TensorFlow."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import modelcheck as mc
import modelcheck.strategies as mst

PUBLIC = {
    "CheckFailed", "CheckResult", "ModelSpec", "ModelcheckError", "SpecError", "UserCodeError", "__version__",
    "CHECKS", "build_model", "check_architecture", "check_backend_parity", "check_batch_independence", "check_config_lint", "check_finite",
    "check_gradient_flow", "check_input_dependence", "check_learns_linear", "check_loss_at_init",
    "check_loss_decrease", "check_loss_matches_output", "check_matches_reference", "check_output_shape",
    "check_overfit_batch", "check_param_count", "check_save_load", "check_trainable_changes",
    "count_params_unallocated", "expect",
    "over_seeds", "run_checks", "run_spec", "spec_from_mapping",
}
STRATEGIES = {
    "DrawnLayer", "DrawnModel", "MODEL_KINDS", "ModelInput", "ModelNode", "OPTIONAL_LAYERS", "activation_layers",
    "batch_normalization_layers", "build_model_kwargs", "builder_kwargs", "conv_layers", "dense_layers",
    "dropout_layers", "embedding_layers", "flatten_layers", "layer_configs", "models", "pooling_layers",
    "recurrent_layers",
}
PYTEST_OPTIONS = [
    "--modelcheck", "--modelcheck-snapshot-update", "--modelcheck-grade", "--modelcheck-grade-out",
    "--modelcheck-seed", "--modelcheck-checks", "--modelcheck-report", "--modelcheck-steps", "--modelcheck-timeout",
    "--modelcheck-sequence-length", "--modelcheck-mutants", "--modelcheck-model-timeout", "--modelcheck-grade-scheduler",
]
CLI_GRADE_OPTIONS = ["--out", "--workers", "--quiet"]
CLI_MUTANTS_OPTIONS = ["--reference", "--json", "--html", "--workers"]


def test_the_package_exports_exactly_the_public_names() -> None:
    assert set(mc.__all__) == PUBLIC
    for name in PUBLIC:
        assert getattr(mc, name) is not None, name
    for name in PUBLIC - {"__version__", "CHECKS"}:
        assert callable(getattr(mc, name)), name
    every_check = {info.function().__name__ for info in mc.CHECKS.values()}
    assert every_check <= PUBLIC, every_check - PUBLIC  # every registered check is public


def test_the_strategies_export_exactly_their_public_names() -> None:
    assert set(mst.__all__) == STRATEGIES
    for name in STRATEGIES:
        assert getattr(mst, name) is not None, name


def test_an_unknown_name_is_a_clear_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'modelcheck' has no attribute 'check_everything'"):
        mc.check_everything  # noqa: B018


def test_every_pytest_option_is_listed_with_its_ini_twin(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    assert result.ret == pytest.ExitCode.OK
    for option in PYTEST_OPTIONS:
        result.stdout.fnmatch_lines([f"  {option}*"])
        result.stdout.fnmatch_lines([f"  {option[2:].replace('-', '_')} (*"])


def test_the_command_line_tool_keeps_its_commands() -> None:
    done = subprocess.run([sys.executable, "-m", "modelcheck.cli", "grade", "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "ASSIGNMENT.toml" in done.stdout and "SUBMISSIONS_DIR" in done.stdout
    for option in CLI_GRADE_OPTIONS:
        assert option in done.stdout, option
    done = subprocess.run([sys.executable, "-m", "modelcheck.cli", "mutants", "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for option in CLI_MUTANTS_OPTIONS:
        assert option in done.stdout, option


def _no_keras_after(code: str) -> None:
    program = textwrap.dedent(code) + textwrap.dedent("""
        import sys
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("keras", "tensorflow"))
        assert not loaded, loaded[:5]
        """)
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_core_and_the_plugin_import_no_keras() -> None:
    _no_keras_after("""
        import modelcheck
        import modelcheck.core.result, modelcheck.core.spec, modelcheck.core.registry, modelcheck.core.errors
        import modelcheck.core.messages, modelcheck.core.files
        import modelcheck.plugin, modelcheck.plugin.hooks, modelcheck.plugin.options, modelcheck.plugin.nodes
        import modelcheck.plugin.results, modelcheck.plugin.fixture, modelcheck.plugin.sources
        import modelcheck.plugin.sources.specfile, modelcheck.plugin.sources.declare
        import modelcheck.snapshot.pytest_plugin, modelcheck.report.pytest_plugin, modelcheck.grading.pytest_plugin
        modelcheck.CheckResult, modelcheck.ModelSpec, modelcheck.CHECKS, modelcheck.expect, modelcheck.spec_from_mapping
        """)


def test_the_report_renders_from_plain_data_without_keras(tmp_path) -> None:
    _no_keras_after(f"""
        from modelcheck import CheckResult
        from modelcheck.plugin.results import Results
        from modelcheck.report import Run, entries_from_records, render_report

        results = Results()
        results.add("m.toml::mlp::param_count", CheckResult.fail(
            "param_count", "total parameters: expected 10, received 12, at the whole model", model="mlp"))
        results.add("m.toml::mlp::output_shape", CheckResult.ok("output_shape", "(None, 1)", model="mlp"))
        index = render_report(Run(models=entries_from_records(results.records), seed=0), {str(tmp_path)!r})
        assert "mlp" in index.read_text()
        """)
