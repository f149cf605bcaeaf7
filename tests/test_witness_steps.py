"""The witness steps' shared first point and one-call draws: the same searches as
written out step by step, and every shared witness re-evaluated independently."""
from __future__ import annotations

import json

import numpy as np
import pytest

import reference_numpy as ref
from symderive.api import derive
from symderive.engine import mlp, symmetry
from symderive.engine.witness import (Start, find_witness, identical_units, random_point,
                                      witness_search)
from symderive.render.json import render
from symderive.spec import Hypothesis, NetworkSpec, parse_spec
from symderive.spec.functions import ACTIVATIONS, Loss

SEED = 11


def _net(layers, activation="tanh", bias=True, samples=3) -> NetworkSpec:
    return NetworkSpec(tuple(layers), ACTIVATIONS[activation], ACTIVATIONS["identity"], bias,
                       Loss("mse"), samples)


def _steps(search, n):
    return [None if w is None else w.to_json() for w, _ in zip(search, range(n))]


#: (layers, hypothesis): an outgoing tie leaves every group of the two units different;
#: the 4-wide net is drawn on the quarter grid, the 16-wide one from N(0, 1/fan-in)
BROKEN = [((3, 4, 4, 2), ("outgoing",)), ((5, 16, 16, 3), ("outgoing",)),
          ((5, 16, 16, 3), ())]


@pytest.mark.parametrize("layers,tie", BROKEN)
def test_the_groups_of_a_hypothesis_are_refuted_at_one_shared_point(layers, tie):
    spec, hyp = _net(layers), Hypothesis("h", 2, (1, 3), tie, ())
    result = symmetry.settle_hypothesis(spec, hyp, SEED)
    witnesses = [g.witness.to_json() for g in result.groups]
    assert [g.status for g in result.groups] == ["different"] * 3
    point = {k: witnesses[0][k] for k in ("parameters", "inputs", "targets")}
    assert all({k: w[k] for k in point} == point for w in witnesses)
    # the first group's search is the search of its seed alone, step for step
    assert witnesses[0] == find_witness(spec, hyp, "incoming", SEED).to_json()


@pytest.mark.parametrize("layers", [(3, 4, 4, 2), (5, 16, 16, 3), (3, 100, 100, 2)])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_a_started_search_is_the_shared_point_then_its_own_seed(layers, activation):
    spec, hyp = _net(layers, activation), Hypothesis("h", 1, (1, 2), ("incoming",), ())
    start = Start(spec, hyp, SEED)
    own = SEED + 7919
    started = _steps(witness_search(spec, hyp, "outgoing", own, start), 5)
    alone = _steps(witness_search(spec, hyp, "outgoing", own), 4)
    first = _steps(witness_search(spec, hyp, "outgoing", SEED), 1)
    assert started == first + alone and started[0] is not None
    # the group seeded like the start continues the start's generator: no point twice
    assert (_steps(witness_search(spec, hyp, "outgoing", SEED, Start(spec, hyp, SEED)), 5)
            == _steps(witness_search(spec, hyp, "outgoing", SEED), 5))


def test_a_shared_point_is_drawn_and_evaluated_once(monkeypatch):
    passes = []
    real = mlp.forward_backward
    monkeypatch.setattr(mlp, "forward_backward", lambda *a: passes.append(1) or real(*a))
    spec, hyp = _net((5, 16, 16, 3)), Hypothesis("h", 2, (1, 3), ("outgoing",), ())
    start = Start(spec, hyp, SEED)
    for k, group in enumerate(spec.groups()):
        next(witness_search(spec, hyp, group, SEED + 7919 * k, start))
    assert len(passes) == 1


def _normal_per_array(spec: NetworkSpec, rng) -> list[np.ndarray]:
    """The wide networks' draw as first written: one rng.normal call per array."""
    sizes, out = spec.layers, []
    for bias in ((False, True) if spec.bias else (False,)):
        for l in range(1, len(sizes)):
            shape = (sizes[l],) if bias else (sizes[l], sizes[l - 1])
            v = np.round(rng.normal(0.0, 1.0 / np.sqrt(sizes[l - 1]), size=shape), 4)
            out.append(np.where(v == 0, 1e-4, v))
    return out


