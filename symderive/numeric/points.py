"""Seeded random starting points for the numeric cross-check.

A point is a network's parameters plus a batch of data, drawn so that the
hypothesis holds (unit j's tied groups copied from unit i, zeroed groups set
to 0).  Unlike the witnesses' quarter-integer grid, these look like a real
initialisation: weights and biases ~ N(0, 1/fan_in), inputs ~ N(0, 1), and
targets that suit the loss (one-hot for softmax_ce, {0, 1} for bce).

For the gradient check a point must also be away from the kinks of a
non-smooth activation: every pre-activation that the hypothesis does not
force to 0 has |z| >= :data:`KINK`.  Samples are independent given the
parameters, so a sample near a kink is simply redrawn; on a wide ReLU
network rejecting whole points would almost never succeed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine import mlp
from ..engine.mlp import KINK, pinned_at_zero  # noqa: F401 - KINK re-exported for callers
from ..spec import Hypothesis, NetworkSpec

#: Parameter draws, and redraws of one sample, before giving up on a kink-free point.
TRIES = 32


@dataclass
class Start:
    """Parameters and data (one row per sample) satisfying a hypothesis."""

    params: mlp.Params
    X: np.ndarray
    Y: np.ndarray


def initial_params(spec: NetworkSpec, hyp: Hypothesis, rng: np.random.Generator) -> mlp.Params:
    """Weights and biases ~ N(0, 1/fan_in), then made to satisfy ``hyp``."""
    sizes = spec.layers
    W, b = [], []
    for l in range(1, len(sizes)):
        scale = 1.0 / np.sqrt(sizes[l - 1])
        W.append(rng.normal(0.0, scale, size=(sizes[l], sizes[l - 1])))
        b.append(rng.normal(0.0, scale, size=sizes[l]) if spec.bias else np.zeros(sizes[l]))
    params = mlp.Params(W, b)
    mlp.apply_hypothesis(params, hyp.layer, hyp.units, hyp.tie, hyp.zero)
    return params


def inputs(spec: NetworkSpec, rng: np.random.Generator, rows: int) -> np.ndarray:
    return rng.normal(size=(rows, spec.layers[0]))


def targets(spec: NetworkSpec, rng: np.random.Generator) -> np.ndarray:
    """Targets the loss expects: one-hot, {0, 1}, (0, 1) for a LaTeX loss, else N(0, 1)."""
    n, m = spec.samples, spec.layers[-1]
    if spec.loss.name == "softmax_ce":
        return np.eye(m)[rng.integers(0, m, size=n)]
    if spec.loss.name == "bce":
        return rng.integers(0, 2, size=(n, m)).astype(float)
    if spec.loss.name == "latex":
        return rng.uniform(0.0, 1.0, size=(n, m))
    return rng.normal(size=(n, m))


def training_start(spec: NetworkSpec, hyp: Hypothesis, rng: np.random.Generator,
                   given: np.ndarray | None = None) -> Start:
    """A random initialisation and data set; kinks do not matter to training.

    ``given``: the spec's own targets (its ``[data]``), used as they are: a result
    proved on those data (two outputs whose targets agree) is checked on them, not
    on drawn targets that would contradict it."""
    params = initial_params(spec, hyp, rng)
    X = inputs(spec, rng, spec.samples)
    if given is not None:
        return Start(params, X, np.array(given, dtype=float))
    return Start(params, X, mlp.distinct_targets(spec, hyp, targets(spec, rng)))


def forced_kink(spec: NetworkSpec, hyp: Hypothesis) -> bool:
    """Does the hypothesis pin units i, j at a kink of their activation, z = 0 (where
    the derivative really jumps: not for softsign, an ELU or max(0, z − 1))?"""
    f = spec.output_activation if hyp.layer == spec.depth else spec.activation
    return pinned_at_zero(spec, hyp) and 0.0 in f.kinks


def near_kink_rows(spec: NetworkSpec, hyp: Hypothesis | None, params: mlp.Params,
                   X: np.ndarray) -> np.ndarray:
    """One flag per sample: is one of its free pre-activations within KINK of a kink?"""
    return mlp.kink_rows(spec, hyp, mlp.forward(spec, params, X)[0])


def check_point(spec: NetworkSpec, hyp: Hypothesis, rng: np.random.Generator,
                given: np.ndarray | None = None) -> Start | None:
    """A point away from kinks with a finite loss, or None if none was found."""
    for _ in range(TRIES):
        start = training_start(spec, hyp, rng, given)
        with np.errstate(all="ignore"):
            if settle_rows(spec, hyp, start.params, start.X, rng) and _finite_loss(spec, start):
                return start
    return None


def settle_rows(spec: NetworkSpec, hyp: Hypothesis | None, params: mlp.Params, X: np.ndarray,
                rng: np.random.Generator, tries: int = TRIES) -> bool:
    """Redraw (in place) the inputs of samples near a kink; True once none is."""
    for _ in range(tries):
        bad = near_kink_rows(spec, hyp, params, X)
        if not bad.any():
            return True
        X[bad] = inputs(spec, rng, int(bad.sum()))
    return False


def _finite_loss(spec: NetworkSpec, start: Start) -> bool:
    value, grad, _ = mlp.loss_and_gradient(spec, start.params, start.X, start.Y)
    return bool(np.isfinite(value)) and all(np.all(np.isfinite(g)) for g in grad.W + grad.b)
