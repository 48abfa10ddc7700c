"""Run a spec's own checks, with their points, on every mutant of its reference model.

The reference and its mutants are trusted code, so everything runs in process: the reference is
built once (its checks' verdicts are the baseline), each mutant is built once from its recipe
and all of its checks share that build. With ``workers > 1``, ``workers - 1`` processes are
spawned as the run starts (each imports TensorFlow once, while this process checks the reference)
and every process, this one included, takes the next mutant when it is free: no process waits for
another to boot or for a share that happened to hold the slow mutants.

The processes are `pool.Helpers`.

A check *catches* a mutant when it passes on the reference and does not pass (fails, errors, or
is skipped) on the mutant: the mutant then loses that check's points. A mutant no check catches
*survives*.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ..core.errors import SpecError
from ..core.result import ERROR, PASSED, CheckResult
from ..core.spec import ModelSpec
from .pool import Helpers

__all__ = ["MutantResult", "MutationReport", "run_mutants", "Helpers", "CAUGHT", "SURVIVED", "EQUIVALENT",
           "SAME_AS_REFERENCE", "INVALID", "ARCHITECTURE"]

CAUGHT = "caught"
SURVIVED = "survived"
EQUIVALENT = "equivalent"  # the same architecture snapshot, compile settings and outputs: dropped
SAME_AS_REFERENCE = "the same layers, compile settings and outputs as the reference"  # an equivalent one's note
INVALID = "invalid"  # Keras cannot build it (e.g. strides that shrink a feature map below 1): dropped


@dataclass
class MutantResult:
    """One mutant's verdicts.

    Attributes:
        operator / mistake / description / where: the mistake made and where (see `operators.Mutant`).
        status: `CAUGHT`, `SURVIVED`, `EQUIVALENT` or `INVALID`.
        caught_by: the checks that pass on the reference and not on the mutant.
        points: the points the mutant would get.
        statuses: check -> status on the mutant.
        messages: check -> first line of the message, for the checks that caught it.
        note: why a mutant was dropped (what Keras said of an invalid one; `SAME_AS_REFERENCE`).
        architecture_changed: whether its architecture snapshot differs from the reference's (a stored
            snapshot of the model would catch it).
        changes: what it changes that an expectation could pin (`generate.changes`).
        would_catch: for a survivor, the cheap checks the run lacks that could catch its mistake ->
            whether they do (they pass on the reference and not on it); what its suggestion is based on.
    """

    operator: str
    mistake: str
    description: str
    where: str
    status: str
    caught_by: list[str] = field(default_factory=list)
    points: float = 0.0
    statuses: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    architecture_changed: bool = False
    changes: list[str] = field(default_factory=list)
    would_catch: dict[str, bool] = field(default_factory=dict)


@dataclass
class MutationReport:
    """The mutation run of one reference model against its checks.

    Attributes:
        model: the spec's id.
        checks: the checks run, in order; `points`: their points.
        reference: check -> status on the reference (a check that does not pass there catches nothing).
        mutants: every mutant generated, the dropped ones (equivalent, invalid) included.
        seconds: wall time of the whole run; `not_mutable`: why no mutant could be made.
        snapshot_missing: the snapshot file the run would compare with, when none is stored there yet.
        expected: the expectations the spec sets (`expectations`), which the survivors' suggestions
            take into account.
        reference_messages: check -> the first line of its message, for the checks that do not pass
            on the reference (what to fix in the spec, or in the reference, for them to catch anything).
        words: ``"assignment"`` (suggestions name [expect] and [points]) or ``"spec"`` (a model's own
            spec and checks, as in ``pytest --modelcheck``).
        build_failure: when the reference cannot be built, the checks' result saying why (``to_dict()``:
            the builder's error with where it was raised), which the pytest item reports as its own.
    """

    model: str
    checks: list[str]
    points: dict[str, float]
    reference: dict[str, str] = field(default_factory=dict)
    mutants: list[MutantResult] = field(default_factory=list)
    seconds: float = 0.0
    not_mutable: str | None = None
    snapshot_missing: str | None = None
    expected: list[str] = field(default_factory=list)
    reference_messages: dict[str, str] = field(default_factory=dict)
    words: str = "assignment"
    build_failure: dict[str, Any] | None = None

    def _with(self, *statuses: str) -> list[MutantResult]:
        return [m for m in self.mutants if m.status in statuses]

    @property
    def judged(self) -> list[MutantResult]:
        """The mutants that count: caught or survived."""
        return self._with(CAUGHT, SURVIVED)

    @property
    def caught(self) -> list[MutantResult]:
        return self._with(CAUGHT)

    @property
    def survivors(self) -> list[MutantResult]:
        return self._with(SURVIVED)

    @property
    def equivalent(self) -> list[MutantResult]:
        return self._with(EQUIVALENT)

    @property
    def invalid(self) -> list[MutantResult]:
        return self._with(INVALID)

    @property
    def score(self) -> float | None:
        """The share of judged mutants caught, 0..1; None when there is none."""
        judged = self.judged
        return len(self.caught) / len(judged) if judged else None

    @property
    def seconds_per_mutant(self) -> float | None:
        built = len(self.judged) + len(self.equivalent)
        return self.seconds / built if built else None

    def to_json(self) -> dict[str, Any]:
        """``{"mutants": [{"operator", "description", "caught_by", "points", ...}], "score", ...}``."""
        from .format import WORDS, suggestion

        mutants = []
        for m in self.judged:
            row = {"operator": m.operator, "mistake": m.mistake, "description": m.description, "where": m.where,
                   "caught_by": list(m.caught_by), "points": m.points}
            if m.status == SURVIVED:
                row["suggestion"] = suggestion(m, self.checks, snapshot_missing=self.snapshot_missing,
                                               expected=self.expected, words=WORDS[self.words])
            else:
                row["messages"] = dict(m.messages)
            mutants.append(row)
        return {"model": self.model, "words": self.words, "mutants": mutants, "score": self.score,
                "caught": len(self.caught), "total": len(self.judged),
                "equivalent": len(self.equivalent), "invalid": len(self.invalid),
                "checks": self.points, "reference": self.reference,
                "reference_messages": self.reference_messages, "seconds": round(self.seconds, 3),
                "not_mutable": self.not_mutable, "snapshot_missing": self.snapshot_missing,
                "dropped": [{"operator": m.operator, "description": m.description, "where": m.where,
                             "status": m.status, "note": m.note} for m in self.equivalent + self.invalid]}


def _first_line(result: CheckResult) -> str:
    return (result.message or "").splitlines()[0] if result.message else result.status


ARCHITECTURE = "architecture"  # the stored snapshot, when the run is given one (`run_mutants(snapshot=...)`)
_COLLECT_EVERY = 25  # mutants between full garbage collections (each takes a third of a second)


def _run_check(session: Any, check: str, snapshot: Path | None, model_id: str) -> CheckResult:
    """`check` on the session's model; ``architecture`` compares it with the stored `snapshot`."""
    if check != ARCHITECTURE:
        return session.run(check)
    from ..snapshot.check import check_architecture

    failure = session.build_failure(check)
    if failure is not None:
        return failure
    assert snapshot is not None
    return check_architecture(session.model(), snapshot_file=snapshot, update=False, model_id=model_id)