@pytest.mark.parametrize("layers", [(5, 16, 16, 3), (16, 64, 64, 16), (9, 30, 20, 40, 2)])
@pytest.mark.parametrize("bias", [True, False])
def test_wide_parameters_drawn_in_one_call_are_those_of_one_call_per_array(layers, bias):
    spec = _net(layers, bias=bias)
    hyp = Hypothesis("h", 1, (1, 2), (), ())
    for seed in range(3):
        a, b = np.random.default_rng(seed), np.random.default_rng(seed)
        point = random_point(spec, hyp, a)
        expected = _normal_per_array(spec, b)
        got = point.params.W + (point.params.b if bias else [])
        assert all(np.array_equal(x, y) for x, y in zip(got, expected))
        assert len(got) == len(expected)
        # the generator is left where the per-array calls leave it (inputs come next)
        np.testing.assert_array_equal(point.X[0], np.round(b.normal(0.0, 1.0, layers[0]), 4))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_shared_witnesses_reevaluate_independently(activation):
    layers = (4, 12, 12, 3)
    text = (f'[network]\nlayers = {list(layers)}\nsamples = 3\nactivation = "{activation}"\n'
            '[[hypothesis]]\nname = "o"\nlayer = 2\nunits = [1, 2]\ntie = ["outgoing"]\n'
            '[[hypothesis]]\nname = "ib"\nlayer = 1\nunits = [2, 3]\ntie = ["incoming"]\n')
    report = json.loads(render(derive(parse_spec(text), numeric=False)))
    net = ref.RefNet(layers, ref.ACTIVATIONS[activation], ref.ACTIVATIONS["identity"],
                     ref.LOSSES["mse"], True, (activation == "relu", False))
    checked = 0
    for h in report["hypotheses"]:
        for name, g in h["groups"].items():
            if g["status"] == "different":
                ref.check_witness(net, h, name, g["witness"], 3, rtol=1e-7)
                checked += 1
    assert checked >= 4


#: hypotheses that tie or zero every group of the two units
IDENTICAL = [(("incoming", "bias", "outgoing"), ()), (("incoming", "bias"), ("outgoing",)),
             (("outgoing",), ("incoming", "bias")), ((), ("incoming", "bias", "outgoing")),
             (("incoming",), ("bias", "outgoing"))]


@pytest.mark.parametrize("layers", [(3, 4, 4, 2), (5, 16, 16, 3), (3, 100, 100, 2)])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "softplus"])
@pytest.mark.parametrize("bias", [True, False])
def test_identical_units_never_differ_at_a_point(layers, activation, bias):
    """The premise of skipping their search: no point is ever a witness for them."""
    spec = _net(layers, activation, bias)
    for tie, zero in IDENTICAL:
        hyp = Hypothesis("h", 1, (1, 3), tuple(g for g in tie if bias or g != "bias"),
                         tuple(g for g in zero if bias or g != "bias"))
        assert identical_units(spec, hyp)
        for group in spec.groups():
            assert _steps(witness_search(spec, hyp, group, SEED), 6) == [None] * 6


def test_identical_units_cost_no_pass_and_keep_their_proofs(monkeypatch):
    passes = []
    real = mlp.forward_backward
    monkeypatch.setattr(mlp, "forward_backward", lambda *a: passes.append(1) or real(*a))
    spec = _net((5, 16, 16, 3))
    result = symmetry.settle_hypothesis(
        spec, Hypothesis("h", 2, (1, 3), ("incoming", "bias", "outgoing"), ()), SEED)
    assert [g.method for g in result.groups] == ["local, any activation"] * 3
    assert result.verdict == "preserved" and not passes
    assert not identical_units(spec, Hypothesis("h", 2, (1, 3), ("incoming", "bias"), ()))
