"""``dropout`` on a ``[[layer]]`` network: one mask per unit and sample, over all its positions.

Unit u of layer l passes on m_{n,u} a_u: a channel's mask multiplies every position of
the channel, a dense unit's its one value (the unit's axis is its kind's ``unit_axis``),
after the layer's activation and before a skip adds another layer's output.  Every
unit of the layer has its own mask symbol per sample; with ``masks = "equal"`` units i
and j share theirs.  The masked loss is built through the kinds' own symbolic forward
(:meth:`LayerKind.forward`), each tied group's gradient difference is differentiated
on the spec's shapes at a point satisfying the tie (:class:`Units`: the groups, their
pairing, the tie) and proved 0 symbolically, or shown non-zero at a witness: the
masks m_i = 1, m_j = 0 ("different") or 1, 1 ("equal").  The numeric check recomputes
the differences by central finite differences of a masked pass through the kinds'
NumPy forwards.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from ..engine.layers import layer_kind
from ..engine.layers.stack import Stack
from ..engine.layers.units import Units, own_labels
from ..engine.local import is_identically_zero
from ..engine.network import target
from ..engine.symmetry import BROKEN, DIFFERENT, EQUAL, PRESERVED, UNDECIDED
from ..engine.witness import random_targets
from ..notation import partial
from ..spec import Hypothesis, NetworkSpec
from ..spec.facts import FactSpec
from .checks import KEEP, POINTS, FactNumeric, central_difference, judged
from .result import REFUTED, UNDECIDED, FactResult, Statement

LOSS = sp.Symbol("L")
#: Parameter-samples up to which the masked loss is built symbolically.
LIMIT = 400
#: Operations of the masked loss times the entries differentiated, at most: each entry's
#: derivative walks the whole loss (4,351 operations × 16 entries took 12 s on a
#: conv → layer norm network, 803 × 58 took 44 s on an LSTM: depth costs too).
MAX_WORK = 30_000
#: Tied points the witness search tries.
TRIES = 4
#: The witness's masks for units i and j (the other units keep 1).
WITNESS_MASKS = {"different": (1.0, 0.0), "equal": (1.0, 1.0)}


def mask_symbols(spec: NetworkSpec, fact: FactSpec) -> np.ndarray:
    """[samples, units] mask symbols m{l}_{n}_{u}; unit j shares unit i's when equal."""
    layer = spec.stack[fact.layer - 1]
    i, j = fact.units
    out = np.empty((spec.samples, layer.units), dtype=object)
    for n in range(spec.samples):
        for u in range(1, layer.units + 1):
            v = i if (u == j and fact.masks == "equal") else u
            out[n, u - 1] = sp.Symbol(f"m{fact.layer}_{n + 1}_{v}", real=True)
    return out


def masked_output(spec: NetworkSpec, theta, x, layer_index: int, masks: np.ndarray,
                  symbolic: bool) -> np.ndarray:
    """The outputs [samples, K] with layer ``layer_index``'s units masked: through each
    kind's symbolic forward (``symbolic``) or its NumPy forward."""
    values = [x]
    for s in spec.stack:
        kind = layer_kind(s.kind)
        f = s.activation
        if symbolic:
            z = kind.forward(s, theta, values[-1])
            a = z if f is None or f.is_identity else np.vectorize(f, otypes=[object])(z)
        else:
            z = kind.np_forward(s, theta, values[-1])[0]
            a = z if f is None else f.np_f(z)
        if s.index == layer_index:
            labels = own_labels(s.out_shape, kind.unit_axis)
            a = a * masks[:, labels - 1]
        if s.skip is not None:
            a = a + values[s.skip]
        values.append(a)
    return values[-1]


def masked_loss(spec: NetworkSpec, fact: FactSpec) -> sp.Expr:
    stack = Stack(spec)
    out = masked_output(spec, stack.theta, stack.inputs(), fact.layer,
                        mask_symbols(spec, fact), True)
    return sp.Add(*[spec.loss.per_sample(list(out[n]), [target(n + 1, m + 1)
                                                         for m in range(out.shape[1])])
                    for n in range(out.shape[0])])


def tied_symbols(theta, units: Units) -> dict:
    """Each symbol of a tied pair to one representative of its class (classes joined
    pair by pair: in a residual stream a layer's W[i, j] and W[j, i] are tied to each
    other, so a map from j's entries to i's would swap them instead)."""
    parent: dict = {}

    def root(s):
        while parent.get(s, s) != s:
            s = parent[s]
        return s
    for group, (ei, ej) in units.groups.items():
        if units.base(group) in units.hyp.tie:
            for (a, ia), (b, ib) in zip(ei, ej):
                ra, rb = root(theta[a][ia]), root(theta[b][ib])
                if ra != rb:
                    first, second = sorted((ra, rb), key=lambda s: s.name)
                    parent[second] = first
    return {s: root(s) for s in parent}


