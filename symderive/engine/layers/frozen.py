"""Frozen parameters of a ``[[layer]]`` network's starting point: proved for every step.

A set S of entries is *self-freezing* when, with S at its initial values, the gradient of
every entry of S is 0 for every value of the entries outside S (and for every data set
when no ``[data]`` is given).  Then no entry of S ever moves: its gradient is 0 at every
step by induction, and so is its momentum or Adam state.  The largest self-freezing set
(the greatest fixed point) is found from above:

1. **pruning**: an entry whose gradient at the start is clearly not 0 (float64, far
   above rounding) moves at step 1, so it is in no self-freezing set (the gradient is
   the witness; with random tensors or data, for the draw it states); then, while the
   candidates keep their values and every other parameter is drawn at random, an entry
   whose gradient is clearly not 0 is in none either (the definition covers that point);
2. **verification**: the survivors' gradients are taken symbolically through the
   kinds' SymPy forward, S at its exact initial values (a random entry stays a symbol:
   generic), every other parameter a free symbol, the data exact (symbols without
   ``[data]``); an entry whose gradient is not identically 0 leaves S, and the rest is
   checked again, until nothing leaves.

The verification has a cost (the forward's size times the survivors; the loss's tree
size times the entries differentiated); beyond :data:`FROZEN_WORK` or
:data:`NODE_BUDGET` it is not done, and the report says so (nothing is guessed).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from ...spec import Spec
from ..network import target
from . import layer_kind
from .settle import random_targets
from .stack import Stack
from .start import StackStart, samples_work

#: Symbolic verification at most: forward multiply-adds over the samples × survivors.
FROZEN_WORK = 400_000
#: ... and a forward pass over the samples at most this large.
FORWARD_WORK = 6_000
#: A gradient clearly not 0: above this fraction of the largest one (rounding is ~1e-16).
MOVES = 1e-6
#: Gradients simplified by expansion when not already 0, up to this many operations.
EXPAND_OPS = 400


@dataclass(frozen=True)
class StackFrozen:
    """Per tensor, the entries proved frozen (None: the analysis was not done), the
    entries that move at step 1 (their step-0 gradient), and what was done."""

    frozen: dict[str, np.ndarray] | None
    moved: dict[str, np.ndarray]
    gradient: dict[str, np.ndarray]
    note: str
    #: per frozen tensor, the frozen tensors whose starting values alone make its gradient
    #: vanish identically (the factor that vanishes); () when only the set as a whole does
    factors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: tensors whose candidates were left unverified (the budget): nothing claimed of them
    unverified: tuple[str, ...] = ()
    #: the seed of the random tensors or data of the step-0 gradient (None: none drawn)
    seed: int | None = None

    @property
    def done(self) -> bool:
        return self.frozen is not None

    def summary(self, name: str) -> Any:
        """"all" | "none" | 1-based indices of the frozen entries | None (not analysed)."""
        if self.frozen is None:
            return None
        mask = self.frozen[name]
        if mask.all():
            return "all"
        if not mask.any():
            return "none"
        return [[int(i) + 1 for i in idx] for idx in np.argwhere(mask)]


def float_point(start: StackStart, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray,
                                                       np.ndarray]:
    """Float parameters and data of the start: the given numbers, random tensors drawn
    normal/√fan-in, random data (inputs N(0, 1), the loss's kind of targets) without
    ``[data]``; seeded, so that a reader can draw them again."""
    rng = np.random.default_rng(seed)
    theta = {}
    for name, shape in Stack(start.network).shapes.items():
        given = start.tensors[name]
        fan_in = max(1, int(np.prod(shape[1:]))) if len(shape) > 1 else 1
        theta[name] = (rng.normal(size=shape) / np.sqrt(fan_in) if given is None
                       else given.astype(float))
    data = start.spec.data
    if data is not None:
        X = data.input_array().astype(float)
        Y = np.array(data.targets, dtype=float)
    else:
        X = rng.normal(size=(start.network.samples, *start.network.input))
        Y = random_targets(start.network, rng)
    return theta, X, Y


def frozen_entries(start: StackStart, seed: int) -> StackFrozen:
    """The largest self-freezing set (module docstring), or the reason it was not found."""
    stack = Stack(start.network)
    theta, X, Y = float_point(start, seed)
    with np.errstate(all="ignore"):
        _, grads, _ = stack.np_gradient(theta, X, Y)
    scale = 1.0 + max(float(np.max(np.abs(g), initial=0.0)) for g in grads.values())
    if not np.isfinite(scale):
        return StackFrozen(None, {}, grads, "the gradient at the start is not finite")
    moved = {n: np.abs(grads[n]) > MOVES * scale for n in stack.shapes}
    keep = _refute(stack, theta, X, Y, {n: ~m for n, m in moved.items()}, seed)
    survivors = [(n, idx) for n in stack.shapes for idx in np.ndindex(*stack.shapes[n])
                 if keep[n][idx]]
    work = samples_work(start.spec) * len(survivors)
    if survivors and (samples_work(start.spec) > FORWARD_WORK or work > FROZEN_WORK):
        return StackFrozen(None, moved, grads,
                           f"not done: verifying {len(survivors)} entries symbolically would "
                           f"cost about {work:,} multiply-adds (the limit is {FROZEN_WORK:,})")
    proved, skipped = _verify(start, stack, survivors)
    frozen = {n: np.zeros(s, dtype=bool) for n, s in stack.shapes.items()}
    for n, idx in proved:
        frozen[n][idx] = True
    note = "proved" if not skipped else (
        f"proved; not verified (the symbolic verification would pass its budget of "
        f"{NODE_BUDGET:,} expression nodes): {', '.join(skipped)}")
    drawn = not start.concrete or start.spec.data is None
    return StackFrozen(frozen, moved, grads, note, _factors(start, stack, frozen, seed),
                       tuple(skipped), seed if drawn else None)


def _refute(stack: Stack, theta, X, Y, keep: dict[str, np.ndarray], seed: int,
            draws: int = 3) -> dict[str, np.ndarray]:
    """Drop the candidates whose gradient is clearly not 0 at a point where the candidates
    keep their starting values and every other parameter is random: such an entry is in
    no self-freezing set inside the candidates (the point is one the definition covers).
    Repeated until ``draws`` draws in a row drop nothing."""
    rng = np.random.default_rng(seed + 2)
    quiet = 0
    while quiet < draws:
        point = {n: np.where(keep[n], theta[n], rng.normal(size=theta[n].shape))
                 for n in stack.shapes}
        with np.errstate(all="ignore"):
            _, grads, _ = stack.np_gradient(point, X, Y)
        scale = 1.0 + max(float(np.max(np.abs(g), initial=0.0)) for g in grads.values())
        if not np.isfinite(scale):
            return keep
        drop = {n: keep[n] & (np.abs(grads[n]) > MOVES * scale) for n in stack.shapes}
        quiet = 0 if any(d.any() for d in drop.values()) else quiet + 1
        keep = {n: keep[n] & ~drop[n] for n in stack.shapes}
    return keep


def _verify(start: StackStart, stack: Stack, survivors: list) -> set:
    """The largest subset of ``survivors`` whose gradients vanish identically with it at
    its initial values (iterated: an entry that leaves frees its value for the rest), and
    the tensors left out because verifying them would pass the budget.
    Each tensor's entries are differentiated in a loss whose other entries of S are
    already at their values (the loss stays small where they are 0)."""
    S = set(survivors)
    budget, skipped = [NODE_BUDGET], []
    while S:
        derivative = {}
        for name in dict.fromkeys(n for n, _ in sorted(S)):
            others = _values(start, stack, [e for e in S if e[0] != name])
            loss = _loss(start.spec, stack, others)
            own = [e for e in S if e[0] == name]
            present = _symbols(loss)        # an entry the loss does not contain: 0
            derivative.update({e: sp.S.Zero for e in own
                               if stack.theta[name][e[1]] not in present})
            own = [e for e in own if e not in derivative]
            if own and not _spend(budget, loss, len(own)):
                skipped.append(name)       # left out of S: nothing claimed of it
                continue
            mine = _values(start, stack, own)
            for e in own:
                derivative[e] = sp.diff(loss, stack.theta[name][e[1]]).xreplace(mine)
        leaving = {e for e in S if e not in derivative or not _zero(derivative[e])}
        if not leaving:
            return S, skipped
        S -= leaving
    return S, skipped


def _symbols(expr: sp.Expr) -> set:
    """The symbols of ``expr``, each distinct subexpression visited once: a loss through a
    batch norm shares its statistics between samples, and SymPy's ``free_symbols`` walks
    every shared subtree again (a ResNet block's took over 20 minutes)."""
    seen, out, todo = set(), set(), [expr]
    while todo:
        e = todo.pop()
        if e in seen:
            continue
        seen.add(e)
        if e.is_Symbol:
            out.add(e)
        else:
            todo.extend(e.args)
    return out


#: Expression nodes the symbolic verification may differentiate in all (the loss's tree
#: size times the entries differentiated; about 0.2 ms a node, measured).
NODE_BUDGET = 40_000


def _spend(budget: list[int], loss: sp.Expr, entries: int) -> bool:
    """Count the loss's tree (stopping at the budget) and take ``entries`` times it; False
    (nothing taken) when that passes the budget left."""
    size = 0
    for size, _ in enumerate(sp.preorder_traversal(loss), start=1):
        if size * entries > budget[0]:
            return False
    budget[0] -= size * entries
    return True


def _values(start: StackStart, stack: Stack, entries) -> dict:
    """Symbol -> exact starting value of the given (not random) entries."""
    return {stack.theta[e[0]][e[1]]: sp.Rational(v.numerator, v.denominator)
            for e in entries if (v := start.value(e)) is not None}


#: Frozen tensors tried as factors at most.
MAX_FACTORS = 16


def _factors(start: StackStart, stack: Stack, frozen: dict[str, np.ndarray],
             seed: int) -> dict[str, tuple[str, ...]]:
    """Per wholly frozen tensor T: the wholly frozen tensors F whose starting values it needs.
    With S at its values T's gradient is identically 0 (proved); moving F alone to random
    values (every entry outside S random too) makes it clearly not 0 (float64, the point
    drawn from ``seed``: a witness that F's value is the factor that vanishes)."""
    whole = [n for n in stack.shapes if frozen[n].all() and start.tensors[n] is not None]
    theta, X, Y = float_point(start, seed)
    rng = np.random.default_rng(seed + 1)
    free = {n: np.where(frozen[n], theta[n], rng.normal(size=theta[n].shape))
            for n in stack.shapes}
    out: dict[str, list[str]] = {}
    for other in whole[:MAX_FACTORS]:
        moved = dict(free, **{other: rng.normal(size=theta[other].shape)})
        with np.errstate(all="ignore"):
            _, grads, _ = stack.np_gradient(moved, X, Y)
        scale = 1.0 + max(float(np.max(np.abs(g), initial=0.0)) for g in grads.values())
        for name in whole:
            if name != other and np.max(np.abs(grads[name]), initial=0.0) > MOVES * scale:
                out.setdefault(name, []).append(other)
    return {n: tuple(f) for n, f in out.items()}


def _zero(value: sp.Expr) -> bool:
    if value == 0:
        return True
    return sp.count_ops(value) <= EXPAND_OPS and sp.expand(value) == 0


def _loss(spec: Spec, stack: Stack, values: dict) -> sp.Expr:
    """The loss with the parameters in ``values`` at those values and the others free, over
    the exact data (or symbols without [data])."""
    theta = {n: np.vectorize(lambda v: values.get(v, v), otypes=[object])(t)
             for n, t in stack.theta.items()}
    if spec.data is None:
        return stack.loss(theta)
    x = spec.data.input_array()
    xs = np.empty(x.shape, dtype=object)
    for idx in np.ndindex(*x.shape):
        xs[idx] = sp.Rational(x[idx].numerator, x[idx].denominator)
    out = stack.outputs(theta, xs)
    rows = [[sp.Rational(v.numerator, v.denominator) for v in r] for r in spec.data.targets]
    return sp.Add(*[spec.network.loss.per_sample(list(out[n]), rows[n])
                    for n in range(out.shape[0])])


__all__ = ["StackFrozen", "frozen_entries", "float_point", "FROZEN_WORK", "NODE_BUDGET"]
