"""The cost of a ``[[layer]]`` network's derivation, counted from its layers' kinds.

Seconds, estimated from the spec before any work (:func:`stack_seconds`), as the code
runs it:

- **NumPy passes** (:func:`pass_seconds`): each layer costs its kind's seconds per
  multiply-add of :meth:`LayerKind.flops` and, for small layers mostly, the
  interpreter's seconds per iteration of :meth:`LayerKind.pass_loops` (a convolution
  loops over its kernel offsets, an LSTM over its steps); both are the kind's own
  calibration (:attr:`LayerKind.seconds_per_mac`, :attr:`LayerKind.seconds_per_loop`,
  fitted by ``benchmarks/bench_kind_costs.py``), plus :data:`PASS_SECONDS` for the
  loss and the stack around the layers.  A hypothesis spends at most :data:`TRIES`
  points on the witness search (shared by its groups), one more point and two passes
  per checked entry on the gradient check, and its training steps (cut to
  :data:`TRAINING_WORK` multiply-adds);
- **symbolic parts**: the kind's local derivation of each group
  (:meth:`LayerKind.local_seconds`); the swap's check of each layer it touches, on
  the layer or its kind's small instance (:data:`LEMMA_WORK` multiply-adds at most,
  :meth:`LayerKind.lemma_work`, two samples, :meth:`LayerKind.lemma_seconds`), and
  on networks of at most 120 parameter-samples the whole loss built; each group that
  may reach the whole-loss step adds that step's estimate
  (:func:`.whole_loss.group_cost`), at most the
  :data:`~symderive.engine.gradients.WHOLE_LOSS_SECONDS` over which it is skipped:
  the skipped steps' budget is counted in the one limit, :data:`MAX_SECONDS`;
- each ``[[fact]]``'s check and proof (:func:`laws_passes`, :func:`laws_symbolic_seconds`).

:func:`frozen_check_seconds` is the hook for an ``[init]`` analysis of a ``[[layer]]``
network: the estimated CPU of verifying a frozen set symbolically.
"""
from __future__ import annotations

import math

from ..engine.layers import layer_kind
from ..engine.layers.stack import Stack
from ..engine.layers.swap import LEMMA_WORK, whole_loss_small
from ..engine.layers.units import Units
from ..engine.layers.settle import TRIES, searched
from ..numeric.layers import CHECKED_PER_GROUP, TRAINING_WORK
from ..spec import Spec
from .layer_start import start_json_bytes, start_seconds

#: The limit: nothing the guards allow should take longer on this machine.
MAX_SECONDS = 30.0
#: Seconds of one pass spent outside the layers: the loss and its gradient, the skips,
#: the dict of gradients (fitted with the kinds' constants).
PASS_SECONDS = 2e-5
#: Seconds per parameter of drawing a point (rounded uniform draws) or of a training
#: step's update.
PARAMETER_SECONDS = 3e-8
#: Bytes of JSON per listed parameter of a witness (a float and its separator).
JSON_BYTES_PER_VALUE = 22


def pass_seconds(spec: Spec) -> float:
    """Seconds of one forward + backward pass over every sample."""
    samples, total = spec.network.samples, PASS_SECONDS
    for layer in spec.network.stack:
        kind = layer_kind(layer.kind)
        total += (kind.seconds_per_loop * kind.pass_loops(layer)
                  + kind.seconds_per_mac * 3.0 * kind.flops(layer) * samples)
    return total


def pass_work(spec: Spec) -> float:
    """Multiply-adds of one forward + backward pass over every sample."""
    return 3.0 * Stack(spec.network).flops() * spec.network.samples


def stack_seconds(spec: Spec, numeric: bool = True) -> float:
    """The estimated time of the whole derivation, worst case (no witness found early)."""
    return sum(seconds for _, seconds in stack_parts(spec, numeric))