def evaluate(mutant: Any, *args: Any, **kwargs: Any) -> MutantResult:
    """Build one mutant, drop it when it is invalid or equivalent, else run the checks on its one build
    (`_evaluate`'s arguments). The libraries' warnings about the mutant are not shown: it is wrong on
    purpose, and a run printed Keras' notices ("softmax over an axis of size 1", "from_logits=True
    on a Softmax output") dozens of times among its results."""
    import warnings

    with warnings.catch_warnings():
        # the checks let the libraries' warnings through (`core.quiet`): what shows them is muted
        warnings.showwarning = lambda *_args, **_kwargs: None
        return _evaluate(mutant, *args, **kwargs)


def _evaluate(mutant: Any, spec: ModelSpec, checks: Sequence[str], points: dict[str, float],
              reference: dict[str, str], baseline: Any, seed: int, overrides: dict[str, dict[str, Any]] | None = None,
              snapshot: Path | None = None, prepare: Callable[[Any], None] | None = None) -> MutantResult:
    """`evaluate`, warnings shown."""
    import keras

    from ..session.runner import ModelSession
    from .generate import changes, same_function
    from .operators import OPERATORS
    from .recipe import build

    result = MutantResult(mutant.operator, OPERATORS[mutant.operator].mistake, mutant.description, mutant.where,
                          INVALID)
    keras.utils.set_random_seed(seed)
    try:
        model = build(mutant.recipe)
    except Exception as exc:  # the edit does not make a model Keras can build: no mistake a student could hand in
        _raise_if_ours(exc, f"rebuilding the mutant '{mutant.description}' ({mutant.where})")
        result.note = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        keras.backend.clear_session(free_memory=False)
        return result
    result.changes = changes(model, baseline)
    result.architecture_changed = "architecture" in result.changes
    if not result.architecture_changed and same_function(model, mutant.recipe, baseline):
        result.status, result.note = EQUIVALENT, SAME_AS_REFERENCE
        keras.backend.clear_session(free_memory=False)
        return result
    if prepare is not None:
        prepare(model)
    session = ModelSession(spec.replace(builder=model, builder_kwargs={}), seed=seed, overrides=overrides)
    try:
        verdicts = [_run_check(session, check, snapshot, spec.id) for check in checks]
        if not any(not v.passed and reference.get(v.check) == PASSED for v in verdicts):
            result.would_catch = _probe(session, mutant.operator, checks, reference)
    finally:
        session.close(free_memory=False)
    for verdict in verdicts:
        result.statuses[verdict.check] = verdict.status
        if verdict.passed:
            result.points += points.get(verdict.check, 0.0)
        elif reference.get(verdict.check) == PASSED:
            result.caught_by.append(verdict.check)
            result.messages[verdict.check] = _first_line(verdict)
    result.status = CAUGHT if result.caught_by else SURVIVED
    return result


