"""Notebooks that work in Jupyter are graded as Jupyter runs them, and nothing in them runs a shell.

Each notebook is written here as JSON (nbformat 4, or 3 where said). The conversion is checked
by running the script it gives with a plain Python (a subprocess, so that the test process's
builtins are left alone), then a few notebooks are graded end to end with the toy assignment.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelcheck.grading import Grader, discover_submissions, load_assignment
from modelcheck.grading.grade import StudentGrade
from modelcheck.grading.submissions import CopyBudget, Submission, notebook_source, prepare_workdir

SUBMISSIONS = Path(__file__).parent / "submissions"
BUILDER = "def build_model():\n    return 'the model'\n"
SIZE_HINT = "clear the notebook's outputs (Kernel > Restart & Clear Output) and resubmit"
TOY_MODEL = """import keras
from keras import layers


def build_model():
    return keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"),
                             layers.Dense(3, activation="softmax")])
"""


def _notebook(*cells: str | tuple[str, str], outputs: list | None = None) -> dict:
    """An nbformat 4 notebook: a str is a code cell, (cell_type, text) any other cell."""
    listed = []
    for cell in cells:
        kind, text = cell if isinstance(cell, tuple) else ("code", cell)
        entry = {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True)}
        if kind == "code":
            entry |= {"execution_count": None, "outputs": outputs or []}
        listed.append(entry)
    return {"cells": listed, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}


def _notebook_v3(*cells: str | tuple[str, str]) -> dict:
    """An nbformat 3 notebook: the cells in a worksheet, code in `input` (alternately a list of
    lines and one string), and a heading cell first."""
    listed: list[dict] = [{"cell_type": "heading", "level": 1, "metadata": {}, "source": ["Homework 3"]}]
    for number, cell in enumerate(cells):
        kind, text = cell if isinstance(cell, tuple) else ("code", cell)
        if kind == "code":
            code = text.splitlines(keepends=True) if number % 2 else text
            listed.append({"cell_type": "code", "collapsed": False, "input": code, "language": "python",
                           "metadata": {}, "outputs": [{"output_type": "stream", "stream": "stdout", "text": ["hi\n"]}],
                           "prompt_number": number})
        else:
            listed.append({"cell_type": kind, "metadata": {}, "source": text})
    return {"metadata": {"name": ""}, "nbformat": 3, "nbformat_minor": 0,
            "worksheets": [{"cells": listed, "metadata": {}}]}


def _script(tmp_path: Path, notebook: dict, name: str = "nb.ipynb") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(notebook), encoding="utf-8")
    return notebook_source(path)


def _run(tmp_path: Path, script: str, then: str = "") -> subprocess.CompletedProcess:
    """Run `script` (and the lines `then`) with a plain Python in `tmp_path`, HOME there too."""
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "home" / "keep.txt").write_text("still here")
    (tmp_path / "script.py").write_text(script + "\n" + then, encoding="utf-8")
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "script.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)


def _runs(tmp_path: Path, script: str, then: str = "print(build_model())") -> str:
    done = _run(tmp_path, script, then)
    assert done.returncode == 0, f"{done.stderr}\n--- script:\n{script}"
    return done.stdout


def _no_shell_ran(tmp_path: Path) -> None:
    assert not list(tmp_path.glob("shell_ran*"))
    assert (tmp_path / "home" / "keep.txt").read_text() == "still here"


# -- 1. cell magics that only wrap Python keep their body -------------------------------------------

@pytest.mark.parametrize("magic", ["%%time", "%%capture", "%%capture --no-stderr captured", "%%prun -q -s cumulative",
                                   "  %%time"])
def test_a_builder_in_a_cell_that_only_wraps_python_is_defined(tmp_path, magic):
    script = _script(tmp_path, _notebook("import os", f"{magic}\n{BUILDER}model = build_model()\n"))
    assert "the model" in _runs(tmp_path, script, "print(build_model())")
    if "captured" in magic:
        assert "captured = None" in script


def test_a_statement_after_a_wrapper_magic_runs_too(tmp_path):
    script = _script(tmp_path, _notebook(BUILDER, "%time model = build_model()\n%prun -q m2 = build_model()",
                                         "%%prun -s cumulative m3 = build_model()\nprint(m3)"))
    assert _runs(tmp_path, script, "print(model, m2)").split("\n")[:2] == ["the model", "the model the model"]


@pytest.mark.parametrize("magic", ["%%bash", "%%sh", "%%script bash", "%%writefile -x shell_ran.py", "%%html",
                                   "%%javascript", "%%timeit -n1", "%%unknown_magic"])
def test_a_cell_magic_that_runs_another_language_is_still_skipped(tmp_path, magic):
    script = _script(tmp_path, _notebook(f"{magic}\ntouch shell_ran\n{BUILDER}", "x = 1"))
    assert f"# cell 1: skipped (cell magic {magic}" in script
    assert "def build_model" not in script and "touch" not in script
    done = _run(tmp_path, script, "print(x, 'build_model' in globals())")
    assert done.returncode == 0 and done.stdout == "1 False\n", done.stderr
    _no_shell_ran(tmp_path)


def test_a_cell_written_to_a_file_with_writefile_can_be_imported(tmp_path):
    """Colab courses write the model into a module with %%writefile and import it in the next cell: the cell
    was skipped, the import failed and a correct model scored 0 (red team 17)."""
    script = _script(tmp_path, _notebook(f"%%writefile helpers.py\n{BUILDER}",
                                         "%%writefile -a helpers.py\nEXTRA = 'appended'",
                                         "%%writefile 'empty file.txt'",
                                         "from helpers import build_model, EXTRA"))
    assert _runs(tmp_path, script, "print(build_model(), EXTRA)") == "the model appended\n"
    assert (tmp_path / "helpers.py").read_text() == BUILDER + "EXTRA = 'appended'"  # the cells' text, as IPython
    assert (tmp_path / "empty file.txt").read_text() == ""
    assert script.count("\n# cell 2\n") == 1  # every cell keeps its lines: errors are placed in the notebook
    assert len(script.split("# cell 1\n")[1].split("\n\n# cell 2")[0].splitlines()) == 1 + BUILDER.count("\n") + 1


# -- 2. magics only where a statement begins; assignments from them --------------------------------

def test_only_a_line_that_begins_a_statement_is_a_magic_or_a_shell_line(tmp_path):
    cell = ("x = (10\n"
            " % 3)\n"
            "y = (1\n"
            "!= 2)\n"
            "z = 7 \\\n"
            "  % 4\n"
            'doc = """\n'
            "!not a shell line\n"
            "%not a magic\n"
            '"""\n'
            "s = 'a \\\n"
            "!b'\n"
            "!touch shell_ran_1\n"
            "%matplotlib inline\n"
            "if x:\n"
            "    !touch shell_ran_2\n"
            "model.fit?\n")
    script = _script(tmp_path, _notebook(cell, BUILDER))
    out = _runs(tmp_path, script, "print(x, y, z, repr(doc), repr(s), build_model())")
    assert out == "1 True 3 '\\n!not a shell line\\n%not a magic\\n' 'a !b' the model\n"
    _no_shell_ran(tmp_path)


