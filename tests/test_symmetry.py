"""Statuses and verdicts agree with differentiating the whole loss, on many hypotheses.

For small networks every tie/zero combination is enumerated.  The ground
truth is computed here, independently of symmetry.py/local.py: the whole loss
is differentiated, the hypothesis is imposed by substitution, and

- ``equal``     => the difference simplifies to 0;
- ``different`` => the difference at the witness is non-zero and equals the
  witness's ``difference`` (and the NumPy reference agrees);
- ``undecided`` never happens on these small networks.

The verdict is then recomputed from the contract's rules.
"""
from __future__ import annotations

import itertools
import math
import re
from functools import lru_cache

import numpy as np
import pytest
import sympy as sp

import reference_numpy as ref
from conftest import data_values, evaluate, parameter_values, proved_zero
from symderive.spec.functions import ACTIVATIONS, Loss
from symderive.engine.network import Network, bias, weight
from symderive.spec import GROUPS, Hypothesis, NetworkSpec
from symderive.engine.symmetry import settle_group, settle_hypothesis

#: (layers, hidden activation, output activation, loss, bias, samples, layer, units)
NETS = {
    "tanh-mse": ((2, 3, 2), "tanh", "identity", "mse", True, 1, 1, (1, 3)),
    "relu-softmax-nobias": ((2, 3, 2), "relu", "identity", "softmax_ce", False, 1, 1, (2, 3)),
    "sigmoid-bce": ((2, 3, 2), "sigmoid", "sigmoid", "bce", True, 1, 1, (1, 2)),
    "softplus-mse-2samples": ((2, 3, 1), "softplus", "identity", "mse", True, 2, 1, (3, 1)),
    "relu-deep": ((1, 2, 3, 1), "relu", "identity", "mse", True, 1, 2, (1, 2)),
    "tanh-first-of-two": ((1, 3, 2, 1), "tanh", "identity", "mse", True, 1, 1, (1, 3)),
    "wide-softmax-nobias": ((1, 2, 4), "sigmoid", "identity", "softmax_ce", False, 2, 1, (2, 1)),
}


def _hypotheses(bias_: bool, layer: int, units) -> list[Hypothesis]:
    """Every way to leave, tie or zero each group of the two units."""
    groups = GROUPS if bias_ else tuple(g for g in GROUPS if g != "bias")
    out = []
    for roles in itertools.product(("free", "tie", "zero"), repeat=len(groups)):
        tie = tuple(g for g, r in zip(groups, roles) if r == "tie")
        zero = tuple(g for g, r in zip(groups, roles) if r == "zero")
        out.append(Hypothesis(f"tie {tie} zero {zero}", layer, tuple(units), tie, zero))
    return out


CASES = [(name, h) for name, c in NETS.items() for h in _hypotheses(c[4], c[6], c[7])]


def _spec(name: str) -> NetworkSpec:
    layers, act, out, loss, bias_, samples, _, _ = NETS[name]
    return NetworkSpec(layers, ACTIVATIONS[act], ACTIVATIONS[out], bias_, Loss(loss), samples)


def _refnet(name: str) -> ref.RefNet:
    layers, act, out, loss, bias_, _, _, _ = NETS[name]
    return ref.RefNet(layers, ref.ACTIVATIONS[act], ref.ACTIVATIONS[out], ref.LOSSES[loss],
                      bias_, (act == "relu", out == "relu"))


def _group_symbols(layers, layer: int, unit: int, group: str, bias_: bool) -> list[sp.Symbol]:
    """Written here from CONTRACT.md, not taken from Network.group."""
    if group == "incoming":
        return [weight(layer, unit, k) for k in range(1, layers[layer - 1] + 1)]
    if group == "bias":
        return [bias(layer, unit)] if bias_ else []
    return [weight(layer + 1, m, unit) for m in range(1, layers[layer + 1] + 1)]


