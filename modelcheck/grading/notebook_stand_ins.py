"""What a notebook's environment provides and grading does not need, as stand-ins: IPython's
display module, and Colab's drive, files and output modules.

A notebook (or a script exported from one) often imports ``from IPython.display import display,
Image, clear_output``, sets ``InteractiveShell.ast_node_interactivity``, or (written in Colab)
begins with ``from google.colab import drive; drive.mount("/content/drive")``: lines that shape
what the notebook shows or where it reads its data, not the model. Where IPython or Colab is
missing they raise ModuleNotFoundError and the submission scores nothing for a model that builds.
The build job registers these stand-ins before it imports a submission, each only when the real
module cannot be found. ``IPython.get_ipython()`` returns None, as IPython's does outside a
kernel, so libraries that ask whether they run in Jupyter hear "no"; ``drive.mount`` mounts
nothing (data read from Drive is then missing: the student's error, as it is in any fresh
runtime), ``files.upload()`` uploads nothing, and Colab's secrets (``userdata.get``) say they are
not there.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any

from .notebooks import wrapped_python

__all__ = ["ExportedShell", "install_missing"]

# IPython.display's classes (IPython 8's `IPython.display.__all__`) and functions
_CLASSES = ("DisplayHandle", "DisplayObject", "TextDisplayObject", "Pretty", "HTML", "Markdown", "Math", "Latex",
            "SVG", "ProgressBar", "JSON", "GeoJSON", "Javascript", "Image", "Video", "Audio", "IFrame",
            "YouTubeVideo", "VimeoVideo", "ScribdDocument", "FileLink", "FileLinks", "Code")
_FUNCTIONS = ("display", "clear_output", "update_display", "publish_display_data", "display_pretty",
              "display_html", "display_markdown", "display_svg", "display_png", "display_jpeg", "display_latex",
              "display_json", "display_javascript", "display_pdf", "set_matplotlib_formats", "set_matplotlib_close")


class _Shown:
    """A display object: keeps what it was given, shows nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs
        self.data = args[0] if args else kwargs.get("data")

    def display(self, *args: Any, **kwargs: Any) -> None:
        """What DisplayHandle.display does in a kernel: here nothing."""

    update = display

    def __repr__(self) -> str:
        return f"<{type(self).__name__} (not shown: modelcheck grades without IPython)>"


def _nothing(*args: Any, **kwargs: Any) -> None:
    return None


class _InteractiveShell:
    """``InteractiveShell.ast_node_interactivity = "all"`` and the like: settings kept, no shell."""

    ast_node_interactivity = "last_expr"

    @classmethod
    def instance(cls, *args: Any, **kwargs: Any) -> None:
        return None

    initialized = instance


def _module(name: str, doc: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name, doc)
    module.__dict__.update(attributes)
    return module


def _missing(name: str) -> bool:
    try:
        return name not in sys.modules and importlib.util.find_spec(name) is None
    except (ImportError, ValueError):  # a parent package that is not one
        return True


def _install_ipython() -> bool:
    """Register the stand-ins as ``IPython``, ``IPython.display``, ``IPython.core.display`` and
    ``IPython.core.interactiveshell`` when IPython cannot be imported. Returns whether it did."""
    if not _missing("IPython"):
        return False
    shown = {name: type(name, (_Shown,), {}) for name in _CLASSES}
    display = _module("IPython.display", "IPython.display's names as no-ops (modelcheck: IPython is not installed)",
                      **shown, **{name: _nothing for name in _FUNCTIONS})
    shell = _module("IPython.core.interactiveshell", "no shell (modelcheck)", InteractiveShell=_InteractiveShell)
    core = _module("IPython.core", "no IPython core (modelcheck)", display=display, interactiveshell=shell)
    ipython = _module("IPython", "IPython's display names as no-ops (modelcheck: IPython is not installed)",
                      display=display, core=core, get_ipython=_nothing, version_info=(0, 0, 0, ""),
                      __version__="0 (modelcheck's stand-in)")
    for module in (ipython, core, display, shell):
        module.__path__ = []  # a package, so that `import IPython.display` finds its submodule
        sys.modules[module.__name__] = module
    sys.modules["IPython.core.display"] = display
    return True


