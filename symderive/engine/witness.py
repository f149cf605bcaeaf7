"""Witnesses: concrete values, satisfying a hypothesis, where a difference is non-zero.

Values are drawn from a grid of quarter-integers so that a reader can type
them in; the difference is evaluated with the hand-written NumPy network of
:mod:`symderive.mlp`.  Near a kink of a non-smooth activation (|z| < 1e-3 at
a pre-activation the hypothesis does not force to 0) a candidate is skipped.

A network of more than :data:`COMPACT_PARAMETERS` parameters gets a *compact*
witness: its parameters are drawn from a generator seeded per candidate
(:func:`generated_parameters`, a recipe anyone can replay with NumPy), and
the witness lists only the two units' groups (the values the hypothesis
constrains) with that seed, instead of every parameter (50 MB of JSON at
width 1024).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from ..spec import Hypothesis, NetworkSpec
from . import mlp
from .generic import instantiation

#: A difference counts as non-zero when it exceeds this, relative to the gradients' scale.
RELATIVE_THRESHOLD = 1e-7
ABSOLUTE_THRESHOLD = 1e-9
TRIES = 64


@dataclass(frozen=True)
class Witness:
    """Parameters, inputs and targets (one list per sample) and the difference there."""

    parameters: dict[str, list]
    inputs: list[list[float]]
    targets: list[list[float]]
    difference: list[float]
    #: generic mode: the concrete functions that stood in for σ and ℓ, e.g. {"activation": "tanh"}
    instantiation: dict[str, str] | None = None
    #: compact witnesses: {"seed": ..., "method": GENERATOR} regenerates every parameter
    #: not listed in ``parameters`` (which then holds the two units' groups only)
    generator: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out = {"parameters": self.parameters, "inputs": self.inputs,
               "targets": self.targets, "difference": self.difference}
        if self.generator:
            out["generator"] = dict(self.generator)
        if self.instantiation:
            out["instantiation"] = dict(self.instantiation)
        return out


@dataclass
class Point:
    """One concrete point: parameters and data, with the gradient there."""

    params: mlp.Params
    X: np.ndarray
    Y: np.ndarray
    grad: mlp.Params
    zs: list[np.ndarray]
    deltas: list[np.ndarray]
    generator_seed: int | None = None   # compact witnesses: the parameters' generator


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


#: Networks wider than this get scaled Gaussian values instead of the quarter grid.
GRID_WIDTH = 8
REDRAWS = 30
#: Networks with more parameters than this get compact witnesses (module docstring).
COMPACT_PARAMETERS = 10_000
#: The name of the compact witnesses' recipe, documented in docs/speed.md.
GENERATOR = "numpy-default_rng-normal-fan-in-4dp"


def _weights(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int,
             small: bool) -> np.ndarray:
    """Quarter-grid values for small nets (easy to type in); for wide nets values
    ~ N(0, 1/fan_in) with 4 decimals, so that activations do not saturate."""
    if small:
        return _grid(rng, shape)
    v = np.round(rng.normal(0.0, 1.0 / np.sqrt(fan_in), size=shape), 4)
    return np.where(v == 0, 1e-4, v)


def random_point(spec: NetworkSpec, hyp: Hypothesis, rng: np.random.Generator) -> Point:
    """A random point that satisfies ``hyp``, with samples redrawn away from kinks."""
    sizes = spec.layers
    small = max(sizes) <= GRID_WIDTH
    seed = None
    if is_compact(spec):
        seed = int(rng.integers(0, 2**32))
        params = generated_parameters(spec, seed)
    else:
        W = [_weights(rng, (sizes[l], sizes[l - 1]), sizes[l - 1], small)
             for l in range(1, len(sizes))]
        b = [_weights(rng, (sizes[l],), sizes[l - 1], small) if spec.bias
             else np.zeros(sizes[l]) for l in range(1, len(sizes))]
        params = mlp.Params(W, b)
    mlp.apply_hypothesis(params, hyp.layer, hyp.units, hyp.tie, hyp.zero)
    X = _inputs(rng, (spec.samples, sizes[0]), small)
    Y = mlp.distinct_targets(spec, hyp, _targets(spec, rng))
    point = _evaluate(spec, params, X, Y)
    for _ in range(REDRAWS):
        rows = _kink_rows(spec, hyp, point)
        if not rows.any():
            break
        X[rows] = _inputs(rng, (int(rows.sum()), sizes[0]), small)
        point = _evaluate(spec, params, X, Y)
    point.generator_seed = seed
    return point


def is_compact(spec: NetworkSpec) -> bool:
    """Does this network get compact witnesses (over :data:`COMPACT_PARAMETERS`)?"""
    sizes = spec.layers
    count = sum(sizes[l] * (sizes[l - 1] + spec.bias) for l in range(1, len(sizes)))
    return count > COMPACT_PARAMETERS


def generated_parameters(spec: NetworkSpec, seed: int) -> mlp.Params:
    """The recipe of compact witnesses (:data:`GENERATOR`), replayable with NumPy alone:
    ``rng = numpy.random.default_rng(seed)``; for l = 1..L, W_l = rng.normal(0,
    1/sqrt(n_{l-1}), (n_l, n_{l-1})) rounded to 4 decimals, 0 replaced by 0.0001; then,
    with biases, b_l likewise with shape (n_l,) and the same scale; biases 0 without."""
    rng, sizes = np.random.default_rng(seed), spec.layers
    W = [_weights(rng, (sizes[l], sizes[l - 1]), sizes[l - 1], False)
         for l in range(1, len(sizes))]
    b = [_weights(rng, (sizes[l],), sizes[l - 1], False) if spec.bias else np.zeros(sizes[l])
         for l in range(1, len(sizes))]
    return mlp.Params(W, b)


def witness_params(spec: NetworkSpec, w: Witness) -> mlp.Params:
    """Every parameter of a witness: as listed, or (compact) regenerated from its
    generator with the two units' groups put back -- the point that was evaluated."""
    if not w.generator:
        return mlp.Params.from_json(spec, w.parameters)
    p = generated_parameters(spec, int(w.generator["seed"]))
    for name, table in w.parameters.items():
        at = int(name[1:]) - 1
        for unit, row in table.get("rows", {}).items():
            p.W[at][int(unit) - 1] = row
        for unit, value in table.get("entries", {}).items():
            p.b[at][int(unit) - 1] = value
        for unit, column in table.get("columns", {}).items():
            p.W[at][:, int(unit) - 1] = column
    return p