def _raise_if_ours(exc: Exception, doing: str) -> None:
    """Raise `InternalError` when `exc`, raised while `doing` a rebuild, comes from modelcheck's own code
    rather than from Keras refusing the configuration (a layer, the functional graph, a class's
    constructor) or the reference's own code: a bug of ours would otherwise be dropped as a mutant
    'that Keras cannot build', or end the run as a reference Keras cannot rebuild."""
    from ..core.errors import InternalError, raised_by_user

    if not raised_by_user(exc):
        raise InternalError(doing, exc) from exc


def _probe(session: Any, operator: str, checks: Sequence[str], reference: dict[str, str]) -> dict[str, bool]:
    """Whether each cheap check the run lacks that could catch a surviving mutant of `operator`
    catches it: it passes on the reference and not on the mutant. A wrong output activation is also
    tried against ``output`` set to the reference's kind of output, when the run probed the reference so."""
    from .format import output_probe_key, output_probe_kind, probe_checks

    found = {check: not session.run(check).passed and reference.get(check) == PASSED
             for check in probe_checks(operator, checks)}
    kind = output_probe_kind(reference)
    if operator == "output_activation" and kind is not None:
        key = output_probe_key(kind)
        found[key] = reference.get(key) == PASSED and not session.run("output_shape", output=kind).passed
    return found


def _reference_kind(model: Any) -> str | None:
    """The reference's kind of output, as ``output`` in [expect] would name it (a linear output under a
    cross-entropy: logits); None for several outputs."""
    from ..checks import loss_config as lc
    from ..model.outputs import output_kinds
    from .operators import _single_loss
    from .recipe import recipe_of

    try:
        kinds = output_kinds(model)
    except Exception:  # an output Keras cannot read back: no suggestion of a kind
        return None
    if len(kinds) != 1:
        return None
    recipe = recipe_of(model)
    loss = _single_loss(recipe) if recipe is not None else None
    if kinds[0] == "regression" and loss is not None and lc.loss_family(loss[0]) in (
            lc.SPARSE_CE, lc.CATEGORICAL_CE, lc.BINARY_CE):
        return "logits"
    return kinds[0]


