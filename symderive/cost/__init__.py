"""The cost of deriving a spec, estimated from the spec alone: the guards' model.

:mod:`symderive.guards` compares these estimates with its limits before any work:

- :func:`symbolic_work`, in term-operations (about 8 500 a second): the local
  derivations of the hypotheses, and the facts that derive something per unit;
- :func:`numeric_work`, in multiply-add equivalents (:mod:`.passes`, about
  3.3e9 a second): every NumPy stage as it runs, hypothesis by hypothesis
  (:mod:`.stages`), fact by fact (:mod:`.facts`) and the starting point
  (:mod:`.start`); :func:`numeric_parts` says which part is the largest;
- :func:`json_bytes`: the JSON report's size;
- :mod:`.layers`: a ``[[layer]]`` network's seconds, from each kind's calibration, and
  :mod:`.whole_loss`: the whole-loss steps' estimates and their shared allowance.

``benchmarks/bench_guards.py`` hunts for specs these estimates under-rate (allowed
but slow), ``benchmarks/bench_guard_costs.py`` measures the unit costs.
"""
from __future__ import annotations

import functools

import sympy as sp

from ..engine.generic import instantiated
from ..spec import Spec
from . import facts as _facts
from . import passes, stages

#: Fixed symbolic cost of a hypothesis, in terms (display, witness, swap check).
HYPOTHESIS_TERMS = 20
#: Fixed cost of a term, in operations, on top of σ and σ' (fitted: a term costs
#: about 0.12 ms × (10 + operations of σ and σ') on one core).
TERM_OPERATIONS = 10
#: Symbolic cost of a hypothesis per weight layer of the network (its local model and
#: the deltas written out layer by layer): 6 to 7 ms of CPU a layer, measured on 120
#: and 400 layers of width 4 (``benchmarks/bench_false_refusals.py``).
LAYER_TERMS = 110
#: Bytes a number takes in the JSON report, on average.
NUMBER_BYTES = 22


def operations(expr: sp.Expr) -> int:
    """Size of an expression: SymPy's operation count."""
    return int(sp.count_ops(expr))


def term_weight(spec: Spec) -> int:
    """Operations in one term of the local derivation: σ, σ' and the loss's ℓ, ∂ℓ/∂ŷ."""
    act = spec.network.activation
    weight = TERM_OPERATIONS + operations(act.expr) + operations(act.derivative_expr)
    loss = spec.network.loss
    if loss.expr is not None:
        from ..spec.functions import YHAT

        weight += operations(loss.expr) + operations(sp.diff(loss.expr, YHAT))
    return weight


def next_width(spec: Spec, h) -> int:
    """Units of the layer after the hypothesis's (an output unit feeds the loss: 1 term)."""
    layers = spec.network.layers
    return layers[h.layer + 1] if h.layer + 1 < len(layers) else 1


def each_activation(parts_of):
    """Estimates of a spec that compares activations (``activation = [...]``): the parts
    of every variant, since each is derived in full."""
    @functools.wraps(parts_of)
    def parts(spec: Spec, *args):
        if getattr(spec, "activations", ()):
            return [p for variant in spec.variants() for p in parts_of(variant, *args)]
        return parts_of(spec, *args)
    return parts


@each_activation
def symbolic_parts(spec: Spec) -> list[tuple[str, float]]:
    """(field, term-operations) of the derivations: per hypothesis (units of the next
    layer + :data:`HYPOTHESIS_TERMS`) × :func:`term_weight`, plus :data:`LAYER_TERMS`
    per weight layer; an output-layer hypothesis's whole-loss swap check
    (``hypothesis[k].swap``, :func:`.facts.swap_check_symbolic`); the loss differentiated
    in every output when it may be constant (``network.loss``,
    :func:`.facts.constant_loss_symbolic`, once per
    network); the whole-loss steps of all hypotheses (``whole loss``,
    :func:`whole_loss_steps`); each fact's (:func:`.facts.fact_symbolic`)."""
    weight = term_weight(spec)
    layers = LAYER_TERMS * spec.network.depth
    parts = [(f"hypothesis[{k}]", (next_width(spec, h) + HYPOTHESIS_TERMS) * weight + layers)
             for k, h in enumerate(spec.hypotheses, start=1)]
    parts += [(f"hypothesis[{k}].swap", _facts.swap_check_symbolic(spec.network))
              for k, h in enumerate(spec.hypotheses, start=1) if h.layer == spec.network.depth]
    if spec.hypotheses:     # is the loss constant in the outputs? (once per network)
        parts.append(("network.loss", _facts.constant_loss_symbolic(spec.network)))
    steps = whole_loss_steps(spec)
    if steps:
        parts.append(("whole loss", steps * _facts.TERMS_PER_SECOND))
    return parts + [(f"fact[{k}]", _facts.fact_symbolic(spec.network, f, weight))
                    for k, f in enumerate(spec.facts, start=1)]


def whole_loss_steps(spec: Spec) -> float:
    """CPU seconds of the whole-loss steps (``engine.symmetry.whole_loss_status``) the
    hypotheses may reach, worst case: every group of each, at the step's estimate when
    it runs (at most ``WHOLE_LOSS_SECONDS``), all of them within the derivation's shared
    allowance (:data:`.whole_loss.WHOLE_LOSS_TOTAL`)."""
    from ..engine import gradients
    from ..engine.symmetry import FULL_LIMIT
    from .whole_loss import WHOLE_LOSS_TOTAL

    net = spec.network
    if not spec.hypotheses or not gradients.whole_loss_affordable(net, FULL_LIMIT):
        return 0.0
    seconds = gradients.whole_loss_cost(net)[1]
    if seconds > gradients.WHOLE_LOSS_SECONDS:
        return 0.0
    groups = sum(len(net.unit_groups(h.layer)) for h in spec.hypotheses)
    return min(groups * seconds, WHOLE_LOSS_TOTAL)