def dropout_stack(network: NetworkSpec, fact: FactSpec, seed: int) -> FactResult:
    layer = network.stack[fact.layer - 1]
    kind = layer_kind(layer.kind)
    word = kind.unit_word(layer)
    stack = Stack(network)
    size = stack.parameter_count() * network.samples
    if kind.unit_axis is None or size > LIMIT:
        why = (f"a {word} of layer {fact.layer} has no output of its own to mask (the "
               f"{word}s are summed inside the layer)" if kind.unit_axis is None else
               f"{stack.parameter_count()} parameters over {network.samples} samples are more "
               f"than the {LIMIT} parameter-samples the symbolic pass allows")
        return FactResult(fact, UNDECIDED, f"Not derived: {why}.", details={"groups": {}})
    units = Units(network, Hypothesis(fact.name, fact.layer, fact.units, fact.tie, ()))
    loss = masked_loss(network, fact)
    work = sp.count_ops(loss) * 2 * sum(len(ei) for ei, _ in units.groups.values())
    if work > MAX_WORK:
        return FactResult(fact, UNDECIDED, (
            f"Not derived: the masked loss has {sp.count_ops(loss)} operations and "
            f"{work // (2 * sp.count_ops(loss))} pairs of entries would be differentiated "
            f"through it ({work} operation-entries, more than the {MAX_WORK} allowed)."),
            details={"groups": {}})
    tie = tied_symbols(stack.theta, units)
    diffs = {g: [(loss.diff(stack.theta[a][ia]) - loss.diff(stack.theta[b][ib])).xreplace(tie)
                 for (a, ia), (b, ib) in zip(*units.groups[g])] for g in units.groups}
    witness = _witness(network, stack, units, fact, diffs, seed)
    shown = (witness or {}).get("difference", {})
    status = {g: DIFFERENT if g in shown else
              EQUAL if all(is_identically_zero(d) for d in ds) else UNDECIDED
              for g, ds in diffs.items()}
    tied = [g for g in units.groups if units.assumed(g)]
    if any(status[g] == DIFFERENT for g in tied):
        verdict = BROKEN
    elif units.covered and fact.masks == "equal" and all(s == EQUAL for s in status.values()):
        verdict = PRESERVED
    else:
        verdict = UNDECIDED
    statements = tuple(_row(stack, units, g, status[g], witness) for g in units.groups)
    summary = _summary(fact, word, verdict, status, tied, witness)
    return FactResult(fact, verdict, summary, statements, (
        f"dropout multiplies every position of a {word} of layer {fact.layer} by one mask "
        "per sample, after the layer's activation and before a skip adds another layer",
        "every other unit of the layer has a mask of its own; masks are fixed during a step",
        "proved on the spec's shapes through the layer kinds' symbolic forward"),
        witness, details={"groups": status})


def _row(stack: Stack, units: Units, g: str, status: str, witness) -> Statement:
    """One group: its first pair (for a different group, the pair farthest from 0 at the
    witness) and what was proved or shown."""
    k = 0
    if status == DIFFERENT:
        values = witness["difference"][g]
        k = max(range(len(values)), key=lambda q: abs(values[q]))
    (a, ia), (b, ib) = units.groups[g][0][k], units.groups[g][1][k]
    lhs = sp.Add(partial(LOSS, stack.theta[a][ia]), -partial(LOSS, stack.theta[b][ib]),
                 evaluate=False)
    if status == EQUAL:
        return Statement(f"{g}: equal (the difference of each pair of entries is proved 0 "
                         "at every point satisfying the tie, masks as symbols)", lhs, sp.S.Zero)
    if status == DIFFERENT:
        value = witness["difference"][g][k]
        return Statement(f"{g}: different ({value:.4g} at the witness, masks "
                         f"{witness['masks'][0]:g} and {witness['masks'][1]:g})", lhs,
                         sp.Float(value, 6), REFUTED)
    return Statement(f"{g}: undecided (not proved 0, and not clearly non-zero at the points "
                     "tried)", lhs, lhs, UNDECIDED)


def _summary(fact: FactSpec, word: str, verdict: str, status: dict, tied: list,
             witness) -> str:
    i, j = fact.units
    who = f"{word}s {i} and {j} of layer {fact.layer}"
    if verdict == PRESERVED:
        return (f"With equal dropout masks on {who}, one per sample over every position, the "
                f"gradients of every group ({', '.join(status)}) are equal at every point "
                "where the two are tied (proved symbolically): a step whose masks agree keeps "
                "them tied.")
    if verdict == BROKEN:
        differ = [g for g in tied if status[g] == DIFFERENT]
        m = witness["masks"]
        return (f"With {fact.masks} masks the gradients of the tied {', '.join(differ)} of "
                f"{who} differ: at the witness (masks {m[0]:g} and {m[1]:g}) by up to "
                f"{max(witness['difference'][differ[0]], key=abs):.4g}, so such a step breaks "
                "the tie.")
    open_ = [g for g in status if status[g] != EQUAL]
    return (f"Neither conclusion for {who}: "
            + (f"{', '.join(open_)} not proved equal" if open_ else
               "not every group is tied, so equal gradients need not keep them tied") + ".")


