"""The pytest plugin (``pytest11`` entry point ``modelcheck = modelcheck.plugin``).

    hooks.py     options, configuration, the run's end, the terminal summary
    options.py   the options and the `Settings` they give
    nodes.py     one collector per model, one item per (model, check)
    results.py   the run's results and the one channel from xdist workers to the controller
    fixture.py   the ``modelcheck`` fixture
    sources/     where models come from: reference models, spec files, @modelcheck.expect builders

Snapshots, the HTML report and grading keep their pytest glue in their own folders
(``snapshot/pytest_plugin.py``, ``report/pytest_plugin.py``, ``grading/pytest_plugin.py``).
No Keras import here.
"""

from .fixture import modelcheck_fixture  # noqa: F401  (registers the `modelcheck` fixture)
from .hooks import (  # noqa: F401  (pytest reads the hooks from this module)
    pytest_addhooks,
    pytest_addoption,
    pytest_configure,
    pytest_load_initial_conftests,
    pytest_report_header,
    pytest_runtest_makereport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)
