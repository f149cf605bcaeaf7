"""An independent NumPy MLP for the tests: forward pass, loss and backward pass.

Written from scratch for the tests and deliberately *not* sharing code with
:mod:`symderive.mlp` or :mod:`symderive.functions`: it works one sample at a
time with explicit loops over units, so a mistake in symderive's vectorised
network is unlikely to be repeated here.  Conventions are CONTRACT.md's:

- ``W{l}`` has shape (units of layer l, units of layer l-1), ``b{l}`` is a vector;
- the loss is summed over samples (no 1/N) and over output units;
- ReLU'(0) = 0 (the Heaviside step with H(0) = 0, as in PyTorch).

Parameters are a dict ``{"W1": array, "b1": array, ...}`` as in a witness
(without ``b{l}`` when the network has no bias).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

Fn = Callable[[float], float]


def _sigmoid(u: float) -> float:
    if u >= 0:
        return 1.0 / (1.0 + math.exp(-u))
    e = math.exp(u)
    return e / (1.0 + e)


def _softplus(u: float) -> float:
    # log(1 + e^u) without overflow.
    return max(u, 0.0) + math.log1p(math.exp(-abs(u)))


#: name -> (f, f'), scalar functions.
ACTIVATIONS: dict[str, tuple[Fn, Fn]] = {
    "identity": (lambda u: u, lambda u: 1.0),
    "sigmoid": (_sigmoid, lambda u: _sigmoid(u) * (1.0 - _sigmoid(u))),
    "tanh": (math.tanh, lambda u: 1.0 - math.tanh(u) ** 2),
    "relu": (lambda u: u if u > 0 else 0.0, lambda u: 1.0 if u > 0 else 0.0),
    "softplus": (_softplus, _sigmoid),
}


SQRT2PI = math.sqrt(2 * math.pi)

#: LaTeX activations (spec text) -> (f, f', kinks): scalar functions written by hand,
#: independent of SymPy, for re-evaluating witnesses of LaTeX-activation specs.
LATEX_ACTIVATIONS = {
    r"\frac{z}{2}\left(1+\operatorname{erf}\left(\frac{z}{\sqrt{2}}\right)\right)": (
        lambda u: u / 2 * (1 + math.erf(u / math.sqrt(2))),
        lambda u: (1 + math.erf(u / math.sqrt(2))) / 2 + u * math.exp(-u * u / 2) / SQRT2PI,
        ()),
    r"\begin{cases} z & z > 0 \\ e^{z}-1 & \text{otherwise} \end{cases}": (
        lambda u: u if u > 0 else math.expm1(u), lambda u: 1.0 if u > 0 else math.exp(u), ()),
    r"\begin{cases} z & z > 0 \\ 0.01 z & \text{otherwise} \end{cases}": (
        lambda u: u if u > 0 else 0.01 * u, lambda u: 1.0 if u > 0 else 0.01, (0.0,)),
    r"|z|": (abs, lambda u: 1.0 if u > 0 else -1.0, (0.0,)),
    r"\max(0, z)": (lambda u: max(0.0, u), lambda u: 1.0 if u > 0 else 0.0, (0.0,)),
    r"\max(0, z-1)": (lambda u: max(0.0, u - 1), lambda u: 1.0 if u > 1 else 0.0, (1.0,)),
    r"\max(z, 0.1 z)": (lambda u: max(u, 0.1 * u), lambda u: 1.0 if u > 0 else 0.1, (0.0,)),
    r"\frac{z}{1+|z|}": (lambda u: u / (1 + abs(u)), lambda u: 1 / (1 + abs(u)) ** 2, ()),
    r"z^2": (lambda u: u * u, lambda u: 2 * u, ()),
    r"1+z^2": (lambda u: 1 + u * u, lambda u: 2 * u, ()),
    r"\sin(z)": (math.sin, math.cos, ()),
}


def _mse(yhat: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    return 0.5 * sum((p - t) ** 2 for p, t in zip(yhat, y)), yhat - y


def _bce(yhat: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    value = -sum(t * math.log(p) + (1 - t) * math.log(1 - p) for p, t in zip(yhat, y))
    grad = np.array([-t / p + (1 - t) / (1 - p) for p, t in zip(yhat, y)])
    return value, grad


def _softmax_ce(yhat: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    shift = max(yhat)
    log_z = shift + math.log(sum(math.exp(v - shift) for v in yhat))
    softmax = np.array([math.exp(v - log_z) for v in yhat])
    value = -sum(t * (v - log_z) for v, t in zip(yhat, y))
    # d/dŷ_k of -Σ_m y_m (ŷ_m - log Z) = -y_k + softmax_k Σ_m y_m
    grad = np.array([-y[k] + softmax[k] * sum(y) for k in range(len(yhat))])
    return value, grad


#: name -> per-sample (loss, dloss/dŷ).
LOSSES: dict[str, Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]] = {
    "mse": _mse, "bce": _bce, "softmax_ce": _softmax_ce,
}


@dataclass(frozen=True)
class RefNet:
    """What the reference needs to know about a network."""

    layers: tuple[int, ...]
    activation: tuple[Fn, Fn]
    output_activation: tuple[Fn, Fn]
    loss: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]
    bias: bool = True
    kinked: tuple[bool, bool] = (False, False)  # hidden, output activation non-smooth at 0

    @property
    def depth(self) -> int:
        return len(self.layers) - 1

    def act(self, layer: int) -> tuple[Fn, Fn]:
        return self.output_activation if layer == self.depth else self.activation


def refnet(network: Mapping) -> RefNet:
    """A :class:`RefNet` from a JSON report's ``network`` (named functions only)."""
    return RefNet(tuple(network["layers"]), ACTIVATIONS[network["activation"]],
                  ACTIVATIONS[network["output_activation"]], LOSSES[network["loss"]],
                  bool(network["bias"]),
                  (network["activation"] == "relu", network["output_activation"] == "relu"))


