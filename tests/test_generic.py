"""Generic mode: undefined σ and ℓ, width-free proofs, instantiated witnesses, deeper layers."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import reference_numpy as ref
from conftest import data_values, evaluate, parameter_values, random_data, random_params, spec_toml
from symderive.api import derive
from symderive.errors import SpecError
from symderive.engine.generic import (ANY, dloss, generic_term, instantiated, is_generic, loss_fn,
                               width_free)
from symderive.engine.gradients import direct_gradient
from symderive.engine.local import LocalModel, act, dact
from symderive.engine.network import Network
from symderive.render.json import report_dict
from symderive.spec import Hypothesis, parse_spec
from symderive.engine.symmetry import tie_substitution

GROUPS = ("incoming", "bias", "outgoing")


def generic_spec(layers=(3, 4, 2), hypotheses=(), samples=2, extra=""):
    return parse_spec(spec_toml(layers, activation=ANY, loss=ANY, samples=samples,
                                hypotheses=hypotheses, extra=extra))


# ------------------------------------------------------------------ the spec keys


def test_any_activation_and_loss_are_undefined_functions():
    spec = generic_spec(hypotheses=[{"layer": 1, "units": [1, 2]}])
    assert spec.network.activation.expr == act(sp.Symbol("z", real=True))
    assert spec.network.loss.name == ANY and is_generic(spec.network)
    assert spec.network.to_json()["activation"] == "any"
    assert spec.network.to_json()["loss"] == "any"


@pytest.mark.parametrize("field,text,message", [
    ("network.output_activation", 'output_activation = "any"', "unknown activation 'any'"),
    ("fact[1].kind", '[[fact]]\nkind = "nonsense"', "one of backprop_exact"),
    ("fact[1].colour", '[[fact]]\nkind = "zero_init"\ncolour = 1', "unknown key"),
    ("fact[1].masks", '[[fact]]\nkind = "dropout"\nmasks = "sometimes"', "equal, different"),
    ("fact[1].units", '[[fact]]\nkind = "optimizer"\nunits = [2, 2]', "distinct"),
    ("description", 'description = 3', "must be a string"),
])
def test_bad_extension_keys_name_the_field(field, text, message):
    base = spec_toml((2, 3, 1), hypotheses=[{"layer": 1, "units": [1, 2]}])
    top, rest = (text + "\n", "") if text.startswith("description") else ("", "\n" + text)
    body = base.replace('output_activation = "identity"', text) if "output_act" in text \
        else top + base + rest
    with pytest.raises(SpecError) as exc:
        parse_spec(body)
    assert exc.value.field == field and message in exc.value.message


def test_a_spec_may_have_facts_only():
    spec = parse_spec(spec_toml((2, 3, 1)) + '\n[[fact]]\nkind = "backprop_exact"\n')
    assert spec.hypotheses == () and spec.facts[0].kind == "backprop_exact"
    with pytest.raises(SpecError, match=r"\[\[hypothesis\]\]"):
        parse_spec(spec_toml((2, 3, 1)))


def test_the_chain_rule_writes_sigma_prime_and_dloss():
    z, y = sp.symbols("u y", real=True)
    assert sp.diff(act(2 * z), z) == 2 * dact(2 * z)
    assert sp.diff(loss_fn(act(z), y), z) == dloss(act(z), y) * dact(z)


# ------------------------------------------------------------------ proofs for every width


def test_width_free_proofs_are_term_by_term():
    net = generic_spec(hypotheses=[{"layer": 1, "units": [1, 2]}]).network
    tied = Hypothesis("all", 1, (1, 2), GROUPS, ())
    partial = Hypothesis("in", 1, (1, 2), ("incoming", "bias"), ())
    assert all(width_free(net, tied, g) for g in GROUPS)
    assert width_free(net, partial, "outgoing")
    assert not width_free(net, partial, "incoming")
    term = generic_term(LocalModel(net, partial), "incoming")
    # σ'(z_i) (V_mi − V_mj) δ_m: the (v_i − v_j) factor of the S1 statement.
    assert sp.factor(term).has(sp.Symbol("W2_m_1", real=True) - sp.Symbol("W2_m_2", real=True))


def test_generic_result_states_its_assumptions_and_instantiates_the_witness():
    spec = generic_spec(hypotheses=[{"layer": 1, "units": [1, 2], "tie": ["incoming", "bias"]}])
    report = report_dict(derive(spec))
    h = report["hypotheses"][0]
    assert h["generic"] is True
    text = " ".join(h["assumptions"])
    for phrase in ("arbitrary differentiable activation", "ℓ an arbitrary differentiable",
                   "r_m independent of units i and j", "every width", "tanh"):
        assert phrase in text
    assert h["groups"]["outgoing"]["status"] == "equal"
    witness = h["groups"]["incoming"]["witness"]
    assert witness["instantiation"] == {"activation": "tanh", "loss": "mse"}
    # The witness, recomputed by the tests' own NumPy network with tanh and MSE.
    net = ref.refnet({**report["network"], "activation": "tanh", "loss": "mse"})
    grad = ref.gradient(net, witness["parameters"], witness["inputs"], witness["targets"])
    d = ref.group(grad, 1, 1, "incoming") - ref.group(grad, 1, 2, "incoming")
    np.testing.assert_allclose(d, witness["difference"], rtol=1e-9, atol=1e-12)
    assert np.max(np.abs(d)) > 1e-6


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "identity"])
def test_a_generic_equal_holds_for_concrete_activations(activation):
    """The all-tied proof with σ undefined: gradients agree for each concrete σ (NumPy)."""
    spec = generic_spec(layers=(3, 4, 4, 2),
                        hypotheses=[{"layer": 2, "units": [1, 3], "tie": list(GROUPS)}])
    result = derive(spec, numeric=False).results[0]
    assert result.verdict == "preserved"
    rng = np.random.default_rng(3)
    net = ref.refnet({"layers": [3, 4, 4, 2], "activation": activation,
                      "output_activation": "identity", "loss": "mse", "bias": True})
    for _ in range(3):
        p = random_params((3, 4, 4, 2), True, rng)
        p["W2"][2], p["b2"][2], p["W3"][:, 2] = p["W2"][0], p["b2"][0], p["W3"][:, 0]
        X, Y = random_data((3, 4, 4, 2), 2, "mse", rng)
        grad = ref.gradient(net, p, X, Y)
        for g in GROUPS:
            np.testing.assert_allclose(ref.group(grad, 2, 1, g), ref.group(grad, 2, 3, g),
                                       atol=1e-12)


def test_numeric_cross_check_runs_on_the_instantiation():
    spec = generic_spec(hypotheses=[{"layer": 1, "units": [1, 2], "tie": list(GROUPS)}])
    assert instantiated(spec).network.activation.name == "tanh"
    assert instantiated(spec).network.loss.name == "mse"
    d = derive(spec)
    assert d.agreement and d.numeric[0].training.max_gap == 0.0


# ------------------------------------------------------------------ deeper layers


@pytest.mark.parametrize("tie,expected", [
    (("incoming", "bias"), {"incoming": "different", "bias": "different", "outgoing": "equal"}),
    (GROUPS, {"incoming": "equal", "bias": "equal", "outgoing": "equal"}),
])
def test_deeper_layer_against_whole_loss_differentiation(tie, expected):
    """Layer 2 of a [2, 3, 3, 2] tanh net: statuses agree with differentiating the whole loss."""
    toml = spec_toml((2, 3, 3, 2), samples=2,
                     hypotheses=[{"layer": 2, "units": [1, 3], "tie": list(tie)}])
    spec = parse_spec(toml)
    report = report_dict(derive(spec, numeric=False))
    h = report["hypotheses"][0]
    assert {g: v["status"] for g, v in h["groups"].items()} == expected
    net, hyp = Network(spec.network), spec.hypotheses[0]
    tie_map = tie_substitution(net, hyp)
    rng = np.random.default_rng(11)
    for g in GROUPS:
        gi, gj = net.group(2, 1, g), net.group(2, 3, g)
        grads = direct_gradient(net, gi + gj)
        diffs = [(a - b).xreplace(tie_map) for a, b in zip(grads[:len(gi)], grads[len(gi):])]
        witness = h["groups"][g]["witness"]
        if witness is not None:  # the witness's difference is the whole loss's
            point = {**parameter_values(witness["parameters"]),
                     **data_values(witness["inputs"], witness["targets"])}
            got = [evaluate(e, point) for e in diffs]
            np.testing.assert_allclose(got, witness["difference"], rtol=1e-9, atol=1e-12)
        else:  # equal: zero at random points
            for _ in range(2):
                point = {s: float(rng.normal()) for e in diffs for s in e.free_symbols}
                assert max(abs(evaluate(e, point)) for e in diffs) < 1e-20
