"""What an ``[init]`` starting point costs (``api.settle_start``), stage by stage.

- ``engine.start.exact_tensor``: every given entry becomes an exact integer over a
  common denominator (Python, per entry);
- ``engine.frozen.frozen_parameters``: per round, the pinned pre-activations are
  computed exactly with SymPy Rationals (a SymPy multiply-add per weight and data
  row, about 20 µs) and σ' is differentiated at each (about 0.7 ms a unit and row);
- ``engine.partition.coarsest_partition``: integer block sums per refinement round;
- ``numeric.trajectory``: up to 11 steps, exact or in float64, every parameter and
  gradient listed (also in the JSON);
- ``numeric.startpoint.check_start``: up to 61 simulated steps, each watching every
  class of every hidden layer (a Python loop over the classes).
"""
from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.functions.elementary.piecewise import ExprCondPair

from ..numeric import startpoint
from ..numeric.trajectory import MAX_SHOWN, can_be_exact
from ..spec import NetworkSpec, Spec
from . import passes as P
from .facts import EXACT_ENTRY, FROZEN_ROUNDS, PINNED_UNIT, partition
from .passes import ARRAY_CALL, forward, full_pass, parameters, step

#: A SymPy Rational multiply-add (the exact pinned pre-activations), about 20 µs.
SYMPY_MADD = 67_000
#: A Fraction multiply-add of the exact trajectory (numbers grow to 1500 bits).
FRACTION_MADD = 30_000
#: Watching one class of one layer at one simulated step (a mask, a slice, a maximum).
CLASS_WATCH = 8 * ARRAY_CALL


#: How much costlier the exact σ and sums get per layer of nested transcendental values
#: (tanh(¼·Σ tanh(...) + ...)): measured ×2.5 to ×9 a layer on [4, 16, ..., 16, 2].
NESTING = 5


def _levels(net: NetworkSpec) -> int:
    """Levels of nesting one layer adds to an exact value: one for a named σ, as many as
    a LaTeX σ nests functions (\\tanh nested 5 deep adds 5, and made the frozen
    analysis's simplify run past the time limit)."""
    from ..spec.latex.complexity import nesting

    f = net.activation
    return max(1, nesting(f.expr)) if f.latex_source is not None else 1


def _transcendental(net: NetworkSpec) -> bool:
    """Does σ of a rational leave the rationals (so that exact constants nest)?"""
    f = net.activation
    if f.latex_source is None:
        return f.name not in ("identity", "relu")
    rational = (sp.Add, sp.Mul, sp.Max, sp.Min, sp.Abs, sp.Piecewise, sp.Heaviside,
                sp.sign, sp.logic.boolalg.Boolean, ExprCondPair, sp.core.relational.Relational)
    return any(not (node.is_Atom or isinstance(node, rational)
                    or (node.is_Pow and node.exp.is_Integer))
               for node in sp.preorder_traversal(f.expr))


def _tensors(spec: Spec) -> dict:
    return {t.name: t for t in spec.init.tensors}


def _nonzero(t) -> int:
    """Entries of a given tensor that are not 0 (the terms the exact sums keep)."""
    if t.values is None or t.kind == "zero":
        return 0
    if t.kind == "number":
        return len(t.values) * len(t.values[0]) if t.values[0][0] != 0 else 0
    return sum(1 for row in t.values for v in row if v != 0)


def _uniform(t) -> bool:
    """Does the tensor make all units of its layer alike (zero or one number)?"""
    return t is None or t.kind in ("zero", "number")


def _zero(t) -> bool:
    return t is None or (t.values is not None and _nonzero(t) == 0)


def frozen_forward(spec: Spec) -> tuple[float, list[int]]:
    """The exact pre-activations of ``engine.frozen`` per round: a layer is pinned when
    its tensors are given and its inputs known (the data, or a pinned layer before) or
    its weights zero; its units then sum their non-zero weights times the known inputs
    (silent inputs, σ(0) = 0 at z = 0, drop out) in SymPy, for every data row, and
    σ' is differentiated at each.  A transcendental σ nests its values a level per
    layer (σ(Σ w σ(...))), each level about :data:`NESTING` times costlier; a LaTeX σ
    nests as many levels a layer as it nests functions (:func:`_levels`)."""
    network, tensors = spec.network, _tensors(spec)
    s, L = network.layers, network.depth
    rows = len(spec.data.inputs) if spec.data is not None else 1
    transcendental = _transcendental(network)
    levels = _levels(network)
    zero_at_zero = network.activation.name != "any" and float(
        network.activation.np_f(np.zeros(1))[0]) == 0.0
    # the inputs: None unknown, 0 silent, 1 rational, ν > 1 nested ν − 1 levels deep
    state, work, pinned = (1 if spec.data is not None else None), 0.0, [0] * (L + 1)
    for l in range(1, (L if spec.data is not None else L - 1) + 1):
        W, b = tensors[f"W{l}"], tensors.get(f"b{l}")
        given = W.values is not None and (b is None or b.values is not None)
        if not given or (state is None and not _zero(W)):
            state = None
            continue
        pinned[l] = s[l]
        terms = 0 if state == 0 or _zero(W) else _nonzero(W)
        level = state if terms else 1              # the size of what is summed
        grown = NESTING ** (level - 1)
        # the sums once (in later rounds the moving weights no longer pin the unit), σ'
        # at every round
        work += grown * (terms * rows * SYMPY_MADD + FROZEN_ROUNDS * s[l] * rows * PINNED_UNIT)
        if not terms and _zero(b) and zero_at_zero:
            state = 0                               # σ(0) = 0: the layer is silent
        else:
            state = level + levels if transcendental else level
    return work, pinned


