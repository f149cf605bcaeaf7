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

A step costs one draw of the parameters and one NumPy pass; the groups of one
hypothesis share their first step's point (:class:`Start`), so the cheap
evidence taken before any symbolic work is one pass per hypothesis, and none
for two identical units (:func:`identical_units`), which no point can refute.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterator

import numpy as np
# NumPy loads numpy.random on first use; every derivation draws witnesses, so the engine
# loads it with its own imports (a first derive then costs what a later one does).
import numpy.random  # noqa: E402,F401

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
    near_kink: bool | None = None       # None: not looked at yet
    listed: tuple | None = None         # a witness's (parameters, inputs, targets) here

    @cached_property
    def threshold(self) -> float:
        """What a difference's largest entry must exceed to count as non-zero (relative
        to the largest weight gradient); NaN when a gradient is not finite.  One look
        at the gradients serves every group of the two units."""
        largest = [float(np.maximum.reduce(np.abs(g), axis=None))   # NaN propagates
                   for g in self.grad.W + self.grad.b if g.size]
        if not all(np.isfinite(largest)):
            return math.nan
        weights = largest[:sum(1 for g in self.grad.W if g.size)]
        return max(ABSOLUTE_THRESHOLD, RELATIVE_THRESHOLD * max([1.0] + weights))


def _grid(rng: np.random.Generator, shape, low: int = -6, high: int = 6) -> np.ndarray:
    """Non-zero multiples of 1/4 in [low/4, high/4]."""
    k = rng.integers(low, high, size=shape, endpoint=True)
    k = np.where(k == 0, 1, k)
    return k / 4.0


def random_targets(spec: NetworkSpec, rng: np.random.Generator) -> np.ndarray:
    """Targets of every sample, valid for the loss (one-hot for softmax_ce)."""
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
GENERATOR = "numpy-default_rng-uniform-fan-in-4dp"


def random_point(spec: NetworkSpec, hyp: Hypothesis, rng: np.random.Generator) -> Point:
    """A random point that satisfies ``hyp``, with samples redrawn away from kinks."""
    sizes = spec.layers
    small = max(sizes) <= GRID_WIDTH
    seed = None
    if is_compact(spec):
        seed = int(rng.integers(0, 2**32))
        params = generated_parameters(spec, seed)
    elif small:
        W = [_grid(rng, (sizes[l], sizes[l - 1])) for l in range(1, len(sizes))]
        b = [_grid(rng, (sizes[l],)) if spec.bias else np.zeros(sizes[l])
             for l in range(1, len(sizes))]
        params = mlp.Params(W, b)
    else:
        params = _fan_in_parameters(spec, rng)
    mlp.apply_hypothesis(params, hyp.layer, hyp.units, hyp.tie, hyp.zero)
    X = _inputs(rng, (spec.samples, sizes[0]), small)
    Y = mlp.distinct_targets(spec, hyp, random_targets(spec, rng))
    point = _evaluate(spec, params, X, Y)
    for _ in range(REDRAWS):
        rows = _kink_rows(spec, hyp, point)
        if not rows.any():
            point.near_kink = False
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
    ``rng = numpy.random.default_rng(seed)``; for l = 1..L, with a = sqrt(3/n_{l-1}),
    W_l = (2·rng.random((n_l, n_{l-1})) − 1)·a rounded to 4 decimals, 0 replaced by
    0.0001 (uniform on [−a, a): variance 1/n_{l-1}, as a fan-in initialisation); then,
    with biases, b_l likewise with shape (n_l,) and the same a; biases 0 without.

    Uniform, not Gaussian: a uniform value costs a fifth of a normal one, and these
    draws, one per parameter of the network, are most of a witness step's cost."""
    values, runs = _buffer(spec, np.random.default_rng(seed).random)
    values *= 2.0
    values -= 1.0
    for run, fan_in in runs:
        run *= np.sqrt(3 / fan_in)
    return _rounded(spec, values)


def _fan_in_parameters(spec: NetworkSpec, rng: np.random.Generator) -> mlp.Params:
    """Wide networks' parameters (not compact): W_1 .. W_L, then b_1 .. b_L, each ~ N(0,
    1/fan-in) rounded to 4 decimals, 0 replaced by 1e-4 -- one ``rng.normal(0, s, shape)``
    call per array value for value (``normal(0, s)`` is ``s * standard_normal()``)."""
    values, runs = _buffer(spec, rng.standard_normal)
    for run, fan_in in runs:
        run *= 1.0 / np.sqrt(fan_in)
    return _rounded(spec, values)


def _shapes(spec: NetworkSpec) -> list[tuple[int, ...]]:
    """The parameters' shapes in drawing order: W_1 .. W_L, then (with biases) b_1 .. b_L."""
    sizes = spec.layers
    shapes = [(sizes[l], sizes[l - 1]) for l in range(1, len(sizes))]
    return shapes + [(sizes[l],) for l in range(1, len(sizes))] if spec.bias else shapes


def _buffer(spec: NetworkSpec, draw) -> tuple[np.ndarray, list[tuple[np.ndarray, int]]]:
    """``draw(n)`` for every parameter at once (:func:`_shapes`' order), which is one
    ``draw(shape)`` per array value for value (NumPy's ``random`` and ``standard_normal``
    keep nothing from one call to the next); with the runs of consecutive arrays of
    one fan-in, views into that buffer (W_2 .. W_L of a uniform network are one run)."""
    shapes, depth = _shapes(spec), len(spec.layers) - 1
    values = draw(sum(math.prod(shape) for shape in shapes))
    runs: list[tuple[int, int, int]] = []           # (start, end, fan-in)
    at = 0
    for k, shape in enumerate(shapes):
        fan_in, end = spec.layers[k % depth], at + math.prod(shape)
        if runs and runs[-1][2] == fan_in:
            runs[-1] = (runs[-1][0], end, fan_in)
        else:
            runs.append((at, end, fan_in))
        at = end
    return values, [(values[a:b], fan_in) for a, b, fan_in in runs]