def test_an_assignment_from_a_shell_or_a_magic_assigns_a_harmless_value(tmp_path):
    cell = ("files = !touch shell_ran\nresult = %time build_model()\n"
            "    \nif True:\n    lines = !!touch shell_ran_2\nwho: list = %who_ls")
    script = _script(tmp_path, _notebook(BUILDER, cell))
    assert "files = []  # skipped: !touch shell_ran (a shell command's output" in script
    assert "result = None  # skipped: %time build_model()" in script
    assert _runs(tmp_path, script, "print(files, result, lines, who, build_model())") == "[] None [] None the model\n"
    _no_shell_ran(tmp_path)


def test_a_shell_line_never_runs(tmp_path):
    script = _script(tmp_path, _notebook("!rm -rf ~", "!rm -rf ~/keep.txt && \\\n  touch shell_ran", BUILDER,
                                         "for i in range(2):\n    !touch shell_ran_$i\n", "!!touch shell_ran_3"))
    assert "pass  # skipped: !rm -rf ~\n" in script and "# skipped: touch shell_ran\n" in script
    assert "os.system" not in script and "subprocess" not in script
    assert _runs(tmp_path, script) == "the model\n"
    _no_shell_ran(tmp_path)


def test_a_cell_of_one_line_calls_a_magic_without_its_percent_as_ipython_does(tmp_path):
    cells = [BUILDER, "pip install keras", "\n  pip install -q tensorflow\n", "cd ..", "matplotlib inline",
             "time m = build_model()", "pip(3)", "ls = 5", "ls -la", "conda install x\nimport os", "x = 1"]
    script = _script(tmp_path, _notebook(*cells))
    for skipped in ("pip install keras", "pip install -q tensorflow", "cd ..", "matplotlib inline", "pip(3)"):
        assert f"pass  # skipped: %{skipped}\n" in script
    assert "\nm = build_model()\n" in script  # %time runs its statement
    # `ls` is a variable of the notebook's (IPython: a shadowed magic): Python, as in Jupyter
    assert "\nls = 5\n" in script and "\nls -la\n" in script
    assert "\nconda install x\n" in script  # a cell of two lines: no automagic in IPython either
    done = _run(tmp_path, script.replace("conda install x\n", "\n").replace("ls -la\n", "\n"), "print(m, ls, x)")
    assert done.returncode == 0 and done.stdout == "the model 5 1\n", done.stderr


