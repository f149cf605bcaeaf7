"""Resource guards and progress lines: a stranger's spec must not hang a lecturer's build.

Before any symbolic work, :func:`check_resources` estimates from the spec
alone what deriving it will cost and refuses, with a :class:`SpecError` that
names the field, the limit and the alternative, a spec over one of these
limits (``symderive derive --force`` runs it anyway):

- **exponents** in a LaTeX activation or loss: ``z^{999999}`` is cheap to read
  but exact rational arithmetic on it (the probes of the local proof) or its
  expansion never finishes: at most :data:`MAX_EXPONENT`;
- **symbolic work**, in term-operations: every hypothesis's local derivation
  sums over the units of the next layer, each term carrying σ and σ'
  (:func:`symbolic_work`); measured at about 8 500 term-operations a second,
  so :data:`MAX_SYMBOLIC_WORK` is about a minute;
- **width summed over**: the next layer of a hypothesis's layer, at most
  :data:`MAX_NEXT_WIDTH` units (the numeric check compiles that sum into one
  Python function, and CPython refuses a few thousand terms);
- **parameters**, at most :data:`MAX_PARAMETERS` (the numeric check keeps
  several copies of them), and **depth**, at most :data:`MAX_DEPTH` weight
  layers (the report writes backpropagation out layer by layer);
- **numeric work**, in multiply-adds, as the cross-check runs it: training steps,
  finite differences, witness passes, and the activation's elementwise cost
  (:func:`numeric_work`), at most :data:`MAX_NUMERIC_WORK` (about 30 s: one core did
  3e9 to 4e9 a second on the benchmark's shapes);
- **JSON size** (:func:`json_bytes`): witnesses and training gaps, at most
  :data:`MAX_JSON_BYTES`;
- for a ``[[layer]]`` network, **seconds** (:func:`symderive.cost.layers.stack_parts`):
  each kind's passes, local derivations and swap checks, and the whole-loss steps
  within the allowance they share, at most ``MAX_SECONDS`` (30 s).

The way out of most of them is generic mode: a symmetry of two units does
not depend on the width, and ``activation = "any"`` proves it for every
activation, so a small network says the same as a huge one.

:class:`Progress` writes one line per stage to stderr, only for a person
watching a terminal: silent when stderr is not a TTY or with ``--quiet``,
and never on stdout (which may be the report).
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import IO, Callable

import sympy as sp

from .engine.network import Network
from .errors import SpecError, one_line
from .spec import Spec, locate
from .spec.latex.complexity import MAX_EXPONENT, problem

MAX_SYMBOLIC_WORK = 500_000
MAX_NEXT_WIDTH = 2048
#: About 64 bytes a parameter were measured at the peak (270 MB for 4.2 million), so
#: this is about 1 GB, an eighth of the command line's address space; the time such a
#: network takes is the numeric estimate's to judge ([8, 2048, 2048, 4] took 16 s).
MAX_PARAMETERS = 16_000_000
#: 400 layers of width 4 took 4 s of CPU, well within the estimates, which count each
#: layer; the limit bounds the report's length (backpropagation written out per layer).
MAX_DEPTH = 200
MAX_NUMERIC_WORK = 1e11
#: JSON reports over this many bytes are refused (about 5 s to write, and unreadable).
MAX_JSON_BYTES = 60_000_000

GENERIC = ('activation = "any" (generic mode: a proof for every activation and every '
           'width, so a small network such as layers = [2, 3, 1] says the same)')
FORCE = "or pass --force to run it anyway"


@dataclass(frozen=True)
class Refusal:
    """One limit a spec exceeds: the field to change and the whole explanation."""

    field: str
    message: str


# ------------------------------------------------------------------ estimates


def parameters(spec: Spec) -> int:
    return Network(spec.network).parameter_count()


def symbolic_work(spec: Spec) -> float:
    """Term-operations of the derivations (:func:`symderive.cost.symbolic_work`)."""
    from .cost import symbolic_work as work

    return work(spec)


def numeric_work(spec: Spec, fmt: str | None = None) -> float:
    """Multiply-add equivalents of the NumPy work, and with ``fmt`` "pdf" or "beamer"
    the typesetting (:func:`symderive.cost.numeric_work`)."""
    from .cost import numeric_work as work

    return work(spec, fmt)


def json_bytes(spec: Spec) -> int:
    """The JSON report's size (:func:`symderive.cost.json_bytes`)."""
    from .cost import json_bytes as size

    return size(spec)


def term_weight(spec: Spec) -> int:
    from .cost import term_weight as weight

    return weight(spec)


def elementwise_weight(spec: Spec) -> int:
    from .cost import elementwise_weight as weight

    return weight(spec)


