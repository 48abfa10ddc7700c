"""The canonical form `check_matches_reference` compares (`modelcheck.checks.reference`).

An `architecture()` dict is read as a graph of calls: one node per call of a layer, and a nested
model (a ``keras.Model`` used as a layer) replaced by its own layers, wired to what each call of
the nested model read, so a network written with nested blocks equals the flat one. A layer with
weights called several times is one canonical layer with a ``calls`` key (the sources of each
call); a layer without weights called several times is one canonical layer per call (a new
``ReLU()`` or the same one computes the same). Models whose layers are each called once and that
nest no model keep the form they always had: layers in `architecture()` order, no ``calls`` key.
Otherwise the layers are put in the order Keras gives the equivalent flat functional model
(`keras.src.ops.function.map_graph`: depth from the outputs, then depth-first traversal order),
and the calls of a shared layer are numbered in that traversal's order, so the order in which
the Python code made the calls does not matter.

A subclassed model records no calls: it is read as the functional graph its ``call`` makes on
symbolic inputs (`modelcheck.model.graph.functional_twin`, what grading exports), so it equals the
functional model it computes and its wiring and operations count. One whose ``call`` cannot be
traced so (Python branching on tensor values, dict inputs), and subclassed models nested in
another, are read as a chain in attribute order; how many times each layer with weights runs is
then counted with one forward pass (`traced_calls`; reading a live model is
`modelcheck.checks.reference_model`).

The operations a functional model calls between its layers (``keras.ops.relu(x)``, ``x * 2.0``:
the ``operations`` of `architecture()`, those of nested models included) are calls too, each read
as the layer it equals (`modelcheck.model.operations`): an activation as an ``Activation``
layer, which folds as one does; an operation that equals no layer as an entry of class
``operation <name>``. A model with operations is put in Keras' order, as if each activation that
folds were written in the layer it folds into (``Dense(8, activation="relu")``).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Sequence

from ..model.operations import OPERATION, operation_as_layer, with_negative_axes
from ..model.randomness import training_only_layer
from .dtype_kinds import dtype_kind

__all__ = ["canonical_architecture", "operation_as_layer", "IGNORE_GROUPS", "OPERATION"]

# (a layer's dtype policy is compared by kind only: `dtype_kind`; `quantization_config` is what
# its quantized policy says, in the words of `model.quantize`)
_ALWAYS_IGNORED = frozenset({"name", "trainable", "seed", "quantization_config"})
_FOLDED = ("Activation", "ReLU", "Softmax", "LeakyReLU", "ELU")
# what keras.activations' leaky_relu and elu take when named by a string ("leaky_relu", "elu")
_STRING_DEFAULTS = {"LeakyReLU": ("leaky_relu", "negative_slope", 0.2), "ELU": ("elu", "alpha", 1.0)}
# activations that never decrease commute with a max-pooling (max(f(a), f(b)) = f(max(a, b))), so
# Conv2D -> MaxPooling2D -> ReLU is read as the Conv2D(relu) -> MaxPooling2D it computes
_MONOTONE = frozenset({"relu", "relu6", "elu", "selu", "leaky_relu", "sigmoid", "hard_sigmoid", "tanh",
                       "softplus", "softsign", "exponential"})
_MAX_POOLS = frozenset(f"{kind}MaxPooling{n}D" for kind in ("", "Global") for n in (1, 2, 3))
_REF = re.compile(r"^(?P<base>.*?)(?:@(?P<call>\d+))?(?:\[(?P<index>\d+)\])?$")
# `ignore` entries that name a group of configuration keys (anything else names a key itself,
# or "Class.key" for one class's key)
IGNORE_GROUPS: dict[str, Callable[[str, str], bool]] = {
    "initializers": lambda cls, key: key.endswith("_initializer"),
    "regularizers": lambda cls, key: key.endswith("_regularizer"),
    "constraints": lambda cls, key: key.endswith("_constraint"),
    "dropout_rate": lambda cls, key: key == "rate" and "Dropout" in cls,
    "activations": lambda cls, key: key == "activation",
}

NodeId = tuple  # ((layer index, call index), ...): the path of a call through nested models
Source = Any  # a NodeId, or a string: "input k" or a reference that names no layer


def _activation_of(layer: dict[str, Any]) -> str | None:
    """The activation an Activation/ReLU/Softmax/LeakyReLU/ELU layer applies, None when it does
    something else; a LeakyReLU or ELU whose argument is not the activation string's default as
    ``leaky_relu(negative_slope=0.3)``, which only the same layer equals."""
    config = layer.get("config") or {}
    kind = layer["class"]
    if kind == "Activation":
        return str(config.get("activation"))
    # (max_value=0.0 is falsy but clamps every output to 0: a dead layer, not a relu)
    if kind == "ReLU" and config.get("max_value") is None and not config.get("negative_slope") \
            and not config.get("threshold"):
        return "relu"
    if kind == "Softmax" and config.get("axis", -1) in (-1, [-1]):
        return "softmax"
    if kind in _STRING_DEFAULTS:  # the string's own argument, or that argument written out
        name, argument, default = _STRING_DEFAULTS[kind]
        value = config.get(argument)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        return name if abs(value - default) < 1e-7 else f"{name}({argument}={value:g})"
    return None


def _layer_as_activation(value: Any) -> Any:
    """A layer given as a layer's activation (``Dense(8, activation=keras.layers.ReLU())``) as the
    activation it applies ("relu"), when it is one; any other activation as it is."""
    if isinstance(value, dict) and value.get("class") in _FOLDED:
        return _activation_of({"class": value["class"], "config": value}) or value
    return value


def _compared_dtype(config: dict[str, Any]) -> dict[str, Any]:
    """A canonical config with its ``dtype`` (policy) as a kind, left out when it is a float kind
    (float32, float16, mixed_float16: a precision, not a different computation)."""
    if "dtype" not in config:
        return config
    kind = dtype_kind(config.pop("dtype"))
    if kind is not None and kind != "float":
        config["dtype"] = kind
    return config


def _ignored(cls: str, key: str, ignore: Sequence[str]) -> bool:
    if key in _ALWAYS_IGNORED:
        return True
    for entry in ignore:
        group = IGNORE_GROUPS.get(entry)
        if group is not None and group(cls, key) or entry in (key, f"{cls}.{key}"):
            return True
    return False


def _label(layer: dict[str, Any]) -> str:
    """A nested model as a student knows it: its class, and its name when the student gave one."""
    name = str(layer.get("name", ""))
    return layer["class"] if "#" in name else f"{layer['class']} '{name}'"


class _Graph:
    """The calls of an architecture's layers (nested models expanded), in the order listed."""

    def __init__(self) -> None:
        self.nodes: dict[NodeId, dict[str, Any]] = {}
        self.nested = False
        self.operations = False  # a call of an operation that is not a layer

    def expand(self, arch: dict[str, Any], scope: NodeId, bound: list[Source], inside: list[str],
               counted: bool = False) -> list[Source]:
        """Add the calls of `arch`'s layers, its inputs reading `bound`; returns its outputs.

        `counted`: a subclassed model holds `arch`, so only a forward pass tells its calls."""
        counted = counted or arch.get("kind") == "subclassed"
        n_layers = len(arch.get("layers") or [])
        entries = (arch.get("layers") or []) + (arch.get("operations") or [])  # operations after the layers
        names = {entry.get("name"): i for i, entry in enumerate(entries)}
        input_refs = {item.get("name"): bound[n] if n < len(bound) else f"input {n + 1}"
                      for n, item in enumerate(arch.get("inputs") or [])}
        instances: dict[tuple[int, int], list[Source]] = {}

        def instance(i: int, j: int, sources: list[Source] | None = None) -> list[Source]:
            if (i, j) not in instances:
                instances[(i, j)] = []  # a cycle (never in a valid model) then reads nothing
                if sources is None:
                    sources = [resolve(ref) for ref in entries[i]["inputs"][j]]
                self.nested = True
                instances[(i, j)] = self.expand(entries[i]["model"], scope + ((i, j),), sources,
                                                [_label(entries[i]), *inside], counted)
            return instances[(i, j)]

        def resolve(ref: str) -> Source:
            match = _REF.match(ref)
            base = match["base"] if match else ref
            if base in input_refs:
                return input_refs[base]
            i = names.get(base)
            if match is None or i is None or entries[i]["class"] == "InputLayer":
                return ref
            call = int(match["call"]) - 1 if match["call"] else 0
            if "model" not in entries[i]:
                return scope + ((i, call),)
            outputs = instance(i, call)
            index = int(match["index"] or 0)
            return outputs[index] if index < len(outputs) else ref

        previous: Source = bound[0] if bound else "input 1"
        for i, entry in enumerate(entries):
            if entry["class"] == "InputLayer":
                continue
            first: Source = None
            for j, refs in enumerate(entry.get("inputs") or [None]):  # no calls recorded: a chain
                sources = [previous] if refs is None else [resolve(ref) for ref in refs]
                if "model" in entry:
                    outputs = instance(i, j, sources)
                    out = outputs[0] if outputs else previous
                else:
                    out = scope + ((i, j),)
                    self.operations = self.operations or i >= n_layers
                    # an axis read in negative form: Softmax(axis=1) on a (None, 10) output is Softmax()
                    layer = _flatten_form(with_negative_axes(entry))
                    if i >= n_layers:
                        written = {"written_axis": layer["written_axis"]} if "written_axis" in layer else {}
                        layer = {**operation_as_layer(layer, j), **written}
                    self.nodes[out] = {"layer": layer,
                                       "sources": sources, "inside": inside,
                                       "op": tuple(step[0] for step in out),
                                       "counted": counted}
                first = out if first is None else first
            previous = first
        outputs = [resolve(str(item.get("layer"))) for item in arch.get("outputs") or []]
        return outputs or [previous]


