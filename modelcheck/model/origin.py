"""Whose code an object is: Keras' (or TensorFlow's) or the user's, told by the file it was
written in, and the plain functions a model's layers hold.

A module's name says nothing: a user's file called ``keras_model.py`` makes a module whose name
starts with "keras", and code can set ``__module__`` to anything. The file a function's code was
compiled from, or for a class that of the first method it defines, cannot be chosen that way
short of writing into the library's own folder.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import types
from typing import Any, Iterator

__all__ = ["source_file", "is_library_code", "held_functions"]

# Packages whose objects Keras' safe mode loads by name, and whose training code is Keras' own
_LIBRARIES = ("keras", "tf_keras", "keras_hub", "keras_nlp", "keras_cv", "tensorflow")


def source_file(obj: Any) -> str | None:
    """The file `obj` (a function, method or class) was written in: its code's, or for a class
    that of the first method it defines itself, else its module's file; None when there is none
    (code made at run time, a built-in)."""
    obj = getattr(obj, "__func__", obj)
    code = getattr(obj, "__code__", None)
    if code is None and isinstance(obj, type):
        code = next((getattr(getattr(value, "__func__", value), "__code__", None) for value in vars(obj).values()
                     if getattr(getattr(value, "__func__", value), "__code__", None) is not None), None)
        if code is None:  # defines no method: its module's file, if any
            module = sys.modules.get(getattr(obj, "__module__", None) or "")
            return getattr(module, "__file__", None)
    return getattr(code, "co_filename", None)


@functools.lru_cache(maxsize=1)
def _library_folders() -> tuple[str, ...]:
    folders = []
    for name in _LIBRARIES:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        for folder in (spec.submodule_search_locations or []) if spec is not None else []:
            folders.append(os.path.realpath(folder) + os.sep)
    return tuple(folders)


def is_library_code(obj: Any) -> bool:
    """Whether `obj` (a function, method or class) was written in Keras' or TensorFlow's own
    files; a user's code, wherever it is and whatever its module is called, is not."""
    path = source_file(obj)
    if not path or not os.path.isabs(path):
        return False
    return os.path.realpath(path).startswith(_library_folders())


def held_functions(layers: Any) -> Iterator[tuple[Any, str, types.FunctionType]]:
    """(layer, attribute, function) for each plain Python function the `layers` hold as an
    attribute (an activation, a Lambda's function...): what a model file saves by name only."""
    for layer in layers:
        for attribute, value in vars(layer).items():
            if isinstance(value, types.FunctionType):
                yield layer, attribute.lstrip("_"), value
