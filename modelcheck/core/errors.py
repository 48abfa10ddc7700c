"""Errors of modelcheck, and plain-words explanations of errors raised by the user's code.

Students copy Keras 1/2 tutorials, so the common old spellings are recognised and explained
with their Keras 3 replacement (see ../shared/seeds/README.md of the project).
"""

from __future__ import annotations

import linecache
import os
import sysconfig
import re
import traceback
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Callable, NamedTuple, TypeVar

from .result import CheckResult

__all__ = [
    "ModelcheckError",
    "SpecError",
    "UserCodeError",
    "InternalError",
    "INTERNAL_HINT",
    "STRINGS_OFF_TENSORFLOW",
    "explain",
    "user_frame",
    "definition_line",
    "call_user_code",
]

T = TypeVar("T")


class ModelcheckError(Exception):
    """Base class of the errors modelcheck raises on purpose (not bugs)."""


class SpecError(ModelcheckError, ValueError):
    """An expectation (spec, spec file, assignment, check argument) is invalid.

    The message names the place (file, key), the value received and the fix.
    """


@dataclass(frozen=True)
class Explanation:
    """What an error from user code means, and how to fix it."""

    summary: str
    hint: str


STRINGS_OFF_TENSORFLOW = Explanation(
    "the model takes strings (a string keras.Input read by TextVectorization, StringLookup or "
    "Hashing), and Keras runs string tensors inside a model on the TensorFlow backend only; "
    "JAX and PyTorch have no string type.",
    "check this model with KERAS_BACKEND=tensorflow, or move the string preprocessing out of the "
    "model (into a tf.data pipeline, as Keras' guides do on JAX and PyTorch) and give the model "
    "the ids it produces.",
)

_DATA_ERRORS = ("Exception", "OSError", "PermissionError", "FileNotFoundError", "URLError", "HTTPError",
                "ConnectionError", "TimeoutError", "NotFoundError", "ValueError")
_NO_DATA_HERE = Explanation(
    "loading a data set failed: when graded there is no network to download it from, and only the files "
    "you submitted are there.",
    "grading needs only the model your builder returns, so load data and train outside the builder: in a "
    "notebook the cells after this one still run; in a script, put it under "
    "`if __name__ == \"__main__\":`.",
)

class _Known(NamedTuple):
    """A known mistake: the exception types it raises, a regex on the message, a regex on the user's
    source line (or None), its explanation; `line_only`: the line regex is not tried on the message
    (a URL in a message is the user's text, a layer's name, not a download)."""

    names: tuple[str, ...]
    message: str
    line: str | None
    explanation: Explanation
    line_only: bool = False


