"""The symbolic side of the gradient check: SymPy gradients evaluated with NumPy.

Two evaluators give dL/dθ for every component of every group of the two
units, as (values for unit i, values for unit j):

- :class:`WholeLoss` (small networks): the direct derivative of the whole
  loss, :func:`symderive.gradients.direct_gradient`, in the parameters, inputs
  and targets;
- :class:`Local` (any network): the local formulas the proofs are made of
  (:class:`symderive.local.LocalModel`, with the network's activation),
  ∂L/∂W^{(l)}_{uk} = Σ_n δ_{n,u} a^{(l-1)}_{n,k}, ∂L/∂b_u = Σ_n δ_{n,u},
  ∂L/∂W^{(l+1)}_{mu} = Σ_n δ^{(l+1)}_{n,m} σ(z_{n,u}), with
  δ_{n,u} = σ'(z_{n,u}) Σ_m W^{(l+1)}_{mu} δ^{(l+1)}_{n,m}; the opaque
  quantities a^{(l-1)}, z^{(l)}, δ^{(l+1)} come from the NumPy forward and
  backward pass.  The generic sample n, input k and output m become array
  axes, so one call evaluates every sample and component.

Both are taken before the hypothesis is imposed (it holds at the points
where they are evaluated), so hypotheses on the same units share them.

Safety: ``lambdify`` prints Python source from a SymPy tree.  Only trees whose
free symbols are among the arguments, all created by :mod:`symderive.network`
with generated names (``W1_2_1``, ``z1_n_2``, ``d2_n_m``), are lambdified:
no name from user input ever reaches the generated code.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
import sympy as sp

from ..engine import mlp
from ..engine.gradients import direct_gradient, whole_loss_affordable
from ..engine.local import LocalModel, act, concrete
from ..engine.output import OutputModel
from ..engine.network import (Network, activation_value, delta, output_value, preactivation,
                              softmax_value, target, weight)
from ..spec import Hypothesis, NetworkSpec
from ..spec.functions import lambdify_safe
from .points import Start

#: Names network.py generates: parameters, inputs, targets and the opaque local quantities.
GENERATED = re.compile(r"W\d+_\d+_\d+|b\d+_\d+"                    # parameters
                       r"|[xy]_(\d+|n)_(\d+|k|m)"                    # inputs, targets
                       r"|[zad]\d+_(\d+|n)_(\d+|k|m)"               # z, a, δ of the local form
                       r"|(haty|p)_(\d+|n)_(\d+|m)"                  # ŷ, softmax(ŷ) of an output
                       r"|ysum_n")                                   # Σ_m y_{n,m}

#: Differentiating and lambdifying the whole loss is tried up to this many parameters
#: times samples (about 0.4 s at the limit; it grows fast beyond).
WHOLE_LOSS_LIMIT = 40

#: group -> (dL/d(group of unit i), dL/d(group of unit j)), one entry per component.
Gradients = dict[str, tuple[np.ndarray, np.ndarray]]


def numpy_function(args: Sequence[sp.Symbol], exprs: list[sp.Expr]) -> Callable:
    """:func:`~symderive.functions.lambdify_safe`, after checking that every argument
    is a name network.py generates."""
    for s in args:
        if not GENERATED.fullmatch(s.name):
            raise RuntimeError(f"refusing to lambdify a non-generated symbol {s.name!r}")
    try:
        return lambdify_safe(args, list(exprs))
    except ValueError as exc:
        raise RuntimeError(f"refusing to lambdify: {exc}") from None


class WholeLoss:
    """dL/dθ of the whole loss, differentiated symbolically (small networks only)."""

    method = "whole loss"

    def __init__(self, spec: NetworkSpec, hyp: Hypothesis) -> None:
        self.spec, self.groups = spec, spec.unit_groups(hyp.layer)
        self.sizes = [len(Network(spec).group(hyp.layer, hyp.units[0], g)) for g in self.groups]
        self.f = _whole_loss_function(spec, hyp.layer, hyp.units)

    def __call__(self, start: Start) -> Gradients:
        p = start.params
        flat = [v for w, b in zip(p.W, p.b)
                for v in list(w.ravel()) + (list(b) if self.spec.bias else [])]
        values = np.asarray(self.f(*flat, *start.X.ravel(), *start.Y.ravel()), dtype=float)
        out: Gradients = {}
        at = 0
        for g, size in zip(self.groups, self.sizes):
            out[g] = (values[at:at + size], values[at + size:at + 2 * size])
            at += 2 * size
        return out


@lru_cache(maxsize=8)
def _whole_loss_function(spec: NetworkSpec, layer: int, units: tuple[int, int]) -> Callable:
    """The lambdified direct gradient for every group of ``units``; hypotheses on the
    same units share it (the gradient is taken before the hypothesis is imposed)."""
    net = Network(spec)
    wanted = [s for g in spec.unit_groups(layer) for u in units for s in net.group(layer, u, g)]
    samples = range(1, spec.samples + 1)
    args = (net.parameters() + [s for n in samples for s in net.x(n)]
            + [s for n in samples for s in net.y(n)])
    return numpy_function(args, direct_gradient(net, wanted))


class Local:
    """The local formulas of :mod:`symderive.local`, fed with NumPy's opaque quantities."""

    method = "local"

    def __init__(self, spec: NetworkSpec, hyp: Hypothesis) -> None:
        self.spec, self.hyp, self.layer = spec, hyp, hyp.layer
        self.f = _local_functions(spec, hyp.layer, hyp.units)

    def _values(self, start: Start) -> list:
        """The arguments, in order: columns (samples down axis 0) and scalars."""
        l, (i, j) = self.layer, self.hyp.units
        zs, acts = mlp.forward(self.spec, start.params, start.X)
        _, _, deltas = mlp.loss_and_gradient(self.spec, start.params, start.X, start.Y)
        W, d = start.params.W[l], deltas[l + 1]
        out = [zs[l][:, i - 1:i], zs[l][:, j - 1:j], acts[l - 1], d]
        for m in range(W.shape[0]):
            out += [d[:, m:m + 1], float(W[m, i - 1]), float(W[m, j - 1])]
        return out

    def __call__(self, start: Start) -> Gradients:
        values = self._values(start)
        rows = start.X.shape[0]
        widths = {"incoming": self.spec.layers[self.layer - 1], "bias": 1,
                  "outgoing": self.spec.layers[self.layer + 1]}
        per_unit = [f(*values) for f in self.f]
        out: Gradients = {}
        for k, g in enumerate(self.spec.groups()):
            shape = (rows, widths[g])
            out[g] = tuple(np.broadcast_to(np.asarray(u[k], dtype=float), shape).sum(axis=0)
                           for u in per_unit)
        return out


