"""Hypotheses on the output layer (engine/output.py), checked against independent computations.

- the settled difference against SymPy differentiation of the whole loss, written here
  from scratch (no symderive network code), for networks without a hidden layer;
- the same difference against central finite differences of the independent NumPy
  reference (tests/reference_numpy.py) on networks with hidden layers;
- every witness re-evaluated by the reference;
- tied targets (concrete data with y_i = y_j in every sample) make the units stay
  identical, and a simulation with those targets agrees; generic targets separate them;
- the numeric cross-check raises no false contradiction;
- spec validation of output-layer hypotheses and networks without hidden layers.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp

import reference_numpy as ref
from symderive.api import derive
from symderive.engine.network import activation_value, output_value, softmax_value, target
from symderive.engine.output import OutputModel, settle, same_targets
from symderive.engine.symmetry import BROKEN, DIFFERENT, EQUAL, PRESERVED, UNDECIDED
from symderive.errors import SpecError
from symderive.render.json import report_dict
from symderive.render.latex import render as render_latex
from symderive.render.markdown import render as render_markdown
from symderive.spec import parse_spec

HEADS = {"mse": "identity", "bce": "sigmoid", "softmax_ce": "identity"}


def _toml(layers, loss, units=(1, 2), tie=("incoming", "bias"), zero=(), samples=1,
          output_activation=None, activation="tanh") -> str:
    out = output_activation or HEADS[loss]
    return (f'[network]\nlayers = {list(layers)}\nactivation = "{activation}"\n'
            f'output_activation = "{out}"\nloss = "{loss}"\nsamples = {samples}\n'
            f'[[hypothesis]]\nlayer = {len(layers) - 1}\nunits = {list(units)}\n'
            f'tie = {json.dumps(list(tie))}\nzero = {json.dumps(list(zero))}\n')


def _spec(*args, **kwargs):
    return parse_spec(_toml(*args, **kwargs))


def _rename(expr: sp.Expr, old: str, new: str) -> sp.Expr:
    """Substitute an index written in symbol names (x_n_k: sample n, component k)."""
    def renamed(s: sp.Symbol) -> sp.Symbol:
        parts = s.name.split("_")
        return sp.Symbol("_".join(new if p == old and i else p for i, p in enumerate(parts)),
                         real=True)
    return expr.xreplace({s: renamed(s) for s in expr.free_symbols})


def concrete(expr: sp.Expr, k: int) -> sp.Expr:
    """A displayed difference for component k: every Σ written out, generic k replaced."""
    def written_out(e: sp.Sum) -> sp.Expr:
        (var, lo, hi), = e.limits
        return sp.Add(*[_rename(e.function, str(var), str(v)) for v in range(lo, hi + 1)])
    return _rename(expr, "k", str(k)).replace(lambda e: isinstance(e, sp.Sum), written_out)


# ------------------------------------------------------------------ whole-loss SymPy


def _whole_loss(layers, loss, samples):
    """The loss of a network without hidden layer, built here from scratch."""
    n_in, n_out = layers
    W = sp.Matrix(n_out, n_in, lambda i, k: sp.Symbol(f"W1_{i + 1}_{k + 1}", real=True))
    b = [sp.Symbol(f"b1_{i + 1}", real=True) for i in range(n_out)]
    total = 0
    for n in range(1, samples + 1):
        x = [sp.Symbol(f"x_{n}_{k + 1}", real=True) for k in range(n_in)]
        y = [sp.Symbol(f"y_{n}_{m + 1}", real=True) for m in range(n_out)]
        z = [sum(W[i, k] * x[k] for k in range(n_in)) + b[i] for i in range(n_out)]
        if loss == "mse":
            total += sum((z[m] - y[m]) ** 2 for m in range(n_out)) / 2
        elif loss == "bce":
            s = [1 / (1 + sp.exp(-u)) for u in z]
            total += -sum(y[m] * sp.log(s[m]) + (1 - y[m]) * sp.log(1 - s[m])
                          for m in range(n_out))
        else:
            lse = sp.log(sum(sp.exp(u) for u in z))
            total += -sum(y[m] * (z[m] - lse) for m in range(n_out))
    return W, b, total


@pytest.mark.parametrize("loss", ["mse", "bce", "softmax_ce"])
@pytest.mark.parametrize("layers,samples", [((2, 2), 1), ((3, 3), 2), ((2, 4), 1)])
def test_difference_is_the_whole_loss_derivative(loss, layers, samples):
    """With incoming and bias tied, D = Σ_n (y_{n,j} − y_{n,i}) x_{n,k}, from the whole loss."""
    spec = _spec(layers, loss, samples=samples)
    result = settle(spec.network, spec.hypotheses[0], 0)
    W, b, total = _whole_loss(layers, loss, samples)
    tie = {W[1, k]: W[0, k] for k in range(layers[0])}
    tie[b[1]] = b[0]
    got = {g.group: g for g in result.groups}
    assert set(got) == {"incoming", "bias"}
    for k in range(layers[0]):
        whole = (sp.diff(total, W[0, k]) - sp.diff(total, W[1, k])).xreplace(tie)
        expected = sum((target(n, 2) - target(n, 1)) * sp.Symbol(f"x_{n}_{k + 1}", real=True)
                       for n in range(1, samples + 1))
        assert sp.simplify(whole - expected) == 0
        shown = concrete(got["incoming"].residual, k + 1)
        assert sp.expand(shown - expected) == 0
    whole_bias = (sp.diff(total, b[0]) - sp.diff(total, b[1])).xreplace(tie)
    assert sp.simplify(whole_bias - sum(target(n, 2) - target(n, 1)
                                        for n in range(1, samples + 1))) == 0
    assert result.verdict == BROKEN and not result.swap_invariant


# ------------------------------------------------------------------ finite differences


def _local_values(spec, params, X, Y, n_rows):
    """Values of the residual's opaque symbols at a point, from the reference network."""
    net = ref.refnet(spec.network.to_json())
    L = spec.network.depth
    values = {}
    for n in range(n_rows):
        _, a = ref.forward_sample(net, ref.as_arrays(params), X[n])
        for k, v in enumerate(a[L - 1], start=1):
            values[activation_value(L - 1, n + 1, k)] = float(v)
        yhat = np.asarray(a[L], dtype=float)
        p = np.exp(yhat - yhat.max())
        p /= p.sum()
        for m in range(len(yhat)):
            values[output_value(n + 1, m + 1)] = float(yhat[m])
            values[softmax_value(n + 1, m + 1)] = float(p[m])
            values[target(n + 1, m + 1)] = float(Y[n][m])
    return values


