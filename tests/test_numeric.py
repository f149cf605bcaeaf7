"""The numeric cross-check: independent computations that must agree with each other.

Three ways to get dL/dθ meet here: SymPy (evaluated by SymPy's own
arithmetic, or lambdified from generated names), the hand-written NumPy
network of symderive.mlp, and central finite differences of its loss.  Then
the training simulation, the agreement rules, the JSON and the CLI's exit
status.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import sympy as sp

from conftest import BUNDLED, data_values, evaluate, parameter_values, spec_toml
from symderive.engine import mlp
from symderive.api import derive
from symderive.spec.functions import ACTIVATIONS, Loss, YHAT, Y, Z, activation_from_expr
from symderive.engine.gradients import direct_gradient
from symderive.engine.network import Network
from symderive.numeric import cross_check, gradcheck, points, symbolic, training
from symderive.numeric.gradcheck import ATOL, RTOL
from symderive.render.json import render
from symderive.spec import Hypothesis, NetworkSpec, load_spec, parse_spec
from symderive.engine.symmetry import BROKEN, PRESERVED

SOFTSIGN = activation_from_expr(Z / (1 + sp.Abs(Z)), r"\frac{z}{1+|z|}")
HALF_SQUARE = Loss("latex", (YHAT - Y) ** 2 / 2, r"\frac{1}{2}(\hat{y}-y)^2")

#: (layers, hidden activation, output activation, loss, bias, samples)
NETS = [
    ((2, 3, 2), ACTIVATIONS["tanh"], ACTIVATIONS["identity"], Loss("mse"), True, 2),
    ((3, 3, 2), ACTIVATIONS["sigmoid"], ACTIVATIONS["sigmoid"], Loss("bce"), True, 2),
    ((2, 3, 3), ACTIVATIONS["relu"], ACTIVATIONS["identity"], Loss("softmax_ce"), True, 2),
    ((2, 3, 2, 2), ACTIVATIONS["softplus"], ACTIVATIONS["tanh"], Loss("mse"), False, 1),
    ((2, 3, 2), SOFTSIGN, ACTIVATIONS["identity"], HALF_SQUARE, True, 2),
    ((1, 2, 3, 2), ACTIVATIONS["identity"], ACTIVATIONS["relu"], Loss("mse"), True, 3),
]
NET_IDS = ["-".join(map(str, n[0])) + f"-{n[1].name}-{n[2].name}-{n[3].name}" for n in NETS]


def network(layers, act, out, loss, bias_, samples) -> NetworkSpec:
    return NetworkSpec(tuple(layers), act, out, bias_, loss, samples)


def some_hypothesis(spec: NetworkSpec, tie=("outgoing",), zero=()) -> Hypothesis:
    return Hypothesis("h", spec.depth - 1, (1, 2), tie, zero)


def sympy_gradient(spec: NetworkSpec, start: points.Start) -> list[float]:
    """dL/dθ for every parameter, differentiated and evaluated by SymPy (no lambdify)."""
    net = Network(spec)
    values = parameter_values(start.params.to_json(spec.bias), spec.bias)
    values.update(data_values(start.X.tolist(), start.Y.tolist()))
    return [evaluate(g, values) for g in direct_gradient(net, net.parameters())]


def flat(spec: NetworkSpec, p: mlp.Params) -> list[float]:
    """Parameters in Network.parameters() order: W1 row-major, b1, W2, ..."""
    return [v for w, b in zip(p.W, p.b)
            for v in list(w.ravel()) + (list(b) if spec.bias else [])]


# ------------------------------------------------------------------ three gradients


@pytest.mark.parametrize("net", NETS, ids=NET_IDS)
def test_numpy_network_matches_sympy_gradients(net):
    spec = network(*net)
    start = points.check_point(spec, some_hypothesis(spec), np.random.default_rng(1))
    _, grad, _ = mlp.loss_and_gradient(spec, start.params, start.X, start.Y)
    exact = sympy_gradient(spec, start)
    assert np.allclose(flat(spec, grad), exact, rtol=1e-9, atol=1e-12)
    assert np.max(np.abs(exact)) > 1e-3          # a vanishing gradient would prove nothing


@pytest.mark.parametrize("net", NETS, ids=NET_IDS)
def test_lambdified_evaluators_match_sympy(net):
    spec = network(*net)
    hyp = some_hypothesis(spec)
    start = points.check_point(spec, hyp, np.random.default_rng(2))
    exact = dict(zip(map(str, Network(spec).parameters()), sympy_gradient(spec, start)))
    for evaluator in (symbolic.WholeLoss(spec, hyp), symbolic.Local(spec, hyp)):
        values = evaluator(start)
        for group in spec.groups():
            for which in (0, 1):
                comps = gradcheck.group_components(spec, hyp, group, which)
                want = [exact[c.name] for c in comps]
                assert np.allclose(values[group][which], want, rtol=1e-9, atol=1e-12), \
                    (evaluator.method, group, which)


@pytest.mark.parametrize("net", NETS, ids=NET_IDS)
def test_finite_differences_match_numpy_backprop(net):
    spec = network(*net)
    hyp = some_hypothesis(spec)
    start = points.check_point(spec, hyp, np.random.default_rng(3))
    _, grad, _ = mlp.loss_and_gradient(spec, start.params, start.X, start.Y)
    for group in spec.groups():
        for which in (0, 1):
            for c in gradcheck.group_components(spec, hyp, group, which):
                array, at = c.slot(grad)
                n = gradcheck.finite_difference(spec, start, c)
                assert abs(array[at] - n) <= ATOL + RTOL * abs(n), c.name


def test_finite_difference_restores_the_parameter():
    spec = network(*NETS[0])
    start = points.check_point(spec, some_hypothesis(spec), np.random.default_rng(4))
    before = flat(spec, start.params)
    c = gradcheck.group_components(spec, some_hypothesis(spec), "incoming", 1)[0]
    gradcheck.finite_difference(spec, start, c)
    assert flat(spec, start.params) == before


def test_local_and_whole_loss_agree_on_a_deeper_net():
    spec = network((2, 3, 3, 2), ACTIVATIONS["tanh"], ACTIVATIONS["identity"],
                   Loss("softmax_ce"), True, 2)
    hyp = Hypothesis("h", 1, (1, 3), ("incoming",), ())
    start = points.check_point(spec, hyp, np.random.default_rng(5))
    whole, local = symbolic.WholeLoss(spec, hyp)(start), symbolic.Local(spec, hyp)(start)
    for group in spec.groups():
        for a, b in zip(whole[group], local[group]):
            assert np.allclose(a, b, rtol=1e-10, atol=1e-13)


# ------------------------------------------------------------------ safety


def test_only_generated_symbols_are_lambdified():
    x = sp.Symbol("x_1_1", real=True)
    with pytest.raises(RuntimeError, match="non-generated"):
        symbolic.numpy_function([sp.Symbol("__import__")], [sp.S.One])
    with pytest.raises(RuntimeError, match="unexpected symbols"):
        symbolic.numpy_function([x], [x + sp.Symbol("os")])
    assert symbolic.numpy_function([x], [2 * x])(3.0) == [6.0]


# ------------------------------------------------------------------ points


@pytest.mark.parametrize("tie,zero", [(("incoming", "bias", "outgoing"), ()),
                                      (("incoming",), ("outgoing",)),
                                      ((), ("incoming", "bias"))])
def test_check_points_satisfy_the_hypothesis_and_avoid_kinks(tie, zero):
    spec = network((8, 64, 3), ACTIVATIONS["relu"], ACTIVATIONS["identity"], Loss("mse"),
                   True, 16)
    hyp = Hypothesis("h", 1, (2, 7), tie, zero)
    start = points.check_point(spec, hyp, np.random.default_rng(6))
    assert start is not None
    for g in tie:
        assert np.array_equal(mlp.group_values(start.params, 1, 2, g),
                              mlp.group_values(start.params, 1, 7, g))
    for g in zero:
        for u in (2, 7):
            assert not np.any(mlp.group_values(start.params, 1, u, g))
    z = np.abs(mlp.forward(spec, start.params, start.X)[0][1])
    free = np.delete(z, [1, 6], axis=1) if "incoming" in zero else z
    assert free.min() >= points.KINK


# ------------------------------------------------------------------ the gradient check


def test_gradient_check_passes_and_says_how_it_evaluated():
    spec = parse_spec(spec_toml((2, 3, 1), hypotheses=[dict(layer=1, units=[1, 2],
                                                            tie=["incoming"])]))
    check = gradcheck.gradient_check(spec.network, spec.hypotheses[0], (0, 0, 0))
    assert check.passed and check.method == "whole loss"
    assert check.points == gradcheck.POINTS
    assert check.components == gradcheck.POINTS * 2 * (2 + 1 + 1)
    assert check.max_abs_error < 1e-6


def test_gradient_check_on_a_wide_net_uses_the_local_formula_and_samples_components():
    spec = network((16, 64, 64, 16), ACTIVATIONS["tanh"], ACTIVATIONS["identity"],
                   Loss("mse"), True, 4)
    check = gradcheck.gradient_check(spec, Hypothesis("h", 2, (3, 40), ("incoming",), ()),
                                     (1, 0, 0))
    assert check.passed and check.method == "local"
    per_point = 2 * (gradcheck.MAX_COMPONENTS + 1 + 16)
    assert check.components == gradcheck.POINTS * per_point


def test_gradient_check_fails_when_the_symbolic_side_is_wrong(monkeypatch):
    spec = parse_spec(spec_toml((2, 3, 1), hypotheses=[dict(layer=1, units=[1, 2],
                                                            tie=["outgoing"])]))
    real = gradcheck.evaluator

    def skewed(net, hyp):
        inner = real(net, hyp)

        class Skewed:
            method = inner.method

            def __call__(self, start):
                values = inner(start)
                i, j = values["bias"]
                return {**values, "bias": (i + 1e-3, j)}   # dL/db1_1 off by 1e-3
        return Skewed()
    monkeypatch.setattr(gradcheck, "evaluator", skewed)
    check = gradcheck.gradient_check(spec.network, spec.hypotheses[0], (0, 0, 0))
    assert not check.passed
    assert check.worst == "b1_1"
    assert check.max_abs_error == pytest.approx(1e-3, rel=1e-3)


def test_units_pinned_on_a_relu_kink_are_skipped_not_compared():
    spec = network((3, 4, 2), ACTIVATIONS["relu"], ACTIVATIONS["identity"], Loss("mse"),
                   True, 2)
    hyp = Hypothesis("h", 1, (1, 2), (), ("incoming", "bias"))
    check = gradcheck.gradient_check(spec, hyp, (0, 0, 0))
    assert check.passed and check.skipped_at_kink == 2 * (3 + 1)
    # Why: at z = 0 the central difference sees half of ReLU's slope, the gradient (H(0) = 0) none.
    start = points.check_point(spec, hyp, np.random.default_rng(0))
    start.params.W[1][:] = 1.0
    c = gradcheck.group_components(spec, hyp, "bias", 0)[0]
    assert gradcheck.finite_difference(spec, start, c) != 0.0
    assert symbolic.WholeLoss(spec, hyp)(start)["bias"][0][0] == 0.0


# ------------------------------------------------------------------ bundled derivations


@pytest.fixture(scope="module", params=BUNDLED, ids=[p.stem for p in BUNDLED])
def bundled(request):
    spec = load_spec(request.param.name, request.param.read_bytes())
    return derive(spec)


def test_bundled_numbers_agree_with_the_verdicts(bundled):
    assert len(bundled.numeric) == len(bundled.results)
    assert bundled.agreement, [n.problems for n in bundled.numeric]
    for result, numeric in zip(bundled.results, bundled.numeric):
        run = numeric.training
        assert numeric.gradient_check.passed
        assert len(run.gaps) == bundled.spec.check.steps + 1 and run.gaps[0] == 0.0
        if result.verdict == PRESERVED:
            assert run.max_gap <= 1e-9 and (run.exact_zero or run.rounding_level)
        if result.verdict == BROKEN:
            assert run.first_step_over(1e-8) is not None and run.max_gap > 1e-6


def test_bundled_json_is_deterministic_and_complete(bundled):
    text = render(bundled)
    again = render(derive(bundled.spec))
    assert text == again
    report = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    for h in report["hypotheses"]:
        numeric = h["numeric"]
        assert {"max_abs_error", "max_rel_error", "passed", "points", "tolerance"} \
            <= set(numeric["gradient_check"])
        assert {"optimizer", "steps", "learning_rate", "max_gap", "first_step_over_1e-8",
                "gaps", "exact_zero", "rounding_level"} <= set(numeric["training"])
        assert numeric["agreement"] is True and numeric["problems"] == []
        assert numeric["training"]["max_gap"] == max(numeric["training"]["gaps"])


# ------------------------------------------------------------------ agreement


SPEC = spec_toml((2, 3, 1), samples=2, hypotheses=[
    dict(name="in", layer=1, units=[1, 2], tie=["incoming", "bias"]),
    dict(name="all", layer=1, units=[1, 2], tie=["incoming", "bias", "outgoing"])])


def test_a_forged_verdict_is_contradicted_by_the_numbers():
    spec = parse_spec(SPEC)
    real = derive(spec, numeric=False).results
    assert [r.verdict for r in real] == [BROKEN, PRESERVED]
    as_preserved = cross_check(spec, dataclasses.replace(real[0], verdict=PRESERVED), 0)
    as_broken = cross_check(spec, dataclasses.replace(real[1], verdict=BROKEN), 1)
    assert not as_preserved.agreement and "verdict preserved" in as_preserved.problems[0]
    assert not as_broken.agreement and "never exceeded" in as_broken.problems[0]
    assert cross_check(spec, real[0], 0).agreement and cross_check(spec, real[1], 1).agreement


def test_a_group_proved_equal_must_be_equal_numerically():
    spec = parse_spec(SPEC)
    real = derive(spec, numeric=False).results[0]
    forged = dataclasses.replace(real, groups=tuple(
        dataclasses.replace(g, status="equal") for g in real.groups))
    problems = cross_check(spec, forged, 0).problems
    assert any("incoming group is proved equal" in p for p in problems)


def test_the_cli_writes_the_report_then_exits_1(monkeypatch, tmp_path, cli):
    import symderive.api as api

    real = api.settle_hypothesis
    monkeypatch.setattr(api, "settle_hypothesis", lambda *a: dataclasses.replace(
        real(*a), verdict=PRESERVED))
    path = tmp_path / "spec.toml"
    path.write_text(SPEC)
    out = tmp_path / "report.json"
    status, _, err = cli("derive", str(path), "--format", "json", "-o", str(out))
    assert status == 1
    assert err.startswith("symderive: numeric cross-check contradicts") and err.count("\n") == 1
    assert "'in'" in err and "'all'" not in err
    report = json.loads(out.read_text())
    assert [h["numeric"]["agreement"] for h in report["hypotheses"]] == [False, True]


def test_the_cli_exits_0_when_the_numbers_agree(tmp_path, cli):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC)
    status, out, err = cli("derive", str(path), "--format", "json")
    assert status == 0 and err == ""
    assert json.loads(out)["hypotheses"][0]["numeric"]["agreement"] is True


def test_numerics_can_be_skipped():
    d = derive(parse_spec(SPEC), numeric=False)
    assert d.numeric == () and d.agreement
    assert json.loads(render(d))["hypotheses"][0]["numeric"] is None


# ------------------------------------------------------------------ training


def test_a_learning_rate_that_blows_up_is_halved_and_said():
    spec = parse_spec(SPEC + "\n[check]\nlearning_rate = 10\n")
    result = derive(spec)
    run = result.numeric[1].training
    assert run.requested_learning_rate == 10 and run.learning_rate < 10
    assert run.diverged_at_step is None and run.final_loss < run.initial_loss
    assert any("halved" in n for n in result.numeric[1].notes)
    assert result.agreement


def test_a_run_that_cannot_start_is_a_problem():
    spec = network((2, 3, 1), ACTIVATIONS["tanh"], ACTIVATIONS["identity"], Loss("bce"), True, 2)
    hyp = Hypothesis("h", 1, (1, 2), ("incoming", "bias", "outgoing"), ())
    run = training.simulate(spec, hyp, parse_spec(SPEC).check, (0, 0, 1))
    # bce of a linear output is log of a negative number: NaN from the first step.
    assert run.diverged_at_step == 0 and run.gaps == () and run.learning_rate == 0.05
    assert run.behaviour == "diverged" and not run.exact_zero


def test_seeds_change_the_draws_and_nothing_else():
    base = parse_spec(SPEC)
    other = parse_spec(SPEC + "\n[check]\nseed = 7\n")
    a, b = derive(base).numeric[0], derive(other).numeric[0]
    assert a.training.initial_loss != b.training.initial_loss
    assert derive(base).numeric[0] == a


def forged_run(*gaps: float) -> training.Training:
    return training.Training("sgd", len(gaps) - 1, 0.05, 0.05, ("incoming",), gaps, 1.0, 0.5,
                             None)


@pytest.mark.parametrize("gaps,behaviour", [
    ((0.0, 0.0, 0.0), "exactly zero"),
    ((0.0, 0.0, 1.1e-16, 2.2e-16), "rounding level"),
    ((0.0, 1e-16, 1e-13, 1e-10, 1e-7), "rounding noise grew"),
    ((0.0, 1e-3, 2e-3), "grew"),
    ((0.5, 0.4), "untied at the start"),
])
def test_gap_behaviour(gaps, behaviour):
    assert forged_run(*gaps).behaviour == behaviour


def test_rounding_noise_that_grows_is_said_plainly_but_is_no_contradiction():
    from symderive.numeric.agreement import notes, training_problems

    net = parse_spec(SPEC).network
    preserved = derive(parse_spec(SPEC), numeric=False).results[1]
    noisy = forged_run(0.0, 0.0, 2e-16, 1e-13, 1e-10, 1e-7)
    assert training_problems(net, preserved, noisy) == []
    check = cross_check(parse_spec(SPEC), preserved, 1).gradient_check
    assert "unstable" in notes(net, preserved, check, noisy)[-1]
    real_break = forged_run(0.0, 1e-10, 1e-9, 1e-7)
    assert "verdict preserved" in training_problems(net, preserved, real_break)[0]


FORCED_KINK = """
[network]
layers = [1, 2, 2, 1]
activation = "relu"
bias = false

