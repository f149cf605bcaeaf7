"""Witnesses: concrete values, satisfying a hypothesis, where a difference is non-zero.

Values are drawn from a grid of quarter-integers so that a reader can type
them in; the difference is evaluated with the hand-written NumPy network of
:mod:`symderive.mlp`.  Near a kink of a non-smooth activation (|z| < 1e-3 at
a pre-activation the hypothesis does not force to 0) a candidate is skipped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import mlp
from .spec import Hypothesis, NetworkSpec

#: A difference counts as non-zero when it exceeds this, relative to the gradients' scale.
RELATIVE_THRESHOLD = 1e-7
ABSOLUTE_THRESHOLD = 1e-9
KINK = 1e-3
TRIES = 64


@dataclass(frozen=True)
class Witness:
    """Parameters, inputs and targets (one list per sample) and the difference there."""

    parameters: dict[str, list]
    inputs: list[list[float]]
    targets: list[list[float]]
    difference: list[float]

    def to_json(self) -> dict[str, Any]:
        return {"parameters": self.parameters, "inputs": self.inputs,
                "targets": self.targets, "difference": self.difference}


@dataclass
class Point:
    """One concrete point: parameters and data, with the gradient there."""

    params: mlp.Params
    X: np.ndarray
    Y: np.ndarray
    grad: mlp.Params
    zs: list[np.ndarray]
    deltas: list[np.ndarray]


def _grid(rng: np.random.Generator, shape, low: int = -6, high: int = 6) -> np.ndarray:
    """Non-zero multiples of 1/4 in [low/4, high/4]."""
    k = rng.integers(low, high, size=shape, endpoint=True)
    k = np.where(k == 0, 1, k)
    return k / 4.0


def _targets(spec: NetworkSpec, rng: np.random.Generator) -> np.ndarray:
    n, m = spec.samples, spec.layers[-1]
    if spec.loss.name == "softmax_ce":
        return np.eye(m)[rng.integers(0, m, size=n)]
    if spec.loss.name == "bce":
        return rng.integers(0, 4, size=(n, m), endpoint=True) / 4.0
    return _grid(rng, (n, m), -4, 4)


def random_point(spec: NetworkSpec, hyp: Hypothesis, rng: np.random.Generator) -> Point:
    """A random point on the grid that satisfies ``hyp``."""
    sizes = spec.layers
    W = [_grid(rng, (sizes[l], sizes[l - 1])) for l in range(1, len(sizes))]
    b = [_grid(rng, (sizes[l],)) if spec.bias else np.zeros(sizes[l])
         for l in range(1, len(sizes))]
    params = mlp.Params(W, b)
    mlp.apply_hypothesis(params, hyp.layer, hyp.units, hyp.tie, hyp.zero)
    X = _grid(rng, (spec.samples, sizes[0]), -8, 8)
    Y = _targets(spec, rng)
    with np.errstate(all="ignore"):
        zs, _ = mlp.forward(spec, params, X)
        _, grad, deltas = mlp.loss_and_gradient(spec, params, X, Y)
    return Point(params, X, Y, grad, zs, deltas)


def _near_kink(spec: NetworkSpec, hyp: Hypothesis, point: Point) -> bool:
    """Is a pre-activation of a non-smooth activation close to (not forced to) 0?"""
    depth = len(point.params.W)
    forced = ("incoming" in hyp.zero) and ("bias" in hyp.zero or not spec.bias)
    for l in range(1, depth + 1):
        f = spec.output_activation if l == depth else spec.activation
        if f.smooth:
            continue
        z = np.abs(point.zs[l])
        if l == hyp.layer and forced:
            z = np.delete(z, [hyp.units[0] - 1, hyp.units[1] - 1], axis=1)
        if np.any(z < KINK):
            return True
    return False


def group_difference(point: Point, hyp: Hypothesis, group: str) -> np.ndarray:
    """dL/d(group of unit i) − dL/d(group of unit j) at ``point``."""
    i, j = hyp.units
    gi = mlp.group_values(point.grad, hyp.layer, i, group)
    gj = mlp.group_values(point.grad, hyp.layer, j, group)
    return gi - gj


def _scale(point: Point) -> float:
    return max([1.0] + [float(np.max(np.abs(g))) for g in point.grad.W if g.size])


def _is_finite(point: Point) -> bool:
    return all(np.all(np.isfinite(g)) for g in point.grad.W + point.grad.b)


def find_witness(spec: NetworkSpec, hyp: Hypothesis, group: str,
                 seed: int) -> Witness | None:
    """Search a seeded sequence of grid points for a clearly non-zero difference."""
    rng = np.random.default_rng(seed)
    for _ in range(TRIES):
        point = random_point(spec, hyp, rng)
        if not _is_finite(point) or _near_kink(spec, hyp, point):
            continue
        d = group_difference(point, hyp, group)
        if np.max(np.abs(d)) > max(ABSOLUTE_THRESHOLD, RELATIVE_THRESHOLD * _scale(point)):
            return Witness(point.params.to_json(spec.bias), point.X.tolist(),
                           point.Y.tolist(), [float(v) for v in d])
    return None
