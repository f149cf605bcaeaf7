"""Verdicts for a hypothesis on two units of a ``[[layer]]`` network.

Every group (:class:`.units.Units`: the layer's own, a following norm's, the
entries that read the units, and those of the rest of a residual stream) is
settled as for the dense path (:mod:`..symmetry`), in this order:

1. the proofs below that need no search (the swap, same values);
2. the witness search: points that satisfy the hypothesis, drawn from a seeded
   generator on a grid of exact binary fractions, evaluated with the kinds' NumPy
   passes; a clearly non-zero difference is a witness (re-evaluable by anyone:
   every parameter, input and target is listed).  The first point is tried before
   the kind's local derivation (:meth:`LayerKind.local_zero`), the others after it:
   a group that differs nearly always does at the first point, and a group whose
   difference the local derivation proves 0 costs one pass, not eight;
3. the proofs that the difference is identically 0:
   - *the swap*: with every group tied or zeroed, the swap P of the two units fixes
     the parameters, and the loss is invariant under P (:mod:`.swap`), so
     ∇L(θ) = Pᵀ∇L(Pθ) = Pᵀ∇L(θ): each entry's gradient equals its pair's;
   - *same values*: an entry that reads the units (``outgoing``) gets the next
     layer's error times the unit's value at the positions it reads; when every
     group that makes those values (the own and norm groups of the stream layers up
     to that one) is tied or zeroed, the two units' values are the same function
     of the input, so the difference is 0 for every input;
   - on small networks, the whole loss differentiated and simplified (SymPy), tried
     after the search;
4. otherwise ``undecided``.
"""
from __future__ import annotations

import math

import numpy as np

from ...spec import Hypothesis, NetworkSpec
from ..local import is_identically_zero
from ..symmetry import (BROKEN, DIFFERENT, EQUAL, PRESERVED, UNDECIDED, WHOLE_LOSS_SKIPPED,
                        GroupResult, HypothesisResult)
from ..witness import ABSOLUTE_THRESHOLD, RELATIVE_THRESHOLD, Witness, random_targets
from . import layer_kind
from .stack import Stack, Theta
from .swap import swap_check, whole_loss_small
from .units import Units

#: Whole-loss differentiation only below this many parameter-samples (as the dense path).
FULL_LIMIT = 120
#: Points the witness search tries per group at most (a group that differs nearly always
#: does at the first; a pass over a convolution costs far more than a dense one's).
TRIES = 8
#: A point is refused when a pre-activation of a non-smooth activation lies this close to
#: a kink: there the gradient would depend on the convention at the kink.  Farther away, float64
#: rounding (about 1e-15 relative) cannot move it across, so the witness's gradient is
#: the one anyone recomputes.  (The dense path's 1e-3 also serves finite differences;
#: a convolution has too many positions for any draw to keep all of them 1e-3 away.)
KINK = 1e-9


def settle_stack(spec: NetworkSpec, hyp: Hypothesis, seed: int) -> HypothesisResult:
    """Every group's status, the swap check and the verdict."""
    units = Units(spec, hyp)
    stack = Stack(spec)
    points = _points(stack, units, seed)
    swap_ok, swap_method = swap_check(spec, units)
    results = tuple(_settle_group(stack, units, name, points, swap_ok)
                    for name in units.groups)
    assumed = {name for name in units.groups if units.assumed(name)}
    if any(r.status == DIFFERENT for r in results if r.group in assumed):
        verdict = BROKEN
    elif units.covered and swap_ok and all(r.status == EQUAL for r in results):
        verdict = PRESERVED
    else:
        verdict = UNDECIDED
    return HypothesisResult(hyp, results, verdict, units.covered, swap_ok, swap_method)