def frozen_and_classes(spec: Spec, net: NetworkSpec) -> float:
    """The exact tensors, the frozen-set rounds and the partition's refinement."""
    tensors, s, L = _tensors(spec), net.layers, net.depth
    work = sum(EXACT_ENTRY * len(t.values) * len(t.values[0])
               for t in tensors.values() if t.values is not None)
    frozen, pinned = frozen_forward(spec)
    given = [False] + [tensors[f"W{l}"].values is not None for l in range(1, L + 1)]
    classes = [s[0]] + [_classes(spec, net, l) for l in range(1, L)] + [s[-1]]
    return work + frozen + partition(s, given, classes, pinned)


def trajectory(spec: Spec, net: NetworkSpec) -> float:
    """``numeric.trajectory.trajectory``: with [data] and every tensor given."""
    if spec.data is None or not spec.init.concrete:
        return 0.0
    shown, N = min(spec.check.steps, MAX_SHOWN) + 1, net.samples
    listed = 2 * P.PYTHON_ITEM / 10 * parameters(net)          # tolist of θ and ∇θ
    if can_be_exact(net, spec.check):
        return shown * (3 * N * P.weights(net) * FRACTION_MADD + 4 * listed * 10)
    return shown * (full_pass(net, N) + step(net, spec.check.optimizer) + listed)


def _classes(spec: Spec, net: NetworkSpec, l: int) -> int:
    """At most how many classes hidden layer l has (one, if its tensors are uniform)."""
    t = _tensors(spec)
    uniform = all(_uniform(t.get(name)) for name in (f"W{l}", f"b{l}", f"W{l + 1}"))
    return 1 if uniform else net.layers[l]


def check(spec: Spec, net: NetworkSpec) -> float:
    """``numeric.startpoint.check_start``: the simulated steps, each a forward pass on the
    samples and probes, a full pass, an optimiser step, the frozen entries compared and
    every class of every hidden layer watched (pairs of classes: all of them up to
    MAX_PAIRWISE classes, neighbours beyond)."""
    N, s = net.samples, net.layers
    steps = min(spec.check.steps, startpoint.MAX_STEPS) + 1
    watch = 0.0
    for l in range(1, net.depth):
        c = _classes(spec, net, l)
        pairs = c * (c - 1) // 2 if c <= startpoint.MAX_PAIRWISE else c - 1
        watch += c * (CLASS_WATCH + s[l] + (N + startpoint.PROBES) * s[l] / c) + pairs * 700
    per_step = (forward(net, N + startpoint.PROBES) + full_pass(net, N)
                + step(net, spec.check.optimizer) + watch
                + 6 * P.COPY * parameters(net) + 10 * net.depth * ARRAY_CALL)
    return P.draw(net) + steps * per_step


def start_numeric(spec: Spec, net: NetworkSpec) -> float:
    """All of ``api.settle_start`` for a spec with an [init] table (0 without one)."""
    if spec.init is None:
        return 0.0
    return frozen_and_classes(spec, net) + trajectory(spec, net) + check(spec, net)


def start_json_numbers(spec: Spec, net: NetworkSpec) -> int:
    """Numbers the [init] block adds to the JSON report: the classes, frozen entries
    listed by index, the trajectory's parameters and gradients, and the data."""
    if spec.init is None:
        return 0
    count = sum(net.layers[1:-1]) + 2 * parameters(net)
    if spec.data is not None:
        count += 2 * net.samples * (net.layers[0] + net.layers[-1])
        if spec.init.concrete:
            count += (min(spec.check.steps, MAX_SHOWN) + 1) * 2 * parameters(net)
    return count