def next_width(spec: Spec, h) -> int:
    """Units of the layer after the hypothesis's (an output unit feeds the loss: 1 term)."""
    layers = spec.network.layers
    return layers[h.layer + 1] if h.layer + 1 < len(layers) else 1


def estimates(spec: Spec, fmt: str | None = None) -> dict[str, tuple[float, float]]:
    """Every estimate the guards compare, with its limit: {name: (estimate, limit)}."""
    return {"numeric": (numeric_work(spec, fmt), MAX_NUMERIC_WORK),
            "symbolic": (symbolic_work(spec), MAX_SYMBOLIC_WORK),
            "json": (json_bytes(spec), MAX_JSON_BYTES),
            "parameters": (parameters(spec), MAX_PARAMETERS),
            "depth": (spec.network.depth, MAX_DEPTH),
            "next width": (max((next_width(spec, h) for h in spec.hypotheses), default=0),
                           MAX_NEXT_WIDTH)}


# ------------------------------------------------------------------ the limits


def refusals(spec: Spec, fmt: str | None = None) -> list[Refusal]:
    """Every limit ``spec`` exceeds, the most specific first; ``fmt`` "pdf" or "beamer"
    (slides compiled to PDF) counts pdflatex's time too, "json" writing the report."""
    formulas = _exponents(spec) or _complexity(spec)
    if spec.network.stack:
        return formulas + _stack(spec)
    return formulas + _shape(spec) + _symbolic(spec) + _numeric(spec, fmt) + _json(spec)


def _stack(spec: Spec) -> list[Refusal]:
    """A ``[[layer]]`` network: its kinds' passes counted (:mod:`symderive.cost.layers`)."""
    from .cost.layers import MAX_SECONDS, stack_json_bytes, stack_parts
    from .engine.layers.stack import Stack

    count = Stack(spec.network).parameter_count()
    if count > MAX_PARAMETERS:
        return [Refusal("layer", f"has {count:,} parameters, over the limit of "
                        f"{MAX_PARAMETERS:,}; use fewer channels or units, {FORCE}")]
    parts = stack_parts(spec)
    seconds = sum(s for _, s in parts)
    if seconds > MAX_SECONDS:
        field, share = _largest(parts)
        what = (_STACK_PARTS["whole loss"] if field == "whole loss"
                else _STACK_PARTS[field.split("[")[0]])
        return [Refusal(field if field.startswith("fact[") else "layer",
                        f"would take about {seconds:.0f} s at worst, {share:.0%} of it {what}, "
                        f"over the limit of {MAX_SECONDS:.0f} s; use fewer channels, "
                        f"positions, tokens, steps or samples, {FORCE}")]
    size = stack_json_bytes(spec)
    if size > MAX_JSON_BYTES:
        return [Refusal("layer", f"its witnesses would need about {size / 1e6:.0f} MB of "
                        f"JSON, over the limit of {MAX_JSON_BYTES / 1e6:.0f} MB; use fewer "
                        f"parameters, {FORCE}")]
    return []


#: What each part of a [[layer]] network's estimate is (:func:`symderive.cost.layers.stack_parts`).
_STACK_PARTS = {
    "hypotheses": ("the hypotheses (NumPy passes of the layers for the witness search, "
                   "the gradient check and training; the kinds' local derivations and the "
                   "swap's symbolic checks)"),
    "whole loss": "the whole-loss checks of groups nothing else may settle",
    "fact": "the fact's check and proof",
}


def check_resources(spec: Spec, text: str | bytes | None = None,
                    fmt: str | None = None) -> None:
    """Raise a :class:`SpecError` (located in ``text``, the spec's source, if given)
    for the first limit ``spec`` exceeds; return if it is within all of them.  ``fmt``:
    "pdf" or "beamer" when the report is typeset with pdflatex (slides to a PDF),
    "json" for a JSON report (its writing counted)."""
    found = refusals(spec, fmt)
    if not found:
        return
    error = SpecError(found[0].message, source=spec.source, field=found[0].field)
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig", errors="replace")
    raise locate(error, text) if text is not None else error


def _formulas(spec: Spec) -> list[tuple[str, sp.Expr]]:
    """(field, expression) of every formula the spec gives in LaTeX."""
    net = spec.network
    formulas = [("network.activation.latex", net.activation.expr, net.activation.latex_source),
                ("network.output_activation.latex", net.output_activation.expr,
                 net.output_activation.latex_source),
                ("network.loss.latex", net.loss.expr, net.loss.latex_source)]
    return [(field, expr) for field, expr, source in formulas
            if source is not None and expr is not None]


def _complexity(spec: Spec) -> list[Refusal]:
    """Formulas nested too deep or of too high a degree (towers, continued fractions)."""
    return [Refusal(field, f"{why}; use a simpler formula or {GENERIC}, {FORCE}")
            for field, expr in _formulas(spec) if (why := problem(expr))]


