"""The gradient check: symbolic gradients against central finite differences.

At :data:`POINTS` seeded random points satisfying the hypothesis (away from
kinks), every component θ of every group of the two units is compared: the
symbolic dL/dθ (:mod:`symderive.numeric.symbolic`) with the central
difference (L(θ+h) − L(θ−h)) / 2h of the hand-written NumPy loss,
h = 1e-6·max(1, |θ|).  A component passes iff |a − n| <= 1e-5 + 1e-3·|n|,
torch.autograd.gradcheck's float64 tolerances.  Large groups are sampled:
at most :data:`MAX_COMPONENTS` components per group and unit at each point.

On the same points the NumPy backprop gradient gives the difference
dL/d(group of i) − dL/d(group of j) of each group, to hold against the
groups' proved statuses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import mlp
from ..spec import Hypothesis, NetworkSpec
from ..spec.functions import Z, sigmoid
from .points import Start, check_point, forced_kink
from .symbolic import Gradients, evaluator

ATOL, RTOL = 1e-5, 1e-3
STEP = 1e-6
POINTS = 3
MAX_COMPONENTS = 32


@dataclass(frozen=True)
class GroupDifference:
    """max |dL/dθ_i − dL/dθ_j| over a group's components and the check points."""

    group: str
    max_abs: float
    within_tolerance: bool     # <= ATOL + RTOL·|dL/dθ_i| for every component


@dataclass(frozen=True)
class GradientCheck:
    """Symbolic against finite differences, over every compared component."""

    method: str                # "whole loss" or "local": what evaluated the symbolic side
    points: int
    components: int            # comparisons made (components × points)
    skipped_at_kink: int       # parameters the hypothesis pins on a kink (not differentiable)
    max_abs_error: float
    max_rel_error: float       # over components with |n| > ATOL
    passed: bool
    worst: str | None          # the component closest to (or furthest past) its tolerance
    differences: tuple[GroupDifference, ...]
    #: comparisons dropped because the finite differences themselves disagreed between
    #: step sizes (rounding noise of a saturated loss): they measure nothing there
    imprecise: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method, "points": self.points, "components": self.components,
            "skipped_at_kink": self.skipped_at_kink, "imprecise": self.imprecise,
            "max_abs_error": self.max_abs_error,
            "max_rel_error": self.max_rel_error, "passed": self.passed,
            "tolerance": {"absolute": ATOL, "relative": RTOL, "step": STEP},
            "worst_component": self.worst,
        }


@dataclass(frozen=True)
class Component:
    """One parameter: W[layer][row, col] or b[layer][row] (0-based), in a unit's group."""

    group: str
    which: int                 # 0 for unit i, 1 for unit j
    index: int                 # position within the group
    layer: int
    row: int
    col: int | None

    @property
    def name(self) -> str:
        """The generated symbol name of :mod:`symderive.network` (1-based)."""
        if self.col is None:
            return f"b{self.layer + 1}_{self.row + 1}"
        return f"W{self.layer + 1}_{self.row + 1}_{self.col + 1}"

    def slot(self, p: mlp.Params) -> tuple[np.ndarray, tuple[int, ...]]:
        if self.col is None:
            return p.b[self.layer], (self.row,)
        return p.W[self.layer], (self.row, self.col)


def group_components(spec: NetworkSpec, hyp: Hypothesis, group: str,
                     which: int) -> list[Component]:
    """Every component of a group of units[which], in the order of network.group."""
    l, u = hyp.layer, hyp.units[which] - 1
    if group == "incoming":
        return [Component(group, which, k, l - 1, u, k) for k in range(spec.layers[l - 1])]
    if group == "bias":
        return [Component(group, which, 0, l - 1, u, None)]
    return [Component(group, which, m, l, m, u) for m in range(spec.layers[l + 1])]


def _loss_from(spec: NetworkSpec, p: mlp.Params, first: int, a: np.ndarray,
               Y: np.ndarray) -> float:
    """The loss with weight layers first+1, ... (1-based) recomputed from their input ``a``:
    a perturbation in layer first+1 changes nothing before it."""
    # mlp.forward takes the depth from the parameters: the last layer stays the output one.
    zs, acts = mlp.forward(spec, mlp.Params(p.W[first:], p.b[first:]), a)
    if _sigmoid_bce(spec):
        return _bce_from_logits(zs[-1], Y)
    return spec.loss.np_value_and_grad(acts[-1], Y)[0]


#: Above this many weights in the layer after a perturbed unit, a finite difference
#: updates that layer's pre-activations by a rank-one term instead of recomputing them.
RANK_ONE_WEIGHTS = 4096