def test_a_magic_name_the_notebook_binds_is_not_called_but_one_it_only_mentions_is(tmp_path):
    script = _script(tmp_path, _notebook("import time", "time build_model()", "run = 3", "run", BUILDER))
    assert "\ntime build_model()\n" in script and "\nrun\n" in script  # IPython leaves them to Python
    # keras.io's notebooks: pyplot imported under another name, the magic in a cell of its own
    script = _script(tmp_path, _notebook("import os.path as plt  # matplotlib, for plots (as pyplot would be)",
                                         "matplotlib inline", BUILDER))
    assert "pass  # skipped: %matplotlib inline\n" in script
    assert _runs(tmp_path, script, "print(plt is not None, build_model())") == "True the model\n"
    script = _script(tmp_path, _notebook("import matplotlib.pyplot", "matplotlib inline"))
    assert "\nmatplotlib inline\n" in script  # `matplotlib` is bound: Python (a syntax error, as in Jupyter)


def test_leading_line_breaks_of_every_kind_are_read_in_one_pass(tmp_path):
    """The red team's notebook: a one-line cell behind 600,000 line breaks that str.splitlines
    counts (U+2028, U+0085) took the grader tens of seconds, growing with the square of its size,
    outside any job's time limit."""
    cell = "\u2028\x85\n" * 200_000 + "pip install keras\n\u2028x"
    script = _script(tmp_path, _notebook(cell, "pip install keras", BUILDER))
    assert script.count("pass  # skipped: %pip install keras") == 1  # the first cell has two lines


def test_a_future_import_in_a_later_cell_goes_first(tmp_path):
    script = _script(tmp_path, _notebook("import os", "from __future__ import annotations\n" + BUILDER))
    assert script.split("\n")[1] == "from __future__ import annotations"  # after the comment listing the cells
    assert _runs(tmp_path, script) == "the model\n"


# -- 3. nbformat 3 ------------------------------------------------------------------------------------

def test_an_nbformat_3_notebook_is_read(tmp_path):
    notebook = _notebook_v3(("markdown", "Build the model."), "import os\n!touch shell_ran", BUILDER,
                            "%%time\nmodel = build_model()\n")
    script = _script(tmp_path, notebook)
    assert _runs(tmp_path, script, "print(model)") == "the model\n"
    _no_shell_ran(tmp_path)


@pytest.mark.parametrize(("worksheets", "says"), [
    ({"cells": []}, "its `worksheets` is not a list of worksheets with cells"),
    ([{"cells": "none"}], "its `worksheets` is not a list of worksheets with cells"),
    ([{"cells": [3]}], "a worksheet's `cells` is not a list of cells"),
    ([{"cells": [{"cell_type": "code", "input": 3}]}], "cell 1's `input` is neither text nor a list of lines"),
])
def test_a_malformed_nbformat_3_notebook_is_the_students_error(tmp_path, worksheets, says):
    path = tmp_path / "bad.ipynb"
    path.write_text(json.dumps({"nbformat": 3, "worksheets": worksheets}))
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(ValueError, match="bad.ipynb is not a readable Jupyter notebook") as raised:
        prepare_workdir(Submission("bad", path), work, "build_model")
    assert says in str(raised.value)


# -- 4. display() ---------------------------------------------------------------------------------------

def test_display_exists_in_a_notebook_as_a_no_op(tmp_path):
    script = _script(tmp_path, _notebook(BUILDER, "model = build_model()\ndisplay(model)\ndisplay(model, raw=True)"))
    assert _runs(tmp_path, script, "print(model)") == "the model\n"


def test_a_notebooks_own_display_wins(tmp_path):
    own = _script(tmp_path, _notebook("def display(x):\n    print('mine', x)", BUILDER, "display(build_model())"))
    assert _runs(tmp_path, own, "") == "mine the model\n"
    (tmp_path / "IPython").mkdir()  # IPython as a notebook would import it
    (tmp_path / "IPython" / "__init__.py").write_text("")
    (tmp_path / "IPython" / "display.py").write_text("def display(*objects):\n    print('ipython', *objects)\n")
    imported = _script(tmp_path, _notebook("from IPython.display import display", BUILDER, "display(build_model())"))
    assert _runs(tmp_path, imported, "") == "ipython the model\n"