def _rounded(spec: NetworkSpec, values: np.ndarray) -> mlp.Params:
    """The parameters: ``values`` rounded to 4 decimals, 0 replaced by 1e-4 (in place),
    cut into :func:`_shapes` (views)."""
    np.round(values, 4, out=values)
    values[values == 0] = 1e-4
    arrays, at = [], 0
    for shape in _shapes(spec):
        arrays.append(values[at:at + math.prod(shape)].reshape(shape))
        at += math.prod(shape)
    depth = len(spec.layers) - 1
    b = arrays[depth:] if spec.bias else [np.zeros(spec.layers[l]) for l in range(1, depth + 1)]
    return mlp.Params(arrays[:depth], b)


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
    """The witness at ``point``: every parameter, or the compact form (module docstring).
    Its lists are built once per point, however many groups the point refutes (the
    witnesses share them: nothing changes a witness's lists)."""
    if point.listed is None:
        compact = point.generator_seed is not None
        parameters = (unit_groups(spec, hyp, point.params) if compact
                      else point.params.to_json(spec.bias))
        point.listed = (parameters, point.X.tolist(), point.Y.tolist())
    parameters, inputs, targets = point.listed
    generator = None if point.generator_seed is None else {
        "seed": point.generator_seed, "method": GENERATOR}
    return Witness(parameters, inputs, targets, [float(v) for v in d],
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
    if point.near_kink is None:
        point.near_kink = bool(_kink_rows(spec, hyp, point).any())
    return point.near_kink


def group_difference(point: Point, hyp: Hypothesis, group: str) -> np.ndarray:
    """dL/d(group of unit i) − dL/d(group of unit j) at ``point``."""
    i, j = hyp.units
    gi = mlp.group_values(point.grad, hyp.layer, i, group)
    gj = mlp.group_values(point.grad, hyp.layer, j, group)
    return gi - gj


def _step(spec: NetworkSpec, hyp: Hypothesis, group: str, point: Point) -> Witness | None:
    """The witness at ``point`` if the group's difference is clearly non-zero there.
    A point with a non-finite gradient or near a kink is skipped (None)."""
    d = group_difference(point, hyp, group)
    size = np.max(np.abs(d))
    if size <= ABSOLUTE_THRESHOLD:      # below any threshold: the gradients need no look
        return None
    if math.isnan(point.threshold) or _near_kink(spec, hyp, point):
        return None
    return _witness(spec, hyp, point, d) if size > point.threshold else None


def identical_units(spec: NetworkSpec, hyp: Hypothesis) -> bool:
    """Is every group of the two (hidden) units tied or zeroed?  Then the two units
    have the same parameters and inputs: their gradients agree at every point, up to
    rounding far below the threshold, so no point can be a witness and a caller
    need not search (the search would only ever yield None)."""
    return all(g in hyp.tie or g in hyp.zero for g in spec.groups())


class Start:
    """The first point of every group's search of one hypothesis, drawn on first use
    with ``default_rng(seed)``: one pass gives the differences of all the groups.

    The group searched with ``seed`` itself continues from that generator, so its
    search is :func:`witness_search`'s without a start; any other group's search is
    this point, then the first ``TRIES`` − 1 points of its own seed."""

    def __init__(self, spec: NetworkSpec, hyp: Hypothesis, seed: int):
        self.spec, self.hyp, self.seed = spec, hyp, seed
        self._point: Point | None = None
        self._state: dict | None = None

    def point(self) -> Point:
        if self._point is None:
            rng = np.random.default_rng(self.seed)
            self._point = random_point(self.spec, self.hyp, rng)
            self._state = rng.bit_generator.state
        return self._point

    def generator(self, seed: int) -> np.random.Generator:
        """The generator of the later steps of the search seeded ``seed``."""
        rng = np.random.default_rng(seed)
        if seed == self.seed:
            self.point()
            rng.bit_generator.state = self._state
        return rng


def witness_search(spec: NetworkSpec, hyp: Hypothesis, group: str, seed: int,
                   start: Start | None = None) -> Iterator[Witness | None]:
    """The seeded search, one NumPy forward + backward pass per step: yields the
    witness found at each step, or None.  Resumable: a caller may take one step
    (cheap evidence before any symbolic work) and continue later, and the
    witnesses are the same as :func:`find_witness`'s.  With a ``start`` (of the
    same spec and hypothesis), the first step is its point (see :class:`Start`)."""
    if start is None:
        start = Start(spec, hyp, seed)
    yield _step(spec, hyp, group, start.point())
    rng = start.generator(seed)
    for _ in range(TRIES - 1):
        yield _step(spec, hyp, group, random_point(spec, hyp, rng))


def find_witness(spec: NetworkSpec, hyp: Hypothesis, group: str,
                 seed: int) -> Witness | None:
    """Search a seeded sequence of grid points for a clearly non-zero difference."""
    return next_witness(witness_search(spec, hyp, group, seed))


def next_witness(search: Iterator[Witness | None]) -> Witness | None:
    """The first witness the rest of ``search`` finds, or None."""
    return next((w for w in search if w is not None), None)
