"""The bundled catalogue of symmetry facts (S1-S8, loss gradients), each checked independently.

Every derivation is run through the CLI's own loader; its claims are then
re-checked by a computation that does not use the proof: the tests' NumPy
network (:mod:`reference_numpy`), hand-written gradient-descent loops, or
finite differences.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

import reference_numpy as ref
from conftest import BUNDLED, BUNDLED_NAMES, random_data, random_params
from symderive.api import derive
from symderive.cli.main import bundled_specs, read_spec
from symderive.render.json import report_dict

CATALOGUE = {
    "identical-incoming-weights-any-network": "S1", "all-tied-sgd-minibatch": "S2",
    "zero-outgoing-weight": "S3", "zero-init-tanh": "S4", "zero-init-relu": "S4",
    "zero-init-sigmoid": "S4", "unequal-biases": "S5", "dropout-masks": "S6",
    "adam-momentum-weight-decay": "S7", "backprop-is-exact": "S8",
    "softmax-cross-entropy-gradient": "loss", "sigmoid-bce-gradient": "loss",
    "deep-layer-symmetry": "deeper",
}
GROUPS = ("incoming", "bias", "outgoing")


def report(name: str) -> dict:
    return report_dict(derive(read_spec(name)))


def tanh_net(layers, activation="tanh"):
    return ref.refnet({"layers": list(layers), "activation": activation,
                       "output_activation": "identity", "loss": "mse", "bias": True})


def gd(net, p, X, Y, lr=0.1, steps=1):
    p = {k: np.array(v, dtype=float) for k, v in p.items()}
    for _ in range(steps):
        g = ref.gradient(net, p, X, Y)
        p = {k: p[k] - lr * g[k] for k in p}
    return p


def test_every_catalogue_entry_is_bundled_with_a_description(cli):
    assert set(CATALOGUE) <= set(bundled_specs())
    status, out, _ = cli("list")
    assert status == 0
    for name in CATALOGUE:
        line = next(l for l in out.splitlines() if l.startswith(name))
        assert len(line.split(None, 1)[1]) > 20
    for word in ("dropout", "Adam", "zero", "backprop", "oftmax", "sigmoid"):
        assert word in out


@pytest.mark.parametrize("name", sorted(CATALOGUE))
@pytest.mark.parametrize("fmt", ["json", "markdown", "latex"])
def test_catalogue_renders_in_every_text_format(cli, tmp_path, name, fmt):
    out = tmp_path / f"r.{fmt}"
    status, _, err = cli("derive", name, "--format", fmt, "-o", str(out))
    assert status == 0, err
    text = out.read_text(encoding="utf-8")
    if fmt == "json":
        data = json.loads(text)
        assert data["description"] and (data["hypotheses"] or data["facts"])


# ------------------------------------------------------------------ S1


def test_s1_units_separate_by_the_outgoing_weight_difference():
    r = report("identical-incoming-weights-any-network")
    for h in r["hypotheses"]:
        assert h["verdict"] == "broken"
        assert h["groups"]["outgoing"]["status"] == "equal"   # v_i − v_j unchanged by step 1
        l = h["layer"] + 1
        i, j = h["units"]
        # (v_i − v_j), for the generic next-layer index m or written out: the S1 statement
        assert any(f"W^{{({l})}}_{{{m}{i}}} - W^{{({l})}}_{{{m}{j}}}"
                   in h["groups"]["incoming"]["difference_latex"] for m in ("m", "1"))
    # NumPy: after one step the incoming weights differ, v_i − v_j has not moved.
    rng = np.random.default_rng(0)
    net = tanh_net((3, 4, 2))
    p = random_params((3, 4, 2), True, rng)
    p["W1"][1], p["b1"][1] = p["W1"][0], p["b1"][0]
    X, Y = random_data((3, 4, 2), 3, "mse", rng)
    q = gd(net, p, X, Y)
    assert np.max(np.abs(q["W1"][0] - q["W1"][1])) > 1e-4
    np.testing.assert_allclose(q["W2"][:, 0] - q["W2"][:, 1], p["W2"][:, 0] - p["W2"][:, 1],
                               atol=1e-14)


# ------------------------------------------------------------------ S2


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_s2_all_tied_stay_identical_under_minibatch_sgd(activation):
    r = report("all-tied-sgd-minibatch")
    assert all(h["verdict"] == "preserved" for h in r["hypotheses"])
    assert any("minibatch" in a for a in r["hypotheses"][0]["assumptions"])
    rng = np.random.default_rng(1)
    layers = (3, 4, 4, 2)
    net = tanh_net(layers, activation)
    p = random_params(layers, True, rng)
    p["W1"][1], p["b1"][1], p["W2"][:, 1] = p["W1"][0], p["b1"][0], p["W2"][:, 0]
    X, Y = random_data(layers, 12, "mse", rng)
    for _ in range(15):  # a random minibatch of 3 samples at every step
        batch = rng.choice(12, size=3, replace=False)
        p = gd(net, p, X[batch], Y[batch], lr=0.2)
    assert np.array_equal(p["W1"][0], p["W1"][1]) and np.array_equal(p["W2"][:, 0], p["W2"][:, 1])


# ------------------------------------------------------------------ S3


def test_s3_zero_outgoing_weight_comes_back():
    r = report("zero-outgoing-weight")
    back, dead = r["facts"]
    assert back["verdict"] == "comes back"
    assert back["gradients"] == {"incoming": "zero", "bias": "zero", "outgoing": "nonzero"}
    w = back["witness"]
    assert w["instantiation"] == {"activation": "tanh", "loss": "mse"}
    grad = ref.gradient(tanh_net((3, 4, 2)), w["parameters"], w["inputs"], w["targets"])
    assert np.all(ref.group(grad, 1, 1, "incoming") == 0)      # dL/dw_i = 0 ...
    assert np.max(np.abs(ref.group(grad, 1, 1, "outgoing"))) > 1e-3   # ... but dL/dv_i ≠ 0
    np.testing.assert_allclose(ref.group(grad, 1, 1, "outgoing"), w["gradients"]["outgoing"])
    assert dead["verdict"] == "stays at zero iff sigma(0) = 0"


@pytest.mark.parametrize("activation,stays", [("tanh", True), ("sigmoid", False)])
def test_s3_an_all_zero_unit_stays_dead_only_if_sigma0_is_zero(activation, stays):
    rng = np.random.default_rng(2)
    net = tanh_net((3, 4, 2), activation)
    p = random_params((3, 4, 2), True, rng)
    p["W1"][0], p["b1"][0], p["W2"][:, 0] = 0.0, 0.0, 0.0
    X, Y = random_data((3, 4, 2), 3, "mse", rng)
    q = gd(net, p, X, Y, steps=5)
    moved = max(np.max(np.abs(q["W1"][0])), abs(q["b1"][0]), np.max(np.abs(q["W2"][:, 0])))
    assert bool(moved == 0.0) == stays


# ------------------------------------------------------------------ S4


@pytest.mark.parametrize("activation,verdict", [
    ("tanh", "stuck"), ("relu", "stuck"), ("sigmoid", "trains, units identical")])
def test_s4_zero_initialisation(activation, verdict):
    r = report(f"zero-init-{activation}")
    fact = r["facts"][0]
    assert fact["verdict"] == verdict
    assert fact["hidden_units_identical"] == {"1": "preserved", "2": "preserved"}
    layers = tuple(r["network"]["layers"])
    net = tanh_net(layers, activation)
    p = {k: np.zeros_like(v) for k, v in random_params(layers, True,
                                                          np.random.default_rng(0)).items()}
    X, Y = random_data(layers, 4, "mse", np.random.default_rng(4))
    q = gd(net, p, X, Y, lr=0.3, steps=20)
    hidden = [q[f"W{l}"] for l in range(1, len(layers) - 1)] + [q[f"W{len(layers) - 1}"]]
    if verdict == "stuck":
        assert all(np.all(w == 0) for w in hidden)
        assert np.any(q[f"b{len(layers) - 1}"] != 0)  # only the output bias learns
    else:
        assert np.max(np.abs(q["W1"])) > 1e-6
        for l in range(1, len(layers) - 1):  # every unit of a hidden layer identical
            assert np.all(q[f"W{l}"] == q[f"W{l}"][0]) and np.all(q[f"b{l}"] == q[f"b{l}"][0])


# ------------------------------------------------------------------ S5


def test_s5_unequal_biases_break_the_symmetry():
    h = report("unequal-biases")["hypotheses"][0]
    assert h["verdict"] == "broken" and h["groups"]["incoming"]["status"] == "different"
    rng = np.random.default_rng(5)
    net = tanh_net((3, 4, 2))
    p = random_params((3, 4, 2), True, rng)
    p["W1"][1], p["W2"][:, 1] = p["W1"][0], p["W2"][:, 0]
    X, Y = random_data((3, 4, 2), 2, "mse", rng)
    q = gd(net, p, X, Y)
    assert np.max(np.abs(q["W1"][0] - q["W1"][1])) > 1e-4


# ------------------------------------------------------------------ S6


def _masked_loss(p, X, Y, masks):
    """The tests' own dropout network: tanh hidden layer, masks on units 1 and 2, MSE."""
    total = 0.0
    for x, y in zip(X, Y):
        a = np.tanh(p["W1"] @ x + p["b1"])
        a[0], a[1] = a[0] * masks[0], a[1] * masks[1]
        total += 0.5 * float(np.sum((p["W2"] @ a + p["b2"] - y) ** 2))
    return total