def stack_parts(spec: Spec, numeric: bool = True) -> list[tuple[str, float]]:
    """(field, seconds) of every part of :func:`stack_seconds`: each hypothesis, the
    whole-loss steps of all of them (``whole loss``: at most the derivation's shared
    :data:`~.whole_loss.WHOLE_LOSS_TOTAL`), each fact."""
    from .whole_loss import WHOLE_LOSS_TOTAL

    one = pass_seconds(spec)
    point = one + PARAMETER_SECONDS * Stack(spec.network).parameter_count()
    parts, estimated = [], []
    for k, hyp in enumerate(spec.hypotheses, start=1):
        units = Units(spec.network, hyp)
        groups = units.groups
        # the swap's result is not known before it runs: assume it holds when covered
        tries = TRIES if any(searched(units, g, True) for g in groups) and not units.covered \
            else 0
        seconds = tries * point + swap_seconds(spec, units) + local_seconds(spec, units)
        if numeric:
            entries = sum(min(CHECKED_PER_GROUP, len(ei) * 2) for ei, _ in groups.values())
            seconds += point + (1 + 2 * entries) * one + training_steps(spec) * point
        parts.append((f"hypothesis[{k}]", seconds))
        if whole_loss_estimated(spec, hyp):
            estimated.append(hyp)
    if estimated:   # the loss built once for the estimates, then the steps that run
        built = built_loss_seconds(spec)
        # over the limit already: not built here for the steps' estimates (refused anyway)
        over = sum(s for _, s in parts) + built > MAX_SECONDS
        steps = 0.0 if over else sum(whole_loss_seconds(spec, h) for h in estimated)
        parts.append(("whole loss", built + min(steps, WHOLE_LOSS_TOTAL)))
    parts += [(f"fact[{k}]", (laws_passes(spec) * one if numeric else 0.0)
               + laws_symbolic_seconds(spec)) for k in range(1, len(spec.facts) + 1)]
    if spec.init is not None:       # the starting point's analysis (:mod:`.layer_start`)
        parts.append(("init", start_seconds(spec)))
    return parts