def symbolic_work(spec: Spec) -> float:
    """Term-operations of the derivations (:func:`symbolic_parts`)."""
    return sum(work for _, work in symbolic_parts(spec))


#: Seconds pdflatex takes for a PDF report or compiled slides: (the document, per
#: hypothesis, per fact, the starting point).  Measured: 64 hypotheses take 24 s as
#: slides, 4 s as a report (``benchmarks/bench_guards.py``, formats pdf and beamer).
TYPESETTING = {"pdf": (0.5, 0.07, 0.05, 1.0), "beamer": (1.0, 0.4, 0.15, 2.0)}


#: Writing a byte of the JSON report (60 MB take about 5 s), in multiply-add equivalents.
JSON_BYTE = 280


#: A hypothesis's name is repeated in its headings and frame titles: one of the longest
#: names allowed (500 characters) wraps them onto more slides, and 64 such hypotheses
#: made 753 slides that pdflatex typeset in 69 s, three times 64 short names' 24 s.
LONG_NAME = 500


def name_pages(name: str) -> float:
    """How many times a short-named hypothesis's typesetting one named ``name`` costs."""
    return 1.0 + 2.0 * min(len(name), LONG_NAME) / LONG_NAME


@each_activation
def numeric_parts(spec: Spec, fmt: str | None = None) -> list[tuple[str, float]]:
    """(field, multiply-add equivalents) of every part of the numeric work: each
    hypothesis (its witnesses, gradient check and training), each fact, the [init]
    starting point; with ``fmt`` "pdf" or "beamer" (slides compiled to PDF), each part
    also pays its pages' typesetting, with "json" the first pays writing the report.  The field is where the spec asks for that part."""
    from ..numeric import training_steps

    concrete = instantiated(spec)
    net = concrete.network
    steps, optimizer = training_steps(spec), spec.check.optimizer
    document, page, fact_page, start_page = (
        seconds * passes.RATE for seconds in TYPESETTING.get(fmt, (0, 0, 0, 0)))
    parts = [(f"hypothesis[{k}]", stages.hypothesis(net, h, steps, optimizer)
              + page * name_pages(h.name))
             for k, h in enumerate(spec.hypotheses, start=1)]
    if spec.facts:
        from ..facts.checks import MAX_STEPS

        fact_steps = max(1, min(spec.check.steps, MAX_STEPS))
        parts += [(f"fact[{k}]", _facts.fact_numeric(net, f, fact_steps) + fact_page)
                  for k, f in enumerate(spec.facts, start=1)]
    if spec.init is not None:
        from .start import start_numeric   # here: a spec without [init] does not need it

        parts.append(("init", start_numeric(spec, net) + start_page))
    if fmt == "json":       # writing the report: gaps and witnesses as JSON numbers
        document += JSON_BYTE * json_bytes(spec)
    if parts:
        parts[0] = (parts[0][0], parts[0][1] + document)
    return parts


def numeric_work(spec: Spec, fmt: str | None = None) -> float:
    """Multiply-add equivalents of all the NumPy work (:func:`numeric_parts`)."""
    return sum(work for _, work in numeric_parts(spec, fmt))


@each_activation
def json_parts(spec: Spec) -> list[tuple[str, int]]:
    """(field, bytes) of the JSON report's large parts: per hypothesis its witnesses
    (every parameter for a network of at most
    :data:`~symderive.engine.witness.COMPACT_PARAMETERS`, else the two units' groups) with
    their data, and its training gaps (field ``check.steps``); per fact its witness (every
    parameter, :func:`.facts.fact_json_numbers`); the [init] block (trajectory, frozen
    entries, data); at about :data:`NUMBER_BYTES` a number."""
    from ..engine.witness import is_compact
    from ..numeric import training_steps

    net = instantiated(spec).network
    data = net.samples * (net.layers[0] + net.layers[-1])
    parts = []
    for k, h in enumerate(spec.hypotheses, start=1):
        units = net.layers[h.layer - 1] + 1 + (net.layers[h.layer + 1]
                                               if h.layer < net.depth else 0)
        witness = 2 * units if is_compact(net) else passes.parameters(net)
        parts += [(f"hypothesis[{k}]", 3 * (witness + data)),
                  ("check.steps", training_steps(spec) + 1)]
    parts += [(f"fact[{k}]", _facts.fact_json_numbers(net, f))
              for k, f in enumerate(spec.facts, start=1)]
    if spec.init is not None:
        from .start import start_json_numbers

        parts.append(("init", start_json_numbers(spec, net)))
    return [(field, NUMBER_BYTES * numbers) for field, numbers in parts]


def json_bytes(spec: Spec) -> int:
    """Rough size of the JSON report (:func:`json_parts`)."""
    return sum(size for _, size in json_parts(spec))


def elementwise_weight(spec: Spec) -> int:
    """Multiply-add equivalents per unit and sample of the activation and its derivative
    (a named one is a few to a few hundred; a LaTeX formula costs its operations, every
    piece of a Piecewise, an erf a Python call)."""
    ef, edf, _, _ = passes.activation_costs(instantiated(spec).network.activation)
    return ef + edf


__all__ = ["symbolic_work", "symbolic_parts", "numeric_work", "numeric_parts", "json_bytes",
           "json_parts", "term_weight", "next_width", "elementwise_weight", "operations",
           "NUMBER_BYTES", "HYPOTHESIS_TERMS", "TERM_OPERATIONS", "TYPESETTING", "passes"]
