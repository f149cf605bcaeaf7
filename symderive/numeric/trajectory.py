"""The asker's numbers: the first steps of gradient descent from a concrete starting point.

With every tensor given and ``[data]``, the parameters and the loss at steps
0, 1, ..., min(steps, 10), with the spec's optimizer and learning rate exactly
as given, so that someone can check a hand computation line by line.  When the
arithmetic allows it (identity and ReLU activations, the squared error, SGD or
momentum) everything is computed in exact rationals; otherwise in float64 with
the NumPy network of :mod:`symderive.engine.mlp`.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ..engine import mlp
from ..engine.start import Start, float_parameters
from ..spec import CheckSpec, NetworkSpec
from .optimizers import make

#: Steps shown at most.
MAX_SHOWN = 10
#: Exact arithmetic for these activations and optimizers, with the squared error.
EXACT_ACTIVATIONS = ("identity", "relu")
EXACT_OPTIMIZERS = {"sgd": None, "momentum": Fraction(9, 10)}
#: Beyond this many parameter-samples the exact path is not attempted (float64 instead).
EXACT_LIMIT = 5000
#: Exact values grow (the gradient is a polynomial of degree > 1 in the parameters, so their
#: digits multiply at every step); beyond this many bits of a denominator, float64 takes over.
EXACT_BITS = 1500

Number = Fraction | float


@dataclass(frozen=True)
class Step:
    """Parameters, loss and gradient at one step (names W1, b1, ... in spec order)."""

    step: int
    loss: Number
    parameters: tuple[tuple[str, Any], ...]
    gradient: tuple[tuple[str, Any], ...]
    exact: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "loss": float(self.loss), "exact": self.exact,
                "parameters": {k: _json(v) for k, v in self.parameters},
                "gradient": {k: _json(v) for k, v in self.gradient}}


@dataclass(frozen=True)
class Trajectory:
    steps: tuple[Step, ...]
    diverged: bool = False      # stopped early: a value became infinite or NaN

    @property
    def exact(self) -> bool:
        return all(s.exact for s in self.steps)

    @property
    def arithmetic(self) -> str:
        exact = [s.step for s in self.steps if s.exact]
        if not exact:
            return "float64"
        if len(exact) == len(self.steps):
            return "exact rationals"
        return f"exact rationals up to step {exact[-1]}, then float64"


def _json(value):
    if isinstance(value, list):
        return [_json(v) for v in value]
    return float(value)


def can_be_exact(network: NetworkSpec, check: CheckSpec) -> bool:
    """Rational arithmetic is exact for piecewise-linear activations, MSE, SGD/momentum."""
    acts = (network.activation.name, network.output_activation.name)
    size = sum(network.layers[l] * (network.layers[l - 1] + 1)
               for l in range(1, network.depth + 1)) * network.samples
    return (all(a in EXACT_ACTIVATIONS and network.activation.latex_source is None
                and network.output_activation.latex_source is None for a in acts)
            and network.loss.name == "mse" and check.optimizer in EXACT_OPTIMIZERS
            and size <= EXACT_LIMIT)


def trajectory(network: NetworkSpec, start: Start, check: CheckSpec) -> Trajectory | None:
    """The first steps from a concrete start with data (None when something is random)."""
    if start.data is None or any(t.is_random for t in start.W[1:]) or any(
            t is not None and t.is_random for t in start.b[1:]):
        return None
    shown = min(check.steps, MAX_SHOWN)
    if can_be_exact(network, check):
        return _exact(network, start, check, shown)
    return _floats(network, start, check, shown)


# ------------------------------------------------------------------ exact


def _exact(network: NetworkSpec, start: Start, check: CheckSpec, shown: int) -> Trajectory:
    W = [None] + [_rows(start.W[l]) for l in range(1, start.depth + 1)]
    b = [None] + [[r[0] for r in _rows(start.b[l])] if start.b[l] is not None
                  else [Fraction(0)] * network.layers[l] for l in range(1, start.depth + 1)]
    X, Y = start.data.inputs, start.data.targets
    lr = Fraction(repr(check.learning_rate))
    mu = EXACT_OPTIMIZERS[check.optimizer]
    velocity = None
    out = []
    for step in range(shown + 1):
        if _too_long(W, b):
            rest = _floats(network, start, check, shown - step, params=_rounded(W, b),
                           velocity=velocity, first=step)
            return Trajectory(tuple(out) + rest.steps, rest.diverged)
        loss, gW, gb = _exact_gradient(network, W, b, X, Y)
        out.append(_step(network, step, loss, W, b, gW, gb, exact=True))
        if step == shown:
            break
        if mu is not None:   # heavy ball: v ← μ v + g, θ ← θ − lr v (as torch)
            velocity = (gW, gb) if velocity is None else (
                [None] + [_axpy(mu, velocity[0][l], gW[l]) for l in range(1, len(W))],
                [None] + [_axpy(mu, velocity[1][l], gb[l]) for l in range(1, len(W))])
            gW, gb = velocity
        W = [None] + [_axpy(-lr, gW[l], W[l]) for l in range(1, len(W))]
        b = [None] + [_axpy(-lr, gb[l], b[l]) for l in range(1, len(b))]
    return Trajectory(tuple(out))


def _too_long(W, b) -> bool:
    values = [v for l in range(1, len(W)) for row in W[l] for v in row]
    values += [v for l in range(1, len(b)) for v in b[l]]
    return max(v.denominator.bit_length() for v in values) > EXACT_BITS


def _rounded(W, b) -> mlp.Params:
    """Exact parameters of a later step, rounded to float64."""
    return mlp.Params([np.array(W[l], dtype=float) for l in range(1, len(W))],
                       [np.array(b[l], dtype=float) for l in range(1, len(b))])


def _rows(t) -> list[list[Fraction]]:
    return [[Fraction(int(v), t.scale) for v in row] for row in t.ints]


def _axpy(a: Fraction, x, y):
    """a·x + y, elementwise over nested lists."""
    if isinstance(x, list):
        return [_axpy(a, u, v) for u, v in zip(x, y)]
    return a * x + y


def _act(name: str, z: Fraction) -> Fraction:
    return z if name == "identity" else max(Fraction(0), z)


def _dact(name: str, z: Fraction) -> Fraction:
    return Fraction(1) if name == "identity" else Fraction(1 if z > 0 else 0)  # H(0) = 0


def _exact_gradient(network: NetworkSpec, W, b, X, Y):
    """Loss ½Σ(ŷ − y)² summed over samples, and its gradient, by backpropagation."""
    L = network.depth
    gW = [None] + [[[Fraction(0)] * len(r) for r in W[l]] for l in range(1, L + 1)]
    gb = [None] + [[Fraction(0)] * len(b[l]) for l in range(1, L + 1)]
    loss = Fraction(0)
    for x, y in zip(X, Y):
        acts, zs = [list(x)], [None]
        for l in range(1, L + 1):
            name = network.output_activation.name if l == L else network.activation.name
            z = [sum((w * a for w, a in zip(row, acts[-1])), Fraction(0)) + bias
                 for row, bias in zip(W[l], b[l])]
            zs.append(z)
            acts.append([_act(name, v) for v in z])
        loss += sum((yh - t) ** 2 for yh, t in zip(acts[-1], y)) / 2
        delta = [(yh - t) * _dact(network.output_activation.name, v)
                 for yh, t, v in zip(acts[-1], y, zs[-1])]
        for l in range(L, 0, -1):
            for u, d in enumerate(delta):
                if network.bias:     # without biases b stays 0: no gradient, no update
                    gb[l][u] += d
                for k, a in enumerate(acts[l - 1]):
                    gW[l][u][k] += d * a
            if l > 1:
                delta = [_dact(network.activation.name, zs[l - 1][k])
                         * sum((W[l][u][k] * delta[u] for u in range(len(delta))), Fraction(0))
                         for k in range(len(acts[l - 1]))]
    return loss, gW, gb


def _step(network: NetworkSpec, step: int, loss, W, b, gW, gb, exact: bool = False) -> Step:
    params, grads = [], []
    for l in range(1, network.depth + 1):
        params.append((f"W{l}", W[l]))
        grads.append((f"W{l}", gW[l]))
        if network.bias:
            params.append((f"b{l}", b[l]))
            grads.append((f"b{l}", gb[l]))
    return Step(step, loss, tuple(params), tuple(grads), exact)


# ------------------------------------------------------------------ float64


def _floats(network: NetworkSpec, start: Start, check: CheckSpec, shown: int,
            params: mlp.Params | None = None, velocity=None, first: int = 0) -> Trajectory:
    """Steps ``first`` .. ``first + shown`` in float64; when the exact path hands over,
    from its ``params`` and momentum ``velocity`` of step ``first``."""
    p = params if params is not None else float_parameters(
        start, np.random.default_rng(0))   # nothing random: the generator is unused
    X = np.array(start.data.inputs, dtype=float)
    Y = np.array(start.data.targets, dtype=float)
    optimizer = make(check.optimizer, check.learning_rate)
    if velocity is not None and hasattr(optimizer, "velocity"):
        optimizer.velocity = [np.array(v, dtype=float) for v in
                              [*velocity[0][1:], *velocity[1][1:]]]
    out = []
    with np.errstate(all="ignore"):
        for step in range(first, first + shown + 1):
            loss, grad, _ = mlp.loss_and_gradient(network, p, X, Y)
            if not (np.isfinite(loss) and all(np.all(np.isfinite(w)) for w in p.W)):
                return Trajectory(tuple(out), diverged=True)
            out.append(_step(network, step, float(loss),
                             [None] + [w.tolist() for w in p.W], [None] + [v.tolist() for v in p.b],
                             [None] + [g.tolist() for g in grad.W],
                             [None] + [g.tolist() for g in grad.b]))
            if step == first + shown:
                break
            optimizer.step([*p.W, *p.b], [*grad.W, *grad.b])
    return Trajectory(tuple(out))


__all__ = ["Step", "Trajectory", "trajectory", "can_be_exact", "MAX_SHOWN"]