def training_steps(spec: Spec) -> int:
    """The steps :func:`symderive.numeric.layers.check_stack` trains (cut to fit)."""
    per_step = pass_work(spec)
    return int(max(1, min(spec.check.steps, TRAINING_WORK // max(per_step, 1))))


def swap_seconds(spec: Spec, units: Units) -> float:
    """The swap's symbolic checks (:mod:`symderive.engine.layers.swap`): each layer it
    touches, on the layer or its kind's small instance (:meth:`LayerKind.lemma_work`),
    two samples; then, on a small network, the whole loss built and compared."""
    from ..engine.layers.swap import roles

    seconds = 0.0
    for layer, _, _ in roles(spec.network, units):
        kind = layer_kind(layer.kind)
        if kind.lemma_work(layer) > LEMMA_WORK:
            layer = kind.reduced(layer)
        seconds += kind.lemma_seconds(layer)
    if whole_loss_small(spec.network):
        seconds += loss_seconds(spec)
    return seconds


def local_seconds(spec: Spec, units: Units) -> float:
    """The kind's local derivation of each group of the hypothesis's layer
    (:meth:`LayerKind.local_seconds`), tried before the witness search."""
    layer = spec.network.stack[units.hyp.layer - 1]
    kind = layer_kind(layer.kind)
    if len(units.stream) > 1:
        return 0.0
    return sum(kind.local_seconds(layer, units.base(g)) for g in units.groups if "@" not in g)


#: Seconds per multiply-add and sample of building the whole SymPy loss and comparing it
#: with its swapped copy: 0.3 to 1.3 ms measured on dense, conv, norm, skip and LSTM
#: stacks (SymPy's cache cleared, load about 7 on 2 cores).
LOSS_MAC_SECONDS = 1e-3
#: A layer after one whose outputs are large sums (:meth:`LayerKind.symbolic_spread`:
#: attention's are sums over the tokens) builds its formulas from them: its multiply-adds
#: count this many times the spread.  Measured (2026-12-06, a fresh process, load 1 to 6):
#: a transformer block (dense, attention with a skip, layer norm, dense) on 1 sample took
#: 3.0 s to build on 12 tokens, 11 s on 24 and 16 to 23 s on 32, 2 to 4 times the
#: estimate without the spread (1.1, 3.4, 5.5 s); attention alone, 2.5 s on 32 tokens.
SPREAD_FACTOR = 1


def loss_seconds(spec: Spec) -> float:
    """Building the whole SymPy loss (the kinds' symbolic forwards over every sample),
    and walking it once (the swapped copy compared, or the whole-loss estimate).  A
    layer whose statistics run over the batch makes every sample's output depend on
    every sample, and comparing the swapped copy walks every sample's terms again: the
    square of the samples once more, at 1.5 times the rate (a residual CNN with batch
    norm, 3 samples: 1.2 s for length 5, 10 to 16 s for length 10).  A layer after one
    whose outputs are large sums counts its multiply-adds :data:`SPREAD_FACTOR` times
    that spread (:func:`loss_work`)."""
    coupled = any(layer_kind(s.kind).statistics(s) == "batch" for s in spec.network.stack)
    samples = spec.network.samples
    return built_loss_seconds(spec) * (1.5 * samples ** 2 if coupled else 1)


def built_loss_seconds(spec: Spec) -> float:
    """Building the whole SymPy loss alone (the estimates' own build, whose walk counts
    terms, never compares samples' terms: a residual CNN with batch norm on 3 samples
    of length 5 is built in 0.2 s)."""
    return LOSS_MAC_SECONDS * loss_work(spec) * spec.network.samples


def loss_work(spec: Spec) -> float:
    """Multiply-adds of one sample's symbolic forward, each layer's weighted by the size
    of the expressions it reads: :data:`SPREAD_FACTOR` times the largest
    :meth:`LayerKind.symbolic_spread` of the layers before it (1 before any)."""
    work, spread = 0.0, 1
    for layer in spec.network.stack:
        kind = layer_kind(layer.kind)
        work += kind.flops(layer) * (1 if spread == 1 else SPREAD_FACTOR * spread)
        spread = max(spread, kind.symbolic_spread(layer))
    return work


def whole_loss_estimated(spec: Spec, hyp) -> bool:
    """Does estimating the hypothesis's whole-loss steps build the whole loss (the
    engine's estimate of each step, :func:`.whole_loss.group_cost`, walks it)?"""
    from ..engine.layers.settle import _whole_loss_applies

    units = Units(spec.network, hyp)
    # a covered hypothesis is settled by the swap, unless its units are output units
    swapped = units.covered and spec.network.stack[-1].index not in units.stream
    return (_whole_loss_applies(Stack(spec.network)) and not swapped
            and any(searched(units, g, True) for g in units.groups))


def whole_loss_seconds(spec: Spec, hyp) -> float:
    """The whole-loss steps a hypothesis may reach, worst case: each group no structural
    proof settles, at its estimate (:func:`.whole_loss.group_cost`) when it is under the
    limit over which the step is skipped."""
    from ..engine import gradients
    from .whole_loss import group_cost

    units = Units(spec.network, hyp)
    if not whole_loss_estimated(spec, hyp):
        return 0.0
    steps = [group_cost(spec.network, hyp, g)[1] for g in units.groups
             if searched(units, g, True)]
    return sum(s for s in steps if s <= gradients.WHOLE_LOSS_SECONDS)


def frozen_check_seconds(spec: Spec, entries: int) -> float:
    """The hook for an ``[init]`` analysis of a ``[[layer]]`` network: the estimated CPU
    of verifying symbolically that ``entries`` parameters are frozen (each one's
    derivative of the whole loss, evaluated at the start): the loss built, then one
    ``diff`` a parameter over its nodes (:data:`.whole_loss.SECONDS_PER_NODE`).  Compare
    it with :data:`MAX_SECONDS` less :func:`stack_seconds`, or skip the verification
    over a budget of your own."""
    from .whole_loss import SECONDS_PER_NODE

    nodes = 4 * Stack(spec.network).flops() * spec.network.samples
    return loss_seconds(spec) + entries * nodes * SECONDS_PER_NODE


def stack_json_bytes(spec: Spec) -> int:
    """Every witness lists every parameter: at most one witness per group."""
    count = Stack(spec.network).parameter_count()
    witnesses = sum(len(Units(spec.network, h).groups) for h in spec.hypotheses)
    return JSON_BYTES_PER_VALUE * count * witnesses + start_json_bytes(spec)


#: Seconds per term of the pre-activation the scale law's proof builds and checks (measured:
#: 1440 terms of a conv layer took 1.5-2.5 s on the loaded machine, the forward included).
SECONDS_PER_TERM = 1e-3


def laws_passes(spec: Spec) -> float:
    """The conservation fact's check (the only [[fact]] kind of a [[layer]] network):
    gradient descent and weight decay, gradient flow (Runge-Kutta, 4 passes a sub-step),
    and at worst the flow again with sub-steps REFINE times shorter."""
    from ..facts.checks import MAX_STEPS
    from ..facts.scale_check import REFINE, RK_SUBSTEPS

    steps = max(1, min(spec.check.steps, MAX_STEPS))
    return steps * (2 + 4 * RK_SUBSTEPS * (1 + REFINE))


def laws_symbolic_seconds(spec: Spec) -> float:
    """The proof's expansion of each norm's feeding layer, capped as the proof caps it."""
    from ..facts.scale import MAX_EXPANDED, sites

    shapes = Stack(spec.network).shapes
    total = 0.0
    for site in sites(spec.network)[0]:
        fan_in = math.prod(shapes[f"W{site.before.index}"][1:])
        terms = math.prod(site.before.out_shape) * (fan_in + 1)
        total += min(MAX_EXPANDED, terms) * SECONDS_PER_TERM
    return total