def _fd_group(p, X, Y, masks, unit, group, h=1e-6):
    out = []
    key, idx = {"incoming": ("W1", lambda k: (unit - 1, k)), "bias": ("b1", lambda k: unit - 1),
                "outgoing": ("W2", lambda k: (k, unit - 1))}[group]
    count = {"incoming": p["W1"].shape[1], "bias": 1, "outgoing": p["W2"].shape[0]}[group]
    for k in range(count):
        plus = {n: v.copy() for n, v in p.items()}
        minus = {n: v.copy() for n, v in p.items()}
        plus[key][idx(k)] += h
        minus[key][idx(k)] -= h
        out.append((_masked_loss(plus, X, Y, masks) - _masked_loss(minus, X, Y, masks)) / (2 * h))
    return np.array(out)


def test_s6_dropout_masks():
    different, equal = report("dropout-masks")["facts"]
    assert different["verdict"] == "broken" and equal["verdict"] == "preserved"
    w = different["witness"]
    p = {k: np.array(v, dtype=float) for k, v in w["parameters"].items()}
    for g in GROUPS:
        d = (_fd_group(p, w["inputs"], w["targets"], w["masks"], 1, g)
             - _fd_group(p, w["inputs"], w["targets"], w["masks"], 2, g))
        np.testing.assert_allclose(d, w["difference"][g], rtol=1e-5, atol=1e-7)
    # equal masks: the tied units' gradients agree
    for g in GROUPS:
        np.testing.assert_allclose(_fd_group(p, w["inputs"], w["targets"], (0.5, 0.5), 1, g),
                                   _fd_group(p, w["inputs"], w["targets"], (0.5, 0.5), 2, g),
                                   atol=1e-7)