def _settle_group(stack: Stack, units: Units, name: str, points, swap_ok: bool) -> GroupResult:
    """The structural proofs first, then the witness search's first point (shared by
    the groups: a group that differs nearly always does there, and a local derivation
    that cannot succeed is not tried), the kind's local derivation, the rest of the
    search, and the whole loss of a small network."""
    if units.covered and swap_ok:
        return GroupResult(name, EQUAL, None, "swap")
    if units.base(name) == "outgoing" and same_values(units, name):
        return GroupResult(name, EQUAL, None, "same values")
    search = points() if not units.covered else iter(())
    first = next(search, None)
    witness = None if first is None else _step(stack, units, name, first)
    if witness is not None:
        return GroupResult(name, DIFFERENT, witness, "witness")
    if local_zero(stack, units, name):
        return GroupResult(name, EQUAL, None, "local")
    for point in search:
        witness = _step(stack, units, name, point)
        if witness is not None:
            return GroupResult(name, DIFFERENT, witness, "witness")
    if _whole_loss_applies(stack) and (note := _whole_loss_skip(stack, units, name)):
        return GroupResult(name, UNDECIDED, None, WHOLE_LOSS_SKIPPED, None, note)
    if _whole_loss_zero(stack, units, name):
        return GroupResult(name, EQUAL, None, "whole loss")
    return GroupResult(name, UNDECIDED, None, "none")


def searched(units: Units, name: str, swap_ok: bool) -> bool:
    """Does the group need the witness search (no structural proof settles it)?"""
    if units.covered and swap_ok:
        return False
    return not (units.base(name) == "outgoing" and same_values(units, name))


def same_values(units: Units, name: str) -> bool:
    """Are the values an ``outgoing`` group reads the same function for both units:
    every own and norm group of the stream layers up to its source tied or zeroed?"""
    source = int(name.split("@")[1]) if "@" in name else units.hyp.layer
    makers = [n for n in units.groups if units.base(n) != "outgoing"
              and (int(n.split("@")[1]) if "@" in n else units.hyp.layer) <= source]
    return all(units.assumed(n) for n in makers)


def local_zero(stack: Stack, units: Units, name: str) -> bool:
    """The kind's own local derivation (:meth:`LayerKind.local_zero`), for a group of the
    hypothesis's layer outside a residual stream."""
    if "@" in name or len(units.stream) > 1:
        return False
    layers = stack.spec.stack
    layer = layers[units.hyp.layer - 1]
    after = layers[layer.index] if layer.index < len(layers) else None
    return layer_kind(layer.kind).local_zero(layer, after, units.hyp, units.base(name))


# ---- the witness search ---------------------------------------------------------------
class _Point:
    def __init__(self, theta: Theta, X: np.ndarray, Y: np.ndarray, grads: Theta,
                 zs: list[np.ndarray], ok: bool):
        self.theta, self.X, self.Y, self.grads, self.zs, self.ok = theta, X, Y, grads, zs, ok
        largest = [float(np.max(np.abs(g))) for g in grads.values() if g.size]
        self.threshold = (math.nan if not all(np.isfinite(largest)) else
                          max(ABSOLUTE_THRESHOLD, RELATIVE_THRESHOLD * max([1.0] + largest)))
        self._listed: tuple | None = None

    def listed(self) -> tuple[dict[str, list], list, list]:
        """Parameters, inputs and targets as lists, for a witness (made once: the groups
        that differ at this point share them; nothing changes a witness's lists)."""
        if self._listed is None:
            self._listed = ({k: v.tolist() for k, v in self.theta.items()}, self.X.tolist(),
                            self.Y.tolist())
        return self._listed


def _points(stack: Stack, units: Units, seed: int):
    """A lazily drawn, cached sequence of :data:`TRIES` points (shared by the groups)."""
    cache: list[_Point] = []
    rng = np.random.default_rng(seed)

    def points():
        yield from cache
        while len(cache) < TRIES:
            cache.append(random_point(stack, units, rng))
            yield cache[-1]
    return points


