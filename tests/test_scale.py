"""The scale law of [[layer]] networks against finite differences and NumPy training
(the kinds' NumPy passes, independent of the SymPy proofs)."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import ROOT

from symderive.engine.layers.settle import _draw
from symderive.engine.layers.stack import Stack
from symderive.engine.witness import random_targets
from symderive.errors import SpecError
from symderive.facts import settle_facts
from symderive.facts.scale_check import _entries
from symderive.spec import load_spec


def parse_spec_text(text):
    return load_spec("<test>", text)

BASE = """
[network]
input = {input}
samples = 4

[[layer]]
kind = "{first}"
{first_keys}
activation = "{act}"

[[layer]]
kind = "norm"
over = "{over}"
eps = {eps}
activation = "tanh"

{middle}

[[layer]]
kind = "dense"
units = 2

[[fact]]
kind = "conservation"
"""


def _spec(over="batch", eps=0, act="identity", conv=False):
    first, keys, inp, middle = (("conv", "channels = 3\nkernel = 2", "[2, 4]",
                                 '[[layer]]\nkind = "pool"') if conv else
                                ("dense", "units = 3", "[3]", ""))
    return parse_spec_text(BASE.format(input=inp, first=first, first_keys=keys, act=act,
                                       over=over, eps=eps, middle=middle))


def _point(spec, seed):
    rng = np.random.default_rng(seed)
    stack = Stack(spec.network)
    theta = {n: _draw(rng, s) for n, s in stack.shapes.items()}
    X = rng.normal(size=(spec.network.samples, *spec.network.input))
    return stack, theta, X, random_targets(spec.network, rng)


def _scaled_derivative(stack, theta, X, Y, entries, h=1e-5):
    """d/dc L(cθ) at c = 1 for the law's entries, by central differences."""
    def at(c):
        t = {k: v.copy() for k, v in theta.items()}
        for name, idx in entries:
            t[name][idx] *= c
        return stack.np_gradient(t, X, Y)[0]
    return (at(1 + h) - at(1 - h)) / (2 * h)


def _laws(spec):
    return settle_facts(spec)[0].details["laws"]


@pytest.mark.parametrize("over,conv,act", [("batch", False, "identity"),
                                           ("features", False, "identity"),
                                           ("batch", True, "identity"),
                                           ("batch", True, "relu"),
                                           ("features", True, "relu")])
@pytest.mark.parametrize("seed", [0, 1])
def test_scale_laws_hold_by_finite_differences(over, conv, act, seed):
    spec = _spec(over=over, conv=conv, act=act)
    laws = _laws(spec)
    assert laws and all(l["symmetry"] == "scale" and l["status"] == "proved" for l in laws)
    assert len(laws) == (3 if over == "batch" else 1)
    stack, theta, X, Y = _point(spec, seed)
    _, g, _ = stack.np_gradient(theta, X, Y)
    for law in laws:
        e = _entries(law)
        assert abs(_scaled_derivative(stack, theta, X, Y, e)) < 1e-6
        assert abs(sum(theta[t][i] * g[t][i] for t, i in e)) < 1e-10
        # one step of gradient descent: ‖θ‖² grows by exactly η²‖g‖²
        eta = 0.3
        before = sum(theta[t][i] ** 2 for t, i in e)
        after = sum((theta[t][i] - eta * g[t][i]) ** 2 for t, i in e)
        assert after - before == pytest.approx(eta ** 2 * sum(g[t][i] ** 2 for t, i in e),
                                               rel=1e-9, abs=1e-14)
    # the parameters after the norm are not scale-invariant: the check can fail
    last = [("W3" if not conv else "W4", idx) for idx in np.ndindex(2, 3)]
    assert abs(_scaled_derivative(stack, theta, X, Y, last)) > 1e-6


def test_batch_norm_bias_gradient_is_zero():
    spec = _spec()
    stack, theta, X, Y = _point(spec, 3)
    _, g, _ = stack.np_gradient(theta, X, Y)
    assert np.max(np.abs(g["b1"])) < 1e-12
    facts = settle_facts(spec)[0]
    assert any("bias's gradient is 0" in s.claim and s.status == "proved"
               for s in facts.statements)
    # layer norm: the bias is part of the law and its gradient is not 0
    spec = _spec(over="features")
    stack, theta, X, Y = _point(spec, 3)
    assert np.max(np.abs(stack.np_gradient(theta, X, Y)[1]["b1"])) > 1e-6
    assert "b1_1" in _laws(spec)[0]["parameters"]


def test_eps_makes_the_law_approximate():
    spec = _spec(eps=1e-3)
    laws = _laws(spec)
    assert laws and all(l["status"] == "undecided" for l in laws)
    stack, theta, X, Y = _point(spec, 5)
    _, g, _ = stack.np_gradient(theta, X, Y)
    e = _entries(laws[0])
    assert abs(sum(theta[t][i] * g[t][i] for t, i in e)) > 1e-9   # really broken by eps


def test_tanh_before_the_norm_has_no_law():
    fact = settle_facts(_spec(act="tanh"))[0]
    assert fact.details["laws"] == []
    assert any("norm layer 2" in a and "not positively homogeneous" in a
               for a in fact.details["absent"])


