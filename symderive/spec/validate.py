"""Validate the tables of a parsed spec (plain dicts from TOML) into the data model.

Every problem is a :class:`~symderive.errors.SpecError` naming the field and what
is allowed; :mod:`.request` assembles the :class:`~symderive.spec.request.Spec` and
adds the file and line.
"""
from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

from ..errors import LatexInputError, ResourceLimitError, SpecError
from .functions import ACTIVATIONS, LOSSES, Activation, Loss, activation_from_expr
from .claims import CLAIM_KEYS, HYPOTHESIS_CLAIMS, parse_claim
from .facts import parse_facts
from .fields import (_groups, _int, _shown_text, _string, _table, _type_name, _unknown, unit_layer,
                     unit_pair)
from .init import parse_data, parse_init
from .model import (MAX_HYPOTHESES, MAX_LAYER_WIDTH, MAX_SAMPLES, OPTIMIZERS, CheckSpec,
                    DataSpec, Hypothesis, NetworkSpec)
from .ranges import not_real_at, outside_unit_interval_at
from .undefined import ANY_ACTIVATION, ANY_LOSS  # generic mode: σ, ℓ(ŷ, y) undefined

_TOP_KEYS = {"title", "question", "description", "network", "hypothesis", "fact", "check",
             "init", "data", "layer"}
_NETWORK_KEYS = {"layers", "activation", "output_activation", "bias", "loss", "samples",
                 "input"}
_HYPOTHESIS_KEYS = {"name", "layer", "units", "tie", "zero"} | CLAIM_KEYS
_CHECK_KEYS = {"seed", "steps", "learning_rate", "optimizer"}


def spec_fields(data: dict[str, Any], source: str) -> dict[str, Any]:
    """The validated fields of a :class:`~symderive.spec.request.Spec` from its tables
    (the request module builds the Spec, so that Spec.from_dict can call this)."""
    _unknown(data, _TOP_KEYS, "")
    title = _shown_text(data.get("title", _default_title(source)), "title",
                        what="report's heading")
    question = data.get("question")
    if question is not None:
        question = _shown_text(question, "question", what="question")
    net = _table(data.get("network"), "network", required=True)
    activations = _activation_list(net.get("activation"))
    if activations:       # compared: the spec is derived once per activation
        net = dict(net, activation=net["activation"][0])
    network = _network(net, data.get("layer"))
    concrete = _start_table(parse_data, data, "data", network)
    network = _samples_from_data(network, net, concrete)
    _stack_supports(network, data)
    init = _start_table(parse_init, data, "init", network)
    raw_hyps = data.get("hypothesis")
    facts = _facts(data.get("fact"), network)
    if (facts or init is not None) and "hypothesis" not in data:
        raw_hyps = []  # a spec of [[fact]] tables, or a question about a starting point
    elif not isinstance(raw_hyps, list) or not raw_hyps:
        raise SpecError("at least one [[hypothesis]] table (or [[fact]] table, or an [init] "
                        "table) is required", field="hypothesis")
    if len(raw_hyps) > MAX_HYPOTHESES:
        raise SpecError(f"at most {MAX_HYPOTHESES} [[hypothesis]] tables are allowed, got "
                        f"{len(raw_hyps)}; split the question into several specs",
                        field="hypothesis")
    hyps = tuple(_hypothesis(h, k, network) for k, h in enumerate(raw_hyps, start=1))
    check = _check(_table(data.get("check", {}), "check"))
    description = data.get("description")
    if description is not None:
        description = _string(description, "description", 300)
    return dict(title=title, question=question, network=network, hypotheses=hyps, check=check,
                source=source, description=description, facts=facts, init=init, data=concrete,
                activations=activations)


#: At most this many activations are compared in one spec.
MAX_ACTIVATIONS = 6


def _activation_list(value: Any) -> tuple:
    """``activation = ["relu", "tanh", ...]``: each validated, 2 to :data:`MAX_ACTIVATIONS`
    distinct ones; () when the activation is a single one."""
    if not isinstance(value, list):
        return ()
    if not 2 <= len(value) <= MAX_ACTIVATIONS:
        raise SpecError(f"a list compares 2 to {MAX_ACTIVATIONS} activations (names or "
                        f"{{ latex = '...' }}), got {len(value)}", field="network.activation")
    out = tuple(_activation(v, "network.activation") for v in value)
    names = [(a.name, a.latex_source) for a in out]
    if len(set(names)) < len(names):
        raise SpecError("lists the same activation twice", field="network.activation")
    return out