def unit_groups(spec: NetworkSpec, hyp: Hypothesis, params: mlp.Params) -> dict[str, Any]:
    """The two units' groups, 1-based: {"W2": {"rows": {"1": [...], "2": [...]}},
    "b2": {"entries": {"1": v, "2": v}}, "W3": {"columns": {...}}}."""
    l, units = hyp.layer, hyp.units
    out: dict[str, Any] = {f"W{l}": {"rows": {str(u): params.W[l - 1][u - 1].tolist()
                                               for u in units}}}
    if spec.bias:
        out[f"b{l}"] = {"entries": {str(u): float(params.b[l - 1][u - 1]) for u in units}}
    if l < spec.depth:
        out[f"W{l + 1}"] = {"columns": {str(u): params.W[l][:, u - 1].tolist()
                                        for u in units}}
    return out


def _witness(spec: NetworkSpec, hyp: Hypothesis, point: Point, d: np.ndarray) -> Witness:
    """The witness at ``point``: every parameter, or the compact form (module docstring)."""
    if point.generator_seed is None:
        parameters, generator = point.params.to_json(spec.bias), None
    else:
        parameters = unit_groups(spec, hyp, point.params)
        generator = {"seed": point.generator_seed, "method": GENERATOR}
    return Witness(parameters, point.X.tolist(), point.Y.tolist(), [float(v) for v in d],
                   instantiation(spec), generator)


def _inputs(rng: np.random.Generator, shape: tuple[int, int], small: bool) -> np.ndarray:
    if small:
        return _grid(rng, shape, -8, 8)
    return np.round(rng.normal(0.0, 1.0, size=shape), 4)


def _evaluate(spec: NetworkSpec, params: mlp.Params, X: np.ndarray, Y: np.ndarray) -> Point:
    with np.errstate(all="ignore"):
        _, grad, deltas, zs = mlp.forward_backward(spec, params, X, Y)
    return Point(params, X, Y, grad, zs, deltas)


def _kink_rows(spec: NetworkSpec, hyp: Hypothesis, point: Point) -> np.ndarray:
    return mlp.kink_rows(spec, hyp, point.zs)


def _near_kink(spec: NetworkSpec, hyp: Hypothesis, point: Point) -> bool:
    return bool(_kink_rows(spec, hyp, point).any())


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


def witness_search(spec: NetworkSpec, hyp: Hypothesis, group: str,
                   seed: int) -> Iterator[Witness | None]:
    """The seeded search, one NumPy forward + backward pass per step: yields the
    witness found at each step, or None.  Resumable: a caller may take one step
    (cheap evidence before any symbolic work) and continue later, and the
    witnesses are the same as :func:`find_witness`'s."""
    rng = np.random.default_rng(seed)
    for _ in range(TRIES):
        point = random_point(spec, hyp, rng)
        if not _is_finite(point) or _near_kink(spec, hyp, point):
            yield None
            continue
        d = group_difference(point, hyp, group)
        if np.max(np.abs(d)) > max(ABSOLUTE_THRESHOLD, RELATIVE_THRESHOLD * _scale(point)):
            yield _witness(spec, hyp, point, d)
        else:
            yield None


def find_witness(spec: NetworkSpec, hyp: Hypothesis, group: str,
                 seed: int) -> Witness | None:
    """Search a seeded sequence of grid points for a clearly non-zero difference."""
    return next_witness(witness_search(spec, hyp, group, seed))


def next_witness(search: Iterator[Witness | None]) -> Witness | None:
    """The first witness the rest of ``search`` finds, or None."""
    return next((w for w in search if w is not None), None)