def expectations(spec: ModelSpec) -> list[str]:
    """The expectations `spec` sets that decide what a check can see: its figures (``total_params``,
    ``layer_output_shapes``, ...) and ``labels`` (config_lint's option)."""
    keys = ["input_shape", "output_shape", "layer_output_shapes", "total_params", "trainable_params",
            "layer_params", "output"]
    found = [key for key in keys if getattr(spec, key) is not None]
    if (spec.options.get("config_lint") or {}).get("labels"):
        found.append("labels")
    return found


def _evaluate_all(mutants: Sequence[Any], *args: Any) -> list[MutantResult]:
    """Evaluate `mutants` in order in this process."""
    return [_evaluate_counted(mutant, *args) for mutant in mutants]


_EVALUATED = [0]  # mutants this process has evaluated, for the garbage collection every `_COLLECT_EVERY`


def _evaluate_counted(mutant: Any, *args: Any) -> MutantResult:
    """`evaluate`, with a full garbage collection every `_COLLECT_EVERY` mutants of this process."""
    import gc

    result = evaluate(mutant, *args)
    _EVALUATED[0] += 1
    if _EVALUATED[0] % _COLLECT_EVERY == 0:
        gc.collect()
    return result


def _reference_architecture(session: Any, baseline: Any, snapshot: Path, model_id: str,
                            folder: Path) -> tuple[str, str, Path]:
    """The ``architecture`` status of the reference, why when it is not passed, and the snapshot the
    mutants are compared with: the stored one when the reference's rebuild from its recipe (what
    every mutant is rebuilt from) matches it too; else, once the reference itself matches it, the
    rebuild's own snapshot, written into `folder` (a subclassed model is mutated as its functional
    twin, whose snapshot holds its graph where the stored one holds the subclass's layers: a mutant
    that differs from the twin differs from the stored snapshot in the layer it changes)."""
    from ..snapshot.diff import compare
    from ..snapshot.store import read_snapshot, write_snapshot

    verdict = _run_check(session, ARCHITECTURE, snapshot, model_id)
    if not verdict.passed:
        return verdict.status, _first_line(verdict), snapshot
    try:
        stored = read_snapshot(snapshot)
    except SpecError:  # unreadable: the check above already said so
        return ERROR, f"the snapshot {snapshot.name} cannot be read", snapshot
    if stored is not None and compare(stored, baseline.architecture).equal:
        return PASSED, "", snapshot
    rebuilt = folder / snapshot.name
    write_snapshot(rebuilt, baseline.architecture, model_id)
    return PASSED, "", rebuilt


def run_mutants(spec: ModelSpec, *, checks: Iterable[str] | None = None, points: dict[str, float] | None = None,
                seed: int = 0, workers: int = 1, base_dir: Path | None = None,
                operators: Iterable[str] | None = None,
                overrides: dict[str, dict[str, Any]] | None = None,
                snapshot: Path | str | None = None,
                prepare: Callable[[Any], None] | None = None, helpers: Helpers | None = None) -> MutationReport:
    """Mutate the model `spec` builds and run `checks` (default: the spec's; 1 point each) on every mutant.

    With `snapshot` (the model's stored architecture snapshot, when the file exists) the
    ``architecture`` comparison is one of the checks, as in ``pytest --modelcheck``: it catches
    every change of layers, sizes, activations, padding or wiring that nobody meant. `prepare`
    (picklable, for `workers`) is applied to the reference and to every mutant once built, e.g. to
    attach an assignment's samples as grading does (`assignment.graded_like_submissions`). `helpers`:
    processes started earlier with `Helpers(workers - 1)` (they boot while the caller prepares the
    spec); by default they are started here when `workers` > 1.

    >>> report = run_mutants(spec, points={"output_shape": 1})
    >>> report.score, [m.description for m in report.survivors]
    """
    from ..core.registry import applicable_checks

    names = list(checks) if checks is not None else list(points or applicable_checks(spec))
    missing = str(snapshot) if snapshot is not None and not Path(snapshot).is_file() else None
    snapshot = Path(snapshot) if snapshot is not None and missing is None else None
    if snapshot is None:
        names = [name for name in names if name != ARCHITECTURE]  # nothing stored to compare with
    elif ARCHITECTURE not in names:
        names.append(ARCHITECTURE)
    weights = {name: float((points or {}).get(name, 1.0)) for name in names}
    report = MutationReport(spec.id, names, weights, snapshot_missing=missing, expected=expectations(spec))
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        pool = helpers if helpers is not None or workers <= 1 else stack.enter_context(Helpers(workers - 1))
        _run(report, spec, names, weights, seed, base_dir, operators, overrides, snapshot, prepare, pool)
    report.seconds = time.perf_counter() - start
    return report