def _samples_from_data(network: NetworkSpec, net: dict[str, Any],
                       data: DataSpec | None) -> NetworkSpec:
    """With [data], ``samples`` is its number of rows; a different ``samples`` is an error."""
    if data is None:
        return network
    rows = len(data.inputs)
    if "samples" in net and net["samples"] != rows:
        raise SpecError(f"is {net['samples']}, but [data] has {rows} sample"
                        f"{'s' if rows > 1 else ''} (rows of data.inputs); drop samples or "
                        "make them agree", field="network.samples")
    return replace(network, samples=rows)


def _facts(value: Any, network: NetworkSpec) -> tuple:
    """The [[fact]] tables (see :mod:`symderive.spec.facts`)."""
    if value is None:
        return ()
    return parse_facts(value, network)


def _default_title(source: str) -> str:
    """The file's name in words; ``Derivation`` for ``<stdin>``, ``<dict>`` and the like."""
    if source.startswith("<"):
        return "Derivation"
    stem = re.sub(r"\.toml$", "", source.replace("\\", "/").split("/")[-1])
    return stem.replace("_", " ").replace("-", " ").strip().capitalize() or "Derivation"


def parse_network(net: dict[str, Any], tables: Any = None) -> NetworkSpec:
    """The ``[network]`` table (with the ``[[layer]]`` tables, if any) alone, validated
    (the PyTorch bridge reads a model's groups before it writes its hypotheses)."""
    return _network(net, tables)


def _network(net: dict[str, Any], tables: Any = None) -> NetworkSpec:
    _unknown(net, _NETWORK_KEYS, "network")
    if tables is not None or "input" in net:
        return _stack_network(net, tables)
    layers = net.get("layers")
    if layers is None:
        raise SpecError("is required: an array of layer sizes [input, hidden..., output]",
                        field="network.layers")
    if not isinstance(layers, (list, tuple)):
        raise SpecError(f"must be an array of layer sizes [input, hidden..., output], such "
                        f"as [2, 2, 1], not {_type_name(layers)}", field="network.layers")
    if len(layers) < 2:
        raise SpecError("needs at least an input and an output layer: [input, hidden..., "
                        "output]", field="network.layers")
    sizes = tuple(_int(n, "network.layers", 1, MAX_LAYER_WIDTH) for n in layers)
    bias = net.get("bias", True)
    if not isinstance(bias, bool):
        raise SpecError(f"must be true or false, not {_type_name(bias)}", field="network.bias")
    spec = NetworkSpec(
        layers=sizes,
        activation=_activation(net.get("activation", "tanh"), "network.activation"),
        output_activation=_activation(net.get("output_activation", "identity"),
                                      "network.output_activation"),
        bias=bias,
        loss=_loss(net.get("loss", "mse")),
        samples=_int(net.get("samples", 1), "network.samples", 1, MAX_SAMPLES),
    )
    _check_bce_output(spec)
    return spec


def _start_table(dense, data: dict[str, Any], key: str, network: NetworkSpec):
    """The ``[init]`` or ``[data]`` table (None when absent): read by ``dense`` for
    ``layers = [...]``, by :mod:`.layers.start` for ``[[layer]]`` tables."""
    if key not in data:
        return None
    if not network.stack:
        return dense(data[key], network)
    from .layers.start import parse_stack_data, parse_stack_init

    return (parse_stack_init if key == "init" else parse_stack_data)(data[key], network)


def _stack_supports(network: NetworkSpec, data: dict[str, Any]) -> None:
    """What a ``[[layer]]`` network cannot have yet: the tables that analyse a dense
    network only, and generic mode."""
    if not network.stack:
        return
    if "fact" in data and not _stack_facts(data["fact"]):
        raise SpecError("is not supported yet with [[layer]] tables (only with "
                        f'network.layers); kinds for [[layer]] tables: {", ".join(STACK_FACTS)}',
                        field="fact")
    if ANY_ACTIVATION in (network.activation, network.output_activation) or \
            network.loss == ANY_LOSS or any(s.activation == ANY_ACTIVATION for s in network.stack):
        raise SpecError('"any" (generic mode) is not supported yet with [[layer]] tables',
                        field="network")


#: The [[fact]] kinds derived for a [[layer]] network.
STACK_FACTS = ("conservation", "zero_init", "dropout")


def _stack_facts(tables: Any) -> bool:
    """True when every [[fact]] table asks for a kind a [[layer]] network supports."""
    return isinstance(tables, list) and all(isinstance(t, dict) and t.get("kind") in STACK_FACTS
                                            for t in tables)