def _impose(name: str, hyp: Hypothesis) -> dict:
    layers, bias_ = NETS[name][0], NETS[name][4]
    i, j = hyp.units
    sub = {}
    for g in hyp.tie:
        sub.update(zip(_group_symbols(layers, hyp.layer, j, g, bias_),
                       _group_symbols(layers, hyp.layer, i, g, bias_)))
    for g in hyp.zero:
        for u in (i, j):
            sub.update({s: sp.S.Zero for s in _group_symbols(layers, hyp.layer, u, g, bias_)})
    return sub


@lru_cache(maxsize=None)
def _loss(name: str) -> sp.Expr:
    return Network(_spec(name)).loss


def true_difference(name: str, hyp: Hypothesis, group: str) -> list[sp.Expr]:
    """dL/dθ_i − dL/dθ_j of a group, whole loss differentiated, hypothesis imposed after."""
    layers, bias_ = NETS[name][0], NETS[name][4]
    i, j = hyp.units
    loss, sub = _loss(name), _impose(name, hyp)
    return [(sp.diff(loss, a) - sp.diff(loss, b)).xreplace(sub)
            for a, b in zip(_group_symbols(layers, hyp.layer, i, group, bias_),
                            _group_symbols(layers, hyp.layer, j, group, bias_))]


@lru_cache(maxsize=None)
def _settled(name: str, hyp: Hypothesis):
    return settle_hypothesis(_spec(name), hyp, seed=11)


@pytest.mark.parametrize("name,hyp", CASES, ids=[f"{n}-{h.name}" for n, h in CASES])
def test_statuses_agree_with_whole_loss_differentiation(name, hyp):
    result = _settled(name, hyp)
    samples = NETS[name][5]
    assert [g.group for g in result.groups] == list(_spec(name).groups())
    truth = {}
    for g in result.groups:
        diff = true_difference(name, hyp, g.group)
        assert g.status in ("equal", "different"), f"{g.group} undecided on a small network"
        if g.status == "equal":
            assert g.witness is None
            assert all(proved_zero(d) for d in diff), f"{g.group} claimed equal but is not"
            truth[g.group] = False
            continue
        w = g.witness.to_json()
        point = {**parameter_values(w["parameters"], NETS[name][4]),
                 **data_values(w["inputs"], w["targets"])}
        symbolic = np.array([evaluate(d, point) for d in diff])
        np.testing.assert_allclose(w["difference"], symbolic, rtol=1e-9, atol=1e-13)
        assert np.max(np.abs(symbolic)) > 1e-9
        ref.check_witness(_refnet(name), hyp.to_json(), g.group, w, samples)
        truth[g.group] = True
    assert result.verdict == _expected_verdict(name, hyp, truth)


def _expected_verdict(name: str, hyp: Hypothesis, nonzero: dict[str, bool]) -> str:
    """CONTRACT.md: broken iff an assumed group differs; preserved iff all groups assumed."""
    assumed = set(hyp.tie) | set(hyp.zero)
    if any(nonzero[g] for g in assumed):
        return "broken"
    if set(_spec(name).groups()) <= assumed:
        return "preserved"
    return "undecided"


@pytest.mark.parametrize("name", ["tanh-mse", "relu-softmax-nobias"])
def test_covering_hypotheses_are_preserved_and_others_are_not(name):
    """Sanity of the enumeration: the verdict depends on coverage as the contract says."""
    c = NETS[name]
    for hyp in _hypotheses(c[4], c[6], c[7]):
        covered = set(_spec(name).groups()) <= set(hyp.tie) | set(hyp.zero)
        assert (_settled(name, hyp).verdict == "preserved") == covered, hyp.name