def random_point(stack: Stack, units: Units, rng: np.random.Generator) -> _Point:
    """Parameters ~ U(−1, 1)/√fan-in (0 replaced by 1e-4) and inputs ~ U(−2, 2), rounded to
    4 decimals: the JSON lists the decimals, which read back as the same floats.  (On a
    coarse grid a pre-activation is exactly 0, at a ReLU's kink, somewhere among the
    many positions of a convolution.)"""
    theta = {name: _draw(rng, shape) for name, shape in stack.shapes.items()}
    units.impose(theta)
    spec = stack.spec
    X = np.round(rng.uniform(-2, 2, size=(spec.samples, *spec.input)), 4)
    Y = random_targets(spec, rng)
    with np.errstate(all="ignore"):
        _, grads, zs = stack.np_gradient(theta, X, Y)
    return _Point(theta, X, Y, grads, zs, not _near_kink(stack, zs))


def _draw(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    fan_in = max(1, int(np.prod(shape[1:]))) if len(shape) > 1 else 1
    values = rng.uniform(-1, 1, size=shape) / math.sqrt(fan_in)
    values = np.round(values, 4)
    return np.where(values == 0, 1e-4, values)


def _near_kink(stack: Stack, zs: list[np.ndarray]) -> bool:
    for layer, z in zip(stack.spec.stack, zs):
        f = layer.activation
        if f is not None and not f.smooth and np.any(~(f.distance_to_kink(z) >= KINK)):
            return True
    return False


def _step(stack: Stack, units: Units, name: str, point: _Point) -> Witness | None:
    d = units.difference(point.grads, name)
    if not d.size or not point.ok or math.isnan(point.threshold):
        return None
    if np.max(np.abs(d)) <= point.threshold:
        return None
    return Witness(*point.listed(), [float(v) for v in d])


# ---- the whole loss ---------------------------------------------------------------------
def _whole_loss_applies(stack: Stack) -> bool:
    """Is the whole-loss step tried: a small network, smooth activations?"""
    spec = stack.spec
    return stack.parameter_count() * spec.samples <= FULL_LIMIT and whole_loss_small(spec) \
        and not any(s.activation is not None and not s.activation.smooth for s in spec.stack)


def _whole_loss_skip(stack: Stack, units: Units, name: str) -> str | None:
    """The cost hook (:func:`..expansion.group_skip_note`): why the step is skipped, or None."""
    from ..expansion import group_skip_note
    from ..gradients import WHOLE_LOSS_SECONDS

    return group_skip_note(stack, units.groups[name], tie_substitution(stack.theta, units),
                           WHOLE_LOSS_SECONDS)


def _whole_loss_zero(stack: Stack, units: Units, name: str) -> bool:
    if not _whole_loss_applies(stack):
        return False
    theta = stack.theta
    tie = tie_substitution(theta, units)
    loss = stack.loss()
    ei, ej = units.groups[name]
    return all(is_identically_zero((loss.diff(theta[a][ia]) - loss.diff(theta[b][ib])).xreplace(tie))
               for (a, ia), (b, ib) in zip(ei, ej))


def tie_substitution(theta: Theta, units: Units) -> dict:
    """The map imposing the hypothesis on the symbols: j's tied entries become i's, the
    zeroed ones 0.  In a stream a pair may come twice, once each way (W[i, j] with
    W[j, i], from unit i's row and from its column): it is mapped once, so that the two
    become one symbol and are not exchanged."""
    out = {}
    for group, (ei, ej) in units.groups.items():
        if units.base(group) in units.hyp.tie:
            for (a, ia), (b, ib) in zip(ei, ej):
                mine, theirs = theta[a][ia], theta[b][ib]
                if mine != theirs and out.get(mine) != theirs:
                    out[theirs] = mine
        elif units.base(group) in units.hyp.zero:
            out.update({theta[t][idx]: 0 for t, idx in ei + ej})
    return out
