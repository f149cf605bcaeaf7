"""Regression tests for the fuzz campaign's findings (issue 16) and the degenerate
inputs of issue 18: one spec per finding, with the expected verdict or status,
exit code and the corrected sentence.

Exit 1 must mean that the numbers contradict the proof; a check that could not
be made is an "inconclusive" note (exit 0).  Witnesses of LaTeX activations are
re-evaluated by the independent network of tests/reference_numpy.py, fed with
hand-written scalar versions of the activations (:data:`LATEX_ACTIVATIONS`).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import reference_numpy as ref
from conftest import run_subprocess
from symderive.engine.gradients import whole_loss_affordable
from symderive.numeric import gradcheck
from symderive.numeric.points import check_point
from symderive.spec import parse_spec

LATEX_ACTIVATIONS = ref.LATEX_ACTIVATIONS
ERF, ELU, LEAKY, ABS, RELU, SHIFTED, LEAKY_MAX, SOFTSIGN, SQUARE, ONE_PLUS_SQUARE, SIN = \
    LATEX_ACTIVATIONS


def spec_text(layers, activation, *, output="identity", loss="mse", samples=1, layer=1,
              tie=("incoming", "bias"), zero=(), check: str = "") -> str:
    act = activation if activation in ref.ACTIVATIONS or activation == "any" else None
    act_line = f'activation = "{act}"' if act else f"activation = {{ latex = '{activation}' }}"
    return "\n".join([
        "[network]", f"layers = {list(layers)}", act_line, f'output_activation = "{output}"',
        f'loss = "{loss}"', f"samples = {samples}", "", "[[hypothesis]]", f"layer = {layer}",
        "units = [1, 2]", f"tie = {json.dumps(list(tie))}", f"zero = {json.dumps(list(zero))}",
        "", check]) + "\n"


def derive_json(cli, tmp_path, text: str, fmt: str = "json"):
    """(exit status, report, stderr) of ``symderive derive`` on ``text``."""
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    out = tmp_path / f"report.{'json' if fmt == 'json' else 'md'}"
    full = ("--detail", "full") if fmt == "markdown" else ()   # the whole derivation
    status, _, err = cli("derive", str(spec), "--format", fmt, *full, "-o", str(out))
    assert "Traceback" not in err
    if status == 2:
        return status, None, err
    body = out.read_text()
    return status, json.loads(body) if fmt == "json" else body, err


def refnet_for(network: dict, activation: str) -> ref.RefNet:
    f, df, kinks = LATEX_ACTIVATIONS[activation]
    return ref.RefNet(tuple(network["layers"]), (f, df),
                      ref.ACTIVATIONS[network["output_activation"]],
                      ref.LOSSES[network["loss"]], bool(network["bias"]))


def assert_witnesses_reproduce(report: dict, activation: str) -> int:
    """Every `different` witness re-evaluated by the reference network; returns how many."""
    net = refnet_for(report["network"], activation)
    count = 0
    for hyp in report["hypotheses"]:
        for group, claim in hyp["groups"].items():
            if claim["status"] != "different":
                continue
            w = claim["witness"]
            mine = ref.group_difference(net, ref.as_arrays(w["parameters"]), w["inputs"],
                                        w["targets"], hyp["layer"], hyp["units"], group)
            np.testing.assert_allclose(mine, w["difference"], rtol=1e-6, atol=1e-9)
            assert np.max(np.abs(mine)) > 1e-9
            count += 1
    return count


# ------------------------------------------------------------------ 1. erf crashed


def test_gelu_via_erf_is_derived_and_its_witness_reproduces(cli, tmp_path):
    status, report, err = derive_json(cli, tmp_path, spec_text([2, 2, 1], ERF))
    assert status == 0, err
    hyp = report["hypotheses"][0]
    assert hyp["verdict"] == "broken"
    assert hyp["groups"]["incoming"]["status"] == "different"
    assert assert_witnesses_reproduce(report, ERF) == 2
    assert hyp["numeric"]["gradient_check"]["passed"]


# ------------------------------------------------------------------ 2. cases hung


def test_cases_activation_on_a_deep_net_uses_the_local_formulas(cli, tmp_path):
    text = spec_text([2, 2, 2, 2, 1], ELU)
    assert not whole_loss_affordable(parse_spec(text).network, 10**6)
    status, report, err = derive_json(cli, tmp_path, text)
    assert status == 0, err
    numeric = report["hypotheses"][0]["numeric"]
    assert numeric["gradient_check"]["method"] == "local"
    assert numeric["gradient_check"]["passed"]
    assert_witnesses_reproduce(report, ELU)


def test_small_smooth_networks_still_differentiate_the_whole_loss():
    assert whole_loss_affordable(parse_spec(spec_text([2, 2, 1], "tanh")).network, 40)
    assert whole_loss_affordable(parse_spec(spec_text([2, 2, 1], ELU)).network, 40)


# ------------------------------------------------------------------ 3. false contradictions


def test_dead_shifted_relu_trains_from_the_witness_instead_of_contradicting(cli, tmp_path):
    status, report, err = derive_json(cli, tmp_path, spec_text([1, 2, 2, 2, 1], SHIFTED))
    assert status == 0, err
    hyp = report["hypotheses"][0]
    assert hyp["verdict"] == "broken" and hyp["numeric"]["problems"] == []
    training = hyp["numeric"]["training"]
    assert training["start"] == "witness" and training["max_gap"] > 1e-6
    assert any("starts from the witness" in n for n in hyp["numeric"]["notes"])
    assert_witnesses_reproduce(report, SHIFTED)


def test_saturated_bce_finite_differences_are_not_called_a_mismatch(cli, tmp_path):
    text = spec_text([2, 2, 2, 2, 1], ONE_PLUS_SQUARE, output="sigmoid", loss="bce", samples=3)
    status, report, err = derive_json(cli, tmp_path, text)
    assert status == 0, err
    check = report["hypotheses"][0]["numeric"]["gradient_check"]
    assert check["passed"] and check["points"] == 3
    assert_witnesses_reproduce(report, ONE_PLUS_SQUARE)


def test_larger_steps_still_expose_a_wrong_gradient():
    """The retry at larger steps must not excuse a real mismatch: with the analytic value
    off by 1, the finite difference returned is the true derivative, not None."""
    spec = parse_spec(spec_text([2, 3, 1], "tanh"))
    hyp = spec.hypotheses[0]
    start = check_point(spec.network, hyp, np.random.default_rng(0))
    from symderive.engine import mlp

    acts = mlp.forward(spec.network, start.params, start.X)[1]
    _, grad, _ = mlp.loss_and_gradient(spec.network, start.params, start.X, start.Y)
    c = gradcheck.group_components(spec.network, hyp, "incoming", 0)[0]
    true = float(grad.W[c.layer][c.row, c.col])
    n = gradcheck.meaningful_difference(spec.network, start, c, acts, true + 1.0)
    assert n is not None and abs(n - true) < 1e-5
    assert not gradcheck.within_tolerance(true + 1.0, n)


@pytest.mark.parametrize("check,says", [
    ("[check]\nsteps = 0", "steps = 0"),
    ("[check]\nlearning_rate = 1e-310", "lost to floating-point rounding"),
    ("[check]\nlearning_rate = 5e-8\nsteps = 3", "not past 1e-06"),
])
def test_runs_that_cannot_check_are_inconclusive_not_contradictions(cli, tmp_path, check, says):
    status, report, err = derive_json(cli, tmp_path, spec_text([2, 2, 1], "tanh", check=check))
    assert status == 0, err
    numeric = report["hypotheses"][0]["numeric"]
    assert report["hypotheses"][0]["verdict"] == "broken"
    assert numeric["problems"] == [] and numeric["agreement"] is True
    assert any("inconclusive" in n and says in n for n in numeric["notes"]), numeric["notes"]


def test_training_that_diverges_at_every_rate_is_inconclusive(cli, tmp_path):
    status, report, err = derive_json(cli, tmp_path, spec_text([2, 2, 1], r"10^{200} z^{3}"))
    assert status == 0, err
    numeric = report["hypotheses"][0]["numeric"]
    assert numeric["problems"] == []
    assert any("inconclusive" in n and "diverged" in n for n in numeric["notes"])
    assert not any("halved until it did not" in n for n in numeric["notes"])


# ------------------------------------------------------------------ 4. constant loss


def test_softmax_ce_with_one_output_is_decided_structurally(cli, tmp_path):
    text = spec_text([3, 8, 8, 1], "tanh", loss="softmax_ce",
                     tie=("incoming", "bias", "outgoing"))
    status, report, err = derive_json(cli, tmp_path, text)
    assert status == 0, err
    hyp = report["hypotheses"][0]
    assert hyp["verdict"] == "preserved"
    assert {g["status"] for g in hyp["groups"].values()} == {"equal"}
    assert {g["method"] for g in hyp["groups"].values()} == {"constant loss"}
    # and the numbers agree: the gradients are exactly zero
    assert hyp["numeric"]["training"]["max_gap"] == 0.0


# ------------------------------------------------------------------ 5. σ clash


@pytest.mark.parametrize("activation,definition", [
    ("softplus", r"\sigma'(z) &= \operatorname{sigmoid}(z)"),
    (r"z \sigma(z)", r"\sigma(z) &= z \operatorname{sigmoid}(z)"),
])
def test_the_logistic_function_never_shares_the_hidden_activations_symbol(
        cli, tmp_path, activation, definition):
    status, md, err = derive_json(cli, tmp_path, spec_text([2, 2, 1], activation),
                                  fmt="markdown")
    assert status == 0, err
    assert definition in md
    assert r"\sigma'(z) &= \sigma(z)" not in md and r"&= z \sigma(z)" not in md


# ------------------------------------------------------------------ 6. false kink notes


@pytest.mark.parametrize("activation", [SOFTSIGN, ELU, SHIFTED])
def test_no_kink_note_where_the_activation_is_differentiable(cli, tmp_path, activation):
    text = spec_text([2, 2, 1], activation, tie=("outgoing",), zero=("incoming", "bias"))
    status, report, err = derive_json(cli, tmp_path, text)
    assert status == 0, err
    numeric = report["hypotheses"][0]["numeric"]
    assert numeric["gradient_check"]["skipped_at_kink"] == 0
    assert not any("kink" in n for n in numeric["notes"]), numeric["notes"]


def test_a_real_kink_still_gets_its_note(cli, tmp_path):
    text = spec_text([2, 2, 1], "relu", tie=("outgoing",), zero=("incoming", "bias"))
    status, report, err = derive_json(cli, tmp_path, text)
    assert status == 0, err
    assert any("sit on the kink z = 0" in n for n in report["hypotheses"][0]["numeric"]["notes"])


@pytest.mark.parametrize("activation", list(LATEX_ACTIVATIONS))
def test_kinks_are_where_the_derivative_jumps(activation):
    """The kinks symderive finds are the hand-written list's: one-sided difference
    quotients of f differ there, and agree everywhere else that was flagged."""
    spec = parse_spec(spec_text([2, 2, 1], activation))
    f, _, kinks = LATEX_ACTIVATIONS[activation]
    assert spec.network.activation.kinks == kinks
    h = 1e-7
    for p in kinks:
        left, right = (f(p) - f(p - h)) / h, (f(p + h) - f(p)) / h
        assert abs(left - right) > 1e-3


# ------------------------------------------------------------------ 7-9. proof wording


def test_pinned_relu_proof_rests_on_the_backprop_rule(cli, tmp_path):
    text = spec_text([2, 3, 1], "relu", tie=(), zero=("incoming", "bias", "outgoing"))
    status, md, err = derive_json(cli, tmp_path, text, fmt="markdown")
    assert status == 0, err
    assert "backpropagation rule" in md and "H(0) = 0" in md
    assert "Differentiating this identity" not in md
    assert "Hypothesis H1 implies" in md and "says exactly" not in md


def test_smooth_tied_proof_keeps_the_chain_rule_and_says_exactly(cli, tmp_path):
    text = spec_text([2, 3, 1], "tanh", tie=("incoming", "bias", "outgoing"))
    status, md, err = derive_json(cli, tmp_path, text, fmt="markdown")
    assert status == 0, err
    assert "Differentiating this identity" in md and "Hypothesis H1 says exactly that" in md


def test_generic_broken_theorem_states_its_condition(cli, tmp_path):
    text = spec_text([3, 4, 2], "any", tie=("incoming", "outgoing"), samples=2)
    status, md, err = derive_json(cli, tmp_path, text, fmt="markdown")
    assert status == 0, err
    assert "for some choices of the undefined functions" in md
    # the condition is needed: with σ = identity the incoming difference is proved 0
    status, report, err = derive_json(cli, tmp_path, text.replace('"any"', '"identity"'))
    assert report["hypotheses"][0]["groups"]["incoming"]["status"] == "equal"


# ------------------------------------------------------------------ issue 18


@pytest.mark.parametrize("output", ["z", r"\tanh(z)", r"2\sigma(z)"])
def test_bce_refuses_latex_outputs_outside_the_unit_interval(cli, tmp_path, output):
    text = spec_text([2, 2, 1], "tanh", output="sigmoid", loss="bce").replace(
        'output_activation = "sigmoid"', f"output_activation = {{ latex = '{output}' }}")
    status, _, err = derive_json(cli, tmp_path, text)
    assert status == 2
    assert "network.output_activation" in err and "needs outputs in (0, 1)" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("output", [r"\sigma(z)", r"\frac{1+\tanh(z)}{2}", r"\frac{1}{1+e^{-z}}"])
def test_bce_accepts_latex_outputs_inside_the_unit_interval(cli, tmp_path, output):
    text = spec_text([2, 2, 1], "tanh", output="sigmoid", loss="bce").replace(
        'output_activation = "sigmoid"', f"output_activation = {{ latex = '{output}' }}")
    assert derive_json(cli, tmp_path, text)[0] == 0


@pytest.mark.parametrize("activation", [r"(-1)^z", r"0^z", r"\ln z", r"\sqrt{z}", r"z^{0.5}"])
def test_activations_not_real_on_the_reals_are_refused(cli, tmp_path, activation):
    status, _, err = derive_json(cli, tmp_path, spec_text([2, 2, 1], activation))
    assert status == 2
    assert "network.activation.latex" in err and "real function of real z" in err


def test_no_library_warning_reaches_stderr(tmp_path):
    spec = tmp_path / "huge.toml"
    spec.write_text(spec_text([2, 2, 1], r"10^{200} z^{3}"))
    r = run_subprocess("derive", str(spec), "--format", "json")
    assert r.returncode == 0, r.stderr
    assert b"Warning" not in r.stderr and b"Traceback" not in r.stderr


def test_saturated_bce_found_by_the_property_test(cli, tmp_path):
    """Found by the LaTeX property test: 1 + z² into a sigmoid and bce on [3, 3, 2, 1]
    saturates (z ≈ 25) so that 1 − σ(z) rounds to a few quanta; the finite differences
    are taken from the logits, and the check passes with no comparison left out."""
    text = spec_text([3, 3, 2, 1], ONE_PLUS_SQUARE, output="sigmoid", loss="bce",
                     tie=("incoming", "bias", "outgoing"),
                     check="[check]\nseed = 61671\nsteps = 0\nlearning_rate = 0.01")
    status, report, err = derive_json(cli, tmp_path, text)
    assert status == 0, err
    check = report["hypotheses"][0]["numeric"]["gradient_check"]
    assert check["passed"] and check["imprecise"] == 0 and check["max_abs_error"] < 1e-6


@pytest.mark.parametrize("loss,output,width", [
    ("mse", "identity", 1), ("mse", "identity", 7), ("bce", "sigmoid", 1), ("bce", "sigmoid", 5),
    ("{ latex = '\\log(\\hat{y}) y' }", "identity", 3),   # log of ŷ < 0: NaN, the probe says nothing
    ("softmax_ce", "identity", 1), ("softmax_ce", "identity", 2), ("softmax_ce", "identity", 9),
    ("any", "identity", 3),
    ("{ latex = 'y^2' }", "identity", 4),                     # constant in ŷ: proved so
    ("{ latex = '(\\hat{y} - y)^2 - \\hat{y}^2 + 2 \\hat{y} y' }", "tanh", 3),   # = y², constant
    ("{ latex = '\\hat{y}^4 y' }", "tanh", 2),
])
def test_the_numeric_probe_of_a_constant_loss_never_changes_the_proof(loss, output, width):
    from symderive.engine.symmetry import constant_loss, proved_constant_loss
    from symderive.spec import parse_spec

    loss_value = loss if loss.startswith("{") else f'"{loss}"'
    spec = parse_spec(f'[network]\nlayers = [2, 3, {width}]\nloss = {loss_value}\n'
                      f'output_activation = "{output}"\n'
                      '[[hypothesis]]\nname = "h"\nlayer = 1\nunits = [1, 2]\n'
                      'tie = ["incoming"]\n').network
    assert constant_loss(spec) == proved_constant_loss(spec)
    expected = (loss.startswith("{ latex = 'y") or "- \\hat{y}^2" in loss
                or (loss == "softmax_ce" and width == 1))
    assert constant_loss(spec) == expected