def _stack_network(net: dict[str, Any], tables: Any) -> NetworkSpec:
    """A network given by ``input`` and ``[[layer]]`` tables (:mod:`.layers`)."""
    from .layers.read import read_input, read_stack

    if "layers" in net:
        raise SpecError("and [[layer]] tables are exclusive: give the layer sizes or the "
                        "layers one by one", field="network.layers")
    if "input" not in net:
        raise SpecError("is required with [[layer]] tables: one sample's shape",
                        field="network.input")
    if tables is None:
        raise SpecError("network.input needs [[layer]] tables after it", field="layer")
    bias = net.get("bias", True)
    if not isinstance(bias, bool):
        raise SpecError(f"must be true or false, not {_type_name(bias)}", field="network.bias")
    shape = read_input(net["input"])
    default = _activation(net.get("activation", "tanh"), "network.activation")
    output = _activation(net.get("output_activation", "identity"), "network.output_activation")
    stack = read_stack(tables, shape, default, output, bias, _activation)
    sizes = (math.prod(shape),) + tuple(math.prod(s.out_shape) for s in stack)
    spec = NetworkSpec(layers=sizes, activation=default,
                       output_activation=stack[-1].activation or output, bias=bias,
                       loss=_loss(net.get("loss", "mse")),
                       samples=_int(net.get("samples", 1), "network.samples", 1, MAX_SAMPLES),
                       input=shape, stack=stack)
    _check_samples(spec)
    _check_bce_output(spec)
    return spec


def _check_samples(spec: NetworkSpec) -> None:
    """Each layer's kind checks it can run on the network's number of samples."""
    from .layers import spec_kind

    for layer in spec.stack:
        spec_kind(layer.kind).check_samples(layer, spec.samples, f"layer[{layer.index}]")


#: Named output activations whose values can leave (0, 1), where ln ŷ or ln(1 − ŷ) is undefined.
_UNBOUNDED_OUTPUTS = ("identity", "tanh", "relu", "softplus", "gelu", "silu")


def _check_bce_output(spec: NetworkSpec) -> None:
    """Binary cross-entropy takes ln ŷ and ln(1 − ŷ): the outputs must lie in (0, 1)."""
    out = spec.output_activation
    if spec.loss.name != "bce":
        return
    if out.latex_source is None and out.name in _UNBOUNDED_OUTPUTS:
        why = f'is "{out.name}"'
    elif out.latex_source is not None and (where := outside_unit_interval_at(out.np_f)):
        why = f"takes values outside (0, 1): {where}"
    else:
        return
    raise SpecError(f'loss "bce" needs outputs in (0, 1), but output_activation {why}; use '
                    'output_activation = "sigmoid" (or loss = "softmax_ce" for logits)',
                    field="network.output_activation")


_BACKSLASH_HINT = ("; write LaTeX in single quotes, latex = '\\frac{z}{2}', where a "
                   "backslash is just a backslash (or double every backslash)")
#: What TOML makes of \frac, \beta, \tanh, \right, \nabla in a double-quoted string: a
#: control character and the rest of the command (a tab or newline alone may be layout).
_ESCAPED_COMMAND = re.compile(
    r"[\f\x08](?=[A-Za-z])"
    r"|\t(?:anh|imes|ext|extrm|heta|au|frac|ilde|op|o)(?![A-Za-z])"
    r"|\r(?:ight|ho|angle|brace|vert|m)(?![A-Za-z])"
    r"|\n(?:abla|eq|e|u|ot|eg|ewline|orm)(?![A-Za-z])")
_ESCAPED = {"\f": "\\f", "\t": "\\t", "\r": "\\r", "\n": "\\n", "\b": "\\b"}


def _latex_table(value: dict[str, Any], where: str) -> str:
    if set(value) != {"latex"}:
        raise SpecError('a formula must be given as { latex = "..." }', field=where)
    source = _string(value["latex"], f"{where}.latex", max_len=10_000)
    m = _ESCAPED_COMMAND.search(source)
    if m:
        escape = _ESCAPED[m.group()[0]]
        command = escape + source[m.start() + 1:m.start() + 6]
        raise SpecError(f"has a control character where a backslash was meant: in a "
                        f"double-quoted string TOML reads the {escape} of {command}... as an "
                        "escape" + _BACKSLASH_HINT, field=f"{where}.latex")
    return source