@pytest.mark.parametrize("loss,out", [("mse", "identity"), ("mse", "tanh"), ("bce", "sigmoid"),
                                      ("softmax_ce", "identity"), ("mse", "sigmoid")])
@pytest.mark.parametrize("layers", [(3, 2, 3), (2, 3, 4, 2), (2, 4, 5)])
@pytest.mark.parametrize("tie,zero", [(("incoming", "bias"), ()), (("bias",), ("incoming",)),
                                      (("incoming",), ())])
def test_residual_matches_finite_differences(loss, out, layers, tie, zero):
    """The displayed difference, evaluated at random points satisfying the hypothesis,
    equals central finite differences of the independent reference loss."""
    samples = 2
    spec = _spec(layers, loss, units=(2, 1), tie=tie, zero=zero, samples=samples,
                 output_activation=out)
    result = settle(spec.network, spec.hypotheses[0], 0)
    net = ref.refnet(spec.network.to_json())
    rng = np.random.default_rng(len(layers) * 7 + len(tie))
    L, (i, j) = spec.network.depth, (2, 1)
    for _ in range(2):
        params = {}
        for l in range(1, L + 1):
            params[f"W{l}"] = rng.normal(size=(layers[l], layers[l - 1]))
            params[f"b{l}"] = rng.normal(size=layers[l])
        for g in tie:
            ref.group(params, L, j, g)[...] = ref.group(params, L, i, g)
        for g in zero:
            ref.group(params, L, i, g)[...] = 0
            ref.group(params, L, j, g)[...] = 0
        X = rng.normal(size=(samples, layers[0]))
        Y = (np.eye(layers[-1])[rng.integers(0, layers[-1], samples)] if loss == "softmax_ce"
             else rng.integers(0, 2, size=(samples, layers[-1])).astype(float))
        fd = ref.finite_difference(net, params, X, Y)
        values = _local_values(spec, params, X, Y, samples)
        for g in result.groups:
            assert g.status == DIFFERENT
            for c in range(layers[L - 1] if g.group == "incoming" else 1):
                key = (f"W{L}", (i - 1, c), (j - 1, c)) if g.group == "incoming" \
                    else (f"b{L}", (i - 1,), (j - 1,))
                expected = fd[key[0]][key[1]] - fd[key[0]][key[2]]
                at = concrete(g.residual, c + 1)
                assert float(at.xreplace(values)) == pytest.approx(expected, abs=1e-6, rel=1e-5)


# ------------------------------------------------------------------ witnesses, verdicts


