"""IPython's display module as no-ops, for submissions written in Jupyter graded where IPython is
not installed.

A notebook (or a script exported from one) often imports ``from IPython.display import display,
Image, clear_output`` or sets ``InteractiveShell.ast_node_interactivity``: lines that only shape
what the notebook shows. Without IPython on the grader they raise ModuleNotFoundError and the
submission scores nothing for a model that builds. The build job registers these stand-ins
before it imports a submission, only when IPython itself cannot be found (then the real one
runs). ``IPython.get_ipython()`` returns None, as IPython's does outside a kernel, so libraries
that ask whether they run in Jupyter hear "no".
"""

from __future__ import annotations

import importlib.util
import sys
import types
from typing import Any

__all__ = ["install_if_missing"]

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


def install_if_missing() -> bool:
    """Register the stand-ins as ``IPython``, ``IPython.display``, ``IPython.core.display`` and
    ``IPython.core.interactiveshell`` when IPython cannot be imported. Returns whether it did."""
    if "IPython" in sys.modules or importlib.util.find_spec("IPython") is not None:
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