def test_seed_question_incoming_tie_is_broken_by_outgoing_weights():
    """The founding question on a 2-2-1 tanh net: the incoming difference is (v1 − v2)·…"""
    spec = NetworkSpec((2, 2, 1), ACTIVATIONS["tanh"], ACTIVATIONS["identity"], True,
                       Loss("mse"), 1)
    hyp = Hypothesis("h", 1, (1, 2), ("incoming", "bias"), ())
    result = settle_hypothesis(spec, hyp, seed=0)
    status = {g.group: g.status for g in result.groups}
    assert status == {"incoming": "different", "bias": "different", "outgoing": "equal"}
    assert result.verdict == "broken"
    # With equal outgoing weights the same difference vanishes: (v1 - v2) is a factor.
    for g in ("incoming", "bias"):
        diff = true_difference_for(spec, hyp, g)
        v1, v2 = weight(2, 1, 1), weight(2, 1, 2)
        assert all(proved_zero(d.xreplace({v2: v1})) for d in diff)
        point = {s: 0.1 * k + 0.3 for k, s in enumerate(sorted(
            set().union(*(d.free_symbols for d in diff)), key=str))}
        assert any(abs(evaluate(d, point)) > 1e-6 for d in diff)


def true_difference_for(spec: NetworkSpec, hyp: Hypothesis, group: str) -> list[sp.Expr]:
    loss = Network(spec).loss
    i, j = hyp.units
    sub = {}
    for g in hyp.tie:
        sub.update(zip(_group_symbols(spec.layers, hyp.layer, j, g, spec.bias),
                       _group_symbols(spec.layers, hyp.layer, i, g, spec.bias)))
    return [(sp.diff(loss, a) - sp.diff(loss, b)).xreplace(sub)
            for a, b in zip(_group_symbols(spec.layers, hyp.layer, i, group, spec.bias),
                            _group_symbols(spec.layers, hyp.layer, j, group, spec.bias))]


@pytest.mark.parametrize("activation,expected", [
    # ReLU'(0) = 0: two dead units (z = 0) pass back no gradient, so nothing differs
    # (the outgoing weights stay free, hence undecided rather than preserved).
    ("relu", {"incoming": "equal", "bias": "equal", "outgoing": "equal"}),
    # tanh'(0) = 1: different outgoing weights make the incoming gradients differ.
    ("tanh", {"incoming": "different", "bias": "different", "outgoing": "equal"}),
])
def test_zeroed_units_and_the_relu_convention(activation, expected):
    spec = NetworkSpec((2, 2, 1), ACTIVATIONS[activation], ACTIVATIONS["identity"], True,
                       Loss("mse"), 1)
    hyp = Hypothesis("dead units", 1, (1, 2), (), ("incoming", "bias"))
    result = settle_hypothesis(spec, hyp, seed=0)
    assert {g.group: g.status for g in result.groups} == expected
    assert result.verdict == ("undecided" if activation == "relu" else "broken")


def test_settle_group_is_deterministic_for_a_seed():
    spec = _spec("tanh-mse")
    hyp = Hypothesis("h", 1, (1, 3), ("incoming",), ())
    a = settle_group(spec, hyp, "incoming", seed=5)
    b = settle_group(spec, hyp, "incoming", seed=5)
    assert a.status == b.status == "different"
    assert a.witness.to_json() == b.witness.to_json()


# ------------------------------------------------------------------ the displayed difference

_PARAM = re.compile(r"^(W|b)(\d+)_(\w+?)(?:_(\w+))?$")
_DATA = re.compile(r"^(x|y|yhat|haty|p)_(\w+)_(\w+)$")
_LOCAL = re.compile(r"^(a|z|d)(\d+)_(\w+)_(\w+)$")


