"""The named activations ``gelu`` (exact, with erf) and ``silu``, checked against
independent computations: the SymPy derivative, the hand-written NumPy derivative and
finite differences of the NumPy value agree; the NumPy value is torch's; specs using
them are derived, and their witnesses re-evaluated by torch autograd (layers) or by
tests/reference_numpy.py with the textbook formulas (a dense network); the PyTorch
bridge reads ``nn.GELU`` and ``nn.SiLU`` as these names."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

import reference_numpy as ref
import symderive
from conftest import spec_toml
from layer_reference import witnesses_reproduced
from symderive.spec import Spec
from symderive.spec.functions import ACTIVATIONS, Z, lambdify_safe

NAMES = ("gelu", "silu")
#: Many points: a grid through 0 and the tails, and random ones.
POINTS = np.concatenate([np.linspace(-8.0, 8.0, 161),
                         np.random.default_rng(0).normal(scale=3.0, size=200)])


def _by_hand(name: str, z: float) -> tuple[float, float]:
    """The activation and its slope at ``z`` from the textbook formulas, in floats."""
    if name == "gelu":
        cdf = 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))
        return z * cdf, cdf + z * math.exp(-z * z / 2) / math.sqrt(2.0 * math.pi)
    s = 1.0 / (1.0 + math.exp(-z))
    return z * s, s * (1.0 + z * (1.0 - s))


@pytest.mark.parametrize("name", NAMES)
def test_sympy_numpy_and_finite_differences_agree(name):
    act = ACTIVATIONS[name]
    f_sym = lambdify_safe((Z,), act.expr)
    df_sym = lambdify_safe((Z,), act.derivative_expr)
    h = 1e-5
    fd = (act.np_f(POINTS + h) - act.np_f(POINTS - h)) / (2 * h)
    np.testing.assert_allclose(act.np_f(POINTS), f_sym(POINTS), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(act.np_df(POINTS), df_sym(POINTS), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(act.np_df(POINTS), fd, rtol=1e-7, atol=1e-9)
    by_hand = np.array([_by_hand(name, float(z)) for z in POINTS])
    np.testing.assert_allclose(act.np_f(POINTS), by_hand[:, 0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(act.np_df(POINTS), by_hand[:, 1], rtol=1e-12, atol=1e-14)
    assert act.smooth and act.kinks == () and not act.is_identity


def test_exact_values_at_zero_and_one():
    gelu, silu = ACTIVATIONS["gelu"], ACTIVATIONS["silu"]
    assert gelu(sp.S.Zero) == 0 and sp.simplify(gelu.derivative(sp.S.Zero) - sp.Rational(1, 2)) == 0
    assert sp.simplify(gelu(sp.S.One) - (1 + sp.erf(1 / sp.sqrt(2))) / 2) == 0
    assert silu.derivative(sp.S.Zero) == sp.Rational(1, 2)
    assert sp.simplify((silu(sp.S.One) - 1 / (1 + sp.exp(-1))).rewrite(sp.exp)) == 0


@pytest.mark.parametrize("name", NAMES)
def test_numpy_value_and_slope_are_torchs(name):
    torch = pytest.importorskip("torch")
    act = ACTIVATIONS[name]
    x = torch.tensor(POINTS, dtype=torch.float64, requires_grad=True)
    y = getattr(torch.nn.functional, name)(x)     # gelu: approximate='none', the default
    y.sum().backward()
    np.testing.assert_allclose(act.np_f(POINTS), y.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(act.np_df(POINTS), x.grad.numpy(), rtol=1e-12, atol=1e-14)


LAYERED = '''
[network]
input = [3, 2]
samples = 2

[[layer]]
kind = "dense"
units = 3
activation = "gelu"

[[layer]]
kind = "attention"
heads = 1
head_dim = 2

[[layer]]
kind = "flatten"

[[layer]]
kind = "dense"
units = 1

[[hypothesis]]
name = "same rows, different outgoing columns"
layer = 1
units = [1, 2]
tie = ["incoming", "bias"]

[[hypothesis]]
name = "identical features"
layer = 1
units = [1, 2]
tie = ["incoming", "bias", "outgoing"]
'''


def test_a_gelu_layer_before_attention_is_derived_and_its_witness_reproduces():
    d = symderive.derive(Spec.from_toml(LAYERED, "gelu.toml"))
    assert [r.verdict for r in d.results] == ["broken", "preserved"]
    assert d.spec.network.stack[0].activation is ACTIVATIONS["gelu"]
    assert witnesses_reproduced(d) >= 1


def test_a_dense_silu_network_is_derived_and_its_witness_reproduces():
    hyps = ({"name": "rows", "layer": 1, "units": [1, 2], "tie": ["incoming", "bias"]},
            {"name": "all", "layer": 1, "units": [1, 2],
             "tie": ["incoming", "bias", "outgoing"]})
    text = spec_toml(layers=(2, 3, 2), activation="silu", samples=2, hypotheses=hyps)
    d = symderive.derive(Spec.from_toml(text, "silu.toml"))
    assert d.spec.network.activation is ACTIVATIONS["silu"]
    assert [r.verdict for r in d.results] == ["broken", "preserved"]
    silu = (lambda z: _by_hand("silu", z)[0], lambda z: _by_hand("silu", z)[1])
    net = ref.RefNet((2, 3, 2), silu, ref.ACTIVATIONS["identity"], ref.LOSSES["mse"], True,
                     (False, False))
    found = [ref.check_witness(net, r.hypothesis.to_json(), g.group, g.witness.to_json(), 2)
             for r in d.results for g in r.groups if g.witness is not None]
    assert found and all(r.groups for r in d.results)
    assert r"\operatorname{sigmoid}" in d.to_latex()       # silu prints as z·sigmoid(z)


@pytest.mark.parametrize("name", NAMES)
def test_bce_refuses_them_as_outputs(name):
    """GELU and SiLU take negative values: ln ŷ would be undefined."""
    text = spec_toml(layers=(2, 2), activation="tanh", output_activation=name, loss="bce",
                     hypotheses=({"layer": 1, "units": [1, 2], "tie": ["incoming"]},))
    with pytest.raises(symderive.SpecError, match=f'output_activation is "{name}"'):
        Spec.from_toml(text, "bce.toml")


def test_the_bridge_reads_gelu_and_silu_modules_and_functionals():
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3 = nn.Linear(2, 3), nn.Linear(3, 3), nn.Linear(3, 1)

        def forward(self, x):
            return self.fc3(nn.functional.silu(self.fc2(nn.functional.gelu(self.fc1(x)))))

    torch.manual_seed(0)
    modules = nn.Sequential(nn.Linear(2, 3), nn.GELU(), nn.Linear(3, 3), nn.SiLU(),
                            nn.Linear(3, 1))
    for model in (modules, Net()):
        spec = symderive.from_torch(model, torch.randn(4, 2), torch.randn(4, 1))
        tables = spec.to_dict()
        assert symderive.Spec.from_dict(tables, "<torch>") == spec
        names = [layer.activation.name for layer in spec.network.stack]
        assert names == ["gelu", "silu", "identity"], names
