"""The numeric cross-check of a hypothesis on a ``[[layer]]`` network, through the
kinds' NumPy passes (:class:`symderive.engine.layers.stack.Stack`).

- **gradient check**: at a seeded point that satisfies the hypothesis, the NumPy
  gradient against central finite differences of the NumPy loss, for up to
  :data:`CHECKED_PER_GROUP` seeded entries of every group of the two units (the
  report gives how many) (the kinds' symbolic forwards are compared with
  the NumPy passes by ``tests/test_layer_kinds.py``);
- **training**: gradient descent from that point; after every step the largest
  difference between the two units' paired entries, per group.  A ``preserved``
  verdict must keep them 0 (to rounding), a ``broken`` one must see a tied group
  move apart.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.layers.settle import random_point
from ..engine.layers.stack import Stack
from ..engine.layers.units import Units
from ..engine.symmetry import PRESERVED, HypothesisResult
from ..spec import Spec

#: Multiply-adds of training one hypothesis at most (steps are cut to fit).
TRAINING_WORK = 2e8
STEP = 1e-6
#: Entries per group the gradient check differentiates numerically (two forward passes each),
#: drawn with the check's seed; every entry when a group has fewer.
CHECKED_PER_GROUP = 2
#: A parameters' difference above this (relative to their size) has moved apart.
APART = 1e-9


@dataclass(frozen=True)
class StackCheck:
    """The cross-check of one hypothesis: figures, and contradictions of the proof."""

    gradient_error: float          # largest |NumPy − finite difference| / max(1, |g|)
    entries_checked: int
    steps: int
    learning_rate: float
    separation: tuple[tuple[str, float], ...]   # per group, after the last step
    problems: tuple[str, ...]
    #: entries whose finite difference would cross a kink (not differentiable there)
    skipped_at_kink: int = 0

    @property
    def agreement(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"gradient_check": {"max_relative_error": self.gradient_error,
                                   "entries": self.entries_checked,
                                   "skipped_at_kink": self.skipped_at_kink},
                "training": {"steps": self.steps, "learning_rate": self.learning_rate,
                             "final_difference": dict(self.separation)},
                "problems": list(self.problems), "agreement": self.agreement}


def check_stack(spec: Spec, result: HypothesisResult, seed: int) -> StackCheck:
    stack = Stack(spec.network)
    units = Units(spec.network, result.hypothesis)
    point = random_point(stack, units, np.random.default_rng(seed))
    error, count, skipped = _gradient_check(stack, units, point,
                                            np.random.default_rng(seed + 1))
    steps = _steps(spec, stack)
    separation = _train(stack, units, point, steps, spec.check.learning_rate)
    problems = _problems(result, separation, error)
    return StackCheck(error, count, steps, spec.check.learning_rate,
                      tuple(separation.items()), problems, skipped)


def _gradient_check(stack: Stack, units: Units, point,
                    rng: np.random.Generator) -> tuple[float, int, int]:
    """The point's gradient (its own pass) against central differences of the loss,
    and how many entries were skipped at a kink: where a step of the difference moves a
    pre-activation of a non-smooth activation (ReLU) to another side of its kink, or off
    it (a zeroed unit's sits exactly on it), the loss is not differentiable along that
    step and the difference measures nothing (the dense check skips them too)."""
    theta, X, Y, grads = point.theta, point.X, point.Y, point.grads
    base = _sides(stack, point.zs)
    worst, count, skipped = 0.0, 0, 0
    for ei, ej in units.groups.values():
        entries = ei + ej
        if len(entries) > CHECKED_PER_GROUP:
            picked = rng.choice(len(entries), CHECKED_PER_GROUP, replace=False)
            entries = [entries[k] for k in sorted(picked)]
        for name, idx in entries:
            saved = theta[name][idx]
            theta[name][idx] = saved + STEP
            up, up_zs = stack.np_loss_and_zs(theta, X, Y)
            theta[name][idx] = saved - STEP
            down, down_zs = stack.np_loss_and_zs(theta, X, Y)
            theta[name][idx] = saved
            if not (_same_sides(base, _sides(stack, up_zs)) and
                    _same_sides(base, _sides(stack, down_zs))):
                skipped += 1
                continue
            g = grads[name][idx]
            worst = max(worst, abs((up - down) / (2 * STEP) - g) / max(1.0, abs(g)))
            count += 1
    return worst, count, skipped


def _sides(stack: Stack, zs: list[np.ndarray]) -> list[np.ndarray]:
    """For every layer with a non-smooth activation, the side of each kink every
    pre-activation is on (−1, 0 on it, +1)."""
    return [np.sign(np.asarray(z, dtype=float)[..., None] - np.asarray(s.activation.kinks))
            for s, z in zip(stack.spec.stack, zs)
            if s.activation is not None and not s.activation.smooth]


def _same_sides(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def _steps(spec: Spec, stack: Stack) -> int:
    per_step = 3 * stack.flops() * spec.network.samples
    return int(max(1, min(spec.check.steps, TRAINING_WORK // max(per_step, 1))))


def _train(stack: Stack, units: Units, point, steps: int, rate: float) -> dict[str, float]:
    """Gradient descent from the point; its first step takes the point's own gradient."""
    theta, X, Y = {k: v.copy() for k, v in point.theta.items()}, point.X, point.Y
    with np.errstate(all="ignore"):
        for step in range(steps):
            grads = point.grads if step == 0 else stack.np_gradient(theta, X, Y)[1]
            for k in theta:
                theta[k] -= rate * grads[k]
    out = {}
    for name, (ei, ej) in units.groups.items():
        a = np.array([theta[t][i] for t, i in ei])
        b = np.array([theta[t][i] for t, i in ej])
        scale = max(1.0, float(np.max(np.abs(a), initial=0)), float(np.max(np.abs(b), initial=0)))
        out[name] = float(np.max(np.abs(a - b), initial=0.0)) / scale
    return out


def _problems(result: HypothesisResult, separation: dict[str, float],
              error: float) -> tuple[str, ...]:
    problems = []
    if not error < 1e-4:
        problems.append(f"the NumPy gradient and finite differences differ by {error:.3g}")
    moved = [g for g, d in separation.items() if d > APART]
    if result.verdict == PRESERVED and moved:
        problems.append(f"proved preserved, but training moved {', '.join(moved)} apart")
    # a broken tie may separate slowly or only after many steps: no contradiction either way
    return tuple(problems)