class SecretNotFoundError(Exception):
    """What Colab's ``userdata.get`` raises for a secret it does not hold: here, every secret."""


def _no_secret(key: str, *args: Any, **kwargs: Any) -> None:
    raise SecretNotFoundError(f"Colab secret {key!r} does not exist here: grading runs outside Colab, without "
                              "your secrets (build the model without reading one)")


def _uploaded_nothing(*args: Any, **kwargs: Any) -> dict[str, bytes]:
    return {}


def _install_colab() -> bool:
    """Register ``google.colab`` and its modules ``drive``, ``files``, ``output``, ``auth``,
    ``patches`` and ``userdata`` as stand-ins when Colab's package cannot be found. Returns
    whether it did."""
    if not _missing("google.colab"):
        return False
    modules = {
        "drive": dict(mount=_nothing, flush_and_unmount=_nothing),
        "files": dict(upload=_uploaded_nothing, download=_nothing, view=_nothing),
        "output": dict(clear=_nothing, enable_custom_widget_manager=_nothing, disable_custom_widget_manager=_nothing,
                       eval_js=_nothing, serve_kernel_port_as_window=_nothing, serve_kernel_port_as_iframe=_nothing),
        "auth": dict(authenticate_user=_nothing),
        "patches": dict(cv2_imshow=_nothing),
        "userdata": dict(get=_no_secret, SecretNotFoundError=SecretNotFoundError),
    }
    colab = _module("google.colab", "Colab's modules as stand-ins (modelcheck: grading runs outside Colab)")
    colab.__path__ = []
    sys.modules["google.colab"] = colab
    for name, attributes in modules.items():
        module = _module(f"google.colab.{name}", f"Colab's {name} as a stand-in (modelcheck)", **attributes)
        sys.modules[module.__name__] = module
        setattr(colab, name, module)
    try:
        import google  # a namespace package where protobuf is installed (TensorFlow needs it)
    except ImportError:
        google = _module("google", "a stand-in for the google namespace (modelcheck)")
        google.__path__ = []
        sys.modules["google"] = google
    google.colab = colab
    return True


class ExportedShell:
    """What ``get_ipython()`` returns in a script that Jupyter exported (File > Download as >
    Python writes ``get_ipython().run_line_magic('matplotlib', 'inline')`` for ``%matplotlib
    inline`` and ``get_ipython().system('pip install keras')`` for ``!pip install keras``): no
    shell, as in a converted notebook; a magic that only wraps Python (``%time model = f()``,
    ``%%capture``) runs that Python in the script's `namespace`. Given to the script as its own
    global ``get_ipython``, never a builtin (libraries take that to mean "in Jupyter")."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self._namespace = namespace

    def __call__(self) -> "ExportedShell":
        return self  # the script calls `get_ipython()`

    def run_line_magic(self, name: str, line: str, *args: Any, **kwargs: Any) -> None:
        """Run the statement of a wrapper magic (``%time``); any other magic does nothing."""
        self._run(wrapped_python(name, line))

    def run_cell_magic(self, name: str, line: str, cell: str, *args: Any, **kwargs: Any) -> None:
        """Run the body of a cell magic that only wraps Python; skip any other."""
        self._run(wrapped_python(name, line, cell))

    def _run(self, code: str | None) -> None:
        if code:
            exec(compile(code, "<magic>", "exec"), self._namespace)

    def getoutput(self, *args: Any, **kwargs: Any) -> list[str]:
        """``x = !ls``: a shell command's output; the grader runs no shell."""
        return []

    def __getattr__(self, name: str) -> Any:
        return _nothing  # system(), magic(), run_cell(), ...: no shell


def install_missing() -> list[str]:
    """Register the stand-ins of IPython's display and Colab's modules that cannot be found here
    (the real ones are left alone). Returns the names of the packages stood in for."""
    return [name for name, install in (("IPython", _install_ipython), ("google.colab", _install_colab)) if install()]