def _keras_order(nodes: dict[NodeId, dict[str, Any]], outputs: list[Source],
                 op_of: Callable[[NodeId], Any], folded: Mapping[NodeId, NodeId] | None = None) -> list[list[NodeId]]:
    """The operations (lists of their nodes, in traversal order) in Keras' own layer order.

    `folded`: activation calls ordered as part of the call they read (each right after it)."""
    folded = folded or {}
    outputs = [folded.get(out, out) for out in outputs]

    def sources(node: NodeId) -> list[Source]:
        return [folded.get(source, source) for source in nodes[node]["sources"]]

    post: list[NodeId] = []
    seen: set[NodeId] = set()
    op_index: dict[Any, int] = {}

    def enter(node: Source) -> bool:
        if not isinstance(node, tuple) or node not in nodes or node in seen:
            return False
        seen.add(node)
        op_index.setdefault(op_of(node), len(op_index))
        return True

    for out in outputs:  # depth first, as keras.src.ops.function._build_map (iterative: deep models)
        if not enter(out):
            continue
        stack = [(out, iter(sources(out)))]
        while stack:
            node, pending = stack[-1]
            for source in pending:
                if enter(source):
                    stack.append((source, iter(sources(source))))
                    break
            else:
                stack.pop()
                post.append(node)
    node_depth: dict[NodeId, int] = {}
    op_depth: dict[Any, int] = {}
    for node in reversed(post):  # as keras.src.ops.function.map_graph
        op = op_of(node)
        depth = max(node_depth.setdefault(node, 0), op_depth.get(op, 0))
        op_depth[op] = node_depth[node] = depth
        for source in sources(node):
            if isinstance(source, tuple) and source in seen:
                node_depth[source] = max(depth + 1, node_depth.get(source, 0))
    groups: dict[Any, list[NodeId]] = {}  # a shared layer's calls in traversal order, not in the code's order
    for node in post:
        groups.setdefault(op_of(node), []).append(node)
    after = {target: node for node, target in folded.items()}
    return [order for op in sorted(groups, key=lambda op: (-op_depth[op], op_index[op]))
            for order in [groups[op]] + [[after[node]] for node in groups[op] if node in after]]


