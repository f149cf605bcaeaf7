"""Load and validate a derivation spec (TOML) into frozen dataclasses.

TOML never leaves this module: the rest of symderive sees :class:`Spec`.
Every problem is a :class:`~symderive.errors.SpecError` naming the field, what
is allowed, and the line where it can be found.
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from .errors import LatexInputError, ResourceLimitError, SpecError
from .functions import ACTIVATIONS, LOSSES, Activation, Loss, activation_from_expr

GROUPS: tuple[str, ...] = ("incoming", "bias", "outgoing")
OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "adam")
MAX_LAYER_WIDTH = 4096
MAX_SAMPLES = 1024


@dataclass(frozen=True)
class NetworkSpec:
    """The network of a derivation, with defaults filled in."""

    layers: tuple[int, ...]
    activation: Activation
    output_activation: Activation
    bias: bool = True
    loss: Loss = field(default_factory=lambda: Loss("mse"))
    samples: int = 1

    @property
    def depth(self) -> int:
        """Number of weight layers (hidden layers + 1)."""
        return len(self.layers) - 1

    def groups(self) -> tuple[str, ...]:
        """The parameter groups a hidden unit has in this network."""
        return GROUPS if self.bias else ("incoming", "outgoing")

    def to_json(self) -> dict[str, Any]:
        return {
            "layers": list(self.layers),
            "activation": _function_json(self.activation),
            "output_activation": _function_json(self.output_activation),
            "bias": self.bias,
            "loss": self.loss.name if self.loss.latex_source is None
            else {"latex": self.loss.latex_source},
            "samples": self.samples,
        }


def _function_json(act: Activation) -> Any:
    return act.name if act.latex_source is None else {"latex": act.latex_source}


@dataclass(frozen=True)
class Hypothesis:
    """One symmetry assumption about two units of a hidden layer (1-based)."""

    name: str
    layer: int
    units: tuple[int, int]
    tie: tuple[str, ...] = ()
    zero: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "layer": self.layer, "units": list(self.units),
                "tie": list(self.tie), "zero": list(self.zero)}


@dataclass(frozen=True)
class CheckSpec:
    """Settings of the numeric cross-check."""

    seed: int = 0
    steps: int = 200
    learning_rate: float = 0.05
    optimizer: str = "sgd"


@dataclass(frozen=True)
class Spec:
    """A whole derivation request."""

    title: str
    question: str | None
    network: NetworkSpec
    hypotheses: tuple[Hypothesis, ...]
    check: CheckSpec = CheckSpec()
    source: str = "<spec>"
    description: str | None = None   # one line for `symderive list`
    facts: tuple = ()                # [[fact]] tables: symderive.facts.spec.FactSpec


# --------------------------------------------------------------------------- reading


def parse_spec(text: str, source: str = "<spec>") -> Spec:
    """Parse TOML ``text`` (from file ``source``) into a validated :class:`Spec`."""
    if not _has_content(text):
        raise SpecError("the spec is empty: it needs a [network] table and at least one "
                        "[[hypothesis]] table", source=source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        hint = _BACKSLASH_HINT if "Unescaped '\\'" in str(exc) else ""
        raise SpecError(f"invalid TOML: {exc}{hint}", source=source,
                        line=_toml_line(exc)) from None
    except RecursionError:
        # tomllib reads nested arrays and inline tables recursively.
        raise SpecError("invalid TOML: arrays or inline tables are nested too deeply",
                        source=source) from None
    try:
        return _build_spec(data, source)
    except SpecError as exc:
        raise exc.located(source, _find_line(text, exc.field)) from None


def load_spec(path: str, text: bytes | str) -> Spec:
    """Parse the bytes of a spec file; invalid UTF-8 is a :class:`SpecError`."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")  # tolerate the BOM some editors write
        except UnicodeDecodeError as exc:
            line = text.count(b"\n", 0, exc.start) + 1
            raise SpecError(f"not valid UTF-8 text: byte 0x{text[exc.start]:02x} at offset "
                            f"{exc.start}; save the spec as UTF-8", source=path,
                            line=line) from None
    return parse_spec(text, path)


