"""What the numeric checks of ``[[fact]]`` kinds share: the result type, finite differences, points.

Each kind's own check lives in its module (:mod:`symderive.facts.zero` ...), beside its
proof; :func:`symderive.facts.check_facts` runs them.

Everything here is NumPy (:mod:`symderive.mlp` and central finite differences
of its loss), never the SymPy expressions of the fact; generic networks are
instantiated (σ := tanh, ℓ := ½(ŷ − y)²) as for the hypotheses' cross-check.

- ``backprop_exact``: ``mlp.loss_and_gradient`` against central finite
  differences of the NumPy loss at a random point;
- ``loss_gradient``: the closed form (softmax(z) − y, σ(z) − y, ŷ − y) in
  NumPy against finite differences of the loss in the output pre-activations;
- ``zero_init``: a few steps of gradient descent from the all-zero start:
  which parameters moved, and the largest spread between the hidden units;
- ``unit_gradient``: finite-difference gradients of the unit's groups at random
  points with the fact's groups zero: zero exactly where the fact says so;
- ``dropout``: finite-difference gradients with the masks applied, at random
  tied points: the tied units' groups differ exactly where the fact says so;
- ``optimizer``: a few steps of the optimiser (NumPy, torch's update rules) on
  the network from a tied start, with the learning rates of the fact: the gap
  between the two units stays 0 (shared rates) or grows (per-unit rates).

A check that contradicts the fact's verdict records ``problems`` (it never
raises); :attr:`symderive.api.Derivation.agreement` is then false.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..engine import mlp
from ..numeric import points
from ..numeric.gradcheck import ATOL, RTOL
from ..spec import Hypothesis, NetworkSpec
from .result import FactResult

#: Central-difference step (fixed; the tolerance |a − n| ≤ ATOL + RTOL |n| is the
#: hypotheses' gradient check's).
H = 1e-6


#: Training steps of zero_init and optimizer checks at most (spec.check.steps otherwise).
MAX_STEPS = 50


#: A spread or gap between units at most this counts as identical (rounding only).
GAP_TOL = 1e-8


#: Random points tried by unit_gradient and dropout.
POINTS = 4


#: Parameters checked by finite differences at most (a seeded subset beyond).
MAX_PARAMETERS = 400


#: Dropout masks: inverted dropout with keep probability 1/2 scales kept units by 2.
KEEP = 2.0
#: A finite-difference gradient (or difference) at most this is zero; above NONZERO it is not.
ZERO_TOL, NONZERO = 1e-7, 1e-6
#: The optimizer check's weight decay (torch style) and per-unit learning-rate factor.
LAMBDA, PER_UNIT = 0.01, 2.0


def counted(n: int, noun: str) -> str:
    """'1 sample', '3 samples': a count with its noun in the right number."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class FactNumeric:
    """The numeric check of one fact: what was computed, the figures, any contradiction."""

    method: str                               # one sentence, our own words
    figures: tuple[tuple[str, Any], ...]      # (name, plain JSON value), in order
    lines: tuple[str, ...]                    # the figures in words, for the report
    problems: tuple[str, ...] = ()
    #: per-item figures, one per entry of the fact's JSON list ``items_key`` (a law ...)
    items_key: str | None = None
    items: tuple[dict[str, Any], ...] = ()

    @property
    def agreement(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        figures = {k: v for k, v in self.figures if k != "plot"}
        return {"method": self.method, "agreement": self.agreement,
                "problems": list(self.problems), "figures": figures}


def below(value: float) -> str:
    """An error as the power of ten above it ("below 1e-9"), so rounding noise does not
    change the report; exactly 0 stays 0."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    return f"below 1e-{-math.ceil(math.log10(value))}" if value < 1 else f"{value:.3g}"


def _size(value: float, small: float) -> str:
    """``below(value)`` under ``small`` (rounding noise), else three significant digits."""
    return below(value) if value < small else f"{value:.3g}"


def loss(net: NetworkSpec, p: mlp.Params, X: np.ndarray, Y: np.ndarray) -> float:
    """The NumPy loss: a forward pass only (finite differences call this often)."""
    return net.loss.np_value_and_grad(mlp.forward(net, p, X)[1][-1], Y)[0]


def _slots(p: mlp.Params) -> list[tuple[str, np.ndarray]]:
    return [(f"W{l}", w) for l, w in enumerate(p.W, start=1)] + \
           [(f"b{l}", v) for l, v in enumerate(p.b, start=1)]


def central_difference(f: Callable[[], float], array: np.ndarray, index) -> float:
    """(f(θ + h) − f(θ − h)) / 2h for the entry ``index`` of ``array`` (restored after)."""
    old = array[index]
    array[index] = old + H
    up = f()
    array[index] = old - H
    down = f()
    array[index] = old
    return float((up - down) / (2 * H))


def _errors(analytic: np.ndarray, numeric: np.ndarray) -> tuple[float, float, bool]:
    """Largest absolute error, largest relative error, and whether all are within tolerance."""
    err = np.abs(analytic - numeric)
    rel = err / np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), 1e-12)
    ok = bool(np.all(np.isfinite(err)) and np.all(err <= ATOL + RTOL * np.abs(numeric)))
    return float(err.max(initial=0.0)), float(rel.max(initial=0.0)), ok


def _random_params(net: NetworkSpec, hyp: Hypothesis | None, rng) -> mlp.Params:
    if hyp is None:
        hyp = Hypothesis("none", 1, (1, 1), (), ())
    return points.initial_params(net, hyp, rng)


#: Redraws of the samples near a kink before a fact's check goes ahead anyway.
REDRAWS = 30


def _point(net: NetworkSpec, hyp: Hypothesis, rng) -> tuple[mlp.Params, np.ndarray, np.ndarray]:
    """Parameters satisfying ``hyp``, inputs redrawn away from kinks, then targets."""
    p = points.initial_params(net, hyp, rng)
    X = points.inputs(net, rng, net.samples)
    points.settle_rows(net, hyp, p, X, rng, REDRAWS)
    return p, X, points.targets(net, rng)


def _problem(result: FactResult, what: str) -> str:
    return f"fact {result.fact.name!r} ({result.verdict}): {what}"


def judged(result, status: dict, largest: dict, values, method: str) -> FactNumeric:
    """The check's outcome: a group proved equal must not differ at any point, one shown
    different must differ at some point (``largest``: the largest difference seen)."""
    problems = []
    for g, s in status.items():
        if s == "equal" and largest[g] > NONZERO:
            problems.append(_problem(result, f"the {g} gradients differ by {largest[g]:.3g}"))
        if s == "different" and largest[g] <= NONZERO:
            problems.append(_problem(result, f"the {g} gradients were equal at {POINTS} "
                                     "random points"))
    return FactNumeric(
        method, (("points", POINTS), ("masks", list(values)), ("max_abs_difference", largest)),
        tuple(f"{g}: largest |∂L/∂θ_i − ∂L/∂θ_j| "
              f"{_size(largest[g], NONZERO)} "
              f"(fact: {s})" for g, s in status.items()),
        tuple(problems))