def _foldable(nodes: dict[NodeId, dict[str, Any]], outputs: list[Source],
              op_of: Callable[[NodeId], Any]) -> dict[NodeId, NodeId]:
    """The activation calls that (most likely) fold into the layer call they read: the only
    reader of a call, once called, of a layer whose activation is linear."""
    read_by: dict[Source, list[Source]] = {}
    for reader, source in [(n, s) for n in nodes for s in nodes[n]["sources"]] + [("output", o) for o in outputs]:
        read_by.setdefault(source, []).append(reader)
    calls: dict[Any, int] = {}
    for node in nodes:
        calls[op_of(node)] = calls.get(op_of(node), 0) + 1
    found = {}
    for node, entry in nodes.items():
        source = entry["sources"][0] if len(entry["sources"]) == 1 else None
        if entry["layer"]["class"] in _FOLDED and _activation_of(entry["layer"]) is not None \
                and source in nodes and read_by.get(source) == [node] and calls[op_of(source)] == 1 \
                and (nodes[source]["layer"].get("config") or {}).get("activation", "absent") in ("linear", None):
            found[node] = source
    return {node: source for node, source in found.items() if source not in found}


def _flatten_form(entry: dict[str, Any]) -> dict[str, Any]:
    """A Reshape to one axis per sample (``Reshape((400,))``, ``Reshape((-1,))``) as the layer it is
    the same as: ``Flatten()``, which also lays the values out row by row."""
    config = entry.get("config") or {}
    target = config.get("target_shape")
    if entry.get("class") != "Reshape" or not isinstance(target, list) or len(target) != 1:
        return entry
    kept = {key: value for key, value in config.items() if key != "target_shape"}
    return {**entry, "class": "Flatten", "config": {**kept, "data_format": "channels_last"}}