def locate(error: SpecError, text: str) -> SpecError:
    """``error``, found after parsing spec ``text`` (e.g. by :mod:`symderive.guards`),
    with the line of its field."""
    return error.located(error.source or "<spec>", _find_line(text, error.field))


def _has_content(text: str) -> bool:
    return any(line.strip() and not line.strip().startswith("#") for line in text.splitlines())


def _toml_line(exc: tomllib.TOMLDecodeError) -> int | None:
    m = re.search(r"at line (\d+)", str(exc))
    return int(m.group(1)) if m else None


_HEADER = re.compile(r"^\s*(\[\[?)([^\]]*)\]")


def _find_line(text: str, dotted: str | None) -> int | None:
    """Best-effort line of the key named by ``dotted`` (``hypothesis[2].units``).

    When the key itself is not in the file (a required key is missing) this is
    the line of its table: the ``[network]`` or k-th ``[[hypothesis]]`` header.
    """
    m = re.fullmatch(r"([^.\[]+)(?:\[(\d+)\])?(?:\.([^.]+))?.*", dotted or "", re.S)
    if not m:
        return None
    table, index, key = m.group(1), int(m.group(2)) if m.group(2) else None, m.group(3)
    lines = text.splitlines()
    found = _key_line(lines, table, index, key) if key is not None else None
    return found if found is not None else _table_line(lines, table, index)


def _key_pattern(*names: str) -> re.Pattern[str]:
    """A line assigning the (dotted) key ``names``, bare or quoted."""
    parts = [rf"(?:{re.escape(n)}|\"{re.escape(n)}\"|'{re.escape(n)}')" for n in names]
    return re.compile(r"^\s*" + r"\s*\.\s*".join(parts) + r"\s*[=.]")


def _header(line: str) -> tuple[bool, list[str]] | None:
    """(is an array table, path) of a table header line, else None."""
    h = _HEADER.match(line)
    if not h:
        return None
    return h.group(1) == "[[", [p.strip().strip("\"'") for p in h.group(2).split(".")]


def _key_line(lines: list[str], table: str, index: int | None, key: str) -> int | None:
    inside, dotted = _key_pattern(key), _key_pattern(table, key)
    section: list[str] | None = None
    count = 0
    for number, line in enumerate(lines, start=1):
        header = _header(line)
        if header:
            section = header[1]
            count += header[0] and section == [table]
            if section[:2] == [table, key] and index in (None, count):
                return number
        elif section is None and index is None and dotted.match(line):
            return number
        elif section == [table] and index in (None, count) and inside.match(line):
            return number
    return None


def _table_line(lines: list[str], table: str, index: int | None) -> int | None:
    top, count, assign = True, 0, _key_pattern(table)
    for number, line in enumerate(lines, start=1):
        header = _header(line)
        if header:
            top = False
            if header[1] == [table]:
                count += header[0]
                if index in (None, count):
                    return number
        elif top and assign.match(line):
            return number
    return None


_TOP_KEYS = {"title", "question", "description", "network", "hypothesis", "fact", "check"}
_NETWORK_KEYS = {"layers", "activation", "output_activation", "bias", "loss", "samples"}
_HYPOTHESIS_KEYS = {"name", "layer", "units", "tie", "zero"}
_CHECK_KEYS = {"seed", "steps", "learning_rate", "optimizer"}