# ------------------------------------------------------------------ S7


def _adam_step(theta, g, m, v, t, lr, wd, b1=0.9, b2=0.999, eps=1e-8):
    g = g + wd * theta
    m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
    return theta - lr * (m / (1 - b1 ** t)) / (math.sqrt(v / (1 - b2 ** t)) + eps), m, v


def test_s7_optimisers():
    facts = report("adam-momentum-weight-decay")["facts"]
    verdicts = {f["name"]: f["verdict"] for f in facts}
    assert verdicts == {"SGD with weight decay": "preserved",
                        "momentum with weight decay": "preserved",
                        "Adam with weight decay": "preserved",
                        "SGD with a learning rate per unit": "broken",
                        "Adam with a learning rate per unit": "broken"}
    assert all(f["all_tied_gradients"] == "preserved" for f in facts)
    sgd = next(f for f in facts if f["name"] == "SGD with a learning rate per unit")
    w = sgd["witness"]
    new_i, new_j = w["theta"] - w["eta_i"] * w["g"], w["theta"] - w["eta_j"] * w["g"]
    assert sgd["witness"]["difference"] == pytest.approx(new_i - new_j)
    adam = next(f for f in facts if f["name"] == "Adam with a learning rate per unit")
    w = adam["witness"]
    a = _adam_step(w["theta"], w["g"], 0.0, 0.0, 1, w["eta_i"], 0.0)[0]
    b = _adam_step(w["theta"], w["g"], 0.0, 0.0, 1, w["eta_j"], 0.0)[0]
    assert adam["witness"]["difference"] == pytest.approx(a - b, rel=1e-9)
    # Tied parameters with tied state stay tied for many steps (NumPy, shared rate).
    state = [(0.3, 0.0, 0.0), (0.3, 0.0, 0.0)]
    for t in range(1, 50):
        g = math.sin(t)  # the same gradient for both (fully tied units)
        state = [_adam_step(th, g, m, v, t, 0.01, 0.1) for th, m, v in state]
    assert state[0] == state[1]