_KNOWN: list[_Known] = [
    _Known(
        ("TypeError", "ValueError"),
        r"data type '?string'? not understood|Invalid dtype: object",
        None,
        STRINGS_OFF_TENSORFLOW,
    ),
    _Known(
        ("ValueError",),
        r"'([^']*?)/?' is not a valid scope name",
        None,
        Explanation(
            "the name {0!r} (a layer's or the model's) holds a character TensorFlow refuses in the name scopes "
            "it builds while training (allowed: letters, digits and _ . - /), so training the model fails, "
            "under Keras' fit too.",
            "rename it: name=\"block_1\", not a name with spaces, <, > or :.",
        ),
    ),
    _Known(
        ("TypeError", "ValueError"),
        r"units|output_dim",
        r"output_dim\s*=",
        Explanation(
            "`Dense(output_dim=...)` is the Keras 1 spelling; Keras 3 calls it `units`.",
            "write `layers.Dense(units=64)` (or `layers.Dense(64)`), and give the input size "
            "with `keras.Input(shape=(100,))` instead of `input_dim=100`.",
        ),
    ),
    _Known(
        ("ValueError", "TypeError", "AttributeError"),
        r"border_mode|Convolution2D|Convolution1D|nb_filter|subsample",
        None,
        Explanation(
            "`Convolution2D(64, 3, 3, border_mode=...)` is the Keras 1 spelling.",
            "write `layers.Conv2D(64, (3, 3), padding=\"same\")`: one `kernel_size` argument "
            "and `padding` instead of `border_mode`.",
        ),
    ),
    _Known(
        ("ValueError", "TypeError"),
        r"\{'lr'|lr\b",
        r"\blr\s*=",
        Explanation(
            "optimizers no longer accept `lr=`.",
            "write `learning_rate=`, e.g. `keras.optimizers.SGD(learning_rate=0.01)`.",
        ),
    ),
    _Known(
        ("TypeError",),
        r"object is not iterable",
        r"Sequential\(\s*(layers\.|keras\.layers\.)?[A-Z]",
        Explanation(
            "`Sequential(...)` takes a list of layers, not a single layer.",
            "put the layers in square brackets: `keras.Sequential([layers.Dense(1)])`.",
        ),
    ),
    _Known(
        ("TypeError",),
        r"nb_epoch",
        None,
        Explanation(
            "`fit(nb_epoch=...)` is the Keras 1 spelling.",
            "write `model.fit(x, y, epochs=10)`.",
        ),
    ),
    _Known(
        ("AttributeError",),
        r"predict_classes",
        None,
        Explanation(
            "`model.predict_classes` was removed in Keras 2.6.",
            "use `np.argmax(model.predict(x), axis=-1)` for a softmax output, or "
            "`(model.predict(x) > 0.5).astype(int)` for a sigmoid output.",
        ),
    ),
    _Known(
        ("AttributeError",),
        r"predict_proba",
        None,
        Explanation(
            "`model.predict_proba` was removed in Keras 2.6.",
            "use `model.predict(x)`: it already returns the probabilities of a softmax/sigmoid output.",
        ),
    ),
    _Known(
        ("ModuleNotFoundError", "ImportError"),
        r"keras\.wrappers",
        None,
        Explanation(
            "`keras.wrappers.scikit_learn` (KerasRegressor/KerasClassifier) was removed from Keras.",
            "install the `scikeras` package and use `scikeras.wrappers.KerasRegressor`, or run "
            "your own loop over hyper-parameters.",
        ),
    ),
    _Known(
        ("ModuleNotFoundError", "ImportError"),
        r"keras\.layers\.(core|embeddings|convolutional|recurrent|pooling|normalization)",
        None,
        Explanation(
            "the `keras.layers.core` / `.embeddings` / `.convolutional` import paths are gone in Keras 3.",
            "import every layer from `keras.layers`, e.g. `from keras.layers import Dense, Embedding, Conv2D`.",
        ),
    ),
    _Known(
        ("ValueError",),
        r"Unrecognized keyword arguments passed to (\w*Pooling\w*): \{'activation'",
        None,
        Explanation(
            "pooling layers take no `activation` argument.",
            "remove `activation=` from the pooling layer and put the activation on the layer before it, "
            "or add `layers.Activation(\"relu\")`.",
        ),
    ),
    _Known(
        ("TypeError",),
        r"missing 1 required positional argument: 'kernel_size'",
        None,
        Explanation(
            "a convolution layer needs a kernel size.",
            "pass it after the number of filters, e.g. `layers.Conv2D(128, 1, strides=2)` for a 1x1 convolution.",
        ),
    ),
    _Known(
        ("ValueError",),
        r"Invalid filepath extension for saving|\.h5",
        None,
        Explanation(
            "Keras 3 saves models in its native `.keras` format; HDF5 (`.h5`) is legacy.",
            "write `model.save(\"model.keras\")` and load it with `keras.models.load_model(\"model.keras\")`.",
        ),
    ),
    _Known(
        ("InvalidArgumentError", "IndexError", "ValueError"),
        r"indices\[.*\] = \d+ is not in \[0, \d+\)",
        None,
        Explanation(
            "a token id is not below the Embedding's vocabulary size (`input_dim`).",
            "the first argument of `Embedding` is the vocabulary size (`input_dim`), which must be larger than "
            "every token id the model reads (the assignment's vocabulary size), the second the vector size "
            "(`output_dim`): `layers.Embedding(10000, 64)`, not `Embedding(64, 10000)`.",
        ),
    ),
    _Known(
        ("ValueError", "TypeError"),
        r"Unrecognized keyword arguments passed to (\w+): \{'(init|W_regularizer|b_regularizer|dropout_W|dropout_U)'",
        None,
        Explanation(
            "this is a Keras 1 argument name.",
            "Keras 3 spells them `kernel_initializer`, `kernel_regularizer`, `bias_regularizer`, "
            "`dropout`, `recurrent_dropout`.",
        ),
    ),
    _Known(
        ("FileNotFoundError", "NotFoundError", "OSError"),
        r"['\"]?/content/",
        None,
        Explanation(
            "a file under /content (Colab's runtime, where drive.mount puts Google Drive) is not here: grading "
            "runs outside Colab, with only the files you submitted.",
            "build the model without reading data: load data in a function the builder does not call, or under "
            "`if __name__ == \"__main__\":` (true in the notebook, not when graded).",
        ),
    ),
    _Known(
        _DATA_ERRORS,
        "",
        r"\bload_data\s*\(|\bget_file\s*\(|\btfds\.load\s*\(|_dataset_from_directory\s*\(",
        _NO_DATA_HERE,
    ),
    _Known(  # reading a URL: said of the line that reads it, for an error reading can raise (a layer's name
        tuple(name for name in _DATA_ERRORS if name != "ValueError"),  # with a URL in it is no download)
        "",
        r"\(\s*['\"]https?://",
        _NO_DATA_HERE,
        line_only=True,
    ),
]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # modelcheck/

