"""The gap_stability fact against numbers computed another way.

H_A is checked against second differences of the independent reference loss
(tests/reference_numpy.py) in the antisymmetric directions, the symbolic H_A against the
finite-difference one, and, on random networks (Hypothesis), the perturbed simulation's
observed gaps against the linear prediction (the fact's own check must agree).  A
perturbation along H_A's extreme eigenvector must grow or shrink, over one step, by
exactly the factor |1 − ηλ| the verdict is made of.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference_numpy as ref
from symderive.api import derive
from symderive.engine import mlp
from symderive.engine.generic import instantiated_network
from symderive.facts import gap as G
from symderive.facts import settle_facts
from symderive.spec import Spec

_SETTINGS = settings(max_examples=int(os.environ.get("STABILITY_EXAMPLES", "10")),
                     deadline=None, suppress_health_check=[HealthCheck.too_slow])


def spec(layers, activation="tanh", loss="mse", samples=2, lr=0.1, steps=20, bias=True,
         extra="", init="") -> Spec:
    return Spec.from_toml(f"""
[network]
layers = {list(layers)}
activation = "{activation}"
loss = "{loss}"
samples = {samples}
bias = {str(bias).lower()}
[[fact]]
kind = "gap_stability"
{extra}
[check]
steps = {steps}
learning_rate = {lr}
{init}
""")


def _ref_ha(s: Spec, d: dict) -> np.ndarray:
    """Second central differences of the reference loss along (e_i − e_j)/√2."""
    n = s.network
    net = ref.RefNet(n.layers, ref.ACTIVATIONS[n.activation.name], ref.ACTIVATIONS["identity"],
                     ref.LOSSES[n.loss.name], n.bias)
    params = ref.as_arrays(d["point"]["parameters"])
    X, Y = np.array(d["point"]["inputs"]), np.array(d["point"]["targets"])
    pairs = G.twins(instantiated_network(n), 1, (1, 2))
    h = 1e-4

    def moved(steps):
        p = {k: v.copy() for k, v in params.items()}
        for t, v in zip(pairs, steps):
            for name, sign in ((t.name, 1), (t.twin, -1)):
                head, *idx = name.split("_")
                where = (int(idx[0]) - 1, int(idx[1]) - 1) if head[0] == "W" else int(idx[0]) - 1
                p[head][where] += sign * v / np.sqrt(2)
        return ref.loss(net, p, X, Y)

    k = len(pairs)
    out = np.zeros((k, k))
    for a in range(k):
        for b in range(k):
            e = np.zeros(k)
            f = np.zeros(k)
            e[a], f[b] = h, h
            out[a, b] = (moved(e + f) - moved(e - f) - moved(f - e) + moved(-e - f)) / (4 * h * h)
    return out


@pytest.mark.parametrize("layers,activation,samples", [([2, 3, 1], "tanh", 3),
                                                       ([3, 4, 2], "sigmoid", 2),
                                                       ([2, 3, 2], "identity", 2)])
def test_ha_against_the_reference_loss(layers, activation, samples):
    r = settle_facts(spec(layers, activation, samples=samples))[0]
    d = r.details
    assert np.allclose(np.array(d["H_A"]), _ref_ha(spec(layers, activation), d), atol=1e-5)
    lam = np.linalg.eigvalsh(np.array(d["H_A"]))
    assert np.allclose(lam, d["eigenvalues"])
    rho = max(abs(1 - 0.1 * l) for l in lam)
    assert d["largest_factor"] == pytest.approx(rho)
    assert r.verdict == ("gap grows" if rho > 1 + 1e-6 else "gap shrinks" if rho < 1 - 1e-6
                         else "neutral")


def test_symbolic_and_numeric_ha_agree():
    s = spec([2, 3, 1], "tanh", samples=2)
    net = instantiated_network(s.network)
    assert G.symbolic_affordable(net)
    pairs = G.twins(net, 1, (1, 2))
    rng = np.random.default_rng(3)
    p = mlp.Params([rng.normal(size=(3, 2)), rng.normal(size=(1, 3))],
                   [rng.normal(size=3), rng.normal(size=1)])
    G.tie(p, pairs)
    X, Y = rng.normal(size=(2, 2)), rng.normal(size=(2, 1))
    symbolic = G.evaluate_symbolic(net, G.symbolic_ha(net, pairs), p, X, Y)
    assert np.allclose(symbolic, G.numeric_ha(net, p, X, Y, pairs), atol=1e-6)


@st.composite
def networks(draw):
    layers = [draw(st.integers(1, 3)), draw(st.integers(2, 4))]
    if draw(st.booleans()):
        layers.append(draw(st.integers(1, 3)))
    layers.append(draw(st.integers(1, 3)))
    return spec(layers, draw(st.sampled_from(["tanh", "sigmoid", "softplus", "identity"])),
                draw(st.sampled_from(["mse", "softmax_ce"])) if layers[-1] > 1 else "mse",
                draw(st.integers(1, 3)), draw(st.sampled_from([0.01, 0.1, 0.5])),
                draw(st.integers(1, 30)), draw(st.booleans()))


@_SETTINGS
@given(networks())
def test_observed_growth_follows_the_prediction(s):
    d = derive(s)
    fact = d.facts[0]
    assert fact.numeric.agreement, fact.numeric.problems
    if "perturbation" in fact.details:
        figures = dict(fact.numeric.figures)
        predicted = fact.details["predicted_gaps"]
        assert np.allclose(figures["observed_gaps"], predicted, rtol=1e-3, atol=0)
        assert figures["observed_rate_per_step"] == pytest.approx(
            figures["predicted_rate_per_step"], rel=1e-3)


@pytest.mark.parametrize("lr", [0.05, 0.5, 3.0])
def test_one_step_along_an_eigenvector_moves_by_its_factor(lr):
    s = spec([2, 3, 1], "tanh", samples=3, lr=lr)
    d = settle_facts(s)[0].details
    net = instantiated_network(s.network)
    ha = np.array(d["H_A"])
    lam, vec = np.linalg.eigh(ha)
    pairs = G.twins(net, 1, (1, 2))
    p = mlp.Params.from_json(net, d["point"]["parameters"])
    X, Y = np.array(d["point"]["inputs"]), np.array(d["point"]["targets"])
    for k in (0, len(lam) - 1):
        q = G.displaced(p, pairs, 1e-7 * vec[:, k])
        grad = mlp.loss_and_gradient(net, q, X, Y)[1]
        for a, g in zip(q.W + q.b, grad.W + grad.b):
            a -= lr * g
        ratio = np.linalg.norm(G.gap_vector(q, pairs)) / 1e-7
        assert ratio == pytest.approx(abs(1 - lr * lam[k]), rel=1e-4, abs=1e-6)


def test_a_given_start_that_does_not_tie_the_units_is_undecided():
    init = "[init]\nW1 = [[0.5, 0.25], [0.25, 0.5], [1, 0]]\nb1 = 0\nW2 = [[1, 1, 1]]\nb2 = 0"
    r = settle_facts(spec([2, 3, 1], init=init))[0]
    assert r.verdict == "undecided" and "does not tie units 1 and 2" in r.summary


def test_a_given_tied_start_is_used():
    init = "[init]\nW1 = [[0.5, -0.25], [0.5, -0.25], [1, 0]]\nb1 = 0.125\nW2 = [[0.75, 0.75, -1]]\nb2 = 0"
    r = settle_facts(spec([2, 3, 1], init=init))[0]
    assert r.details["start"] == "given"
    assert r.details["point"]["parameters"]["W1"][0] == [0.5, -0.25]
    assert "At the given tied point" in r.summary


def test_verdict_words():
    assert G.verdict_of(1.2) == "gap grows"
    assert G.verdict_of(0.9) == "gap shrinks"
    assert G.verdict_of(1.0) == "neutral"
