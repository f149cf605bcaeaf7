"""The conservation fact against numbers computed another way.

Every law the fact lists is checked on random networks (Hypothesis) with the independent
reference network of tests/reference_numpy.py: its gradient identity against central
finite differences of the reference loss, and its exact per-step changes against one step
of gradient descent, momentum and weight decay taken with the reference gradient.  The
parameters a law names (its JSON ``parameters``) are the ones the identity is evaluated
on, so a wrong list fails too.  Absent symmetries must really be absent: the identity they
would give is violated at a random point.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import reference_numpy as ref
from symderive.api import derive
from symderive.errors import SpecError
from symderive.facts import settle_facts
from symderive.facts.conservation_check import conservation_check
from symderive.spec import Spec

_SETTINGS = settings(max_examples=int(os.environ.get("CONSERVATION_EXAMPLES", "12")),
                     deadline=None, suppress_health_check=[HealthCheck.too_slow])
LEAKY = r"\begin{cases} z & z > 0 \\ 0.1 z & \text{otherwise} \end{cases}"
_LEAKY_REF = (lambda u: u if u > 0 else 0.1 * u, lambda u: 1.0 if u > 0 else 0.1)


def spec(layers, activation="relu", loss="mse", bias=True, samples=2, steps=10,
         extra="") -> Spec:
    act = f"{{ latex = '{LEAKY}' }}" if activation == "leaky" else f'"{activation}"'
    return Spec.from_toml(f"""
[network]
layers = {list(layers)}
activation = {act}
loss = "{loss}"
bias = {str(bias).lower()}
samples = {samples}
[[fact]]
kind = "conservation"
{extra}
[check]
steps = {steps}
""")


def _ref(s: Spec) -> ref.RefNet:
    n = s.network
    act = _LEAKY_REF if n.activation.latex_source else ref.ACTIVATIONS[n.activation.name]
    return ref.RefNet(n.layers, act, ref.ACTIVATIONS["identity"], ref.LOSSES[n.loss.name],
                      n.bias)


def _point(s: Spec, rng):
    n = s.network
    params = {}
    for l in range(1, n.depth + 1):
        params[f"W{l}"] = rng.normal(size=(n.layers[l], n.layers[l - 1]))
        if n.bias:
            params[f"b{l}"] = rng.normal(size=n.layers[l])
    X = rng.normal(size=(n.samples, n.layers[0]))
    Y = (np.eye(n.layers[-1])[rng.integers(0, n.layers[-1], n.samples)]
         if n.loss.name == "softmax_ce" else rng.normal(size=(n.samples, n.layers[-1])))
    return params, X, Y


def entry(values, name: str) -> float:
    """A parameter by its generated name (W2_3_1: row 3, column 1 of W2; b1_2)."""
    head, *idx = name.split("_")
    arr = values[head]
    return float(arr[int(idx[0]) - 1, int(idx[1]) - 1] if head[0] == "W" else arr[int(idx[0]) - 1])


def bilinear(law: dict, p, q) -> np.ndarray:
    """B(p, q) of a law from its parameter names alone: incoming entries (layer l) count
    +, outgoing (layer l + 1) −; a linear law's matrix from the rows it names."""
    l = law["layer"]
    if law["symmetry"] == "translation":
        return np.array(sum(entry(p, n) for n in law["parameters"]))
    if law["symmetry"] == "rescale":
        total = 0.0
        for n in law["parameters"]:
            sign = 1 if n.startswith((f"W{l}_", f"b{l}_")) else -1
            total += sign * entry(p, n) * entry(q, n)
        return np.array(total)
    assert set(law["parameters"]) >= {f"W{l}_1_1", f"W{l + 1}_1_1"}
    b = (lambda v: v.get(f"b{l}", np.zeros(len(v[f"W{l}"]))))
    return (p[f"W{l}"] @ q[f"W{l}"].T + np.outer(b(p), b(q)) - p[f"W{l + 1}"].T @ q[f"W{l + 1}"])


def _laws(s: Spec) -> list[dict]:
    return settle_facts(s)[0].to_json()["laws"]


@st.composite
def networks(draw):
    depth = draw(st.integers(1, 3))
    layers = [draw(st.integers(1, 3))] + [draw(st.integers(1, 3)) for _ in range(depth)] \
        + [draw(st.integers(2, 3))]
    return spec(layers, draw(st.sampled_from(["relu", "identity", "leaky", "tanh"])),
                draw(st.sampled_from(["mse", "softmax_ce"])), draw(st.booleans()),
                draw(st.integers(1, 3)))


@_SETTINGS
@given(networks(), st.integers(0, 2 ** 32 - 1))
def test_every_identity_against_finite_differences(s, seed):
    rng = np.random.default_rng(seed)
    net = _ref(s)
    params, X, Y = _point(s, rng)
    grad = ref.finite_difference(net, params, X, Y)
    for law in _laws(s):
        if law["symmetry"] == "translation":
            residual = bilinear(law, grad, None)
        else:
            residual = bilinear(law, params, grad) + bilinear(law, grad, params)
        assert np.max(np.abs(residual)) < 1e-5, (law["symmetry"], law["layer"], residual)


