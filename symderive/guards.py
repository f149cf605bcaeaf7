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
  :data:`MAX_JSON_BYTES`.

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
MAX_PARAMETERS = 4_000_000
MAX_DEPTH = 100
MAX_NUMERIC_WORK = 1e11
#: Fixed symbolic cost of a hypothesis, in terms (display, witness, swap check).
HYPOTHESIS_TERMS = 20
#: Fixed cost of a term, in operations, on top of σ and σ' (fitted: a term costs
#: about 0.12 ms × (10 + operations of σ and σ') on one core).
TERM_OPERATIONS = 10

GENERIC = ('activation = "any" (generic mode: a proof for every activation and every '
           'width, so a small network such as layers = [2, 3, 1] says the same)')
FORCE = "or pass --force to run it anyway"


@dataclass(frozen=True)
class Refusal:
    """One limit a spec exceeds: the field to change and the whole explanation."""

    field: str
    message: str


# ------------------------------------------------------------------ estimates


def operations(expr: sp.Expr) -> int:
    """Size of an expression: SymPy's operation count."""
    return int(sp.count_ops(expr))


def term_weight(spec: Spec) -> int:
    """Operations in one term of the local derivation: σ, σ' and the loss's ℓ, ∂ℓ/∂ŷ."""
    act = spec.network.activation
    weight = TERM_OPERATIONS + operations(act.expr) + operations(act.derivative_expr)
    loss = spec.network.loss
    if loss.expr is not None:
        from .spec.functions import YHAT

        weight += operations(loss.expr) + operations(sp.diff(loss.expr, YHAT))
    return weight


def symbolic_work(spec: Spec) -> int:
    """Term-operations of the local derivations: Σ over hypotheses of
    (units of the next layer + :data:`HYPOTHESIS_TERMS`) × :func:`term_weight`."""
    weight = term_weight(spec)
    return sum((_next_width(spec, h) + HYPOTHESIS_TERMS) * weight for h in spec.hypotheses)


def _next_width(spec: Spec, h) -> int:
    """Units of the layer after the hypothesis's (an output unit feeds the loss: 1 term)."""
    layers = spec.network.layers
    return layers[h.layer + 1] if h.layer + 1 < len(layers) else 1


def parameters(spec: Spec) -> int:
    return Network(spec.network).parameter_count()


def numeric_work(spec: Spec) -> int:
    """Multiply-adds of the numeric cross-check and the witness search, as they run:
    per hypothesis, the training steps (:func:`symderive.numeric.training_steps`) and
    the search for an informative start, the gradient check's points and finite
    differences (each from the perturbed layer on), and the witnesses' passes; each
    NumPy pass costs its matrix products plus the activation's elementwise work
    (:func:`elementwise_weight`: a LaTeX formula or a Piecewise is many operations)."""
    from .engine.mlp import pass_work
    from .numeric import training_steps
    from .numeric.gradcheck import MAX_COMPONENTS, POINTS
    from .numeric.training import STARTS

    net, work = spec.network, 0
    units = sum(net.layers[1:]) * net.samples
    per_pass = pass_work(net) + 3 * units * elementwise_weight(spec)
    for h in spec.hypotheses:
        layers, l = net.layers, h.layer
        passes = training_steps(spec) + 1 + STARTS + POINTS + WITNESS_PASSES
        into = (min(layers[l - 1], MAX_COMPONENTS) + 1) * _moved_unit(spec, l - 1)
        out = (min(layers[l + 1], MAX_COMPONENTS) * _moved_unit(spec, l)
               if l < net.depth else 0)
        finite_differences = POINTS * 2 * 2 * (into + out)   # 2 units, 2 evaluations
        work += passes * per_pass + finite_differences
    if getattr(spec, "init", None) is not None:   # the simulation of the [init] start
        work += (min(spec.check.steps, 60) + 1) * parameters(spec) * (net.samples + 4)
    return int(work)


def _moved_unit(spec: Spec, t: int) -> int:
    """Multiply-adds of one finite-difference loss after a change in weight layer t+1
    (:mod:`symderive.numeric.gradcheck`): the moved unit's column, then a rank-one update
    of a wide next layer or the forward pass from the perturbed layer on."""
    from .numeric.gradcheck import rank_one

    layers, n = spec.network.layers, spec.network.samples
    forward = lambda first: sum(layers[k] * layers[k - 1] for k in range(first, len(layers)))
    if rank_one(spec.network, t):
        return n * (layers[t] + layers[t + 2] + forward(t + 3))
    return n * forward(t + 1)