# ------------------------------------------------------------------ S8 and the loss gradients


def test_s8_backprop_is_exact_term_by_term():
    fact = report("backprop-is-exact")["facts"][0]
    assert fact["verdict"] == "exact"
    assert fact["parameters_checked"] == fact["parameters_equal"] == 15   # [2, 2, 2, 1]
    assert all(s["status"] == "proved" for s in fact["statements"])


def test_term_by_term_compares_expanded_terms_as_a_multiset():
    import sympy as sp

    from symderive.facts.backprop import term_by_term

    x, y = sp.symbols("x y")
    assert term_by_term(x * (x + y), x**2 + x * y)
    assert not term_by_term(x * (x + y), x**2 + 2 * x * y)      # a coefficient differs
    assert not term_by_term(sp.tanh(x) ** 2, 1 - 1 / sp.cosh(x) ** 2 + sp.tanh(x) ** 2 - 1)
    # equal as functions (sech² = 1 − tanh²) but not term by term after expansion
    assert not term_by_term(1 - sp.tanh(x) ** 2, 1 / sp.cosh(x) ** 2)


def _softmax_ce(z, y):
    return -float(np.sum(y * (z - np.log(np.sum(np.exp(z))))))


def test_softmax_cross_entropy_gradient_is_prediction_minus_target():
    fact = report("softmax-cross-entropy-gradient")["facts"][0]
    assert fact["verdict"] == "proved"
    assert fact["statements"][1]["rhs_latex"].endswith("- y_{1}")
    rng = np.random.default_rng(7)
    z, y = rng.normal(size=3), np.eye(3)[1]
    fd = [(_softmax_ce(z + h, y) - _softmax_ce(z - h, y)) / 2e-6 for h in np.eye(3) * 1e-6]
    np.testing.assert_allclose(fd, np.exp(z) / np.sum(np.exp(z)) - y, atol=1e-8)


def test_sigmoid_bce_gradient_is_sigma_minus_target():
    fact = report("sigmoid-bce-gradient")["facts"][0]
    assert fact["verdict"] == "proved"
    # the logistic function is written sigmoid: σ is reserved for the hidden activation
    assert fact["statements"][0]["rhs_latex"] == r"\operatorname{sigmoid}(z^{(2)}_{1}) - y_{1}"
    s = lambda u: 1 / (1 + math.exp(-u))
    bce = lambda u, t: -(t * math.log(s(u)) + (1 - t) * math.log(1 - s(u)))
    for u, t in [(0.3, 1.0), (-1.2, 0.25), (2.0, 0.0)]:
        fd = (bce(u + 1e-6, t) - bce(u - 1e-6, t)) / 2e-6
        assert fd == pytest.approx(s(u) - t, abs=1e-8)


def test_deeper_layer_derivation():
    hs = report("deep-layer-symmetry")["hypotheses"]
    assert [h["verdict"] for h in hs] == ["broken", "preserved"]
    assert all(h["layer"] == 2 and h["numeric"]["agreement"] for h in hs)


def test_bundled_files_are_what_bundled_specs_lists():
    assert set(BUNDLED_NAMES) == set(bundled_specs())
