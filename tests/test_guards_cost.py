"""The guards' cost model (symderive/cost): each blind spot benchmarks/bench_guards.py
found, as a spec the guards now refuse beside one just below that they allow, and the
estimates monotone along every axis that costs.  Nothing here is timed: the times are
in the benchmark (before the fix, the refused specs below took from 30 s to minutes).
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import spec_toml
from symderive import guards
from symderive.cost import json_parts, numeric_parts, passes, symbolic_parts
from symderive.engine import mlp
from symderive.numeric import points
from symderive.spec import Spec, parse_spec

TIED = {"layer": 1, "units": [1, 2], "tie": ["incoming", "bias", "outgoing"]}
IN_BIAS = {"layer": 1, "units": [1, 2], "tie": ["incoming", "bias"]}
LEAKY = r"\begin{cases} z & z > 0 \\ 0.01 z & \text{otherwise}\end{cases}"


NAMED = ("identity", "sigmoid", "tanh", "relu", "softplus", "any")


def spec(layers, activation="tanh", samples=1, hypotheses=(TIED,), extra="", **kw):
    """A spec; ``activation`` is a name or a LaTeX formula."""
    named = activation in NAMED
    text = spec_toml(layers=layers, activation=activation if named else "tanh",
                     samples=samples, hypotheses=hypotheses, extra=extra, **kw)
    if not named:
        text = text.replace('activation = "tanh"', f"activation = {{ latex = '{activation}' }}", 1)
    return parse_spec(text, "s.toml")


def fact(kind: str, **keys) -> str:
    return "\n[[fact]]\n" + f'kind = "{kind}"\n' + "".join(f"{k} = {v}\n"
                                                          for k, v in keys.items())


def steps(n: int) -> str:
    return f"\n[check]\nsteps = {n}\n"


def refused(s, fmt=None) -> list[str]:
    return [r.field for r in guards.refusals(s, fmt)]


def assert_refused(s, field: str, fmt=None) -> str:
    found = guards.refusals(s, fmt)
    assert found, "allowed"
    assert found[0].field == field, [r.field for r in found]
    assert "--force" in found[0].message
    return found[0].message


# ------------------------------------------------------------------ the findings


def test_python_overhead_per_layer_and_step_is_counted():
    """A narrow network costs its layers, not its products: 100 000 steps through 41
    layers of 3 units took over a minute at 0.00 of the old numeric limit."""
    deep = (2,) + (3,) * 40 + (1,)
    message = assert_refused(spec(deep, extra=steps(100_000)), "check.steps")
    assert "lower [check] steps" in message
    assert refused(spec(deep, extra=steps(30_000))) == []


def test_many_hypotheses_times_many_steps_are_counted():
    """64 hypotheses × 41 991 steps on [2, 3, 1]: JSON just under its limit, the numeric
    estimate 0.005 of its own, over a minute of training."""
    many = [{"layer": 1, "units": [1, 2], "tie": ["incoming"]}] * 64
    assert_refused(spec((2, 3, 1), hypotheses=many, extra=steps(41_991)), "check.steps")
    assert refused(spec((2, 3, 1), hypotheses=many, extra=steps(4_000))) == []


def test_near_kink_redraws_are_counted():
    """Wide ReLU layers put some pre-activation of almost every sample within 1e-3 of
    the kink: the witness search then redraws up to 31 times per try for 64 tries
    (4 000 passes instead of 6); [64, 1800, 1800, 10] took over 90 s at 0.24."""
    layers = (64, 1800, 1800, 10)
    assert_refused(spec(layers, "relu", 64, (IN_BIAS,)), "network.layers")
    assert refused(spec(layers, "tanh", 64, (IN_BIAS,))) == []           # smooth: no redraws
    assert refused(spec((64, 700, 700, 10), "relu", 64, (IN_BIAS,))) == []
    relu = [guards.numeric_work(spec((64, w, w, 10), "relu", 64, (IN_BIAS,)))
            for w in (256, 512, 1024, 1800)]
    tanh = [guards.numeric_work(spec((64, w, w, 10), "tanh", 64, (IN_BIAS,)))
            for w in (256, 512, 1024, 1800)]
    assert relu == sorted(relu) and relu[-1] > 20 * tanh[-1]


def test_work_per_parameter_is_counted():
    """One sample: a pass is memory-bound and the draws, copies and optimiser steps cost
    more than the products; 48 hypotheses on [1, 1990, 1990, 1] ran over a minute at
    0.96 of the old limit."""
    output = {"layer": 2, "units": [1, 2], "tie": ["incoming", "bias"]}
    layers = (1, 1990, 1990, 1)
    assert_refused(spec(layers, hypotheses=[output] * 48), "network.layers")
    assert refused(spec(layers, hypotheses=[output] * 3)) == []


def test_facts_are_counted():
    """[[fact]] tables had no estimate at all."""
    cases = [  # (refused, allowed just below): each ran a minute or more before
        (spec((64, 1966, 1966, 1), samples=64, hypotheses=(), extra=fact("zero_init")),
         spec((64, 500, 500, 1), samples=64, hypotheses=(), extra=fact("zero_init"))),
        (spec((32, 1966, 1966, 4), samples=16, hypotheses=(), extra=fact("dropout")),
         spec((32, 300, 300, 4), samples=16, hypotheses=(), extra=fact("dropout"))),
        (spec((1024, 1024, 1024, 1), samples=1024, hypotheses=(),
              extra=fact("backprop_exact")),
         spec((64, 64, 64, 1), samples=64, hypotheses=(), extra=fact("backprop_exact"))),
    ]
    for over, under in cases:
        message = assert_refused(over, "fact[1]")
        assert "[[fact[1]]]" in message
        assert refused(under) == []


def test_a_unit_gradient_fact_over_a_wide_next_layer_is_refused():
    """Its derivation tidies a sum over the next layer with SymPy's collect: 8.9 s for
    400 units, quadratic; with the outgoing group zeroed there is no such sum."""
    wide = spec((64, 64, 1000, 1), samples=4, hypotheses=(), extra=fact("unit_gradient"))
    message = assert_refused(wide, "fact[1]")
    assert "symbolic work" in message
    zeroed = spec((64, 64, 1000, 1), samples=4, hypotheses=(),
                  extra=fact("unit_gradient", zero='["outgoing"]'))
    assert refused(zeroed) == []
    assert refused(spec((64, 64, 300, 1), samples=4, hypotheses=(),
                        extra=fact("unit_gradient"))) == []


def test_softmax_over_many_outputs_is_refused():
    """Differentiating softmax cross-entropy in each of K outputs is K²: one loss_gradient
    fact with K = 4096 took 507 s.  A hypothesis needs that proof only when NumPy sees
    the loss stand still (never, for K > 1): K = 4096 takes 0.2 s of CPU (issue 23)."""
    def softmax(K, extra="", hypotheses=(TIED,)):
        return spec((2, 4, 4, K), loss="softmax_ce", hypotheses=hypotheses, extra=extra)
    assert refused(softmax(4096)) == []
    assert_refused(softmax(4096, fact("loss_gradient"), ()), "fact[1]")
    assert refused(softmax(256)) == [] and refused(softmax(256, fact("loss_gradient"), ())) == []
    mse = spec((2, 4, 4, 2048), hypotheses=(TIED,))
    assert refused(mse) == []                               # linear in the outputs


def _start(layers, activation, rows, bias=True):
    """Every tensor given as one number, with [data]: the frozen analysis computes the
    pinned pre-activations exactly."""
    lines = ["", "[init]"]
    for l in range(1, len(layers)):
        lines.append(f"W{l} = {0.5 if l % 2 else 0.25}")
        if bias:
            lines.append(f"b{l} = 0.1")
    inputs = [[round(((n * 7 + k * 3) % 11) / 10 - 0.5, 1) for k in range(layers[0])]
              for n in range(rows)]
    targets = [[0.5] * layers[-1] for _ in range(rows)]
    lines += ["", "[data]", f"inputs = {inputs}", f"targets = {targets}", "",
              "[check]", "steps = 10", ""]
    return spec(layers, activation, rows, hypotheses=(), extra="\n".join(lines))


def test_an_exact_starting_point_is_counted():
    """With every tensor given and [data], engine.frozen sums the pinned pre-activations
    in SymPy Rationals (20 µs a term); a transcendental σ nests them a level per layer.
    [4, 1985, 1985, 2] and [4, 16 × 5, 2] (tanh) each ran over a minute at 0.00."""
    message = assert_refused(_start((4, 1985, 1985, 2), "relu", 4), "init")
    assert "starting point" in message
    assert refused(_start((4, 200, 200, 2), "relu", 4)) == []
    assert_refused(_start((4,) + (16,) * 5 + (2,), "tanh", 4), "init")
    assert refused(_start((4, 16, 16, 2), "tanh", 4)) == []
    assert refused(_start((4,) + (16,) * 5 + (2,), "relu", 4)) == []     # rational: no nesting


def test_typesetting_is_counted_for_pdf_and_slides():
    """64 hypotheses as slides compiled to PDF: 32 s of pdflatex and derivation, at 0.29 of
    the numeric limit; as a .tex file, or as 16 hypotheses, they are allowed."""
    rng = np.random.default_rng(3)
    hypotheses = [{"layer": int(l), "units": [1, 2], "tie": ["incoming"]}
                  for l in rng.integers(1, 3, size=64)]
    wide = spec((64, 256, 256, 8), samples=4, hypotheses=hypotheses)
    message = assert_refused(wide, "network.layers", fmt="beamer")
    assert "--format latex" in message
    assert refused(wide) == [] and refused(wide, "latex") == []
    assert refused(spec((64, 256, 256, 8), samples=4, hypotheses=hypotheses[:16]),
                   "beamer") == []
    assert guards.numeric_work(wide, "beamer") > guards.numeric_work(wide, "pdf") \
        > guards.numeric_work(wide)


def test_facts_and_trajectories_count_in_the_json_size():
    """A dropout or unit_gradient witness lists every parameter; a trajectory lists every
    parameter and gradient at up to 11 steps."""
    dropout = spec((1024, 1024, 1024, 1), hypotheses=(), extra=fact("dropout") * 16)
    assert any("JSON report" in r.message for r in guards.refusals(dropout))
    sizes = dict(json_parts(dropout))
    assert sizes["fact[1]"] > passes.parameters(dropout.network) * 20
    trajectory = _start((1, 1000, 1000, 1), "relu", 1)
    assert "init" in [r.field for r in guards.refusals(trajectory)
                      if "JSON report" in r.message]


def test_refusals_name_the_largest_part():
    """The message says what to lower: the training steps, a fact, the starting point."""
    parts = numeric_parts(spec((2, 3, 1), extra=steps(100_000) + fact("zero_init")))
    assert [f for f, _ in parts] == ["hypothesis[1]", "fact[1]"]
    assert all(w > 0 for _, w in parts)
    assert [f for f, _ in symbolic_parts(spec((2, 3, 1), extra=fact("unit_gradient")))] == \
        ["hypothesis[1]", "network.loss", "whole loss", "fact[1]"]


# ------------------------------------------------------------------ monotone


AXES = {
    "steps": lambda k: spec((4, 16, 2), extra=steps(k)),
    "samples": lambda k: spec((4, 16, 2), samples=k),
    "width": lambda k: spec((4, k, k, 2), "relu", 4),
    "depth": lambda k: spec((4,) + (8,) * k + (2,), LEAKY, 4),
    "hypotheses": lambda k: spec((4, 8, 2), hypotheses=[IN_BIAS] * k),
    "facts": lambda k: spec((4, 8, 8, 2), hypotheses=(), extra="".join(
        fact(kind) for kind in (["zero_init", "dropout", "unit_gradient"] * 6)[:k])),
    "start width": lambda k: _start((4, k, k, 2), "tanh", 4),
}
VALUES = {"steps": (1, 10, 100, 1000, 100_000), "samples": (1, 8, 64, 1024),
          "width": (2, 16, 128, 1024), "depth": (1, 2, 8, 50),
          "hypotheses": (1, 2, 16, 64), "facts": (1, 2, 8, 16),
          "start width": (2, 8, 32, 128)}


@pytest.mark.parametrize("axis", sorted(AXES))
def test_the_numeric_estimate_grows_along_every_axis(axis):
    works = [guards.numeric_work(AXES[axis](k)) for k in VALUES[axis]]
    assert all(a < b for a, b in zip(works, works[1:])), works


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", LEAKY, "any"])
def test_the_estimate_grows_with_width_for_every_activation(activation):
    works = [guards.numeric_work(spec((8, w, w, 2), activation, 16, (IN_BIAS,)))
             for w in (4, 32, 256, 1024)]
    assert all(a < b for a, b in zip(works, works[1:])), works


def test_the_symbolic_estimate_grows_with_the_outputs_and_the_facts_layers():
    def out(K):
        return guards.symbolic_work(spec((2, 4, 4, K), loss="softmax_ce", hypotheses=(),
                                         extra=fact("loss_gradient")))
    assert out(2) < out(64) < out(1024)
    def unit(w):
        return guards.symbolic_work(spec((4, 4, w, 1), hypotheses=(),
                                         extra=fact("unit_gradient")))
    assert unit(2) < unit(64) < unit(1024)


# ------------------------------------------------------------------ the kink model


def _empirical_clear(s, rows_seen: int = 4000) -> float:
    """The fraction of samples of check points (numeric.points) with no free
    pre-activation within KINK of a kink: counted, not modelled."""
    rng = np.random.default_rng(0)
    clear, seen = 0, 0
    while seen < rows_seen:
        start = points.training_start(s.network, s.hypotheses[0], rng)
        near = points.near_kink_rows(s.network, None, start.params, start.X)
        clear += int((~near).sum())
        seen += near.size
    return clear / seen


@pytest.mark.parametrize("layers,activation,bias", [
    ((8, 200, 200, 4), "relu", True), ((8, 500, 4), "relu", False),
    ((16, 100, 100, 100, 100, 2), "relu", True), ((8, 300, 300, 4), LEAKY, True)])
def test_the_chance_of_a_sample_clear_of_kinks_matches_the_draws(layers, activation, bias):
    s = spec(layers, activation, 1000, (IN_BIAS,) if bias else
             ({"layer": 1, "units": [1, 2], "tie": ["incoming"]},), bias_=bias)
    model, seen = passes.row_clear(s.network), _empirical_clear(s)
    assert abs(math.log(model / seen)) < 0.1, (model, seen)


def test_the_redraw_expectation_matches_a_simulation():
    """kink_settling against the redraw loop itself, simulated with coin flips."""
    rng = np.random.default_rng(1)
    for clear, rows, redraws in [(0.9, 4, 30), (0.5, 16, 30), (0.05, 64, 31), (1.0, 8, 30)]:
        evaluations, gave_up = [], []
        for _ in range(4000):
            near = rng.random(rows) > clear
            count = 1
            for _ in range(redraws):
                if not near.any():
                    break
                near[near] = rng.random(int(near.sum())) > clear
                count += 1
            evaluations.append(count)
            gave_up.append(near.any())
        model, give_up = passes.kink_settling(clear, rows, redraws)
        assert model == pytest.approx(np.mean(evaluations), rel=0.05, abs=0.05)
        assert give_up == pytest.approx(np.mean(gave_up), abs=0.03)
    assert passes.expected_tries(0.0, 64) == 1.0 and passes.expected_tries(1.0, 64) == 64


def test_a_comparison_of_activations_costs_every_activation():
    """activation = [...] derives the spec once per activation: the estimates add up."""
    from symderive.cost import json_bytes, numeric_work, symbolic_work

    base = {"network": {"layers": [2, 3, 1]},
            "hypothesis": [{"layer": 1, "units": [1, 2], "tie": ["incoming", "bias"]}]}
    names = ["tanh", "relu", "sigmoid"]
    compared = Spec.from_dict({**base, "network": {"layers": [2, 3, 1], "activation": names}})
    alone = [Spec.from_dict({**base, "network": {"layers": [2, 3, 1], "activation": a}})
             for a in names]
    for estimate in (numeric_work, symbolic_work, json_bytes):
        assert estimate(compared) == pytest.approx(sum(estimate(s) for s in alone))
        assert estimate(compared) > estimate(alone[0])