#: Witness passes counted per hypothesis (one per group, and a few kink redraws).
WITNESS_PASSES = 6
#: Operations a NumPy elementwise step costs, in multiply-adds (memory-bound).
ELEMENT_COST = 4


def elementwise_weight(spec: Spec) -> int:
    """Multiply-adds per unit and pass for the activations: a named one is a few; a LaTeX
    formula costs its operations and its derivative's (a Piecewise evaluates every piece)."""
    act = spec.network.activation
    if act.latex_source is None:
        return ELEMENT_COST
    return ELEMENT_COST * (1 + operations(act.expr) + operations(act.derivative_expr))


def json_bytes(spec: Spec) -> int:
    """Rough size of the JSON report: the witnesses (every parameter for a network of at
    most :data:`~symderive.engine.witness.COMPACT_PARAMETERS`, else the two units' groups)
    and the training gaps, at about :data:`NUMBER_BYTES` a number."""
    from .engine.witness import is_compact
    from .numeric import training_steps

    net, total = spec.network, 0
    data = net.samples * (net.layers[0] + net.layers[-1])
    for h in spec.hypotheses:
        units = net.layers[h.layer - 1] + 1 + (net.layers[h.layer + 1]
                                               if h.layer < net.depth else 0)
        witness = 2 * units if is_compact(net) else parameters(spec)
        total += 3 * (witness + data) + training_steps(spec) + 1
    return NUMBER_BYTES * total


NUMBER_BYTES = 22
#: JSON reports over this many bytes are refused (about 5 s to write, and unreadable).
MAX_JSON_BYTES = 60_000_000


# ------------------------------------------------------------------ the limits


def refusals(spec: Spec) -> list[Refusal]:
    """Every limit ``spec`` exceeds, the most specific first."""
    formulas = _exponents(spec) or _complexity(spec)
    return formulas + _shape(spec) + _symbolic(spec) + _numeric(spec) + _json(spec)


def check_resources(spec: Spec, text: str | bytes | None = None) -> None:
    """Raise a :class:`SpecError` (located in ``text``, the spec's source, if given)
    for the first limit ``spec`` exceeds; return if it is within all of them."""
    found = refusals(spec)
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
        width = _next_width(spec, h)
        if width > MAX_NEXT_WIDTH:
            out.append(Refusal(f"hypothesis[{k}].layer", (
                f"layer {h.layer + 1}, after layer {h.layer}, has {width} units, over the "
                f"limit of {MAX_NEXT_WIDTH}: the derivation sums over them and the numeric "
                f"check compiles that sum; use a narrower layer or {GENERIC}, {FORCE}")))
            break
    return out


def _symbolic(spec: Spec) -> list[Refusal]:
    work = symbolic_work(spec)
    if work <= MAX_SYMBOLIC_WORK:
        return []
    latex = spec.network.activation.latex_source is not None
    field = "network.activation.latex" if latex else "network.layers"
    return [Refusal(field, (
        f"the symbolic work would be about {work:,} term-operations (hypotheses x units of "
        f"the next layer x size of the activation and its derivative), over the limit of "
        f"{MAX_SYMBOLIC_WORK:,}; use {GENERIC}, a simpler activation, narrower layers or "
        f"fewer hypotheses, {FORCE}"))]


def _numeric(spec: Spec) -> list[Refusal]:
    work = numeric_work(spec)
    if work <= MAX_NUMERIC_WORK:
        return []
    steps, samples = spec.check.steps, spec.network.samples
    field = ("check.steps" if steps > 1000 else "network.samples" if samples > 64
             else "network.layers")
    return [Refusal(field, (
        f"the numeric cross-check would need about {work:.2g} multiply-adds (training "
        f"steps, finite differences and witnesses for {len(spec.hypotheses)} hypotheses on "
        f"{parameters(spec):,} parameters and {samples} samples), over the limit of "
        f"{MAX_NUMERIC_WORK:.0e} (about 30 s); lower [check] steps or network.samples, or use "
        f"narrower layers, {FORCE}"))]


def _json(spec: Spec) -> list[Refusal]:
    size = json_bytes(spec)
    if size <= MAX_JSON_BYTES:
        return []
    return [Refusal("network.layers", (
        f"the JSON report would be about {size / 1e6:.0f} MB (witnesses and training "
        f"gaps), over the limit of {MAX_JSON_BYTES / 1e6:.0f} MB; lower [check] steps or "
        f"network.samples, or use narrower layers, {FORCE}"))]


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
           "MAX_NUMERIC_WORK", "json_bytes", "MAX_JSON_BYTES", "elementwise_weight"]