def as_arrays(params: Mapping) -> dict[str, np.ndarray]:
    return {k: np.array(v, dtype=float) for k, v in params.items()}


def _bias(net: RefNet, params: Mapping, layer: int) -> np.ndarray:
    if net.bias:
        return params[f"b{layer}"]
    return np.zeros(net.layers[layer])


def forward_sample(net: RefNet, params: Mapping, x) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Pre-activations z[l] (z[0] unused) and activations a[l] (a[0] = x) of one sample."""
    a = [np.array(x, dtype=float)]
    z = [np.zeros(0)]
    for layer in range(1, net.depth + 1):
        W, b = params[f"W{layer}"], _bias(net, params, layer)
        f, _ = net.act(layer)
        zl = np.array([sum(W[i, k] * a[-1][k] for k in range(W.shape[1])) + b[i]
                       for i in range(W.shape[0])])
        z.append(zl)
        a.append(np.array([f(u) for u in zl]))
    return z, a


def loss(net: RefNet, params: Mapping, inputs, targets) -> float:
    """The total loss, summed over samples."""
    total = 0.0
    for x, y in zip(inputs, targets):
        _, a = forward_sample(net, params, x)
        total += net.loss(a[-1], np.array(y, dtype=float))[0]
    return total


def deltas_sample(net: RefNet, params: Mapping, x, y) -> list[np.ndarray]:
    """δ^{(l)} = ∂ℓ/∂z^{(l)} of one sample, l = 1..L (index 0 unused), by the chain rule."""
    z, a = forward_sample(net, params, x)
    _, dyhat = net.loss(a[-1], np.array(y, dtype=float))
    _, df = net.act(net.depth)
    deltas = [np.zeros(0)] * (net.depth + 1)
    deltas[net.depth] = np.array([dyhat[m] * df(z[-1][m]) for m in range(len(dyhat))])
    for layer in range(net.depth, 1, -1):
        W, delta = params[f"W{layer}"], deltas[layer]
        _, dg = net.act(layer - 1)
        deltas[layer - 1] = np.array([dg(z[layer - 1][k]) * sum(W[i, k] * delta[i]
                                                                 for i in range(W.shape[0]))
                                      for k in range(W.shape[1])])
    return deltas


def gradient(net: RefNet, params: Mapping, inputs, targets) -> dict[str, np.ndarray]:
    """dL/dθ for every parameter array: Σ_n δ^{(l)}_{n,i} a^{(l-1)}_{n,k}."""
    params = as_arrays(params)
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    for x, y in zip(inputs, targets):
        _, a = forward_sample(net, params, x)
        deltas = deltas_sample(net, params, x, y)
        for layer in range(1, net.depth + 1):
            W, delta = params[f"W{layer}"], deltas[layer]
            for i in range(W.shape[0]):
                for k in range(W.shape[1]):
                    grads[f"W{layer}"][i, k] += delta[i] * a[layer - 1][k]
                if net.bias:
                    grads[f"b{layer}"][i] += delta[i]
    return grads


def finite_difference(net: RefNet, params: Mapping, inputs, targets,
                      h: float = 1e-6) -> dict[str, np.ndarray]:
    """Central differences of :func:`loss`: checks the reference's own backward pass."""
    params = as_arrays(params)
    out = {}
    for key, value in params.items():
        g = np.zeros_like(value)
        for idx in np.ndindex(value.shape):
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[key][idx] += h
            minus[key][idx] -= h
            g[idx] = (loss(net, plus, inputs, targets) - loss(net, minus, inputs, targets)) / (2 * h)
        out[key] = g
    return out