def test_a_script_submission_gets_no_display(tmp_path):
    path = tmp_path / "alice.py"
    path.write_text(BUILDER)
    work = tmp_path / "work"
    work.mkdir()
    script = prepare_workdir(Submission("alice", path), work, "build_model")
    assert script.read_text() == BUILDER


# -- 5. a notebook's size ------------------------------------------------------------------------------

def _png_outputs(megabytes: float) -> list[dict]:
    image = base64.b64encode(os.urandom(int(megabytes * 2**20 * 3 / 4))).decode()
    return [{"output_type": "display_data", "data": {"image/png": image, "text/plain": ["<Figure>"]},
             "metadata": {"needs_background": "light"}}]


def _prepare(tmp_path: Path, name: str, content: bytes | dict, budget: CopyBudget | None = None) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    work = tmp_path / f"work_{name}"
    work.mkdir()
    return prepare_workdir(Submission(path.stem, path), work, "build_model", budget)


def test_a_notebook_over_the_file_budget_is_measured_by_its_code(tmp_path):
    """The red team's notebook: 22 MB, nearly all of it images in outputs."""
    notebook = _notebook(("markdown", "# Plots"), "import os", BUILDER + "model = build_model()", "display(model)",
                         outputs=_png_outputs(7.5))
    content = json.dumps(notebook, indent=1).encode()
    assert len(content) > 22 * 10**6
    script = _prepare(tmp_path, "big.ipynb", content)
    assert script.name == "big.py" and script.stat().st_size < 10_000
    assert not (script.parent / "big.ipynb").exists() or (script.parent / "big.ipynb").stat().st_size < 10_000
    assert _runs(tmp_path, script.read_text()) == "the model\n"


def test_a_big_notebook_in_a_folder_is_copied_without_its_outputs(tmp_path):
    folder = tmp_path / "carol"
    folder.mkdir()
    (folder / "helpers.py").write_text("UNITS = 8\n")
    (folder / "model.ipynb").write_text(json.dumps(_notebook(BUILDER, outputs=_png_outputs(1.5))))
    work = tmp_path / "work"
    work.mkdir()
    script = prepare_workdir(Submission("carol", folder), work, "build_model", CopyBudget(max_file_bytes=2**20))
    assert script == work / "model.py" and (work / "helpers.py").exists()
    assert (work / "model.ipynb").stat().st_size < 10_000


def test_a_folder_whose_notebook_is_too_large_with_its_outputs_says_how_to_fit(tmp_path):
    folder = tmp_path / "dave"
    folder.mkdir()
    (folder / "model.ipynb").write_text(json.dumps(_notebook(BUILDER, outputs=_png_outputs(3))))
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(FileNotFoundError) as raised:
        prepare_workdir(Submission("dave", folder), work, "build_model",
                        CopyBudget(max_file_bytes=2**20, max_notebook_bytes=2 * 2**20))
    assert str(raised.value) == ("the folder dave/ holds no .py file or notebook (left out: 1 notebooks over the "
                                 f"limit of 2 MB with their outputs); outputs are not graded, so {SIZE_HINT}")


@pytest.mark.parametrize(("name", "budget", "says"), [
    ("code.ipynb", {"max_file_bytes": 2**20},
     "code.ipynb is too large to grade (1 notebooks whose cells (code and markdown) are over the limit of 1 MB a "
     "file even without their outputs)"),
    ("huge.ipynb", {"max_file_bytes": 2**20, "max_notebook_bytes": 2 * 2**20},
     f"huge.ipynb is too large to grade (1 notebooks over the limit of 2 MB with their outputs); "
     f"outputs are not graded, so {SIZE_HINT}"),
    ("code.py", {"max_file_bytes": 2**20}, "code.py is too large to grade (1 files over the limit of 1 MB a file)"),
])
def test_a_file_too_large_says_the_limit_and_for_a_notebook_how_to_fit(tmp_path, name, budget, says):
    code = "x = 1\n" * 200_000  # 1.2 MB of code
    content = (code.encode() if name.endswith(".py") else
               json.dumps(_notebook(code, outputs=_png_outputs(0.5 if name == "code.ipynb" else 3))).encode())
    with pytest.raises(ValueError) as raised:
        _prepare(tmp_path, name, content, CopyBudget(**budget))
    assert str(raised.value) == says