@_SETTINGS
@given(networks(), st.integers(0, 2 ** 32 - 1), st.sampled_from([0.01, 0.1, 0.3]))
def test_per_step_changes_against_a_numpy_step(s, seed, eta):
    """Q(θ_{t+1}) − Q(θ_t) of one step of each rule equals the fact's formula, with the
    reference gradient and a random momentum buffer."""
    rng = np.random.default_rng(seed)
    net, lam, mu = _ref(s), 0.05, 0.9
    params, X, Y = _point(s, rng)
    g = ref.gradient(net, params, X, Y)
    nu = {k: rng.normal(size=v.shape) for k, v in params.items()}
    nu_next = {k: mu * nu[k] + g[k] for k in g}
    after = {"gd": {k: params[k] - eta * g[k] for k in g},
             "momentum": {k: params[k] - eta * nu_next[k] for k in g},
             "weight_decay": {k: params[k] - eta * (g[k] + lam * params[k]) for k in g}}
    for law in _laws(s):
        q0 = bilinear(law, params, params)
        observed = {r: bilinear(law, p, p) - q0 for r, p in after.items()}
        if law["symmetry"] == "translation":
            expected = {"gd": 0.0, "momentum": -eta * bilinear(law, nu_next, None),
                        "weight_decay": -eta * lam * q0}
        else:
            expected = {"gd": eta ** 2 * bilinear(law, g, g),
                        "momentum": -eta * mu * (bilinear(law, params, nu) + bilinear(law, nu, params))
                        + eta ** 2 * bilinear(law, nu_next, nu_next),
                        "weight_decay": ((1 - eta * lam) ** 2 - 1) * q0 + eta ** 2 * bilinear(law, g, g)}
        for rule in observed:
            assert np.allclose(observed[rule], expected[rule], atol=1e-9, rtol=1e-9), \
                (law["symmetry"], rule, observed[rule], expected[rule])


@pytest.mark.parametrize("activation,absent", [("tanh", ("rescale", "linear")),
                                               ("relu", ("linear",)),
                                               ("leaky", ("linear",))])
def test_absent_symmetries_really_fail(activation, absent):
    """A symmetry the fact leaves out has its identity violated at a random point."""
    s = spec([2, 3, 2], activation, samples=3)
    found = {law["symmetry"] for law in _laws(s)}
    assert not found & set(absent)
    rng = np.random.default_rng(4)
    params, X, Y = _point(s, rng)
    grad = ref.finite_difference(_ref(s), params, X, Y)
    fake = {"symmetry": "linear", "layer": 1, "parameters": ["W1_1_1", "W2_1_1"]}
    if "rescale" in absent:
        fake = {"symmetry": "rescale", "layer": 1,
                "parameters": ["W1_1_1", "W1_1_2", "b1_1", "W2_1_1", "W2_2_1"]}
    residual = bilinear(fake, params, grad) + bilinear(fake, grad, params)
    assert np.max(np.abs(residual)) > 1e-3


def test_which_laws_are_found():
    names = lambda s: sorted({(l["symmetry"], l["layer"]) for l in _laws(s)})
    assert names(spec([2, 3, 2], "relu")) == [("rescale", 1)]
    assert names(spec([2, 3, 4, 2], "identity", "softmax_ce")) == [
        ("linear", 1), ("linear", 2), ("rescale", 1), ("rescale", 2), ("translation", 3)]
    assert _laws(spec([2, 3, 2], "tanh")) == []
    # translation: the output biases and one law per column of the last weights
    laws = _laws(spec([2, 3, 2], "tanh", "softmax_ce"))
    assert [l["index"] for l in laws] == [None, 1, 2, 3]
    assert laws[1]["parameters"] == ["W2_1_1", "W2_2_1"]
    assert [l["index"] for l in _laws(spec([2, 3, 2], "tanh", "softmax_ce", bias=False))] == [1, 2, 3]


def test_json_fields_and_numeric_figures():
    d = derive(spec([2, 3, 2], "relu", "softmax_ce", steps=15))
    fact = d.facts[0].to_json()
    assert fact["verdict"] == "proved"
    law = fact["laws"][0]
    assert law["symmetry"] == "rescale" and law["parameters"] == [
        "W1_1_1", "W1_1_2", "b1_1", "W2_1_1", "W2_2_1"]
    assert law["quantity_latex"].startswith(r"\sum_{k=1}^{2} \left(W^{(1)}_{1k}\right)^{2}")
    assert r"\eta^{2}" in law["per_step_change_latex"]
    n = law["numeric"]
    assert abs(n["gd_change_predicted"] - n["gd_change_observed"]) < 1e-9 * (1 + n["gd_change_observed"])
    assert n["flow_drift"] < 1e-4
    bias_law = next(l for l in fact["laws"] if l["symmetry"] == "translation" and l["index"] is None)
    assert bias_law["numeric"]["gd_change_observed"] < 1e-12
    assert bias_law["numeric"]["weight_decay_change_observed"] > 1e-6   # decay breaks it
    assert d.facts[0].numeric.agreement