def test_training_run_check_agrees():
    from symderive.facts import check_facts

    spec = _spec(over="features")
    fact = check_facts(spec, settle_facts(spec))[0]
    assert fact.numeric.agreement
    item = fact.numeric.items[0]
    assert item["gd_change_observed"] == pytest.approx(item["gd_change_predicted"], rel=1e-8)
    assert item["gd_change_observed"] > 0


def test_eps_zero_needs_more_than_one_entry():
    with pytest.raises(SpecError, match="eps"):
        parse_spec_text(BASE.replace("samples = 4", "samples = 1").format(
            input="[3]", first="dense", first_keys="units = 3", act="identity",
            over="batch", eps=0, middle=""))


def test_the_check_catches_a_false_law():
    """The last layer's weights labelled a proved scale law: the run must object."""
    from dataclasses import replace

    from symderive.facts.scale_check import scale_check

    spec = _spec()
    fact = settle_facts(spec)[0]
    false = dict(fact.details["laws"][0], parameters=["W3_1_1", "W3_1_2", "W3_2_3"])
    fact = replace(fact, details={**fact.details, "laws": [false]})
    out = scale_check(spec.network, fact, np.random.default_rng(0), 30, 0.1)
    assert not out.agreement and any("more than its formula" in p for p in out.problems)


BUNDLED = ROOT / "derivations" / "layers" / "weight_norms_batch_norm.toml"


def _torch_gradient(theta, X, Y) -> dict[str, np.ndarray]:
    """The bundled network written out in torch: dense → batch norm with eps = 0 (torch's
    own batch_norm refuses eps = 0 in training) → ReLU → dense, loss ½‖ŷ − y‖²."""
    torch = pytest.importorskip("torch", reason="torch is not installed (symderive[torch])")

    p = {k: torch.tensor(v, requires_grad=True) for k, v in theta.items()}
    z = torch.tensor(X) @ p["W1"].T + p["b1"]
    mean = z.mean(dim=0, keepdim=True)
    var = ((z - mean) ** 2).mean(dim=0, keepdim=True)
    h = torch.relu(p["g2"] * (z - mean) / torch.sqrt(var) + p["s2"])
    out = h @ p["W3"].T + p["b3"]
    (0.5 * ((out - torch.tensor(Y)) ** 2).sum()).backward()
    return {k: v.grad.numpy() for k, v in p.items()}


def test_bundled_weight_norms_derivation_in_torch():
    """The bundled batch-norm derivation: proved, checked, and its laws hold in torch
    autograd (no code of the kinds involved), and its brief answer states the growth."""
    import symderive

    d = symderive.derive(BUNDLED)
    fact = d.facts[0]
    assert fact.verdict == "proved" and d.agreement
    laws = fact.details["laws"]
    assert [l["index"] for l in laws] == [1, 2, 3]
    stack, theta, X, Y = _point(d.spec, 11)
    g = _torch_gradient(theta, X, Y)
    assert np.allclose(g["W1"], stack.np_gradient(theta, X, Y)[1]["W1"], rtol=1e-9, atol=1e-12)
    for law in laws:
        e = _entries(law)
        dot = sum(theta[t][i] * g[t][i] for t, i in e)
        size = np.sqrt(sum(theta[t][i] ** 2 for t, i in e) * sum(g[t][i] ** 2 for t, i in e))
        assert abs(dot) < 1e-12 * max(size, 1.0) and size > 1e-6
    assert np.max(np.abs(g["b1"])) < 1e-12
    brief = d.to_markdown()
    assert "grow by exactly" in brief and "η²‖∇L‖²" in brief
    assert d.to_json() == symderive.derive(BUNDLED).to_json()     # byte for byte


def test_other_fact_kinds_refused_on_layer_networks():
    text = BASE.format(input="[3]", first="dense", first_keys="units = 3", act="identity",
                       over="batch", eps=0, middle="").replace('"conservation"',
                                                               '"gap_stability"')
    with pytest.raises(SpecError, match="fact.*conservation"):
        parse_spec_text(text)


def test_through_a_relu_the_batch_norm_bias_is_in_the_law():
    """relu(z + b) is no shift: the bias's gradient is not 0, and the law needs it."""
    spec = _spec(conv=True, act="relu")
    law = _laws(spec)[0]
    assert law["parameters"][-1] == "b1_1"
    stack, theta, X, Y = _point(spec, 2)
    g = stack.np_gradient(theta, X, Y)[1]
    assert np.max(np.abs(g["b1"])) > 1e-6
    weights_only = [e for e in _entries(law) if e[0] == "W1"]
    assert abs(sum(theta[t][i] * g[t][i] for t, i in weights_only)) > 1e-9
    assert not any("bias's gradient is 0" in s.claim for s in settle_facts(spec)[0].statements)


def test_the_guard_counts_the_fact():
    """The cost model of a [[layer]] network counts the conservation fact's check and proof."""
    from symderive.cost.layers import laws_symbolic_seconds, stack_seconds

    spec = _spec(conv=True)
    without = parse_spec_text(BASE.format(input="[2, 4]", first="conv",
                                          first_keys="channels = 3\nkernel = 2",
                                          act="identity", over="batch", eps=0,
                                          middle='[[layer]]\nkind = "pool"').replace(
        '[[fact]]\nkind = "conservation"\n', '[[hypothesis]]\nlayer = 1\nunits = [1, 2]\n'))
    assert laws_symbolic_seconds(spec) > 0
    assert stack_seconds(spec) > stack_seconds(without) * 0 + laws_symbolic_seconds(spec)