def test_a_huge_notebook_is_refused_without_being_read(tmp_path):
    path = tmp_path / "sparse.ipynb"
    with open(path, "wb") as handle:
        handle.truncate(10 * 2**30)  # 10 GB of zeros on paper
    work = tmp_path / "work"
    work.mkdir()
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"1 notebooks over the limit of 100 MB with their outputs\); outputs are not "
                                         r"graded, so clear the notebook's outputs"):
        prepare_workdir(Submission("sparse", path), work, "build_model")
    assert time.monotonic() - started < 1
    assert not list(work.iterdir())


@pytest.mark.parametrize(("content", "says"), [
    (b'{"cells": [], "outputs": [[[' + b"x" * (2 * 2**20), "its JSON is broken at byte"),
    (b'{"cells": [{"cell_type": "code", "source": "' + b"\\a" * 2**20, "its JSON is broken at byte"),
    (b'{"cells": [], "outputs": ' + b"[" * 5_000_001 + b"]" * 5_000_001 + b"}",
     "its JSON holds too many items to read"),
    (b'{"cells": [], "outputs": ["' + b"y" * (2 * 2**20) + b'"]} x', "Extra data"),
    (b'{"outputs": ["' + b"y" * (2 * 2**20) + b'"], "cells": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
     "its JSON is nested too deeply"),
])
def test_a_big_notebook_with_broken_json_is_the_students_error(tmp_path, content, says):
    budget = CopyBudget(max_file_bytes=2**20, max_notebook_bytes=20 * 2**20)
    started = time.monotonic()
    with pytest.raises(ValueError, match="broken.ipynb is not a readable Jupyter notebook") as raised:
        _prepare(tmp_path, "broken.ipynb", content, budget)
    assert says in str(raised.value)
    assert time.monotonic() - started < 15


def test_a_notebook_with_too_much_code_to_read_is_the_students_error(tmp_path):
    with pytest.raises(ValueError, match=r"its code cells are too long to read \(2,000,00\d lines"):
        _prepare(tmp_path, "long.ipynb", _notebook("\n" * 2_000_000))


IPYTHON_DISPLAY = """from IPython.display import display, Image, HTML, clear_output
from IPython.core.interactiveshell import InteractiveShell
from IPython import display as ipd
import IPython
InteractiveShell.ast_node_interactivity = "all"
ipd.display(HTML("<b>model</b>"))
assert IPython.get_ipython() is None
"""