def test_the_check_catches_a_law_that_does_not_hold():
    """Hand the check a rescale law for a tanh network: it must report problems."""
    s = spec([2, 3, 2], "tanh", steps=20)
    result = settle_facts(s)[0]
    fake = {"symmetry": "rescale", "layer": 1, "index": 1, "parameters": []}
    result.details["laws"] = [fake]
    from symderive.engine.generic import instantiated_network
    numeric = conservation_check(instantiated_network(s.network), result,
                                 np.random.default_rng(0), 20, 0.05)
    assert not numeric.agreement
    assert any("gd" in p for p in numeric.problems)


def test_summary_names_what_is_absent_and_why():
    r = settle_facts(spec([2, 3, 2], "tanh"))[0]
    assert r.verdict == "none found"
    assert "zσ'(z) − σ(z) = -0.3416 at z = 1" in r.summary
    assert "the loss is mse" in r.summary


def test_kind_takes_no_keys():
    with pytest.raises(SpecError, match="fact\\[1\\]"):
        spec([2, 3, 2], extra="layer = 1")


def test_reports_have_the_plot():
    """The full Markdown report tabulates each watched law; LaTeX draws it (linear axis)."""
    from symderive.render import latex, markdown
    d = derive(spec([2, 3, 2], "relu", "softmax_ce", steps=5))
    q = [round(v, 6) for v in dict(d.facts[0].numeric.figures)["plot"]["series"][0][1]]
    text = markdown.render(d, detail="full").replace("\\", "")   # Markdown's escapes
    assert "| rescale, layer 1 unit 1 |" in text and f"{q[0]:g}"[:5] in text
    tex = latex.render(d)
    assert "begin{axis}" in tex and "rescale, layer 1 unit 1" in tex


# ---------------------------------------------- how many laws there are (Marcotte et al.)


@pytest.mark.parametrize("n,r,m,bias", [(1, 1, 1, False), (2, 2, 2, False), (3, 2, 1, True),
                                        (2, 3, 2, False), (1, 3, 1, False), (1, 4, 2, False)])
def test_lie_algebra_counts(n, r, m, bias):
    """ReLU: one law per hidden unit; linear: as many as the dimension of the symmetric
    r × r matrices U U^T − V^T V can fill: rank at most s = (inputs + bias) + outputs,
    so r(r+1)/2 − (r−s)(r−s+1)/2 when r > s, else r(r+1)/2.  The laws the fact lists
    reach the count, so the fact says they are all."""
    from symderive.facts import lie
    relu = lie.count(spec([n, r, m], "relu", bias=bias).network, linear=False)
    linear = lie.count(spec([n, r, m], "identity", bias=bias).network, linear=True)
    D = r * (n + bias + m)
    assert relu["parameters"] == linear["parameters"] == D
    assert relu["independent_laws"] == r and relu["complete"]
    s = n + bias + m
    expected = r * (r + 1) // 2 - (max(r - s, 0) * (max(r - s, 0) + 1)) // 2
    assert linear["independent_laws"] == expected and linear["complete"]


def test_laws_found_are_conserved_by_every_field_of_the_algebra():
    """An independent check of the algebra: each law's gradient is orthogonal (mod p) to
    M θ for every element M of the generated algebra, at a random point."""
    from symderive.facts import lie
    n_in, r, m = 3, 2, 2
    rng = np.random.default_rng(1)
    for linear in (True, False):
        basis = lie.generated_algebra(lie.hessians(n_in, r, m, per_unit=not linear))
        theta = rng.integers(1, lie.P, r * (n_in + m))
        for g in lie.law_gradients(n_in, r, m, linear, theta):
            for M in basis:
                field = (M @ theta) % lie.P
                assert int(sum(int(a) * int(b) for a, b in zip(g, field)) % lie.P) == 0
        # a quantity that is not conserved: ‖u_1‖² alone
        g = np.zeros(r * (n_in + m), dtype=np.int64)
        g[:n_in] = 2 * theta[:n_in] % lie.P
        assert any(int(sum(int(a) * int(b) for a, b in zip(g, (M @ theta) % lie.P)) % lie.P)
                   for M in basis)


def test_summary_states_the_count_only_where_it_applies():
    summary = settle_facts(spec([2, 3, 2], "relu"))[0].summary
    assert "leaves 3 independent laws among the 15 parameters" in summary
    assert "have rank 3 at a seeded point, so they are all there are" in summary
    assert settle_facts(spec([2, 3, 2], "relu", "softmax_ce"))[0].details["lie_algebra"] is None
    assert settle_facts(spec([2, 3, 3, 2], "relu"))[0].details["lie_algebra"] is None