def _unknown(table: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            prefix = f"{where}." if where else ""
            raise SpecError(f"unknown key; allowed keys are {', '.join(sorted(allowed))}",
                            field=f"{prefix}{key}")


def _build_spec(data: dict[str, Any], source: str) -> Spec:
    _unknown(data, _TOP_KEYS, "")
    title = _string(data.get("title", _default_title(source)), "title")
    question = data.get("question")
    if question is not None:
        question = _string(question, "question")
    net = _table(data.get("network"), "network", required=True)
    network = _network(net)
    raw_hyps = data.get("hypothesis")
    facts = _facts(data.get("fact"), network)
    if facts and "hypothesis" not in data:
        raw_hyps = []  # a spec of [[fact]] tables only
    elif not isinstance(raw_hyps, list) or not raw_hyps:
        raise SpecError("at least one [[hypothesis]] table (or [[fact]] table) is required",
                        field="hypothesis")
    hyps = tuple(_hypothesis(h, k, network) for k, h in enumerate(raw_hyps, start=1))
    check = _check(_table(data.get("check", {}), "check"))
    description = data.get("description")
    if description is not None:
        description = _string(description, "description", 300)
    return Spec(title, question, network, hyps, check, source, description, facts)


def _facts(value: Any, network: NetworkSpec) -> tuple:
    """The [[fact]] tables (see :mod:`symderive.facts.spec`)."""
    if value is None:
        return ()
    from .facts.spec import parse_facts  # lazy: facts build on this module

    return parse_facts(value, network)


def _default_title(source: str) -> str:
    stem = re.sub(r"\.toml$", "", source.replace("\\", "/").split("/")[-1])
    return stem.replace("_", " ").replace("-", " ").strip().capitalize() or "Derivation"


def _table(value: Any, where: str, required: bool = False) -> dict[str, Any]:
    if value is None and required:
        raise SpecError(f"a [{where}] table is required", field=where)
    if not isinstance(value, dict):
        raise SpecError("must be a table", field=where)
    return value


def _string(value: Any, where: str, max_len: int = 2000) -> str:
    if not isinstance(value, str):
        raise SpecError(f"must be a string, not {_type_name(value)}", field=where)
    if len(value) > max_len:
        raise SpecError(f"is {len(value)} characters long; at most {max_len} allowed", field=where)
    return value


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"must be an integer, not {_type_name(value)}", field=where)
    if not low <= value <= high:
        raise SpecError(f"must be between {low} and {high}, got {value}", field=where)
    return value


def _network(net: dict[str, Any]) -> NetworkSpec:
    _unknown(net, _NETWORK_KEYS, "network")
    layers = net.get("layers")
    if not isinstance(layers, list):
        raise SpecError("is required: an array of layer sizes [input, hidden..., output]",
                        field="network.layers")
    if len(layers) < 3:
        raise SpecError("needs at least one hidden layer: [input, hidden..., output]",
                        field="network.layers")
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


#: Named output activations whose values can leave (0, 1), where ln ŷ or ln(1 − ŷ) is undefined.
_UNBOUNDED_OUTPUTS = ("identity", "tanh", "relu", "softplus")


def _check_bce_output(spec: NetworkSpec) -> None:
    """Binary cross-entropy takes ln ŷ and ln(1 − ŷ): the outputs must lie in (0, 1)."""
    out = spec.output_activation
    if spec.loss.name == "bce" and out.latex_source is None and out.name in _UNBOUNDED_OUTPUTS:
        raise SpecError(f'loss "bce" needs outputs in (0, 1), but output_activation is '
                        f'"{out.name}"; use output_activation = "sigmoid" (or loss = '
                        '"softmax_ce" for logits)', field="network.output_activation")


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
            from .generic import ANY_ACTIVATION  # generic mode: σ undefined

            return ANY_ACTIVATION
        if value not in ACTIVATIONS:
            generic = ", any (an undefined σ)" if where == "network.activation" else ""
            raise SpecError(f"unknown activation {value!r}; known: {', '.join(ACTIVATIONS)}"
                            f"{generic}, or {{ latex = '...' }} in z", field=where)
        return ACTIVATIONS[value]
    if isinstance(value, dict):
        source = _latex_table(value, where)
        from .latex_input import parse_activation  # lazy: pulls in the LaTeX parser

        try:
            expr = parse_activation(source)
        except (LatexInputError, ResourceLimitError) as exc:
            raise SpecError(str(exc), field=f"{where}.latex") from None
        return activation_from_expr(expr, source)
    raise SpecError(f"must be an activation name or {{ latex = '...' }}, not {_type_name(value)}",
                    field=where)


