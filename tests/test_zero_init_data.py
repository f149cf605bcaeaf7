"""Issue 22, sentence 5: the ``zero_init`` fact on the data a spec gives.

With ``[data]``, every sentence of the fact comes from what was computed on those data
(the output delta summed over the samples at the all-zero start, σ(0), the frozen
sets).  The tests recompute the first steps of gradient descent from the zero start
with the independent reference network (tests/reference_numpy.py) and, for the
squared error, the summed delta in exact Fractions.
"""
from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from reference_numpy import gradient, refnet
from symderive.api import derive
from symderive.render.json import report_dict
from symderive.spec import parse_spec

#: The issue's example: sigmoid hidden units, balanced labels given in [data].
BALANCED = """
[network]
layers = [3, 4, 1]
activation = "sigmoid"
samples = 4
[init]
W1 = "zero"
b1 = "zero"
W2 = "zero"
b2 = "zero"
[data]
inputs = [[1, 2, 0.5], [0, 1, -1], [2, 2, 2], [1, 0, 1]]
targets = [[1], [-1], [1], [-1]]
[[fact]]
kind = "zero_init"
"""


def fact_spec(layers, activation, X, Y, extra="") -> str:
    return (f"[network]\nlayers = {json.dumps(list(layers))}\nactivation = \"{activation}\"\n"
            f"samples = {len(X)}\n{extra}\n[data]\ninputs = {json.dumps(X)}\n"
            f"targets = {json.dumps(Y)}\n[check]\nsteps = 6\nlearning_rate = 0.1\n"
            "[[fact]]\nkind = \"zero_init\"\n")


def zero_params(layers) -> dict[str, np.ndarray]:
    out = {}
    for l in range(1, len(layers)):
        out[f"W{l}"] = np.zeros((layers[l], layers[l - 1]))
        out[f"b{l}"] = np.zeros(layers[l])
    return out


def reference_steps(network: dict, X, Y, steps: int, lr: float = 0.1):
    """Parameters after each of ``steps`` plain gradient-descent steps from all zeros,
    with the reference network (no symderive code)."""
    net = refnet(network)
    p = zero_params(network["layers"])
    out = [p]
    for _ in range(steps):
        g = gradient(net, p, np.array(X, float), np.array(Y, float))
        p = {k: v - lr * g[k] for k, v in p.items()}
        out.append(p)
    return out


def test_issue_example_is_stationary_and_says_so():
    d = derive(parse_spec(BALANCED))
    r = report_dict(d)
    fact = r["facts"][0]
    assert fact["verdict"] == "stuck"
    assert fact["on_data"]["stationary"] is True
    assert fact["on_data"]["summed_output_delta"] == ["0"]
    # the independent reference: every gradient is 0 at the start, so nothing moves
    steps = reference_steps(r["network"], json.loads("[[1, 2, 0.5], [0, 1, -1], [2, 2, 2], "
                                                     "[1, 0, 1]]"), [[1], [-1], [1], [-1]], 5)
    assert all(np.all(v == 0) for p in steps for v in p.values())
    assert sum(Fraction(0) - y for y in (1, -1, 1, -1)) == 0    # Σ (ŷ − y), ŷ = 0
    md = d.to_markdown(detail="full")
    section = md[md.index("## Fact F1"):]
    for text in (fact["summary"], section, r["answer"]):
        assert "trains" not in text and "σ(0) ≠ 0" not in text
    assert "the start is a fixed point and nothing moves" in fact["summary"]
    assert "Σ_n δ^(L)_n = 0" in fact["summary"]
    assert "on the given data (4 samples)" in fact["summary"]
    assert d.facts[0].numeric.problems == ()
    assert "on the given data" in d.facts[0].numeric.method