def _loss_one_unit_moved(spec: NetworkSpec, p: mlp.Params, t: int, r: int,
                         zs: list[np.ndarray], acts: list[np.ndarray], Y: np.ndarray) -> float:
    """The loss after a change in row ``r`` of weight layer t+1 (1-based), which moves
    unit r of layer t+1 only: its column is recomputed, the next layer's pre-activations
    get the rank-one update Δa_r W^{(t+2)}[:, r], and the layers after run in full.
    The cost is what the perturbation touches, not the width squared."""
    depth = len(p.W)
    column = acts[t] @ p.W[t][r] + p.b[t][r]
    f = spec.output_activation if t + 1 == depth else spec.activation
    if t + 1 == depth:
        z = zs[depth].copy()
        z[:, r] = column
        return spec.loss.np_value_and_grad(f.np_f(z), Y)[0]
    moved = f.np_f(column) - acts[t + 1][:, r]
    z = zs[t + 2] + np.outer(moved, p.W[t + 1][:, r])
    g = spec.output_activation if t + 2 == depth else spec.activation
    a = g.np_f(z)
    if t + 2 < depth:
        a = mlp.forward(spec, mlp.Params(p.W[t + 2:], p.b[t + 2:]), a)[1][-1]
    return spec.loss.np_value_and_grad(a, Y)[0]


def rank_one(spec: NetworkSpec, t: int) -> bool:
    """Is the rank-one update worth it for a perturbation in weight layer t+1?"""
    sizes = spec.layers
    return t + 2 < len(sizes) and sizes[t + 1] * sizes[t + 2] > RANK_ONE_WEIGHTS


def _sigmoid_bce(spec: NetworkSpec) -> bool:
    """bce on sigmoid outputs (named, or \\sigma(z) in LaTeX)?"""
    return spec.loss.name == "bce" and spec.output_activation.expr == sigmoid(Z)


def _bce_from_logits(z: np.ndarray, Y: np.ndarray) -> float:
    """Σ −[y ln σ(z) + (1 − y) ln(1 − σ(z))] = Σ softplus(z) − y z, computed from the
    logits: the same number, without forming 1 − σ(z), which at z ≈ 25 keeps about
    five good digits and makes finite differences of the loss measure its rounding."""
    return float(np.sum(np.logaddexp(0.0, z) - Y * z))


def finite_difference(spec: NetworkSpec, start: Start, c: Component,
                      acts: list[np.ndarray] | None = None,
                      zs: list[np.ndarray] | None = None, step: float = STEP) -> float:
    """(L(θ+h) − L(θ−h)) / 2h with h = step·max(1, |θ|); θ is restored afterwards.

    ``acts`` (the activations at ``start``) lets the forward passes start at
    the perturbed layer; with ``zs`` too, a wide next layer gets a rank-one update."""
    if acts is None:
        zs, acts = mlp.forward(spec, start.params, start.X)
    array, at = c.slot(start.params)
    theta = float(array[at])
    h = step * max(1.0, abs(theta))
    if zs is not None and rank_one(spec, c.layer) and not _sigmoid_bce(spec):
        loss = lambda: _loss_one_unit_moved(spec, start.params, c.layer, c.row, zs, acts,
                                            start.Y)
    else:
        loss = lambda: _loss_from(spec, start.params, c.layer, acts[c.layer], start.Y)
    array[at] = theta + h
    up = loss()
    array[at] = theta - h
    down = loss()
    array[at] = theta
    return (up - down) / (2 * h)


def _chosen(spec: NetworkSpec, hyp: Hypothesis,
            rng: np.random.Generator) -> tuple[list[Component], int]:
    """The components compared at one point, and how many were skipped at a kink."""
    out, skipped = [], 0
    for group in spec.unit_groups(hyp.layer):
        for which in (0, 1):
            comps = group_components(spec, hyp, group, which)
            if group in ("incoming", "bias") and forced_kink(spec, hyp):
                skipped += len(comps)   # the same parameters at every point
                continue
            if len(comps) > MAX_COMPONENTS:
                keep = np.sort(rng.choice(len(comps), MAX_COMPONENTS, replace=False))
                comps = [comps[k] for k in keep]
            out.extend(comps)
    return out, skipped


@dataclass
class _Tally:
    """Running maxima over the comparisons."""

    count: int = 0
    abs_error: float = 0.0
    rel_error: float = 0.0
    ratio: float = -1.0        # |a − n| / (ATOL + RTOL·|n|); passes while <= 1
    worst: str | None = None

    def add(self, analytic: float, numeric: float, name: str) -> None:
        err = abs(analytic - numeric)
        if not np.isfinite(err):
            err = float("inf")
        self.count += 1
        self.abs_error = max(self.abs_error, err)
        if abs(numeric) > ATOL:
            self.rel_error = max(self.rel_error, err / abs(numeric))
        ratio = err / (ATOL + RTOL * abs(numeric))
        if ratio > self.ratio:
            self.ratio, self.worst = ratio, name