def _exponents(spec: Spec) -> list[Refusal]:
    out = []
    for field, expr in _formulas(spec):
        worst = max((_exponent_size(p.exp) for p in expr.atoms(sp.Pow)), default=0)
        if worst > MAX_EXPONENT:
            out.append(Refusal(field, (
                f"has an exponent of {worst}, over the limit of {MAX_EXPONENT}: exact "
                "arithmetic and expansion with it would not finish; use a smaller exponent "
                f"or {GENERIC}, {FORCE}")))
    return out


def _exponent_size(e: sp.Expr) -> int:
    """|p| of a rational exponent p/q (what expansion multiplies out), else 0."""
    return abs(int(e.p)) if e.is_Rational else 0


def _shape(spec: Spec) -> list[Refusal]:
    layers = spec.network.layers
    out = []
    if len(layers) - 1 > MAX_DEPTH:
        out.append(Refusal("network.layers", (
            f"has {len(layers) - 1} weight layers, over the limit of {MAX_DEPTH}: the report "
            f"writes backpropagation out layer by layer; use fewer layers or {GENERIC}, "
            f"{FORCE}")))
    count = parameters(spec)
    if count > MAX_PARAMETERS:
        out.append(Refusal("network.layers", (
            f"has {count:,} parameters, over the limit of {MAX_PARAMETERS:,}: the numeric "
            f"cross-check keeps several copies of them; use narrower layers or {GENERIC}, "
            f"{FORCE}")))
    for k, h in enumerate(spec.hypotheses, start=1):
        width = next_width(spec, h)
        if width > MAX_NEXT_WIDTH:
            out.append(Refusal(f"hypothesis[{k}].layer", (
                f"layer {h.layer + 1}, after layer {h.layer}, has {width} units, over the "
                f"limit of {MAX_NEXT_WIDTH}: the derivation sums over them and the numeric "
                f"check compiles that sum; use a narrower layer or {GENERIC}, {FORCE}")))
            break
    return out


def _largest(parts: list[tuple[str, float]]) -> tuple[str, float]:
    """The field whose parts add up to the most, and its share of the total."""
    by_field: dict[str, float] = {}
    for field, work in parts:
        key = ("hypotheses" if field.startswith("hypothesis[") and not field.endswith(".swap")
               else field)
        by_field[key] = by_field.get(key, 0.0) + work
    field = max(by_field, key=by_field.get)
    return field, by_field[field] / max(sum(by_field.values()), 1e-300)


#: What makes a fact's derivation large, and what to change: by kind.
_FACT_WORK = {
    "backprop_exact": ("the whole loss expanded into a sum of products, which a polynomial "
                       "activation multiplies out layer by layer",
                       "ask it about a shallower or narrower network or a named activation"),
    None: ("its sums over a layer's units", "ask it about a narrower layer"),
}


def _symbolic(spec: Spec) -> list[Refusal]:
    from .cost import symbolic_parts

    parts = symbolic_parts(spec)
    work = sum(w for _, w in parts)
    if work <= MAX_SYMBOLIC_WORK:
        return []
    largest, share = _largest(parts)
    over = f"over the limit of {MAX_SYMBOLIC_WORK:,}"
    if largest.startswith("fact["):
        kind = spec.facts[int(largest[5:-1]) - 1].kind
        what, advice = _FACT_WORK.get(kind, _FACT_WORK[None])
        return [Refusal(largest, (
            f"the symbolic work would be about {work:,.0f} term-operations, {share:.0%} of "
            f"it this fact's derivation ({what}), {over}; {advice}, or {GENERIC}, {FORCE}"))]
    if largest == "network.loss":
        return [Refusal(largest, (
            f"the symbolic work would be about {work:,.0f} term-operations, {share:.0%} of "
            f"it differentiating the loss in each of the {spec.network.layers[-1]} outputs "
            f"(softmax couples them all), {over}; use fewer outputs or loss = \"any\", "
            f"{FORCE}"))]
    if largest == "whole loss":
        return [Refusal("network.activation", (
            f"the symbolic work would be about {work:,.0f} term-operations, {share:.0%} of "
            "it the whole-loss checks of groups nothing else may settle (each under "
            "3 s, together at most the 6 s they share), "
            f"{over}; use {GENERIC}, a named activation, fewer hypotheses, {FORCE}"))]
    if largest.endswith(".swap"):
        return [Refusal(largest.removesuffix(".swap") + ".layer", (
            f"the symbolic work would be about {work:,.0f} term-operations, {share:.0%} of "
            "it the whole-loss check that swapping the two output units leaves the loss "
            "unchanged (the loss expanded into a sum of products, which a polynomial "
            f"activation or loss multiplies out), {over}; use a named activation or loss, "
            f"a smaller network, or {GENERIC}, {FORCE}"))]
    latex = spec.network.activation.latex_source is not None
    field = "network.activation.latex" if latex else "network.layers"
    return [Refusal(field, (
        f"the symbolic work would be about {work:,.0f} term-operations (hypotheses x units "
        f"of the next layer x size of the activation and its derivative), {over}; use "
        f"{GENERIC}, a simpler activation, narrower layers or fewer hypotheses, {FORCE}"))]