def test_unbalanced_labels_train_with_the_computed_sum():
    X, Y = [[1, 2, 0.5], [0, 1, -1], [2, 2, 2], [1, 0, 1]], [[1], [1], [1], [-1]]
    r = report_dict(derive(parse_spec(fact_spec([3, 4, 1], "sigmoid", X, Y))))
    fact = r["facts"][0]
    total = sum(Fraction(0) - Fraction(y[0]) for y in Y)          # Σ_n (ŷ − y) = −2
    assert fact["verdict"] == "trains, units identical"
    assert fact["on_data"]["summed_output_delta"] == [str(total)]
    assert f"Σ_n δ^(L)_n = {total}" in fact["summary"]
    assert f"= {total / 2}, so they move" in fact["summary"]     # σ(0) = 1/2
    steps = reference_steps(r["network"], X, Y, 1)
    assert steps[1]["W2"][0, 0] == pytest.approx(-0.1 * float(total) / 2)


def test_tanh_on_unbalanced_data_moves_only_the_output_bias():
    X, Y = [[1, 2], [0, 1], [2, 2]], [[1], [0], [1]]
    r = report_dict(derive(parse_spec(fact_spec([2, 3, 1], "tanh", X, Y))))
    fact = r["facts"][0]
    assert fact["verdict"] == "stuck" and fact["on_data"]["stationary"] is False
    assert "the output biases move, but σ(0) = 0" in fact["summary"]
    steps = reference_steps(r["network"], X, Y, 6)
    assert steps[-1]["b2"][0] != 0
    assert all(np.all(p[k] == 0) for p in steps for k in ("W1", "b1", "W2"))


def test_undefined_loss_falls_back_to_any_data_and_says_why():
    X, Y = [[1, 2], [0, 1]], [[1], [-1]]
    r = report_dict(derive(parse_spec(fact_spec([2, 3, 1], "tanh", X, Y, 'loss = "any"'))))
    fact = r["facts"][0]
    assert "on_data" not in fact
    assert any("given data are not used" in a for a in fact["assumptions"])


def _random_case(seed: int):
    rng = np.random.default_rng(seed)
    layers = [2, int(rng.integers(1, 4))] + ([int(rng.integers(1, 3))] if seed % 3 == 0 else [])
    layers.append(int(rng.integers(1, 3)))
    activation = ["sigmoid", "tanh", "relu", "identity", "softplus"][seed % 5]
    n = int(rng.integers(2, 5))
    X = rng.integers(-2, 3, size=(n, 2)).tolist()
    Y = rng.integers(-2, 3, size=(n, layers[-1]))
    if seed % 2 == 0:                                    # balanced: every column sums to 0
        Y[-1] = -Y[:-1].sum(axis=0)
    return layers, activation, X, Y.tolist()


@pytest.mark.parametrize("seed", range(20))
def test_moves_or_stationary_agrees_with_the_reference_steps(seed):
    """Random data, balanced and not: the fact's "stationary" / "moves" statements
    against the reference network's first steps from the all-zero start, and its sum
    against Σ_n (0 − y_n) in Fractions (squared error, identity outputs: ŷ = 0)."""
    layers, activation, X, Y = _random_case(seed)
    d = derive(parse_spec(fact_spec(layers, activation, X, Y)))
    r = report_dict(d)
    fact = r["facts"][0]
    L = len(layers) - 1
    exact = [sum((Fraction(0) - Fraction(row[m]) for row in Y), Fraction(0))
             for m in range(layers[-1])]
    assert fact["on_data"]["summed_output_delta"] == [str(v) for v in exact]
    steps = reference_steps(r["network"], X, Y, 4)
    g0 = gradient(refnet(r["network"]), steps[0], np.array(X, float), np.array(Y, float))
    assert np.allclose(g0[f"b{L}"], [float(v) for v in exact], atol=1e-12)
    moved = {k for k in steps[0] if any(np.any(p[k] != 0) for p in steps)}
    if fact["on_data"]["stationary"]:
        assert all(v == 0 for v in exact) and not moved
        assert "nothing moves" in fact["summary"]
    else:
        assert f"b{L}" in moved and "nothing moves" not in fact["summary"]
    last_moves = f"W{L}" in moved
    assert last_moves == (fact["verdict"] == "trains, units identical")
    if fact["verdict"] == "stuck":
        assert moved <= {f"b{L}"}
    said_moves = "so these weights move" in " ".join(s["claim"] for s in fact["statements"])
    assert said_moves == bool(np.any(g0[f"W{L}"] != 0))
    assert d.facts[0].numeric.problems == ()
