"""The processes that evaluate mutants beside the one running `run.run_mutants`.

TensorFlow does not survive a fork once started, so they are spawned; each imports TensorFlow
once while the parent checks the reference, then takes mutants from a queue the parent takes from
too. What crosses back is checked before use: a report that is not a `MutantResult` for a mutant
index the parent handed out is treated as the helper's failure, and that mutant is evaluated in
the parent.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from .run import MutantResult

__all__ = ["Helpers", "register_file_module"]

# Modules imported from a file under a name no import statement finds (the reference solution, as
# `assignment._import_file` loads it): a class or function of theirs in a mutant (a custom layer, an
# own activation) is pickled by that name, so each helper imports them before unpickling its mutants.
_FILE_MODULES: dict[str, str] = {}


def register_file_module(name: str, path: str) -> None:
    """Record that module `name` was imported from the file `path`, for the helpers to import it too."""
    _FILE_MODULES[name] = path


def _import_file_modules(modules: dict[str, str]) -> None:
    """Import each module of `modules` (name -> file) this process does not have yet."""
    import importlib.util
    import sys

    for name, path in modules.items():
        if name in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


def _boot_worker() -> None:
    """A spawned worker's start: import what evaluating a mutant needs while the parent checks the
    reference (module-level, so a spawned worker can import it)."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras  # noqa: F401  TensorFlow's import is most of a worker's start

    from ..session import runner  # noqa: F401
    from . import generate, recipe  # noqa: F401


class Helpers:
    """`count` spawned processes that evaluate mutants beside this one (TensorFlow does not survive a
    fork once started). They boot as the run starts; `evaluate` then puts every mutant on one queue
    that they and this process take from, so whoever is free takes the next mutant and nobody waits
    for a helper still booting. A mutant a helper took and did not finish (the helper died, or its
    evaluation raised) is evaluated here, so it ends as it would in a run without helpers."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.processes: list[Any] = []
        self.booted: set[int] = set()  # pids of the helpers ready to take mutants
        self.helped = 0  # mutants the helpers evaluated

    def __enter__(self) -> Helpers:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.tasks, self.results = context.Queue(), context.Queue()
        self.processes = [context.Process(target=_helper, args=(self.tasks, self.results), daemon=True,
                                          name=f"modelcheck-mutants-{i + 1}") for i in range(self.count)]
        for process in self.processes:
            process.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        for _ in self.processes:
            self.tasks.put(None)
        for process in self.processes:
            process.join(timeout=1.0)  # an idle helper ends at once; one still booting is not waited for
            if process.is_alive():
                process.kill()
                process.join()
        for queue in (self.tasks, self.results):
            queue.cancel_join_thread()
            queue.close()

    def wait_ready(self, timeout: float) -> bool:
        """Wait until every helper has booted (at most `timeout` seconds); whether they all did."""
        deadline = time.perf_counter() + timeout
        while len(self.booted) < len(self.processes) and time.perf_counter() < deadline:
            self._collect({}, {}, block=True)
        return len(self.booted) == len(self.processes)

    def evaluate(self, mutants: Sequence[Any], args: tuple[Any, ...]) -> list[MutantResult]:
        """Every mutant's result, in the order of `mutants`."""
        import queue

        from .run import _evaluate_counted

        import pickle

        results: dict[int, MutantResult] = {}
        started: dict[int, int] = {}  # mutant index -> pid of the helper evaluating it (-1: its evaluation raised)
        modules = dict(_FILE_MODULES)
        for index, mutant in enumerate(mutants):
            # pickled here: a helper imports `modules` first, then reads the mutant (its classes may live there)
            self.tasks.put((index, modules, pickle.dumps((mutant, args))))
        while len(results) < len(mutants):
            self._collect(results, started, block=False)
            try:
                index, _, _ = self.tasks.get(timeout=0.05)
            except queue.Empty:
                pass
            else:  # this process takes the next mutant like any helper
                results[index] = _evaluate_counted(mutants[index], *args)
                continue
            self._collect(results, started, block=True)  # the queue is empty: wait for the helpers' reports
            alive = {process.pid for process in self.processes if process.is_alive()}
            if len(alive) < len(self.processes) or -1 in started.values():
                # a helper died (with the mutant it had, reported started or not) or an evaluation raised:
                # what no live helper holds is evaluated here (at worst twice, with the same result)
                for index in range(len(mutants)):
                    if index not in results and started.get(index) not in alive:
                        started.pop(index, None)
                        results[index] = _evaluate_counted(mutants[index], *args)
        return [results[i] for i in range(len(mutants))]

    def _collect(self, results: dict[int, MutantResult], started: dict[int, int], *, block: bool) -> None:
        """Read what the helpers reported: a mutant started, finished, or whose evaluation raised (then
        dropped from `started`, for this process to evaluate it and raise as a run without helpers would)."""
        import queue

        from .run import MutantResult

        while True:
            try:
                index, pid, result = self.results.get(timeout=0.5) if block else self.results.get_nowait()
            except queue.Empty:
                return
            block = False
            if not isinstance(pid, int):
                continue
            if index is None:
                self.booted.add(pid)
            elif not isinstance(index, int):
                continue
            elif result is None:
                started[index] = pid
            elif isinstance(result, MutantResult):
                results[index] = result
                started.pop(index, None)
                self.helped += 1
            else:
                started[index] = -1  # no live helper has that pid: evaluate() takes it over


def _helper(tasks: Any, results: Any) -> None:
    """A helper process: take mutants from `tasks` until None, report each start and result."""
    import os
    import pickle

    _boot_worker()
    from .run import _evaluate_counted

    pid = os.getpid()
    results.put((None, pid, None))
    while True:
        item = tasks.get()
        if item is None:
            return
        index, modules, payload = item
        results.put((index, pid, None))
        try:
            _import_file_modules(modules)
            mutant, args = pickle.loads(payload)
            result: Any = _evaluate_counted(mutant, *args)
        except BaseException as exc:  # noqa: BLE001  the parent evaluates it again and raises it there
            result = f"{type(exc).__name__}: {exc}"
        results.put((index, pid, result))