[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["incoming"]
zero = ["outgoing"]

[check]
steps = 10
"""


def test_a_kink_forced_by_the_structure_is_a_note_not_a_contradiction():
    """Zeroed outgoing weights feeding a 2-unit ReLU layer without bias put every
    layer-2 pre-activation at 0, a kink, at every point: no point can be checked."""
    from symderive.api import derive
    from symderive.spec import parse_spec

    d = derive(parse_spec(FORCED_KINK))
    numeric = d.numeric[0].to_json()
    assert numeric["gradient_check"]["points"] == 0
    assert d.agreement and numeric["problems"] == []
    assert any("kink" in n for n in numeric["notes"])


def test_a_constant_loss_with_nothing_assumed_is_preserved_and_not_contradicted(cli, tmp_path):
    """Softmax over one output: no gradient at all, so untied units keep their (non-zero)
    gap; the check compares the gap with its start, not with 0 (a hypothesis property
    test found this false exit 1)."""
    path = tmp_path / "one.toml"
    path.write_text(spec_toml(layers=(1, 2, 1), activation="tanh", loss="softmax_ce",
                              bias_=False, hypotheses=[{"layer": 1, "units": [1, 2]}]))
    status, out, err = cli("derive", str(path), "--format", "json")
    assert status == 0, err
    report = json.loads(out)
    assert [h["verdict"] for h in report["hypotheses"]] == ["preserved"]
    gaps = report["hypotheses"][0]["numeric"]["training"]["gaps"]
    assert gaps[0] > 0 and all(g == gaps[0] for g in gaps)