@pytest.mark.parametrize("loss", ["mse", "bce", "softmax_ce"])
@pytest.mark.parametrize("layers", [(4, 3), (2, 2), (3, 2, 5), (2, 3, 2, 3)])
def test_witnesses_reproduce_in_the_reference(loss, layers):
    spec = _spec(layers, loss, units=(1, layers[-1]), samples=2)
    report = report_dict(derive(spec))
    h = report["hypotheses"][0]
    assert set(h["groups"]) == {"incoming", "bias"}          # no outgoing key
    assert h["verdict"] == BROKEN and h["numeric"]["agreement"], h["numeric"]["problems"]
    net = ref.refnet(report["network"])
    for name, group in h["groups"].items():
        assert group["status"] == DIFFERENT
        got = ref.check_witness(net, h, name, group["witness"], 2)
        targets = np.asarray(group["witness"]["targets"])
        assert np.any(targets[:, 0] != targets[:, layers[-1] - 1]), \
            "a witness must have differing targets: with equal ones the difference is 0"
        assert np.max(np.abs(got)) > 1e-9


@pytest.mark.parametrize("loss", ["mse", "bce", "softmax_ce"])
@pytest.mark.parametrize("layers", [(4, 3), (2, 3, 3)])
def test_tied_targets_keep_the_units_identical(loss, layers):
    """On data with y_{n,1} = y_{n,2} for every n the verdict is preserved, and a simulation
    with the independent reference keeps the two rows exactly tied; other data breaks it."""
    spec = _spec(layers, loss, samples=3)
    tied = [[0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    if loss == "softmax_ce":
        tied = [[0.0, 0.0, 1.0]] * 3            # one-hot: neither class 1 nor 2 occurs
    result = settle(spec.network, spec.hypotheses[0], 0, targets=tied)
    assert result.verdict == PRESERVED and result.swap_invariant
    assert all(g.status == EQUAL for g in result.groups)
    untied = [[1.0, 0.0, 0.0]] + tied[1:]
    assert settle(spec.network, spec.hypotheses[0], 0, targets=untied).verdict == BROKEN
    net = ref.refnet(spec.network.to_json())
    rng = np.random.default_rng(3)
    L = spec.network.depth
    params = {f"W{l}": rng.normal(size=(layers[l], layers[l - 1])) for l in range(1, L + 1)}
    params.update({f"b{l}": rng.normal(size=layers[l]) for l in range(1, L + 1)})
    params[f"W{L}"][1] = params[f"W{L}"][0]
    params[f"b{L}"][1] = params[f"b{L}"][0]
    X = rng.normal(size=(3, layers[0]))
    for targets, stays in ((tied, True), (untied, False)):
        p = {k: v.copy() for k, v in params.items()}
        for _ in range(20):
            g = ref.gradient(net, p, X, targets)
            p = {k: p[k] - 0.1 * g[k] for k in p}
        gap = np.max(np.abs(p[f"W{L}"][0] - p[f"W{L}"][1]))
        assert (gap < 1e-12) if stays else (gap > 1e-6)


def test_same_targets():
    assert same_targets([[1, 1, 0], [0, 0, 1]], (1, 2))
    assert not same_targets([[1, 1, 0], [0, 1, 1]], (1, 2))
    assert not same_targets(None, (1, 2)) and not same_targets([], (1, 2))


def test_output_model_difference_per_loss():
    """δ_i − δ_j after tying incoming and bias, per loss, in closed form."""
    for loss, out, expected in [("mse", "identity", target(1, 2) - target(1, 1)),
                                ("softmax_ce", "identity", target(1, 2) - target(1, 1)),
                                ("bce", "sigmoid", target(1, 2) - target(1, 1))]:
        spec = _spec((2, 3), loss, output_activation=out)
        model = OutputModel(spec.network, spec.hypotheses[0])
        assert sp.simplify(model.error_difference(1) - expected) == 0
    spec = _spec((2, 3), "mse", output_activation="tanh")
    diff = OutputModel(spec.network, spec.hypotheses[0]).error_difference(1)
    assert sp.simplify(diff - (1 - output_value(1, 1) ** 2) * (target(1, 2) - target(1, 1))) == 0


def test_no_assumption_is_undecided_and_free_bias_is_broken():
    spec = _spec((3, 3), "mse", tie=(), zero=())
    result = settle(spec.network, spec.hypotheses[0], 0)
    assert result.verdict == UNDECIDED and not result.covered
    spec = _spec((3, 3), "mse", tie=("incoming",))
    assert settle(spec.network, spec.hypotheses[0], 0).verdict == BROKEN


def test_relu_output_pinned_at_zero_is_frozen():
    """z = 0 on ReLU's kink: nothing to compare by finite differences, no problem reported;
    the units never move, so they stay identical although their targets differ."""
    spec = _spec((3, 4, 6), "mse", units=(2, 3), tie=(), zero=("incoming", "bias"),
                 output_activation="relu", samples=2)
    d = derive(spec)
    assert d.agreement, d.numeric[0].problems
    # both units frozen at 0 (H(0) = 0): preserved without the swap, whatever the targets
    assert d.results[0].verdict == PRESERVED and not d.results[0].swap_invariant
    run = d.numeric[0].training
    assert run.exact_zero
    h = report_dict(d)["hypotheses"][0]
    assert h["output_layer"]["identical_forever_when"].startswith("always")
    assert "The exchange of the two units is not needed" in render_markdown(d, detail="full")
    assert "exchanging them" not in render_markdown(d)          # the brief answer: no swap
    # tanh output pinned at 0 is not frozen (tanh'(0) = 1): the targets separate the units
    spec = _spec((3, 4, 6), "mse", units=(2, 3), tie=(), zero=("incoming", "bias"),
                 output_activation="tanh", samples=2)
    assert settle(spec.network, spec.hypotheses[0], 0).verdict == BROKEN


# ------------------------------------------------------------------ spec


def test_network_without_hidden_layer_is_accepted_for_output_hypotheses():
    spec = _spec((4, 3), "softmax_ce")
    assert spec.network.depth == 1 and spec.hypotheses[0].layer == 1
    assert spec.network.unit_groups(1) == ("incoming", "bias")


@pytest.mark.parametrize("text,field,says", [
    (_toml((4, 3), "mse", tie=("incoming", "outgoing")), "hypothesis[1].tie", "no outgoing"),
    (_toml((4, 3), "mse", tie=(), zero=("outgoing",)), "hypothesis[1].zero", "no outgoing"),
    (_toml((4, 3), "mse").replace("layer = 1", "layer = 2"), "hypothesis[1].layer",
     "the output layer, 1"),
    ('[network]\nlayers = [4, 3]\n[[fact]]\nkind = "dropout"\n', "fact[1].kind",
     "needs a hidden layer"),
])
def test_bad_output_specs(text, field, says):
    with pytest.raises(SpecError) as err:
        parse_spec(text)
    assert field in str(err.value) and says in str(err.value)


def test_facts_that_make_sense_without_hidden_layer_run():
    spec = parse_spec('[network]\nlayers = [3, 3]\nloss = "softmax_ce"\n'
                      '[[fact]]\nkind = "loss_gradient"\n[[fact]]\nkind = "backprop_exact"\n')
    d = derive(spec)
    assert d.agreement
    assert all(f.verdict not in ("refuted",) for f in d.facts)


def test_many_classes_still_get_a_witness_and_separate_in_training():
    """One-hot targets over 200 classes rarely name class 3 or 7; the witness and the
    training start must still use targets that tell them apart (else: undecided, or a
    false contradiction 'broken but never separated')."""
    spec = _spec((3, 200), "softmax_ce", units=(3, 7), samples=2)
    d = derive(spec)
    h = report_dict(d)["hypotheses"][0]
    assert h["verdict"] == BROKEN and d.agreement, d.numeric[0].problems
    for name, group in h["groups"].items():
        ref.check_witness(ref.refnet(report_dict(d)["network"]), h, name, group["witness"], 2)


def test_reports_say_why_the_targets_separate_the_units():
    spec = _spec((4, 3), "softmax_ce", samples=2)
    d = derive(spec)
    h = report_dict(d)["hypotheses"][0]
    assert h["output_layer"]["same_prediction"] is True
    assert h["output_layer"]["targets_tied_by_data"] is False
    assert h["output_layer"]["identical_forever_when"] == "y_(n,1) = y_(n,2) for every sample n"
    markdown, latex = render_markdown(d, detail="full"), render_latex(d)
    assert "compared with its own target" in render_markdown(d)   # the brief answer too
    for text in (markdown, latex):
        assert "Why the targets separate them" in text
        assert "neither class ever occurs" in text
    assert r"y^{[n]}_{2} - y^{[n]}_{1}" in markdown


def test_hidden_hypotheses_have_no_output_layer_entry():
    spec = parse_spec('[network]\nlayers = [2, 3, 2]\n[[hypothesis]]\nlayer = 1\n'
                      'units = [1, 2]\ntie = ["incoming", "bias", "outgoing"]\n')
    h = report_dict(derive(spec, numeric=False))["hypotheses"][0]
    assert "output_layer" not in h and set(h["groups"]) == {"incoming", "bias", "outgoing"}