def _in_order(inputs: list[dict[str, Any]], order: Sequence[str] | None) -> list[dict[str, Any]]:
    """A model's inputs in the order the canonical form numbers them: as the model lists them, or,
    when `order` (the reference's input names) holds exactly the names the user gave every input,
    in that order: an input named as the reference's is fed by its name, so ``inputs=[wide, deep]``
    is ``inputs={"wide": wide, "deep": deep}``, which Keras orders by key. Names never matter
    otherwise (auto-generated ones, ``input_layer#2``, or names of the user's own choosing)."""
    names = [item.get("name") for item in inputs]
    if order is None or len(inputs) < 2 or len(set(names)) < len(names) or sorted(map(str, names)) != sorted(order) \
            or not all(isinstance(name, str) and "#" not in name for name in names):
        return list(inputs)
    return sorted(inputs, key=lambda item: list(order).index(item["name"]))


def canonical_architecture(arch: dict[str, Any], *, ignore: Sequence[str] = (),
                           pass_through: Sequence[str] = (),
                           traced: Mapping[tuple[int, ...], int] | None = None,
                           input_order: Sequence[str] | None = None) -> dict[str, Any]:
    """The canonical form of an `architecture()` dict: ``inputs`` (shapes), ``input_dtypes`` (only
    when an input is not of a known float dtype), ``outputs`` (only for a model of other than one
    output: what produces each, as a source) and ``layers``, each
    ``{"class", "config", "sources"}`` where sources are ``"input k"``, canonical layer indices
    (a layer's first call) or ``[index, n]`` (its n-th call). A layer called other than once also
    has ``calls``: the sources of each call (None for a call only `traced` counted; empty for a
    layer a subclassed model never calls); a layer of a nested model has ``inside``: the nested
    models it is in, innermost first. Without reuse or nesting the form has neither key.

    Layers of a class in `pass_through` are left out (their readers read what they read).
    `traced` is `traced_calls`: how many times the layers of subclassed models ran. `input_order`:
    the reference's input names, in its order; a model whose inputs carry exactly those names is
    numbered in it (see `_in_order`).
    """
    graph = _Graph()
    given = arch.get("inputs") or []
    inputs = _in_order(given, input_order)
    rank = {id(item): n for n, item in enumerate(inputs)}
    outputs = graph.expand(arch, (), [f"input {rank[id(item)] + 1}" for item in given], [])
    nodes = graph.nodes

    def op_of(node: NodeId) -> Any:  # a layer with weights is one operation; else each call is one
        params = nodes[node]["layer"].get("params")
        return nodes[node]["op"] if params is None or params > 0 else node

    groups: dict[Any, list[NodeId]] = {}
    for node in nodes:
        groups.setdefault(op_of(node), []).append(node)
    order = list(groups.values())
    if graph.nested or graph.operations or len({node["op"] for node in nodes.values()}) < len(nodes):
        # nesting, operations, or a layer called again
        order = _keras_order(nodes, outputs, op_of, _foldable(nodes, outputs, op_of) if graph.operations else None)

    def counted(group: list[NodeId]) -> int | None:
        """How many calls a forward pass made: for a layer with weights, or one never called
        (unless it only acts in training: the pass runs in inference mode)."""
        first = nodes[group[0]]
        count = (traced or {}).get(first["op"]) if first["counted"] else None
        if count == 0:
            return None if training_only_layer(first["layer"]["class"]) else 0
        return None if count is None or op_of(group[0]) != first["op"] else count

    def follow(source: Source, alias: Mapping[NodeId, Source]) -> Source:
        while isinstance(source, tuple) and source in alias:
            source = alias[source]
        return source

    passed = {node: nodes[node]["sources"][0] for group in order
              if nodes[group[0]]["layer"]["class"] in pass_through
              and all(len(nodes[node]["sources"]) == 1 for node in group) for node in group}
    read_by: dict[Source, list[Source]] = {}  # what reads each node (pass-through layers seen through)
    for reader, source in [(node, s) for group in order for node in group for s in nodes[node]["sources"]] \
            + [("output", out) for out in outputs]:
        read_by.setdefault(follow(source, passed), []).append(reader)

    def fold(node: NodeId) -> str | None:
        """The activation an Activation/ReLU/Softmax call applies when it is the only reader of the
        layer call it reads, None otherwise."""
        layer = nodes[node]["layer"]
        activation = _activation_of(layer) if layer["class"] in _FOLDED else None
        if activation is None or len(nodes[node]["sources"]) != 1 or op_of(node) != node:
            return None
        return activation if read_by.get(follow(nodes[node]["sources"][0], passed)) == [node] else None

    def through_max_pool(at: int | None, node: NodeId, activation: str | None) -> int | None:
        """The entry of the layer that the max-pooling entry `at` reads, when `activation` (the
        call `node`, the pooling's only reader) can be written in that layer instead (see `_MONOTONE`)."""
        if at is None or activation not in _MONOTONE or layers[at]["class"] not in _MAX_POOLS \
                or len(members[at][0]) != 1 or fold(node) != activation:
            return None
        pool = members[at][0][0]
        source = nodes[pool]["sources"][0] if len(nodes[pool]["sources"]) == 1 else None
        below = _entry(index.get(follow(source, alias))) if isinstance(source, tuple) else None
        if below is None or len(members[below][0]) != 1 or members[below][1] not in (None, 1) \
                or activations[below] not in ("linear", None):
            return None
        return below if read_by.get(follow(source, passed)) == [pool] else None

    alias: dict[NodeId, Source] = dict(passed)
    index: dict[NodeId, Any] = {}
    layers: list[dict[str, Any]] = []
    members: list[tuple[list[NodeId], int | None]] = []
    # each entry's own activation, whatever `ignore` leaves in its config: what folding reads
    activations: list[Any] = []
    for group in order:
        node = nodes[group[0]]
        if group[0] in alias:  # left out, or folded into the layer it reads
            continue
        layer, count = node["layer"], counted(group)
        cls = layer["class"]
        activation = _activation_of(layer) if cls in _FOLDED else None
        target = follow(node["sources"][0], alias) if activation is not None and node["sources"] else None
        at = _entry(index.get(target)) if isinstance(target, tuple) else None
        if at is not None and members[at][1] in (None, len(members[at][0])) and activations[at] in ("linear", None):
            # every call of the target is read by this same activation alone (a shared layer: one per call)
            folded = [read_by.get(member, [None])[0] for member in members[at][0]]
            if all(isinstance(f, tuple) and f not in alias and fold(f) == activation for f in folded) \
                    and group[0] in folded:
                layers[at]["config"]["activation"] = activations[at] = activation
                alias.update({f: member for f, member in zip(folded, members[at][0])})
                continue
        below = through_max_pool(at, group[0], activation)
        if below is not None:
            layers[below]["config"]["activation"] = activations[below] = activation
            alias[group[0]] = members[at][0][0]  # its readers read the pooling
            continue
        # Activation("linear") computes nothing (the mixed-precision guide's float32 cast after a softmax)
        if activation is not None and (activation == "linear" or _ignored("Activation", "activation", ignore)) \
                and all(len(nodes[member]["sources"]) == 1 for member in group):
            alias.update({member: nodes[member]["sources"][0] for member in group})  # activations not compared
            continue
        if activation is not None:
            cls, config = "Activation", {"activation": activation}
        else:
            config = _compared_dtype({k: _layer_as_activation(v) if k == "activation" else v
                                      for k, v in (layer.get("config") or {}).items() if not _ignored(cls, k, ignore)})
        for n, member in enumerate(group):
            index[member] = len(layers) if n == 0 else [len(layers), n + 1]
        layers.append({"class": cls, "config": config})
        if "written_axis" in layer and "axis" in config:  # the axis as the code gives it, for messages
            layers[-1]["written"] = {"axis": layer["written_axis"]}
        activations.append(config.get("activation") if cls == "Activation" else
                           (layer.get("config") or {}).get("activation", "absent"))
        members.append((group, count))

    def final(source: Source) -> Any:
        source = follow(source, alias)
        return index.get(source, "?") if isinstance(source, tuple) else source

    for layer, (group, count) in zip(layers, members):
        calls: list[Any] = [[final(s) for s in nodes[node]["sources"]] for node in group]
        layer["sources"] = calls[0]
        if count is not None:
            calls = [] if count == 0 else calls + [None] * max(0, count - len(calls))
        if len(calls) != 1:
            layer["calls"] = calls
        if nodes[group[0]]["inside"]:
            layer["inside"] = list(nodes[group[0]]["inside"])
        if _ignored(layer["class"], "activation", ignore):  # `activation` may have been filled by folding
            layer["config"].pop("activation", None)
    form: dict[str, Any] = {"inputs": [item.get("shape") for item in inputs], "layers": layers}
    dtypes = [item.get("dtype") for item in inputs]
    if any(dtype_kind(dtype) != "float" for dtype in dtypes):  # (float inputs, the usual, are not listed)
        form["input_dtypes"] = dtypes
    produced = [final(out) for out in outputs]
    if len(produced) != 1:  # (one output: the layers' sources already say what produces it)
        form["outputs"] = produced
    return form


def _entry(ref: Any) -> int | None:
    """The canonical index of a layer from a reference to one of its calls (``k`` or ``[k, n]``)."""
    return ref if isinstance(ref, int) else ref[0] if isinstance(ref, list) else None
