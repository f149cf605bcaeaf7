"""Backpropagation computes the exact gradient: proved symbolically, checked numerically.

Direct differentiation of the whole loss and backpropagation's deltas must
agree *symbolically* (their difference expands to 0) on networks of 1-3
hidden layers, every named activation and loss, with and without bias, one
or two samples.  Both are also evaluated at a random point and compared with
the independent NumPy reference of tests/reference_numpy.py.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import reference_numpy as ref
from conftest import (data_values, evaluate, parameter_values, proved_zero, random_data,
                      random_params)
from symderive.spec.functions import ACTIVATIONS, Loss
from symderive.engine.gradients import backprop_gradient, direct_gradient
from symderive.engine.network import Network
from symderive.spec import NetworkSpec

#: (layers, hidden activation, output activation, loss, bias, samples)
CASES = [
    ((1, 2, 1), "identity", "identity", "mse", True, 1),
    ((2, 2, 1), "sigmoid", "sigmoid", "bce", True, 1),
    ((2, 2, 2), "tanh", "identity", "softmax_ce", False, 2),
    ((1, 2, 2, 1), "relu", "identity", "mse", True, 2),
    ((2, 2, 1, 2), "softplus", "identity", "softmax_ce", True, 1),
    ((1, 2, 1, 1, 1), "tanh", "sigmoid", "bce", False, 1),
    ((1, 1, 2, 1, 2), "sigmoid", "tanh", "mse", True, 1),
    ((2, 3, 1), "softplus", "identity", "mse", False, 2),
    ((1, 2, 2), "relu", "relu", "mse", False, 1),
    ((2, 2, 2), "identity", "sigmoid", "bce", True, 2),
    ((1, 2, 1, 2, 2), "relu", "identity", "softmax_ce", True, 2),
]
IDS = ["-".join(map(str, c[0])) + f"-{c[1]}-{c[2]}-{c[3]}-{'b' if c[4] else 'nob'}-n{c[5]}"
       for c in CASES]


def make_spec(layers, activation, output_activation, loss, bias_, samples) -> NetworkSpec:
    return NetworkSpec(tuple(layers), ACTIVATIONS[activation], ACTIVATIONS[output_activation],
                       bias_, Loss(loss), samples)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_backprop_equals_direct_differentiation_symbolically(case):
    net = Network(make_spec(*case))
    params = net.parameters()
    direct = direct_gradient(net, params)
    backprop = backprop_gradient(net, params)
    assert len(direct) == len(backprop) == len(params)
    for p, d, b in zip(params, direct, backprop):
        assert proved_zero(d - b), f"dL/d{p}: direct and backprop differ"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_symbolic_gradient_matches_numpy_reference(case):
    layers, activation, output_activation, loss, bias_, samples = case
    spec = make_spec(*case)
    net = Network(spec)
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    values = random_params(layers, bias_, rng)
    X, Y = random_data(layers, samples, loss, rng)
    point = {**parameter_values(values, bias_), **data_values(X, Y)}
    reference = ref.RefNet(layers, ref.ACTIVATIONS[activation],
                           ref.ACTIVATIONS[output_activation], ref.LOSSES[loss], bias_)
    expected = ref.gradient(reference, values, X, Y)
    expected_flat = np.concatenate([expected[f"{w}{l}"].ravel()
                                    for l in range(1, len(layers))
                                    for w in (("W", "b") if bias_ else ("W",))])
    direct = [evaluate(g, point) for g in direct_gradient(net, net.parameters())]
    backprop = [evaluate(g, point) for g in backprop_gradient(net, net.parameters())]
    np.testing.assert_allclose(direct, expected_flat, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(backprop, expected_flat, rtol=1e-9, atol=1e-12)
    assert evaluate(net.loss, point) == pytest.approx(ref.loss(reference, values, X, Y),
                                                       rel=1e-12)


@pytest.mark.parametrize("activation", sorted(ref.ACTIVATIONS))
@pytest.mark.parametrize("loss,output", [("mse", "identity"), ("bce", "sigmoid"),
                                         ("softmax_ce", "tanh")])
def test_reference_backward_pass_agrees_with_finite_differences(activation, loss, output):
    """The reference itself is checked against central differences of its own loss."""
    layers, rng = (2, 3, 2, 2), np.random.default_rng(7)
    net = ref.RefNet(layers, ref.ACTIVATIONS[activation], ref.ACTIVATIONS[output],
                     ref.LOSSES[loss], True)
    params = random_params(layers, True, rng)
    X, Y = random_data(layers, 2, loss, rng)
    analytic, numeric = ref.gradient(net, params, X, Y), ref.finite_difference(net, params, X, Y)
    for key in params:
        np.testing.assert_allclose(analytic[key], numeric[key], rtol=1e-5, atol=1e-7)


def test_relu_derivative_at_zero_is_zero():
    """ReLU'(0) = 0 (H(0) = 0, as in PyTorch): a unit with z = 0 passes no gradient back."""
    spec = make_spec((1, 1, 1), "relu", "identity", "mse", True, 1)
    net = Network(spec)
    params = net.parameters()  # W1_1_1, b1_1, W2_1_1, b2_1
    point = {**parameter_values({"W1": [[1.0]], "b1": [-2.0], "W2": [[3.0]], "b2": [0.5]}),
             **data_values([[2.0]], [[1.0]])}   # z1 = 1*2 - 2 = 0
    for grads in (direct_gradient(net, params), backprop_gradient(net, params)):
        values = dict(zip(params, (evaluate(g, point) for g in grads)))
        assert values[params[0]] == 0.0 and values[params[1]] == 0.0
        assert values[params[3]] == pytest.approx(0.5 - 1.0)
