"""The symbolic MLP: parameter symbols and order, the forward pass, the loss, the swap symmetry."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

import reference_numpy as ref
from conftest import data_values, evaluate, parameter_values, random_data, random_params
from symderive.spec.functions import ACTIVATIONS, Loss
from symderive.engine.network import Network, bias, input_, target, weight
from symderive.spec import NetworkSpec


def make_net(layers=(2, 3, 2), activation="tanh", output="identity", loss="mse",
             bias_=True, samples=1) -> Network:
    return Network(NetworkSpec(tuple(layers), ACTIVATIONS[activation], ACTIVATIONS[output],
                               bias_, Loss(loss), samples))


def test_parameters_in_fixed_order_row_major():
    net = make_net((2, 3, 1))
    expected = ([weight(1, i, k) for i in (1, 2, 3) for k in (1, 2)]
                + [bias(1, i) for i in (1, 2, 3)]
                + [weight(2, 1, k) for k in (1, 2, 3)] + [bias(2, 1)])
    assert net.parameters() == expected


def test_parameters_without_bias():
    net = make_net((2, 3, 1), bias_=False)
    assert net.parameters() == ([weight(1, i, k) for i in (1, 2, 3) for k in (1, 2)]
                                + [weight(2, 1, k) for k in (1, 2, 3)])
    assert net.b(1) == [0, 0, 0]
    assert not net.loss.free_symbols & {bias(1, 1), bias(2, 1)}


def test_weight_matrix_shape_is_torch_linear():
    net = make_net((4, 3, 2))
    assert net.W(1).shape == (3, 4)      # (units of layer 1, units of layer 0)
    assert net.W(2).shape == (2, 3)
    assert net.W(1)[2, 3] == weight(1, 3, 4)


def test_symbol_names_are_python_identifiers():
    net = make_net((2, 2, 2, 2), samples=2)
    for s in net.loss.free_symbols:
        assert s.name.isidentifier(), s.name


def test_groups_of_a_hidden_unit():
    net = make_net((4, 3, 2))
    assert net.group(1, 2, "incoming") == [weight(1, 2, k) for k in (1, 2, 3, 4)]
    assert net.group(1, 2, "bias") == [bias(1, 2)]
    assert net.group(1, 2, "outgoing") == [weight(2, m, 2) for m in (1, 2)]
    assert make_net((4, 3, 2), bias_=False).group(1, 2, "bias") == []


def test_loss_free_symbols_are_parameters_and_data():
    net = make_net((2, 2, 1), samples=2)
    data = {input_(n, k) for n in (1, 2) for k in (1, 2)} | {target(n, 1) for n in (1, 2)}
    assert net.loss.free_symbols == set(net.parameters()) | data


@pytest.mark.parametrize("activation", sorted(ref.ACTIVATIONS))
@pytest.mark.parametrize("output,loss", [("identity", "mse"), ("sigmoid", "bce"),
                                         ("softplus", "softmax_ce"), ("relu", "mse")])
def test_loss_matches_numpy_reference(activation, output, loss):
    layers, bias_, samples = (2, 3, 2, 2), True, 2
    net = make_net(layers, activation, output, loss, bias_, samples)
    rng = np.random.default_rng(len(activation) * 31 + len(loss))
    params = random_params(layers, bias_, rng)
    X, Y = random_data(layers, samples, loss, rng)
    reference = ref.RefNet(layers, ref.ACTIVATIONS[activation], ref.ACTIVATIONS[output],
                           ref.LOSSES[loss], bias_)
    point = {**parameter_values(params), **data_values(X, Y)}
    assert evaluate(net.loss, point) == pytest.approx(ref.loss(reference, params, X, Y),
                                                       rel=1e-12)
    z, a = net.forward(1)
    ref_z, ref_a = ref.forward_sample(reference, params, X[0])
    for l in range(1, len(layers)):
        np.testing.assert_allclose([evaluate(e, point) for e in z[l]], ref_z[l], rtol=1e-12)
        np.testing.assert_allclose([evaluate(e, point) for e in a[l]], ref_a[l], rtol=1e-12,
                                   atol=1e-15)


@pytest.mark.parametrize("loss,yhat,y,expected", [
    # ½ Σ (ŷ − y)²
    ("mse", [0.5, -1.0], [1.0, 1.0], 0.5 * (0.25 + 4.0)),
    # −Σ [y ln ŷ + (1−y) ln(1−ŷ)]
    ("bce", [0.25, 0.5], [1.0, 0.25], -(math.log(0.25) + 0.25 * math.log(0.5)
                                        + 0.75 * math.log(0.5))),
    # −Σ y_m ln softmax(ŷ)_m, targets need not be one-hot
    ("softmax_ce", [1.0, 2.0], [0.5, 1.0],
     -(0.5 * (1 - math.log(math.e + math.e ** 2)) + (2 - math.log(math.e + math.e ** 2)))),
])
def test_loss_formulas_of_contract(loss, yhat, y, expected):
    """One sample through an identity network whose output is exactly ``yhat``."""
    net = make_net((2, 2, 2), "identity", "identity", loss, True)
    params = {"W1": np.eye(2), "b1": np.zeros(2), "W2": np.eye(2), "b2": np.zeros(2)}
    point = {**parameter_values(params), **data_values([yhat], [y])}
    assert evaluate(net.loss, point) == pytest.approx(expected, rel=1e-12)


def test_total_loss_is_a_sum_over_samples_without_mean():
    net = make_net((1, 2, 1), samples=2)
    assert sp.expand(net.loss - net.sample_loss(1) - net.sample_loss(2)) == 0
    assert net.sample_loss(1).free_symbols.isdisjoint({input_(2, 1), target(2, 1)})


def _swap(net: Network, layer: int, i: int, j: int, groups) -> dict:
    swap = {}
    for g in groups:
        for a, b in zip(net.group(layer, i, g), net.group(layer, j, g)):
            swap.update({a: b, b: a})
    return swap


@pytest.mark.parametrize("layers,layer,units,activation,loss,bias_", [
    ((2, 3, 2), 1, (1, 3), "tanh", "mse", True),
    ((2, 3, 2), 1, (2, 3), "sigmoid", "softmax_ce", False),
    ((1, 2, 3, 1), 2, (1, 3), "softplus", "mse", True),
    ((1, 2, 2, 2), 1, (1, 2), "relu", "softmax_ce", True),
])
def test_swapping_two_units_maps_the_loss_to_itself(layers, layer, units, activation, loss,
                                                    bias_):
    """Permuting hidden units (rows in, bias, columns out) leaves the function unchanged."""
    net = make_net(layers, activation, "identity", loss, bias_, samples=2)
    groups = ("incoming", "bias", "outgoing") if bias_ else ("incoming", "outgoing")
    loss_expr = net.loss
    assert sp.expand(loss_expr.xreplace(_swap(net, layer, *units, groups)) - loss_expr) == 0
    # Control: swapping only the incoming weights is not a symmetry.
    partial = loss_expr.xreplace(_swap(net, layer, *units, ("incoming",)))
    rng = np.random.default_rng(3)
    point = {**parameter_values(random_params(layers, bias_, rng)),
             **data_values(*random_data(layers, 2, loss, rng))}
    assert abs(evaluate(partial, point) - evaluate(loss_expr, point)) > 1e-6
