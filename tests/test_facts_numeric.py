"""The numeric check of each [[fact]] (symderive.facts): it confirms the catalogue,
is deterministic, is skipped with numeric=False, and fails when a formula or verdict is wrong."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from conftest import DERIVATIONS
from symderive.engine import mlp
from symderive.api import derive
import symderive.facts as fn
from symderive.facts import checks, losses
from symderive.render.json import render, report_dict
from symderive.report.facts import numeric_blocks
from symderive.spec import load_spec

FACT_SPECS = ["backprop_is_exact", "softmax_cross_entropy_gradient", "sigmoid_bce_gradient",
              "zero_init_tanh", "zero_init_relu", "zero_init_sigmoid", "zero_outgoing_weight",
              "dropout_masks", "adam_momentum_weight_decay"]


def spec_of(name: str):
    path = DERIVATIONS / f"{name}.toml"
    return load_spec(str(path), path.read_text())


def facts_only(name: str):
    """The spec without its hypotheses, derived without the (slow) hypothesis cross-check."""
    spec = dataclasses.replace(spec_of(name), hypotheses=())
    return spec, derive(spec)


def recheck(spec, result, index=0, **changes):
    """The numeric check of ``result`` with some of its fields changed (a wrong verdict...)."""
    return fn.check_fact(spec, dataclasses.replace(result, **changes), index)


@pytest.mark.parametrize("name", FACT_SPECS)
def test_catalogue_facts_are_confirmed_by_numbers(name):
    spec, d = facts_only(name)
    assert d.facts and d.agreement
    data = report_dict(d)
    for f, j in zip(d.facts, data["facts"]):
        assert f.numeric is not None and f.numeric.agreement, f.numeric
        assert j["numeric"]["agreement"] is True and j["numeric"]["problems"] == []
        assert j["numeric"]["figures"] and j["numeric"]["method"]
        blocks = numeric_blocks(f.numeric)
        assert blocks and not any(type(b).__name__ == "Alert" for b in blocks)


def test_numeric_false_skips_the_fact_checks():
    spec = dataclasses.replace(spec_of("dropout_masks"), hypotheses=())
    d = derive(spec, numeric=False)
    assert all(f.numeric is None for f in d.facts)
    assert all("numeric" not in j for j in report_dict(d)["facts"])
    assert d.agreement


def test_fact_checks_are_deterministic():
    spec = dataclasses.replace(spec_of("adam_momentum_weight_decay"), hypotheses=())
    assert render(derive(spec)) == render(derive(spec))
    spec = dataclasses.replace(spec_of("backprop_is_exact"), hypotheses=())
    assert render(derive(spec)) == render(derive(spec))


# ------------------------------------------------------------------ each check can fail


def test_backprop_check_fails_on_a_wrong_backpropagation(monkeypatch):
    spec, d = facts_only("backprop_is_exact")
    real = mlp.loss_and_gradient

    def wrong(net, p, X, Y):
        value, grad, deltas = real(net, p, X, Y)
        grad.W[0] = grad.W[0] * 1.01    # only the gradient; the loss itself is right
        return value, grad, deltas

    monkeypatch.setattr(mlp, "loss_and_gradient", wrong)
    check = fn.check_fact(spec, d.facts[0], 0)
    assert not check.agreement and dict(check.figures)["passed"] is False
    assert "backpropagation" in check.problems[0]


@pytest.mark.parametrize("name, pair, wrong", [
    ("softmax_cross_entropy_gradient", "softmax_ce", lambda z, y: losses._np_softmax(z) - 0.9 * y),
    ("sigmoid_bce_gradient", "bce_sigmoid", lambda z, y: losses._np_sigmoid(z) * (1 - y)),
])
def test_loss_gradient_check_fails_on_a_wrong_formula(monkeypatch, name, pair, wrong):
    spec, d = facts_only(name)
    monkeypatch.setitem(losses.FORMULAS, pair, wrong)
    check = fn.check_fact(spec, d.facts[0], 0)
    assert not check.agreement and dict(check.figures)["max_abs_error"] > 1e-3


def test_mse_loss_gradient_is_checked_too():
    spec = load_spec("t.toml", '[network]\nlayers = [2, 3, 2]\nloss = "mse"\n\n'
                     '[[fact]]\nkind = "loss_gradient"\n')
    d = derive(spec)
    assert d.facts[0].numeric.agreement
    assert "ŷ − y" in d.facts[0].numeric.method


def test_zero_init_check_fails_on_a_wrong_verdict():
    spec, d = facts_only("zero_init_sigmoid")           # trains, units identical
    assert "W3" in dict(d.facts[0].numeric.figures)["moved"]
    check = recheck(spec, d.facts[0], verdict="stuck")
    assert not check.agreement and "moved" in check.problems[0]
    spec, d = facts_only("zero_init_tanh")               # stuck
    assert dict(d.facts[0].numeric.figures)["moved"] == []
    check = recheck(spec, d.facts[0], verdict="trains, units identical")
    assert not check.agreement


def test_zero_init_check_sees_hidden_units_that_separate(monkeypatch):
    spec, d = facts_only("zero_init_sigmoid")
    real = mlp.loss_and_gradient

    def asymmetric(net, p, X, Y):
        value, grad, deltas = real(net, p, X, Y)
        grad.W[0][0, 0] += 1e-3                          # unit 1 of layer 1 alone
        return value, grad, deltas

    monkeypatch.setattr(mlp, "loss_and_gradient", asymmetric)
    check = fn.check_fact(spec, d.facts[0], 0)
    assert dict(check.figures)["max_hidden_unit_spread"] > 1e-6
    assert any("different" in p for p in check.problems)


def test_unit_gradient_check_fails_on_a_wrong_status():
    spec, d = facts_only("zero_outgoing_weight")
    first = d.facts[0]                                    # outgoing zero: it comes back
    assert dict(first.numeric.figures)["max_abs_gradient"]["outgoing"] > 1e-3
    flipped = dict(first.details, gradients={**first.details["gradients"], "outgoing": "zero"})
    assert not recheck(spec, first, details=flipped).agreement
    flipped = dict(first.details, gradients={**first.details["gradients"], "bias": "nonzero"})
    assert not recheck(spec, first, details=flipped).agreement


def test_dropout_check_fails_when_the_masks_do_not_match_the_fact():
    spec, d = facts_only("dropout_masks")
    different, equal = d.facts
    assert all(v > 1e-3 for v in dict(different.numeric.figures)["max_abs_difference"].values())
    assert all(v < 1e-6 for v in dict(equal.numeric.figures)["max_abs_difference"].values())
    # the "equal" fact's statuses, but checked with one unit dropped: contradicted
    check = recheck(spec, equal, 1, fact=dataclasses.replace(equal.fact, masks="different"))
    assert not check.agreement and len(check.problems) == 3


def test_optimizer_check_shows_the_gap():
    spec, d = facts_only("adam_momentum_weight_decay")
    for f in d.facts:
        gap = dict(f.numeric.figures)["max_gap"]
        assert (gap == 0.0) if f.verdict == "preserved" else (gap > 1e-3)
    per_unit = d.facts[3]
    check = recheck(spec, per_unit, 3, verdict="preserved")
    assert not check.agreement and "separated" in check.problems[0]
    shared = d.facts[0]
    check = recheck(spec, shared, 0, verdict="broken")
    assert not check.agreement and "stayed tied" in check.problems[0]


def test_a_contradicted_fact_makes_agreement_false_and_the_cli_exit_1(monkeypatch, cli):
    monkeypatch.setitem(losses.FORMULAS, "softmax_ce", lambda z, y: losses._np_softmax(z))
    spec, d = facts_only("softmax_cross_entropy_gradient")
    assert not d.agreement
    assert report_dict(d)["facts"][0]["numeric"]["agreement"] is False
    assert any(type(b).__name__ == "Alert" for b in numeric_blocks(d.facts[0].numeric))
    status, _, err = cli("derive", str(DERIVATIONS / "softmax_cross_entropy_gradient.toml"),
                         "-q", "--format", "json")
    assert status == 1 and "softmax cross-entropy" in err


def test_below_rounds_to_a_power_of_ten():
    assert checks.below(0.0) == "0"
    assert checks.below(3e-10) == "below 1e-9"
    assert checks.below(1e-9) == "below 1e-9"
    assert np.isfinite(checks.ATOL)