#: What to lower when a part of the numeric work is the largest.
_NUMERIC_ADVICE = {
    "hypotheses": ("lower [check] steps or network.samples, use fewer or narrower layers "
                   "or fewer hypotheses"),
    "init": ("use narrower or fewer layers, fewer [data] rows, or \"random\" tensors "
             "(given numbers are analysed exactly)"),
    "fact": ("ask the fact about a narrower or shallower network, or with fewer samples "
             "(its check differentiates every entry of the units' groups)"),
}


def _numeric(spec: Spec, fmt: str | None = None) -> list[Refusal]:
    from .cost import numeric_parts

    parts = numeric_parts(spec, fmt)
    work = sum(w for _, w in parts)
    if work <= MAX_NUMERIC_WORK:
        return []
    largest, share = _largest(parts)
    steps, samples = spec.check.steps, spec.network.samples
    if largest == "hypotheses":
        field = ("check.steps" if spec.check.steps_given and steps > 1000
                 else "network.samples" if samples > 64 else "network.layers")
        what = f"{len(spec.hypotheses)} hypotheses"
    else:
        field = largest
        what = "the starting point [init]" if largest == "init" else f"[[{largest}]]"
    advice = _NUMERIC_ADVICE[largest.split("[")[0]]
    if fmt in ("pdf", "beamer"):
        advice += " (pdflatex's typesetting is counted: --format latex is quicker)"
    return [Refusal(field, (
        f"the numeric cross-check would need about {work:.2g} multiply-adds, {share:.0%} "
        f"of it for {what} on {parameters(spec):,} parameters and {samples} samples "
        f"(training steps, draws, passes, finite differences and witnesses as they run), "
        f"over the limit of {MAX_NUMERIC_WORK:.0e} (about 30 s); {advice}, {FORCE}"))]


def _json(spec: Spec) -> list[Refusal]:
    from .cost import json_parts

    parts = json_parts(spec)
    size = sum(b for _, b in parts)
    if size <= MAX_JSON_BYTES:
        return []
    largest, _ = _largest(parts)
    field = "network.layers" if largest == "hypotheses" else largest
    return [Refusal(field, (
        f"the JSON report would be about {size / 1e6:.0f} MB (witnesses, training "
        f"gaps, trajectories), over the limit of {MAX_JSON_BYTES / 1e6:.0f} MB; lower [check] "
        f"steps or network.samples, or use narrower layers, {FORCE}"))]


# ------------------------------------------------------------------ progress


#: Progress messages (which quote hypothesis names) are cut to this many characters.
LINE_CHARS = 100


class Progress:
    """Progress lines on stderr for a person at a terminal: ``symderive: [2/4] ...``.

    Silent when the stream is not a terminal (a build log, a pipe) or when
    ``enabled`` is false (``--quiet``).  Text from the spec is made one
    printable line (no terminal escape sequences) and cut to :data:`LINE_CHARS`.
    """

    def __init__(self, stream: IO[str] | None = None, *, enabled: bool = True,
                 clock: Callable[[], float] = time.monotonic):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and is_terminal(self.stream)
        self.clock = clock
        self.start = clock()

    def __call__(self, message: str) -> None:
        if not self.enabled:
            return
        elapsed = self.clock() - self.start
        line = one_line(message)
        if len(line) > LINE_CHARS:
            line = line[:LINE_CHARS - 3] + "..."
        print(f"symderive: {line} ({elapsed:.1f} s)", file=self.stream, flush=True)


def is_terminal(stream: IO[str] | None) -> bool:
    """Is ``stream`` a terminal (a person is there)?  None, closed or odd streams are not."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # none, no isatty, or closed
        return False


__all__ = ["check_resources", "refusals", "Refusal", "symbolic_work", "numeric_work",
           "parameters", "term_weight", "Progress", "MAX_EXPONENT",
           "MAX_SYMBOLIC_WORK", "MAX_NEXT_WIDTH", "MAX_PARAMETERS", "MAX_DEPTH",
           "MAX_NUMERIC_WORK", "json_bytes", "MAX_JSON_BYTES", "elementwise_weight",
           "estimates", "next_width"]
