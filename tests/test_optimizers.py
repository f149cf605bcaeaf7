"""Optimizers: their update rules, and that a tie survives them when their state starts tied."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import spec_toml
from symderive.api import derive
from symderive.numeric import optimizers
from symderive.numeric import training
from symderive.spec import OPTIMIZERS, parse_spec
from symderive.engine.symmetry import BROKEN, PRESERVED


def test_every_spec_optimizer_has_an_implementation():
    assert set(optimizers.OPTIMIZERS) == set(OPTIMIZERS)


def test_sgd_rule():
    p, g = np.array([1.0, -2.0]), np.array([0.5, 4.0])
    optimizers.SGD(0.1).step([p], [g])
    assert np.array_equal(p, [1.0 - 0.05, -2.0 - 0.4])


def test_momentum_rule_accumulates_velocity():
    p = np.array([0.0])
    opt = optimizers.Momentum(0.1, mu=0.9)
    opt.step([p], [np.array([1.0])])          # v = 1
    opt.step([p], [np.array([2.0])])          # v = 0.9 + 2
    assert p[0] == pytest.approx(-0.1 * 1.0 - 0.1 * 2.9, rel=1e-15)


def test_adam_rule_first_steps():
    p = np.array([0.0, 0.0])
    opt = optimizers.Adam(0.01)
    opt.step([p], [np.array([3.0, -1e-3])])
    # Bias correction makes the first step lr·g/|g| (up to ε), whatever g's size.
    assert p == pytest.approx([-0.01, 0.01], rel=1e-4)
    opt.step([p], [np.array([3.0, -1e-3])])
    assert p == pytest.approx([-0.02, 0.02], rel=1e-4)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_equal_entries_with_equal_gradients_stay_bitwise_equal(name):
    rng = np.random.default_rng(0)
    p = rng.normal(size=(3, 4))
    p[:, 2] = p[:, 1]
    opt = optimizers.make(name, 0.03)
    for _ in range(50):
        g = rng.normal(size=(3, 4)) * 10.0 ** rng.integers(-8, 3)
        g[:, 2] = g[:, 1]
        opt.step([p], [g])
    assert np.array_equal(p[:, 1], p[:, 2]) and not np.array_equal(p[:, 0], p[:, 1])


SPEC = spec_toml((3, 4, 3), activation="sigmoid", loss="softmax_ce", samples=3, hypotheses=[
    dict(name="incoming only", layer=1, units=[2, 4], tie=["incoming", "bias"]),
    dict(name="all tied", layer=1, units=[2, 4], tie=["incoming", "bias", "outgoing"]),
    dict(name="tied, zero out", layer=1, units=[1, 3], tie=["incoming", "bias"],
         zero=["outgoing"])])


@pytest.fixture(scope="module", params=sorted(OPTIMIZERS))
def derivation(request):
    extra = f'\n[check]\noptimizer = "{request.param}"\nsteps = 100\nlearning_rate = 0.05\n'
    return derive(parse_spec(SPEC + extra))


def test_optimizers_keep_a_full_tie_and_break_a_partial_one(derivation):
    assert [r.verdict for r in derivation.results] == [BROKEN, PRESERVED, PRESERVED]
    assert derivation.agreement, [n.problems for n in derivation.numeric]
    broken, *preserved = [n.training for n in derivation.numeric]
    assert broken.first_step_over(training.SEPARATED) is not None
    for run in preserved:
        assert run.max_gap <= 1e-9 and run.behaviour in ("exactly zero", "rounding level")
        assert run.final_loss < run.initial_loss
    assert {n.training.optimizer for n in derivation.numeric} == {derivation.spec.check.optimizer}