@lru_cache(maxsize=8)
def _local_functions(spec: NetworkSpec, layer: int,
                     units: tuple[int, int]) -> tuple[Callable, ...]:
    """The lambdified local gradients of each unit, before any hypothesis is imposed
    (so that hypotheses on the same units share them); arguments as in Local._values."""
    model = LocalModel(spec, Hypothesis("no assumption", layer, units))
    args = [preactivation(layer, "n", u) for u in units]
    args += [activation_value(layer - 1, "n", "k"), delta(layer + 1, "n", "m")]
    for m in range(1, model.fan_out + 1):
        args += [delta(layer + 1, "n", m)] + [weight(layer + 1, m, u) for u in units]
    return tuple(numpy_function(args, _local_expressions(model, which)) for which in (0, 1))


def _local_expressions(model: LocalModel, which: int) -> list[sp.Expr]:
    """[∂ℓ_n/∂W^{(l)}_{u,k}, ∂ℓ_n/∂b_u, ∂ℓ_n/∂W^{(l+1)}_{m,u}] for u = units[which] and
    the generic sample n, input k and output m."""
    spec = model.network
    error = concrete(model.error_signal("n", which), spec)
    outgoing = model.next_delta("n", "m") * concrete(act(model.z("n", which)), spec)
    exprs = {"incoming": error * model.input("n", "k"), "bias": error, "outgoing": outgoing}
    return [exprs[g] for g in spec.groups()]


class OutputLocal:
    """The output layer's local formulas (:class:`symderive.engine.output.OutputModel`):
    ∂L/∂W^{(L)}_{uk} = Σ_n δ_{n,u} a^{(L-1)}_{n,k}, ∂L/∂b_u = Σ_n δ_{n,u}, with δ_{n,u}
    the symbolic ∂ℓ/∂z in z, ŷ, softmax(ŷ) and y, fed from the NumPy forward pass."""

    method = "local"

    def __init__(self, spec: NetworkSpec, hyp: Hypothesis) -> None:
        self.spec, self.hyp = spec, hyp
        self.f = _output_functions(spec, hyp.units)

    def _values(self, start: Start) -> list:
        L, spec = self.spec.depth, self.spec
        zs, acts = mlp.forward(spec, start.params, start.X)
        yhat = acts[L]
        shifted = np.exp(yhat - yhat.max(axis=1, keepdims=True))
        p = shifted / shifted.sum(axis=1, keepdims=True)
        out = []
        for u in self.hyp.units:
            out += [zs[L][:, u - 1:u], yhat[:, u - 1:u], p[:, u - 1:u], start.Y[:, u - 1:u]]
        return out + [start.Y.sum(axis=1, keepdims=True), acts[L - 1]]

    def __call__(self, start: Start) -> Gradients:
        values = self._values(start)
        rows, widths = start.X.shape[0], {"incoming": self.spec.layers[-2], "bias": 1}
        per_unit = [f(*values) for f in self.f]
        return {g: tuple(np.broadcast_to(np.asarray(u[k], dtype=float),
                                         (rows, widths[g])).sum(axis=0) for u in per_unit)
                for k, g in enumerate(self.spec.unit_groups(self.spec.depth))}


@lru_cache(maxsize=8)
def _output_functions(spec: NetworkSpec, units: tuple[int, int]) -> tuple[Callable, ...]:
    """The lambdified local gradients of output units i and j, before any hypothesis."""
    L, n = spec.depth, "n"
    model = OutputModel(spec, Hypothesis("no assumption", L, units))
    total = sp.Symbol("ysum_n", real=True)     # Σ_m y_{n,m}, one column: any width
    args = [s for u in units for s in (preactivation(L, n, u), output_value(n, u),
                                       softmax_value(n, u), target(n, u))]
    args += [total, activation_value(L - 1, n, "k")]
    out = []
    for which in (0, 1):
        error = model.raw_delta(n, which, total)
        exprs = {"incoming": error * model.input(n, "k"), "bias": error}
        out.append(numpy_function(args, [exprs[g] for g in spec.unit_groups(L)]))
    return tuple(out)


def evaluator(spec: NetworkSpec, hyp: Hypothesis) -> WholeLoss | Local | OutputLocal:
    """The whole-loss evaluator for networks of at most :data:`WHOLE_LOSS_LIMIT`
    parameter-samples with simple activations
    (:func:`~symderive.engine.gradients.whole_loss_affordable`), else the local one."""
    if whole_loss_affordable(spec, WHOLE_LOSS_LIMIT):
        return WholeLoss(spec, hyp)
    return OutputLocal(spec, hyp) if hyp.layer == spec.depth else Local(spec, hyp)