class _Point:
    """Every quantity the displayed difference may name, at a witness (reference values)."""

    def __init__(self, net: ref.RefNet, witness: dict):
        self.net, self.p = net, ref.as_arrays(witness["parameters"])
        self.x, self.y = witness["inputs"], witness["targets"]
        self.fw = [ref.forward_sample(net, self.p, x) for x in self.x]
        self.deltas = [ref.deltas_sample(net, self.p, x, y) for x, y in zip(self.x, self.y)]

    def symbol(self, name: str, idx: dict[str, int]) -> float:
        def i(token: str) -> int:
            return idx[token] if token in idx else int(token)
        if m := _PARAM.match(name):
            head, layer, r, c = m.groups()
            if head == "W":
                return self.p[f"W{layer}"][i(r) - 1, i(c) - 1]
            return self.p[f"b{layer}"][i(r) - 1]
        if m := _DATA.match(name):
            head, n, u = m.groups()
            n, u = i(n) - 1, i(u) - 1
            out = self.fw[n][1][-1]
            return {"x": lambda: self.x[n][u], "y": lambda: self.y[n][u],
                    "yhat": lambda: out[u], "haty": lambda: out[u],
                    "p": lambda: float(np.exp(out[u]) / np.exp(out).sum())}[head]()
        if m := _LOCAL.match(name):
            head, layer, n, u = m.groups()
            layer, n, u = int(layer), i(n) - 1, i(u) - 1
            if head == "d":
                return self.deltas[n][layer][u]
            return self.fw[n][0 if head == "z" else 1][layer][u]
        raise AssertionError(f"the displayed difference names an unknown quantity {name}")


def displayed_value(expr: sp.Expr, point: _Point, idx: dict[str, int]) -> float:
    """The display form of a difference, evaluated numerically (Σ expanded by hand)."""
    if isinstance(expr, sp.Sum):
        (var, lo, hi), = expr.limits
        return math.fsum(displayed_value(expr.function, point, {**idx, var.name: v})
                         for v in range(int(lo), int(hi) + 1))
    if isinstance(expr, sp.Symbol):
        return float(point.symbol(expr.name, idx))
    if expr.is_Number:
        return float(expr)
    args = [displayed_value(a, point, idx) for a in expr.args]
    if isinstance(expr, sp.Add):
        return math.fsum(args)
    if isinstance(expr, sp.Mul):
        return math.prod(args)
    if isinstance(expr, sp.Pow):
        return args[0] ** args[1]
    name = type(expr).__name__
    if name in ("act", "dact"):
        return point.net.activation[name == "dact"](args[0])
    return float(expr.func(*[sp.Float(a, 30) for a in args]).evalf(30))


@pytest.mark.parametrize("name", list(NETS))
def test_displayed_difference_equals_the_witness_difference(name):
    """The residual shown as difference_latex is the difference: evaluated at the witness
    with the reference network's values of z, a, δ, ŷ, it gives every component."""
    c = NETS[name]
    count = 0
    for hyp in _hypotheses(c[4], c[6], c[7]):
        for g in _settled(name, hyp).groups:
            if g.status != "different":
                continue
            w = g.witness.to_json()
            point = _Point(_refnet(name), w)
            shown = [displayed_value(g.residual, point, {g.index: k + 1} if g.index else {})
                     for k in range(len(w["difference"]))]
            np.testing.assert_allclose(shown, w["difference"], rtol=1e-9, atol=1e-12,
                                       err_msg=f"{hyp.name}, {g.group}: {g.residual}")
            count += 1
    assert count > 5


def test_relu_written_as_max_behaves_like_relu():
    from symderive.spec import parse_spec

    def statuses(activation: str) -> dict[str, str]:
        text = (f"[network]\nlayers = [2, 2, 1]\nactivation = {activation}\n"
                "[[hypothesis]]\nlayer = 1\nunits = [1, 2]\nzero = ['incoming', 'bias']\n")
        spec = parse_spec(text)
        result = settle_hypothesis(spec.network, spec.hypotheses[0], seed=0)
        return {g.group: g.status for g in result.groups}

    assert statuses("'relu'") == {"incoming": "equal", "bias": "equal", "outgoing": "equal"}
    assert statuses("{ latex = '\\operatorname{ReLU}(z)' }") == statuses("'relu'")
    assert statuses("{ latex = '\\max(0, z)' }") == statuses("'relu'")