def group(values: Mapping, layer: int, unit: int, name: str) -> np.ndarray:
    """Parameter group ``name`` of hidden ``unit`` of ``layer`` (1-based) as a vector."""
    if name == "incoming":
        return np.asarray(values[f"W{layer}"])[unit - 1, :]
    if name == "bias":
        return np.asarray(values[f"b{layer}"])[unit - 1:unit]
    if name == "outgoing":
        return np.asarray(values[f"W{layer + 1}"])[:, unit - 1]
    raise ValueError(name)


def group_difference(net: RefNet, params: Mapping, inputs, targets,
                     layer: int, units, name: str) -> np.ndarray:
    """dL/d(group of unit i) − dL/d(group of unit j)."""
    g = gradient(net, params, inputs, targets)
    i, j = units
    return group(g, layer, i, name) - group(g, layer, j, name)


def satisfies(params: Mapping, layer: int, units, tie, zero) -> bool:
    """Do ``params`` satisfy the hypothesis (tied groups equal, zeroed groups zero)?"""
    params = as_arrays(params)
    i, j = units
    tied = all(np.array_equal(group(params, layer, i, g), group(params, layer, j, g))
               for g in tie)
    zeroed = all(not np.any(group(params, layer, u, g)) for g in zero for u in (i, j))
    return tied and zeroed


def preactivations(net: RefNet, params: Mapping, inputs) -> list[list[np.ndarray]]:
    """z[l] of every sample (index [sample][layer])."""
    params = as_arrays(params)
    return [forward_sample(net, params, x)[0] for x in inputs]


# ------------------------------------------------------------------ witnesses

#: Witnesses must avoid ReLU kinks by at least this much (README, witness.py).
KINK = 1e-3


def _scale(net: RefNet, params: Mapping, inputs, targets) -> float:
    g = gradient(net, params, inputs, targets)
    return max([1.0] + [float(np.max(np.abs(v))) for v in g.values() if v.size])


def check_witness(net: RefNet, hypothesis: Mapping, name: str, witness: Mapping,
                  samples: int, rtol: float = 1e-9) -> np.ndarray:
    """Re-evaluate a witness of a report independently; return the recomputed difference.

    Checks that the witness satisfies the hypothesis, has one input and target
    per sample, that ``difference`` agrees with this module's backward pass,
    that it is clearly non-zero, and that no pre-activation of a non-smooth
    activation that the hypothesis does not force to 0 is within :data:`KINK` of 0.
    """
    layer, units = hypothesis["layer"], hypothesis["units"]
    params = as_arrays(witness["parameters"])
    inputs, targets = witness["inputs"], witness["targets"]
    assert len(inputs) == samples and len(targets) == samples
    assert all(len(x) == net.layers[0] for x in inputs)
    assert all(len(y) == net.layers[-1] for y in targets)
    assert satisfies(params, layer, units, hypothesis["tie"], hypothesis["zero"]), \
        "witness violates its hypothesis"
    expected = group_difference(net, params, inputs, targets, layer, units, name)
    got = np.array(witness["difference"], dtype=float)
    assert got.shape == expected.shape
    atol = 1e-12 * _scale(net, params, inputs, targets)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    assert np.max(np.abs(expected)) > 1e-9, "witness difference is not clearly non-zero"
    _check_no_kink(net, params, inputs, hypothesis)
    return expected


def _check_no_kink(net: RefNet, params, inputs, hypothesis: Mapping) -> None:
    layer, (i, j) = hypothesis["layer"], hypothesis["units"]
    zero = set(hypothesis["zero"])
    forced = "incoming" in zero and ("bias" in zero or not net.bias)
    for z in preactivations(net, params, inputs):
        for l in range(1, net.depth + 1):
            if not net.kinked[l == net.depth]:
                continue
            for u, value in enumerate(z[l], start=1):
                if l == layer and forced and u in (i, j):
                    assert value == 0.0
                    continue
                assert abs(value) >= KINK, f"z^({l})_{u} = {value} is at a ReLU kink"