def _witness(network, stack: Stack, units: Units, fact: FactSpec, diffs: dict,
             seed: int) -> dict | None:
    """A tied point (masks of i and j from :data:`WITNESS_MASKS`, the others 1) and the
    groups with a pair of entries clearly apart there, with every pair's difference:
    of :data:`TRIES` points, the one that shows the most groups."""
    rng = np.random.default_rng(seed)
    mi, mj = WITNESS_MASKS[fact.masks]
    syms = mask_symbols(network, fact)
    i, j = fact.units
    best: dict | None = None
    for _ in range(TRIES):
        theta, X, Y = _tied_point(network, stack, units, rng)
        point = {stack.theta[n][idx]: sp.Rational(str(v)) for n, t in theta.items()
                 for idx, v in np.ndenumerate(t)}
        point.update({s: sp.Rational(str(v)) for s, v in zip(stack.inputs().ravel(), X.ravel())})
        point.update({target(n + 1, m + 1): sp.Rational(str(Y[n, m]))
                      for n in range(Y.shape[0]) for m in range(Y.shape[1])})
        point.update({s: sp.S.One for s in syms.ravel()})
        point.update({syms[n, i - 1]: sp.Rational(str(mi)) for n in range(len(syms))})
        point.update({syms[n, j - 1]: sp.Rational(str(mj)) for n in range(len(syms))})
        values = {g: [float(d.xreplace(point).evalf(20)) for d in ds] for g, ds in diffs.items()}
        shown = {g: v for g, v in values.items()
                 if np.isfinite(v).all() and max(abs(x) for x in v) > 1e-9}
        if shown and (best is None or len(shown) > len(best["difference"])):
            best = {"parameters": {n: t.tolist() for n, t in theta.items()},
                    "inputs": X.tolist(), "targets": Y.tolist(), "masks": [mi, mj],
                    "difference": shown}
        if best is not None and len(best["difference"]) == len(diffs):
            break
    return best


def _tied_point(network, stack: Stack, units: Units, rng):
    """Parameters on a grid of quarters (tie imposed), inputs and targets likewise."""
    theta = {n: rng.integers(-4, 5, size=s) / 4.0 for n, s in stack.shapes.items()}
    units.impose(theta)
    X = rng.integers(-8, 9, size=(network.samples, *network.input)) / 4.0
    return theta, X, random_targets(network, rng)


# ------------------------------------------------------------- the numeric check


def dropout_stack_check(net: NetworkSpec, result: FactResult, rng) -> FactNumeric:
    """Central finite differences of the masked loss through the kinds' NumPy forwards,
    at random tied points, masks KEEP and 0 (different) or KEEP and KEEP (equal)."""
    fact = result.fact
    stack = Stack(net)
    units = Units(net, Hypothesis(fact.name, fact.layer, fact.units, fact.tie, ()))
    status = {g: s for g, s in result.details.get("groups", {}).items()
              if s in (EQUAL, DIFFERENT)}
    if not status:
        return FactNumeric("No check: no group was decided to compare with.", (),
                           ("no group was decided, so nothing was compared",))
    values = (KEEP, 0.0) if fact.masks == "different" else (KEEP, KEEP)
    masks = np.ones((net.samples, net.stack[fact.layer - 1].units))
    masks[:, fact.units[0] - 1], masks[:, fact.units[1] - 1] = values
    largest = {g: 0.0 for g in status}
    for _ in range(POINTS):
        theta = {n: rng.normal(size=s) for n, s in stack.shapes.items()}
        units.impose(theta)
        X, Y = rng.normal(size=(net.samples, *net.input)), random_targets(net, rng)
        f = lambda: _np_loss(net, theta, X, Y, fact.layer, masks)   # noqa: E731
        for g in status:
            d = [central_difference(f, theta[a[0]], a[1]) - central_difference(f, theta[b[0]], b[1])
                 for a, b in zip(*units.groups[g])]
            largest[g] = max(largest[g], float(np.max(np.abs(d), initial=0.0)))
    return judged(result, status, largest, values,
                  f"Central finite differences of the masked loss through the layer kinds' "
                  f"NumPy forwards, masks {values[0]:g} and {values[1]:g} on units "
                  f"{fact.units[0]} and {fact.units[1]} (the others 1), at {POINTS} random "
                  "tied points.")


def _np_loss(net, theta, X, Y, layer: int, masks) -> float:
    return net.loss.np_value_and_grad(masked_output(net, theta, X, layer, masks, False), Y)[0]


__all__ = ["dropout_stack", "dropout_stack_check", "masked_loss", "masked_output"]