def _differences(spec: NetworkSpec, hyp: Hypothesis,
                 starts: list[Start]) -> tuple[GroupDifference, ...]:
    """Each group's gradient difference between the units, from NumPy backprop."""
    groups = spec.unit_groups(hyp.layer)
    worst = {g: (0.0, True) for g in groups}
    for start in starts:
        _, grad, _ = mlp.loss_and_gradient(spec, start.params, start.X, start.Y)
        for g in groups:
            gi = mlp.group_values(grad, hyp.layer, hyp.units[0], g)
            gj = mlp.group_values(grad, hyp.layer, hyp.units[1], g)
            d = np.abs(gi - gj)
            ok = bool(np.all(d <= ATOL + RTOL * np.abs(gi)))
            worst[g] = (max(worst[g][0], float(np.max(d, initial=0.0))), worst[g][1] and ok)
    return tuple(GroupDifference(g, v, ok) for g, (v, ok) in worst.items())


def gradient_check(spec: NetworkSpec, hyp: Hypothesis, seed: tuple[int, ...],
                   given: np.ndarray | None = None) -> GradientCheck:
    """Compare symbolic and finite-difference gradients at seeded random points
    (with the spec's own targets ``given``, if it has ``[data]``)."""
    rng = np.random.default_rng(seed)
    symbolic = evaluator(spec, hyp)
    tally, skipped, starts, imprecise = _Tally(), 0, [], 0
    with np.errstate(all="ignore"):
        for _ in range(POINTS):
            start = check_point(spec, hyp, rng, given)
            if start is None:
                break
            starts.append(start)
            exact: Gradients = symbolic(start)
            comps, skipped = _chosen(spec, hyp, rng)
            zs, acts = mlp.forward(spec, start.params, start.X)
            for c in comps:
                analytic = float(exact[c.group][c.which][c.index])
                numeric = meaningful_difference(spec, start, c, acts, analytic, zs)
                if numeric is None:
                    imprecise += 1
                else:
                    tally.add(analytic, numeric, c.name)
        differences = _differences(spec, hyp, starts)
    # Every compared component within tolerance; an output unit pinned on a kink has no
    # component left to compare (all skipped), which contradicts nothing.
    # Comparisons the finite differences could not make (imprecise) contradict nothing
    # either: they are counted and shown, never called a failure.
    compared = (0 <= tally.ratio <= 1.0 and tally.count > 0) or (
        tally.count == 0 and (skipped > 0 or imprecise > 0))
    passed = len(starts) == POINTS and compared
    return GradientCheck(symbolic.method, len(starts), tally.count, skipped,
                         float(tally.abs_error), float(tally.rel_error), passed,
                         tally.worst, differences, imprecise)


#: Step sizes tried when the first finite difference disagrees with the symbolic value.
LARGER_STEPS = (1e-4, 1e-3, 1e-2)


def within_tolerance(a: float, n: float) -> bool:
    return bool(abs(a - n) <= ATOL + RTOL * abs(n))


def meaningful_difference(spec: NetworkSpec, start: Start, c: Component,
                          acts: list[np.ndarray], analytic: float,
                          zs: list[np.ndarray] | None = None) -> float | None:
    """A finite difference that measures the derivative, or None if none does here.

    The central difference at :data:`STEP` is used when it agrees with the symbolic
    value.  When it does not, it may be rounding noise rather than a wrong
    gradient: a saturated loss (cross-entropy of a sigmoid at |z| ≈ 20 computes
    1 − σ(z) with 6 good digits) turns eps·|L|/h into noise far above the
    tolerance.  Larger steps cut that noise: if one agrees with the symbolic
    value, it is used; if the differences at the steps agree with one another
    (and all disagree with the symbolic value) the mismatch is real and the
    first is used, unless even the largest step moves the loss by less than its
    rounding (:func:`resolvable`: a loss of 1e15 cannot show a gradient of 0.1,
    all the differences are 0); if they disagree with one another, or cannot
    resolve the gradient, the finite differences measure nothing here (None)."""
    first = finite_difference(spec, start, c, acts, zs)
    if within_tolerance(analytic, first) or not np.isfinite(first):
        return first
    others = [finite_difference(spec, start, c, acts, zs, step) for step in LARGER_STEPS]
    for n in others:
        if within_tolerance(analytic, n):
            return n
    if all(within_tolerance(a, b) for a, b in zip(others, others[1:])):
        return others[0] if resolvable(spec, start, c, acts, analytic) else None
    return None


#: A finite difference resolves a derivative when the loss moves by this many roundings
#: of it (the central difference's noise is then 1e-3 of the derivative, the tolerance).
RESOLUTION = 1e3


def resolvable(spec: NetworkSpec, start: Start, c: Component, acts: list[np.ndarray],
               analytic: float) -> bool:
    """Can the largest step show a derivative of size ``analytic``?  The loss changes by
    about |analytic|·h; its rounding is eps·|L|.  A power activation that makes the loss
    1e15 at one sample hides every other parameter's gradient below it: that is
    overflow of precision, not a wrong gradient."""
    array, at = c.slot(start.params)
    h = LARGER_STEPS[-1] * max(1.0, abs(float(array[at])))
    level = abs(_loss_from(spec, start.params, c.layer, acts[c.layer], start.Y))
    if not np.isfinite(level):
        return False
    return abs(analytic) * h > RESOLUTION * np.finfo(float).eps * level