def _activation(value: Any, where: str) -> Activation:
    if isinstance(value, str):
        if value == "any" and where == "network.activation":
            return ANY_ACTIVATION
        if value not in ACTIVATIONS:
            generic = ", any (an undefined σ)" if where == "network.activation" else ""
            raise SpecError(f"unknown activation {value!r}; known: {', '.join(ACTIVATIONS)}"
                            f"{generic}, or {{ latex = '...' }} in z", field=where)
        return ACTIVATIONS[value]
    if isinstance(value, dict):
        source = _latex_table(value, where)
        from .latex import parse_activation  # lazy: pulls in the LaTeX parser

        try:
            expr = parse_activation(source)
        except (LatexInputError, ResourceLimitError) as exc:
            raise SpecError(str(exc), field=f"{where}.latex") from None
        why = not_real_at(expr)
        if why:
            raise SpecError(f"an activation must be a real function of real z, but {why}",
                            field=f"{where}.latex")
        return activation_from_expr(expr, source)
    raise SpecError(f"must be an activation name or {{ latex = '...' }}, not {_type_name(value)}",
                    field=where)


def _loss(value: Any) -> Loss:
    where = "network.loss"
    if isinstance(value, str):
        if value == "any":
            return ANY_LOSS
        if value not in LOSSES:
            raise SpecError(f"unknown loss {value!r}; known: {', '.join(LOSSES)}, any (an "
                            "undefined ℓ(ŷ, y)), or { latex = '...' } in \\hat{y} and y",
                            field=where)
        return Loss(value)
    if isinstance(value, dict):
        source = _latex_table(value, where)
        from .latex import parse_loss  # lazy: pulls in the LaTeX parser

        try:
            expr = parse_loss(source)
        except (LatexInputError, ResourceLimitError) as exc:
            raise SpecError(str(exc), field=f"{where}.latex") from None
        return Loss("latex", expr, source)
    raise SpecError(f"must be a loss name or {{ latex = '...' }}, not {_type_name(value)}",
                    field=where)


def _hypothesis(h: Any, k: int, network: NetworkSpec) -> Hypothesis:
    where = f"hypothesis[{k}]"
    if not isinstance(h, dict):
        raise SpecError("must be a table", field=where)
    _unknown(h, _HYPOTHESIS_KEYS, where)
    if network.stack:
        from .layers.groups import stack_hypothesis

        layer, u, tie, zero = stack_hypothesis(h, where, network.stack)
        return _named_hypothesis(h, where, layer, u, tie, zero)
    depth = network.depth
    if "layer" not in h:
        hidden = f"a hidden layer, 1 to {depth - 1}, or " if depth > 1 else ""
        raise SpecError(f"is required: {hidden}the output layer, {depth}",
                        field=f"{where}.layer")
    layer = unit_layer(h["layer"], f"{where}.layer", network)
    u = unit_pair(h.get("units"), f"{where}.units", layer, network)
    tie = _groups(h.get("tie", []), f"{where}.tie", network, layer)
    zero = _groups(h.get("zero", []), f"{where}.zero", network, layer)
    both = set(tie) & set(zero)
    if both:
        raise SpecError(f"group {sorted(both)[0]!r} is both tied and zeroed; choose one",
                        field=f"{where}.zero")
    return _named_hypothesis(h, where, layer, u, tie, zero)


def _named_hypothesis(h: dict[str, Any], where: str, layer: int, u: tuple[int, ...],
                      tie: tuple[str, ...], zero: tuple[str, ...]) -> Hypothesis:
    name = _shown_text(h.get("name", _default_name(layer, u, tie, zero)), f"{where}.name",
                       500, "hypothesis's name")
    claim = parse_claim(h, where, HYPOTHESIS_CLAIMS)
    return Hypothesis(name, layer, (u[0], u[1]), tie, zero, claim)


def _default_name(layer: int, units: tuple[int, ...], tie, zero) -> str:
    parts = [f"tie {', '.join(tie)}"] if tie else []
    parts += [f"zero {', '.join(zero)}"] if zero else []
    return f"layer {layer}, units {units[0]} and {units[1]}: " + ("; ".join(parts) or "no assumption")


def _check(c: dict[str, Any]) -> CheckSpec:
    _unknown(c, _CHECK_KEYS, "check")
    seed = _int(c.get("seed", 0), "check.seed", 0, 2**32 - 1)
    steps = _int(c.get("steps", 200), "check.steps", 0, 100_000)
    lr = c.get("learning_rate", 0.05)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) \
            or not 0 < lr <= 10:
        raise SpecError("must be a number in (0, 10]", field="check.learning_rate")
    opt = c.get("optimizer", "sgd")
    if opt not in OPTIMIZERS:
        raise SpecError(f"unknown optimizer {opt!r}; allowed: {', '.join(OPTIMIZERS)}",
                        field="check.optimizer")
    return CheckSpec(seed, steps, float(lr), opt, steps_given="steps" in c)