def _run(report: MutationReport, spec: ModelSpec, names: list[str], weights: dict[str, float], seed: int,
         base_dir: Path | None, operators: Iterable[str] | None, overrides: dict[str, dict[str, Any]] | None,
         snapshot: Path | None, prepare: Callable[[Any], None] | None, pool: Helpers | None) -> None:
    """Check the reference, generate its mutants and evaluate them (with `pool`'s help) into `report`."""
    import tempfile

    from ..session.runner import ModelSession
    from .format import PROBES, output_probe_key
    from .generate import NotMutable, baseline_of, generate

    with ModelSession(spec, seed=seed, base_dir=base_dir, overrides=overrides) as session:
        failure = session.build_failure(names[0] if names else "output_shape")
        if failure is None and prepare is not None:
            prepare(session.model())
        verdicts = [session.run(name) for name in names if name != ARCHITECTURE]
        report.reference = {v.check: v.status for v in verdicts}
        report.reference_messages = {v.check: _first_line(v) for v in verdicts if not v.passed}
        probed = {name: session.run(name).status for name in PROBES if name not in names} if failure is None else {}
        if failure is not None:
            report.not_mutable = f"the reference model cannot be built: {_first_line(failure)}"
            report.build_failure = failure.to_dict()
            return
        try:
            recipe, mutants = generate(session.model(), operators=operators)
        except NotMutable as exc:
            report.not_mutable = str(exc)
            return
        except KeyError:
            raise  # an unknown operator named by the caller
        except Exception as exc:  # an operator's own failure on a model it did not expect: ours, said so
            from ..core.errors import InternalError

            raise InternalError(f"generating the mutants of model {spec.id!r}", exc) from exc
        kind = _reference_kind(session.model()) if spec.output is None else None
        if kind is not None and any(m.operator == "output_activation" for m in mutants):
            probed[output_probe_key(kind)] = session.run("output_shape", output=kind).status
        try:
            baseline = baseline_of(recipe, seed)
        except Exception as exc:  # a configuration Keras cannot read back: no mutant of it can be built either
            _raise_if_ours(exc, f"rebuilding the reference model {spec.id!r} from its configuration")
            report.not_mutable = (f"Keras cannot rebuild the model from its configuration ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else ''})")
            return
        folder = Path(tempfile.mkdtemp(prefix="modelcheck-mutants-"))
        if snapshot is not None:
            status, why, snapshot = _reference_architecture(session, baseline, snapshot, spec.id, folder)
            report.reference[ARCHITECTURE] = status
            if status != PASSED:
                report.reference_messages[ARCHITECTURE] = why
    shared = spec.replace(builder=None)
    args = (shared, names, weights, {**probed, **report.reference}, baseline, seed, overrides, snapshot, prepare)
    try:
        report.mutants = pool.evaluate(mutants, args) if pool is not None else _evaluate_all(mutants, *args)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report_dict(report: MutationReport) -> dict[str, Any]:
    """Every field of `report`, mutants included (for the HTML report page)."""
    return asdict(report)