_TOOL_DIRS = (
    os.sep + "keras" + os.sep,
    os.sep + "tensorflow" + os.sep,
    os.sep + "tf_keras" + os.sep,
    os.sep + "jax" + os.sep,
    os.sep + "jaxlib" + os.sep,
    os.sep + "torch" + os.sep,
    os.sep + "optree" + os.sep,
    os.sep + "numpy" + os.sep,
    os.sep + "_pytest" + os.sep,
    os.sep + "pluggy" + os.sep,
    _PACKAGE_DIR,
)
# Where Keras runs a model's own pieces (layers, the functional graph, losses, optimizers, its
# trainer) and TensorFlow executes a compiled graph: an error raised there belongs to the model.
_MODEL_RUNNING = tuple(os.sep + os.path.join(*parts) for parts in (
    ("keras", "src", "layers"), ("keras", "src", "models"), ("keras", "src", "ops", "operation.py"),
    ("keras", "src", "losses"), ("keras", "src", "optimizers"), ("keras", "src", "trainers"),
    *(("keras", "src", "backend", backend, module) for backend in ("tensorflow", "jax", "torch")
      for module in ("trainer.py", "layer.py")),
    ("tensorflow", "python", "eager", "execute.py"),
))
# Keras' error handler, around every layer's call: it re-raises a layer's error as a new exception
# of the same type with the call's arguments added. When that new exception cannot be built (a JAX
# tracer error's constructor takes a tracer, not a message) the error raised in its place has the
# layer's error as its context.
_KERAS_ERROR_HANDLER = os.sep + os.path.join("keras", "src", "utils", "traceback_utils.py")
INTERNAL_HINT = ("this is a bug in modelcheck, not in your model: please report it to the modelcheck "
                 "maintainers with the traceback (details['traceback']).")