def _loss(value: Any) -> Loss:
    where = "network.loss"
    if isinstance(value, str):
        if value == "any":
            from .generic import ANY_LOSS  # generic mode: ℓ(ŷ, y) undefined

            return ANY_LOSS
        if value not in LOSSES:
            raise SpecError(f"unknown loss {value!r}; known: {', '.join(LOSSES)}, any (an "
                            "undefined ℓ(ŷ, y)), or { latex = '...' } in \\hat{y} and y",
                            field=where)
        return Loss(value)
    if isinstance(value, dict):
        source = _latex_table(value, where)
        from .latex_input import parse_loss  # lazy: pulls in the LaTeX parser

        try:
            expr = parse_loss(source)
        except (LatexInputError, ResourceLimitError) as exc:
            raise SpecError(str(exc), field=f"{where}.latex") from None
        return Loss("latex", expr, source)
    raise SpecError(f"must be a loss name or {{ latex = '...' }}, not {_type_name(value)}",
                    field=where)


def _groups(value: Any, where: str, network: NetworkSpec) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise SpecError(f"must be an array of groups from {', '.join(GROUPS)}", field=where)
    out: list[str] = []
    for g in value:
        if g not in GROUPS:
            raise SpecError(f"unknown group {g!r}; allowed: {', '.join(GROUPS)}", field=where)
        if g == "bias" and not network.bias:
            raise SpecError("names the bias group, but the network has bias = false",
                            field=where)
        if g in out:
            raise SpecError(f"names the group {g!r} twice", field=where)
        out.append(g)
    return tuple(sorted(out, key=GROUPS.index))


def _hypothesis(h: Any, k: int, network: NetworkSpec) -> Hypothesis:
    where = f"hypothesis[{k}]"
    if not isinstance(h, dict):
        raise SpecError("must be a table", field=where)
    _unknown(h, _HYPOTHESIS_KEYS, where)
    hidden = len(network.layers) - 2
    if "layer" not in h:
        raise SpecError(f"is required: a hidden layer, 1 to {hidden}", field=f"{where}.layer")
    layer = _hidden_layer(h["layer"], f"{where}.layer", hidden)
    u = unit_pair(h.get("units"), f"{where}.units", layer, network)
    tie = _groups(h.get("tie", []), f"{where}.tie", network)
    zero = _groups(h.get("zero", []), f"{where}.zero", network)
    both = set(tie) & set(zero)
    if both:
        raise SpecError(f"group {sorted(both)[0]!r} is both tied and zeroed; choose one",
                        field=f"{where}.zero")
    name = _string(h.get("name", _default_name(layer, u, tie, zero)), f"{where}.name", 500)
    return Hypothesis(name, layer, (u[0], u[1]), tie, zero)


def _hidden_layer(value: Any, where: str, hidden: int) -> int:
    """A hidden layer, 1-based; naming the input or output layer gets its own message."""
    if type(value) is int and value in (0, hidden + 1):
        which = "the input layer" if value == 0 else "the output layer"
        raise SpecError(f"must be a hidden layer, between 1 and {hidden}: layer {value} is "
                        f"{which}", field=where)
    return _int(value, where, 1, hidden)


def unit_pair(units: Any, where: str, layer: int, network: NetworkSpec) -> tuple[int, int]:
    """Two distinct units of hidden ``layer`` (1-based), read from the field ``where``."""
    width = network.layers[layer]
    if width < 2:
        raise SpecError(f"layer {layer} has only one unit: a hypothesis compares two units of "
                        "a layer with at least 2 (widen it in network.layers)", field=where)
    if not isinstance(units, list) or len(units) != 2:
        raise SpecError(f"must be two distinct units of layer {layer}, 1 to {width}", field=where)
    u = tuple(_int(n, where, 1, width) for n in units)
    if u[0] == u[1]:
        raise SpecError(f"must be two distinct units, got {u[0]} twice", field=where)
    return (u[0], u[1])


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
    return CheckSpec(seed, steps, float(lr), opt)
