"""The plugin costs nothing without --modelcheck: no Keras import, no items; --help lists the options."""

from __future__ import annotations

import subprocess
import sys

import pytest

OPTIONS = ["--modelcheck", "--modelcheck-seed", "--modelcheck-checks", "--modelcheck-report",
           "--modelcheck-steps", "--modelcheck-timeout"]


def test_importing_the_plugin_imports_neither_keras_nor_tensorflow() -> None:
    code = ("import modelcheck.plugin, sys; "
            "loaded = sorted(m for m in ('keras', 'tensorflow') if m in sys.modules); "
            "assert not loaded, loaded")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_help_lists_every_option_and_its_ini_name(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["model checks for Keras models:"])
    for option in OPTIONS:
        result.stdout.fnmatch_lines([f"  {option}*"])
        result.stdout.fnmatch_lines([f"  {option[2:].replace('-', '_')} (*"])


def test_without_the_flag_no_model_check_is_collected(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", modelcheck='[[model]]\nbuilder = "models:build"\n')
    pytester.makepyfile(
        test_models="""
        import sys
        import modelcheck

        @modelcheck.expect(output_shape=(None, 1))
        def build():
            raise AssertionError("a builder must not run without --modelcheck")

        def test_plain():
            assert "keras" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert not [line for line in result.outlines if line.startswith("modelcheck ")]  # no header line