def _is_user_file(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return False
    absolute = os.path.abspath(filename)
    return not any(part in absolute for part in _TOOL_DIRS) and not _in_standard_library(absolute)


# Python's own modules (contextlib, functools): a frame there is never where the user's code went wrong
_STDLIB_DIRS = tuple({os.path.abspath(sysconfig.get_paths()[key]) + os.sep for key in ("stdlib", "platstdlib")})
_INSTALLED = (os.sep + "site-packages" + os.sep, os.sep + "dist-packages" + os.sep)


def _in_standard_library(absolute: str) -> bool:
    """True for a file of Python's standard library (not a package installed beside it)."""
    return any(absolute.startswith(root) and not any(part in absolute[len(root) - 1:] for part in _INSTALLED)
               for root in _STDLIB_DIRS)


def user_frame(tb: TracebackType | None) -> tuple[str, int, str] | None:
    """The innermost traceback frame in the user's code: (file, line number, source line)."""
    found = None
    for frame, lineno in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if _is_user_file(filename):
            found = (filename, lineno, linecache.getline(filename, lineno).strip())
    return found


def definition_line(function: Any) -> tuple[str, int, str] | None:
    """Where `function` (or a bound method's function) is defined: (file, line number, its `def`
    line), as `user_frame` gives a frame; None for a callable without Python code."""
    code = getattr(getattr(function, "__func__", function), "__code__", None)
    if code is None:
        return None
    return code.co_filename, code.co_firstlineno, linecache.getline(code.co_filename, code.co_firstlineno).strip()


def explain(exc: BaseException, source_line: str = "") -> Explanation | None:
    """Recognise a Keras 1/2 spelling or a common mistake behind `exc`, if any."""
    name = _type_name(exc)
    text = _shown_text(exc)
    for names, message_pattern, line_pattern, explanation, line_only in _KNOWN:
        if name not in names:
            continue
        if line_pattern is not None:
            if re.search(line_pattern, source_line) or not line_only and re.search(line_pattern, text):
                return explanation
            continue
        found = re.search(message_pattern, text) or re.search(message_pattern, source_line)
        if found:  # a pattern's groups fill the explanation's {0}, {1}, ...
            return Explanation(explanation.summary.format(*found.groups()), explanation.hint.format(*found.groups()))
    return None


def _without_tensorflow_noise(text: str) -> str:
    """The error TensorFlow raised, without what surrounds it for TensorFlow's own developers: a
    "Graph execution error" lists first where each failing node was defined, a traceback of ``File``
    lines (the checking tool's own among them) that filled the whole shortened message, and ends with
    ``[[{{node ...}}]]``; an eager op error opens with ``{{function_node __wrapped__...device:CPU:0}}``
    and ends with ``[Op:...] name:``."""
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
    text = re.sub(r"\s*\[Op:[^\]]*\](\s*name:.*)?$", "", text)
    if "Detected at node" not in text:
        return text
    kept = []
    for line in text.splitlines():
        stripped = line.strip()
        if (not stripped or line.startswith("  File ") or stripped.startswith("Detected at node")
                or stripped.startswith("[[{{node")):
            continue
        kept.append(stripped)
    return " ".join(kept) if kept else text


_UNSHOWABLE = "<a message that cannot be shown: turning it into text raised an error>"


def _shown_text(value: Any, *, as_repr: bool = False) -> str:
    """`str(value)` (or `repr`), or a placeholder when that raises or gives no string: the user's
    exception or exit code may define either to raise, and describing it must not raise in its place."""
    try:
        text = repr(value) if as_repr else str(value)
    except Exception:
        return _UNSHOWABLE
    return text if isinstance(text, str) else _UNSHOWABLE


def _type_name(value: Any) -> str:
    """The name of `value`'s class, whatever its metaclass does."""
    try:
        name = type(value).__name__
    except Exception:
        return "an exception"
    return name if isinstance(name, str) else "an exception"


def _short(text: str, limit: int = 600) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).strip()  # Keras colours its messages
    text = _without_tensorflow_noise(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class UserCodeError(ModelcheckError):
    """The user's code raised, or returned something a check cannot use.

    ``str(error)`` is the whole readable text; `message`, `hint` and `location` are kept apart
    for results and reports.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        location: tuple[str, int, str] | None = None,
        original: BaseException | None = None,
    ) -> None:
        self.message = message
        self.hint = hint
        self.location = location
        self.original = original
        super().__init__(self.describe())

    def describe(self) -> str:
        text = self.message
        if self.location is not None:
            filename, lineno, line = self.location
            text += f"\n  at {filename}:{lineno}: {line}"
        if self.hint:
            text += f"\nHint: {self.hint}"
        return text

    def to_result(self, check: str) -> CheckResult:
        """The `CheckResult` (status ``error``) that `check` reports for this error: the message
        and the user's line, the hint apart, and the original exception's type and text in
        ``details`` (what a documented fault is matched against)."""
        details: dict[str, Any] = {}
        if self.original is not None:
            details = {"exception": _type_name(self.original), "exception_message": _short(_shown_text(self.original))}
        return CheckResult.error(check, self.describe().split("\nHint: ")[0], hint=self.hint, details=details)

    @classmethod
    def from_exception(cls, exc: BaseException, doing: str) -> "UserCodeError":
        """Wrap an exception raised while `doing` something with the user's code."""
        location = user_frame(exc.__traceback__)
        if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
            # the offending line never ran, so it is in the exception, not in the traceback
            location = (exc.filename, exc.lineno, (exc.text or "").strip())
        explanation = explain(exc, location[2] if location else "")
        message = f"{doing} raised {_type_name(exc)}: {_short(_shown_text(exc))}"
        hint = None
        if explanation is not None:
            message = f"{doing} raised {_type_name(exc)}: {explanation.summary}"
            hint = explanation.hint
        return cls(message, hint=hint, location=location, original=exc)


class InternalError(Exception):
    """An exception raised in modelcheck's own code (a bug of ours, never the user's).

    Not a `ModelcheckError`: it must not be mistaken for an error modelcheck raises on purpose.
    `doing` says what was being done, `original` is the exception, `traceback` its text.
    """

    def __init__(self, doing: str, original: BaseException) -> None:
        self.doing = doing
        self.original = original
        self.traceback = "".join(traceback.format_exception(type(original), original, original.__traceback__))
        super().__init__(f"internal error in modelcheck while {doing}: {_type_name(original)}: "
                         f"{_short(_shown_text(original))}")


def _is_ours(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE_DIR)


def raised_by_user(exc: BaseException) -> bool:
    """True when `exc` comes from the user's code, or from Keras/TensorFlow running the user's
    model (its layers, graph, loss or optimizer); False when modelcheck's own code raised it, or
    called a library (NumPy, keras.tree, ...) outside the model.

    An exception Keras' error handler raised while re-raising a layer's error (it could not
    rebuild that error with the call's arguments) is judged by the layer's error, its context."""
    if isinstance(exc, SyntaxError):
        return True
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code is call_user_code.__code__:
        tb = tb.tb_next  # the boundary itself; what it called was designated the user's code
    frames = [frame.f_code.co_filename for frame, _ in traceback.walk_tb(tb)]
    in_error_handler = False
    for filename in reversed(frames):  # from the raise point outwards
        if _is_ours(filename):
            if in_error_handler and exc.__context__ is not None:
                return raised_by_user(exc.__context__)
            return False
        if _is_user_file(filename) or any(part in os.path.abspath(filename) for part in _MODEL_RUNNING):
            return True
        in_error_handler = in_error_handler or os.path.abspath(filename).endswith(_KERAS_ERROR_HANDLER)
    return True


def call_user_code(doing: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call `fn`; any exception becomes a `UserCodeError` that says what was being done.

    `SystemExit` and `KeyboardInterrupt` from user code are turned into errors as well, so a
    builder that calls ``sys.exit()`` cannot end the checking session.
    """
    try:
        return fn(*args, **kwargs)
    except ModelcheckError:
        raise
    except SystemExit as exc:
        raise UserCodeError(
            f"{doing} called sys.exit({_short(_shown_text(exc.code, as_repr=True), 200)})",
            hint="a builder must return the model; remove the exit() call.",
            location=user_frame(exc.__traceback__),
            original=exc,
        ) from exc
    except InternalError:
        raise
    except Exception as exc:  # the user's code can raise anything; we report it, never hide it
        if not raised_by_user(exc):
            raise InternalError(doing, exc) from exc
        raise UserCodeError.from_exception(exc, doing) from exc