def test_ipython_display_names_are_no_ops_where_ipython_is_not_installed():
    if importlib.util.find_spec("IPython") is not None:
        pytest.skip("IPython is installed here: submissions import the real one")
    script = ("from modelcheck.grading.notebook_stand_ins import install_missing\n"
              "assert 'IPython' in install_missing() and 'IPython' not in install_missing()\n" + IPYTHON_DISPLAY +
              "from IPython.core.display import Markdown\nprint(repr(Markdown('x')), ipd.clear_output(wait=True))\n"
              "import IPython.display\nfrom IPython.display import NotAName\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "<Markdown (not shown: modelcheck grades without IPython)> None" in done.stdout, done.stderr
    assert "ImportError: cannot import name 'NotAName' from 'IPython.display'" in done.stderr


COLAB = """from google.colab import drive, files
import google.colab
drive.mount('/content/drive')
google.colab.output.clear()
uploaded = files.upload()
"""


def test_colab_modules_are_stand_ins_where_colab_is_not_installed():
    if importlib.util.find_spec("google") is not None and importlib.util.find_spec("google.colab") is not None:
        pytest.skip("Colab's package is installed here: submissions import the real one")
    script = ("from modelcheck.grading.notebook_stand_ins import install_missing\n"
              "assert 'google.colab' in install_missing() and 'google.colab' not in install_missing()\n" + COLAB +
              "from google.colab.patches import cv2_imshow\nprint(uploaded, cv2_imshow(None))\n"
              "from google.colab import userdata\nuserdata.get('HF_TOKEN')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout == "{} None\n", done.stderr
    assert "SecretNotFoundError: Colab secret 'HF_TOKEN' does not exist here: grading runs outside Colab" in done.stderr


# -- end to end -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StudentGrade]:
    folder = tmp_path_factory.mktemp("notebooks")
    notebooks = {
        "timed": _notebook(("markdown", "# Homework"), "%%time\n" + TOY_MODEL,
                           "files = !ls\nscale = (10\n % 3)\nmodel = build_model()\ndisplay(model)"),
        "captured": _notebook("%%capture\n!pip install keras\n" + TOY_MODEL),
        "big": _notebook("import keras", TOY_MODEL, "display(build_model())", outputs=_png_outputs(7.5)),
        "in_bash": _notebook("%%bash\n" + TOY_MODEL),
        "colab": _notebook(COLAB, TOY_MODEL),
        "colab_data": _notebook(COLAB, "import numpy as np\nx = np.load('/content/drive/MyDrive/x.npy')", TOY_MODEL),
        "ipython_display": _notebook(IPYTHON_DISPLAY, TOY_MODEL, "clear_output(wait=True)\ndisplay(Image(data=b''))"),
        # as in Jupyter (and nbgrader, otter-grader), an error ends its cell, not the notebook
        "downloads": _notebook("import keras\n(x, y), _ = keras.datasets.fashion_mnist.load_data()", TOY_MODEL,
                               "model = build_model()\nmodel.fit(x, y)"),
        "exits": _notebook("import sys\nsys.exit(0)", TOY_MODEL),
        "syntax": _notebook("def oops(:\n    pass", TOY_MODEL, "oops()"),
        "future": _notebook("from __future__ import annotations", TOY_MODEL + "\ndef f(x: Undefined) -> int:\n    return 1"),
        "interrupted": _notebook("raise KeyboardInterrupt  # stops Run All in Jupyter", TOY_MODEL),
        "broken_builder_cell": _notebook("import keras\nfrom keras import layers\nsize = undefined_name\n\n"
                                         + TOY_MODEL.split("\n\n", 1)[1]),
    }
    for student, notebook in notebooks.items():
        (folder / f"{student}.ipynb").write_text(json.dumps(notebook, indent=1))
    (folder / "old_format.ipynb").write_text(json.dumps(_notebook_v3("!pip install keras", TOY_MODEL,
                                                                     "model = build_model()")))
    (folder / "exported.py").write_text(IPYTHON_DISPLAY + "\n" + TOY_MODEL)
    # File > Download as > Python (nbconvert): cells marked `# In[n]:`, magics as get_ipython() calls
    (folder / "downloaded.py").write_text(
        "#!/usr/bin/env python\n# coding: utf-8\n\n# # Homework\n\n# In[1]:\n\n\n"
        "get_ipython().run_line_magic('matplotlib', 'inline')\nget_ipython().system('pip install keras')\n"
        "import keras\n(x, y), _ = keras.datasets.mnist.load_data()\n\n\n# In[ ]:\n\n\n" + TOY_MODEL +
        "\n\n# In[3]:\n\n\nget_ipython().run_line_magic('time', 'model = build_model()')\n"
        "get_ipython().run_cell_magic('bash', '', 'touch shell_ran\\n')\nlisted = get_ipython().getoutput('ls')\n"
        "assert model is not None and listed == []\n")
    # a coding line and a byte that is not UTF-8; a BOM; a cell marker inside a list (no boundary there)
    (folder / "latin1.py").write_bytes(b"# -*- coding: latin-1 -*-\n# %%\n# caf\xe9\n" + TOY_MODEL.encode()
                                       + b"\n# %%\nx = 1\n")
    (folder / "bom.py").write_text("\ufeff# %%\n" + TOY_MODEL + "\n# %%\nx = 1\n", encoding="utf-8")
    (folder / "marker_in_list.py").write_text(TOY_MODEL.replace("layers.Dense(8, activation=\"relu\"),",
                                                                "layers.Dense(8, activation=\"relu\"),\n# %%")
                                              + "\n# %%\nx = 1\n")
    # VS Code / Spyder / jupytext cells
    (folder / "percent.py").write_text("# %%\nimport sys\nsys.exit(1)\n\n# %% [markdown]\n# The model\n\n# %%\n"
                                       + TOY_MODEL + "\n# %%\nmodel = build_model()\nmodel.fit(x_train, y_train)\n")
    # Keras' fit(verbose=1) in a notebook: a progress bar redrawn with colours, backspaces and carriage returns
    (folder / "progress_bar.ipynb").write_text(json.dumps(_notebook(
        TOY_MODEL, "import sys\nfor n in (1, 2, 63):\n    sys.stdout.write('\\b' * 40 + '\\r\\x1b[1m%d/63\\x1b[0m' % n)"
        "\nprint()")))
    # names an LMS gives a re-download or a student's full name: the job runs a copy named submission.py
    (folder / "hw3 (1).py").write_text("import keras\n\ndef build_model(:\n    pass\n")
    (folder / "Ivan Petrov.ipynb").write_text(json.dumps(_notebook("import keras", "def build_model():\n"
                                                                   "    return undefined_name")))
    # on Gradescope every submission is a folder: a notebook in one runs as a .py too
    (folder / "gradescope").mkdir()
    (folder / "gradescope" / "HW3 Zoe.ipynb").write_text(json.dumps(_notebook(TOY_MODEL.replace("def build_model",
                                                                                              "def buildmodel"))))
    assert (folder / "big.ipynb").stat().st_size > 22 * 10**6
    with Grader(load_assignment(SUBMISSIONS / "toy.toml"), workers=2) as grader:
        return {grade.student: grade for grade in grader.grade_all(discover_submissions(folder))}


def _full_marks(grade: StudentGrade) -> None:
    """The notebook's model got every point and nothing stopped its grading."""
    assert grade.score == grade.max_score == 3 and grade.problem is None, grade.problem or [
        r.describe() for r in grade.results]


@pytest.mark.parametrize("student", ["timed", "captured", "big", "old_format", "ipython_display", "exported",
                                     "colab"])
def test_notebooks_that_work_in_jupyter_get_full_marks(graded, student):
    _full_marks(graded[student])


def test_a_colab_notebook_reading_its_data_from_drive_still_gets_its_builder_graded(graded):
    grade = graded["colab_data"]
    _full_marks(grade)
    note, = grade.notes
    assert note.startswith("your notebook: cell 2 stopped, as your code's process reported: \"cell 2 raised "
                           "FileNotFoundError: a file under /content (Colab's runtime, "
                           "where drive.mount puts Google Drive) is not here: grading runs outside Colab")
    assert "(line 2 of the cell: x = np.load('/content/drive/MyDrive/x.npy'))" in note
    assert note.endswith("\"; the cells after it ran, as in Jupyter"), note


def test_a_data_set_download_that_fails_is_noted_and_the_cells_after_it_run(graded):
    grade = graded["downloads"]
    _full_marks(grade)
    download, fit = grade.notes
    assert download.startswith("your notebook: cell 1 stopped, as your code's process reported: \"cell 1 raised ")
    assert "loading a data set failed: when graded there is no network to download it from" in download
    assert "(line 2 of the cell: (x, y), _ = keras.datasets.fashion_mnist.load_data())" in download
    assert fit.startswith("your notebook: cell 3 stopped, as your code's process reported: \"cell 3 raised "
                          "NameError: name 'x' is not defined (line 2 of the cell")


def test_a_cell_that_trains_past_the_notebooks_share_of_the_time_limit_is_stopped(tmp_path):
    toml = (SUBMISSIONS / "toy.toml").read_text().replace("timeout_s = 8", "timeout_s = 16")
    assert "timeout_s = 16" in toml  # the cells may take 8 s; a cell after that 1 s
    (tmp_path / "toy.toml").write_text(toml)
    notebook = _notebook(TOY_MODEL, "import numpy as np\nmodel = build_model()\nmodel.compile('sgd', 'mse')\n"
                         "while True:\n    try:\n        model.train_on_batch(np.ones((2, 4)), np.ones((2, 3)))\n"
                         "    except Exception:\n        pass", "while True:\n    pass",
                         "def build_model():\n    return model")
    (tmp_path / "trains_forever.ipynb").write_text(json.dumps(notebook))
    # a bare except swallows the first stop: the cell is stopped again until it ends
    swallows = _notebook("try:\n    while True:\n        pass\nexcept:\n    pass\nwhile True:\n    pass", TOY_MODEL)
    (tmp_path / "swallows.ipynb").write_text(json.dumps(swallows))
    with Grader(load_assignment(tmp_path / "toy.toml"), workers=2) as grader:
        grades = {g.student: g for g in grader.grade_all(discover_submissions(tmp_path))}
    grade, swallowed = grades["trains_forever"], grades["swallows"]
    assert swallowed.score == swallowed.max_score == 3, swallowed.problem
    assert swallowed.notes[0].startswith("your notebook: cell 1 was stopped after "), swallowed.notes
    assert grade.score == grade.max_score == 3, grade.problem  # the last cell's builder returns `model`
    first, second = grade.notes
    assert re.match(r"your notebook: cell 2 was stopped after [78]\.?\d* s: a notebook's own cells may take 50% of "
                    "the time limit", first), first  # 8 s from the job's start: less the first cell's time
    assert second.startswith("your notebook: cell 3 was stopped after 1 s"), second


@pytest.mark.parametrize("student, note", [
    ("exits", "cell 1 stopped, as your code's process reported: \"cell 1 called sys.exit(0)"),
    ("syntax", "cell 1 did not run, as your code's process reported: \"cell 1 has a syntax error: invalid syntax "
               "(line 1 of the cell: def oops(:)\""),
])
def test_a_cell_that_exits_or_does_not_parse_ends_only_itself(graded, student, note):
    grade = graded[student]
    _full_marks(grade)
    assert grade.notes[0].startswith(f"your notebook: {note}"), grade.notes


def test_a_script_exported_from_jupyter_runs_a_cell_at_a_time_without_a_shell(graded):
    grade = graded["downloaded"]
    _full_marks(grade)
    note, = grade.notes  # the %time statement ran (model exists); the %%bash cell and !ls did not
    assert note.startswith("your notebook: cell 1 stopped, as your code's process reported: \"cell 1 raised ")
    assert "no network to download it from" in note
    assert "(line 12: (x, y), _ = keras.datasets.mnist.load_data())" in note


def test_a_script_in_editor_cells_runs_a_cell_at_a_time(graded):
    grade = graded["percent"]
    _full_marks(grade)
    exited, fit = grade.notes
    assert exited.startswith("your notebook: cell 1 stopped, as your code's process reported: \"cell 1 called "
                             "sys.exit(1) (line 3: sys.exit(1))")
    assert fit.startswith("your notebook: cell 4 stopped, as your code's process reported: \"cell 4 raised NameError: "
                          "name 'x_train' is not defined (line 19: model.fit(x_train, y_train))")


@pytest.mark.parametrize("student", ["latin1", "bom", "marker_in_list"])
def test_a_script_in_cells_is_read_as_python_reads_it(graded, student):
    """Its coding line or BOM, and cell markers only between statements (red team 15: each of
    these ended the job with exit code 70)."""
    grade = graded[student]
    _full_marks(grade)
    assert not grade.notes, grade.notes


def test_a_cell_interrupted_on_purpose_ends_only_itself(graded):
    grade = graded["interrupted"]
    _full_marks(grade)
    assert grade.notes == ["your notebook: cell 1 raised KeyboardInterrupt; the cells after it ran, as in Jupyter"]


def test_the_notes_reach_the_feedback_page_escaped(graded, tmp_path):
    from modelcheck.grading.outputs import write_student_files

    grade = graded["downloads"]
    write_student_files(grade, load_assignment(SUBMISSIONS / "toy.toml"), tmp_path)
    page = next(tmp_path.glob("*/feedback.html")).read_text(encoding="utf-8")
    assert "Notes from the grader" in page and "loading a data set failed" in page
    assert "(x, y), _ = keras.datasets.fashion_mnist.load_data()" in page


def test_future_imports_hold_in_every_cell(graded):
    grade = graded["future"]
    _full_marks(grade)
    assert not grade.notes


def test_an_error_before_the_builders_definition_in_its_cell_is_the_submissions_error(graded):
    grade = graded["broken_builder_cell"]
    assert grade.score == 0 and grade.grader_error is None
    assert "cell 1 raised NameError: name 'undefined_name' is not defined" in grade.problem
    assert "size = undefined_name" in grade.problem
    # placed where the student can find it: the notebook's cell, not the converted script's line
    assert "at cell 1, line 3 of the cell: size = undefined_name" in grade.problem
    assert "broken_builder_cell.py" not in grade.problem
    assert "cell 1 stopped here, before it defined `build_model()`" in grade.results[0].hint


def test_a_progress_bar_is_shown_as_the_notebook_showed_it(graded):
    grade = graded["progress_bar"]
    _full_marks(grade)
    assert grade.output.strip() == "63/63" and "\\x" not in grade.output


def test_errors_name_the_file_as_the_student_handed_it_in(graded):
    script, notebook = graded["hw3 (1)"].problem, graded["Ivan Petrov"].problem
    assert "hw3 (1).py has a syntax error" in script and "at hw3 (1).py:3: def build_model(:" in script
    assert "build_model() raised NameError: name 'undefined_name' is not defined" in notebook
    assert "at cell 2, line 2 of the cell: return undefined_name" in notebook
    assert "submission.py" not in script + notebook
    in_folder = graded["gradescope"].problem
    assert in_folder.startswith("HW3 Zoe.ipynb defines no function `build_model()`; it defines buildmodel()")


def test_a_builder_only_in_a_bash_cell_is_not_defined(graded):
    grade = graded["in_bash"]
    assert grade.score == 0
    assert "defines no function `build_model()`" in grade.results[0].message
