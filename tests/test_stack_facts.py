"""Issue 24: the ``zero_init`` and ``dropout`` facts on ``[[layer]]`` networks.

Both facts go through the kinds' symbolic forward; every statement is checked here
against torch (tests/layer_reference.py builds the network from the spec's tables,
not from symderive's kinds), and dropout's masks are applied in a torch forward
written below.
"""
from __future__ import annotations

import numpy as np
import pytest

from layer_reference import torch_gradient
from symderive.api import derive
from symderive.errors import SpecError
from symderive.spec import Spec, parse_spec

torch = pytest.importorskip("torch")

CONV = """
[[layer]]
kind = "conv"
channels = 2
kernel = 3
[[layer]]
kind = "pool"
[[layer]]
kind = "dense"
units = 1
"""
NORM = """
[[layer]]
kind = "conv"
channels = 2
kernel = 3
[[layer]]
kind = "norm"
over = "batch"
[[layer]]
kind = "pool"
[[layer]]
kind = "dense"
units = 1
"""
SKIP = """
[[layer]]
kind = "conv"
channels = 2
kernel = 1
[[layer]]
kind = "conv"
channels = 2
kernel = 1
skip = 1
[[layer]]
kind = "pool"
[[layer]]
kind = "dense"
units = 1
"""


def stack_spec(layers: str, fact: str, activation: str = "tanh", inputs: str = "[1, 4]") -> str:
    return (f'[network]\ninput = {inputs}\nactivation = "{activation}"\nsamples = 2\n'
            f"{layers}\n[[fact]]\n{fact}\n")


def torch_descent(spec: Spec, theta: dict, X, Y, steps: int, lr: float = 0.1) -> list[dict]:
    """Parameters after each step of plain gradient descent, gradients from torch."""
    out = [{k: np.array(v, float) for k, v in theta.items()}]
    for _ in range(steps):
        g = torch_gradient(spec, out[-1], X, Y)
        out.append({k: v - lr * g[k] for k, v in out[-1].items()})
    return out


# ------------------------------------------------------------------ zero_init


@pytest.mark.parametrize("layers, activation, verdict", [
    (CONV, "tanh", "stuck"), (CONV, "sigmoid", "trains, units identical"),
    (NORM, "sigmoid", "stuck"), (SKIP, "sigmoid", "trains, units identical")],
    ids=["conv-tanh", "conv-sigmoid", "norm-sigmoid", "skip-sigmoid"])
def test_zero_init_moves_what_torch_moves(layers, activation, verdict):
    """From the zero start (random output bias, random data), torch's gradient descent
    moves exactly the tensors the fact does not call frozen, the first-step ones at the
    first step; units said identical stay identical; the witness reproduces in torch."""
    spec = parse_spec(stack_spec(layers, 'kind = "zero_init"', activation))
    d = derive(spec)
    fact = d.facts[0]
    assert fact.verdict == verdict
    assert fact.numeric.problems == ()
    out = f"b{len(spec.network.stack)}"
    rng = np.random.default_rng(3)
    theta = {k: np.zeros(s) for k, s in _shapes(spec).items()}
    theta[out] = rng.normal(size=theta[out].shape)
    X, Y = rng.normal(size=(2, 1, 4)), rng.normal(size=(2, 1))
    steps = torch_descent(spec, theta, X, Y, 6)
    moved = {k for k in theta if k != out and np.any(steps[-1][k] != 0)}
    at_first = {k for k in theta if k != out and np.any(steps[1][k] != 0)}
    assert moved == set(fact.details["moving"])
    assert at_first == set(fact.details["first_step"])
    assert not moved & set(fact.details["frozen"])
    assert (verdict == "stuck") == (not moved)
    for l, v in fact.details["hidden_units_identical"].items():
        if v == "preserved" and f"W{l}" in steps[-1]:
            W = steps[-1][f"W{l}"]
            assert np.allclose(W[0], W[1], atol=1e-12)
    for s in fact.statements:           # every frozen row names a tensor torch never moved
        name = s.claim.split(":")[0].removeprefix("tensor ")
        assert s.claim.startswith(f"tensor {name}: frozen:") == (name not in moved)
    if fact.witness:
        w = fact.witness
        g = torch_gradient(spec, w["parameters"], np.array(w["inputs"]), np.array(w["targets"]))
        index = tuple(i - 1 for i in w["index"])
        assert g[w["tensor"]][index] == pytest.approx(w["gradient"], rel=1e-9, abs=1e-12)


def _shapes(spec: Spec) -> dict:
    from symderive.engine.layers.stack import Stack

    return Stack(spec.network).shapes


def test_zero_init_names_the_zeros_each_frozen_tensor_needs():
    """tanh: the kernel's gradient needs the dense weights at 0 and the dense weights'
    gradient needs the kernel or its bias at 0; torch agrees when each is released."""
    spec = parse_spec(stack_spec(CONV, 'kind = "zero_init"', "tanh"))
    rows = {s.claim.split(":")[0].removeprefix("tensor "): s.claim
            for s in derive(spec).facts[0].statements}
    assert "it needs W3 at 0" in rows["W1"]
    assert "it needs W1 and b1 at 0" in rows["W3"]
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(2, 1, 4)), rng.normal(size=(2, 1))
    base = {k: np.zeros(s) for k, s in _shapes(spec).items()}
    base["b3"] = np.array([0.7])
    for released, frozen in (("W3", "W1"), ("W1", "W3"), ("b1", "W3")):
        theta = dict(base, **{released: rng.normal(size=base[released].shape)})
        assert np.any(torch_gradient(spec, theta, X, Y)[frozen] != 0)
    assert all(np.all(v == 0) for k, v in torch_gradient(spec, base, X, Y).items() if k != "b3")


def test_zero_init_is_accepted_on_a_layer_network():
    text = stack_spec(CONV, 'kind = "zero_init"')
    assert parse_spec(text).facts[0].kind == "zero_init"


# ------------------------------------------------------------------ dropout


def masked_torch_loss(spec: Spec, theta: dict, X, Y, layer: int, masks: np.ndarray):
    """The conv → (conv with skip) → mean pool → dense networks above, in torch, with
    layer ``layer``'s channel u multiplied by masks[n, u] after its activation."""
    net = spec.network
    p = {k: torch.tensor(np.asarray(v, float), requires_grad=True) for k, v in theta.items()}
    values = [torch.tensor(np.asarray(X, float))]
    act = {"tanh": torch.tanh, "sigmoid": torch.sigmoid}
    for s in net.stack:
        x, l = values[-1], s.index
        if f"W{l}" in p and p[f"W{l}"].dim() == 3:
            z = torch.nn.functional.conv1d(x, p[f"W{l}"], p.get(f"b{l}"))
        elif f"W{l}" in p:
            z = torch.nn.functional.linear(x, p[f"W{l}"], p.get(f"b{l}"))
        else:
            z = x.mean(dim=2)
        a = act[s.activation.name](z) if s.activation and not s.activation.is_identity else z
        if l == layer:
            a = a * torch.tensor(masks)[:, :, None]
        if s.skip is not None:
            a = a + values[s.skip]
        values.append(a)
    loss = 0.5 * ((values[-1] - torch.tensor(np.asarray(Y, float))) ** 2).sum()
    loss.backward()
    return {k: v.grad.numpy() for k, v in p.items()}


@pytest.mark.parametrize("layers", [CONV, pytest.param(SKIP, marks=pytest.mark.ci_tier)],
                         ids=["conv", "skip"])
def test_dropout_on_channels_against_torch(layers):
    """Equal masks keep tied channels tied (torch: the paired gradients agree at random
    tied points with random equal masks); different masks break them, and the witness's
    differences are torch's."""
    equal = parse_spec(stack_spec(layers, 'kind = "dropout"\nmasks = "equal"'))
    different = parse_spec(stack_spec(layers, 'kind = "dropout"\nmasks = "different"'))
    fe, fd = derive(equal).facts[0], derive(different).facts[0]
    assert fe.verdict == "preserved" and fd.verdict == "broken"
    assert fe.numeric.problems == () and fd.numeric.problems == ()
    from symderive.engine.layers.units import Units
    from symderive.spec import Hypothesis

    units = Units(equal.network, Hypothesis("t", 1, (1, 2), fe.fact.tie, ()))
    rng = np.random.default_rng(5)
    for _ in range(3):
        theta = {k: rng.normal(size=s) for k, s in _shapes(equal).items()}
        units.impose(theta)
        m = rng.uniform(0, 2, size=(2, 1))
        g = masked_torch_loss(equal, theta, rng.normal(size=(2, 1, 4)), rng.normal(size=(2, 1)),
                              1, np.hstack([m, m]))
        for name in units.groups:
            assert np.allclose(units.difference(g, name), 0, atol=1e-12)
    w = fd.witness
    g = masked_torch_loss(different, w["parameters"], w["inputs"], w["targets"], 1,
                          np.array([w["masks"]] * 2))
    for name, values in w["difference"].items():
        assert units.difference(g, name) == pytest.approx(values, rel=1e-9, abs=1e-12)
    assert f"by up to {max(w['difference'][next(iter(w['difference']))], key=abs):.4g}" \
        in fd.summary


def test_dropout_on_heads_says_why_it_is_not_derived():
    text = stack_spec('[[layer]]\nkind = "attention"\nheads = 2\nhead_dim = 1\n'
                      '[[layer]]\nkind = "pool"\n[[layer]]\nkind = "dense"\nunits = 1\n',
                      'kind = "dropout"', inputs="[2, 2]")
    f = derive(parse_spec(text)).facts[0]
    assert f.verdict == "undecided" and "no output of its own to mask" in f.summary


@pytest.mark.parametrize("fact, field, words", [
    ('kind = "dropout"\nlayer = 3', "fact[1].layer", "output layer"),
    ('kind = "dropout"\nlayer = 2', "fact[1].layer", "has no units"),
    ('kind = "dropout"\nunits = [1, 3]', "fact[1].units", "between 1 and 2"),
    ('kind = "dropout"\ntie = ["gain"]', "fact[1].tie", "unknown group"),
])
def test_dropout_tables_on_a_layer_network_are_validated(fact, field, words):
    with pytest.raises(SpecError) as e:        # two outputs: the output layer has a pair
        parse_spec(stack_spec(CONV.replace("units = 1", "units = 2"), fact))
    assert e.value.field == field and words in str(e.value)


def test_the_facts_are_byte_identical_across_hash_seeds(tmp_path):
    """The frozen set is a set of entries: every choice made from it goes in a fixed order."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    spec = tmp_path / "facts.toml"
    spec.write_text(stack_spec(CONV, 'kind = "zero_init"\n[[fact]]\nkind = "dropout"\n'
                               'masks = "different"', "sigmoid"))
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"r{seed}.json"
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT))
        done = subprocess.run([sys.executable, "-m", "symderive", "derive", str(spec), "-q",
                               "-o", str(out)], env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def _random_layers(rng: np.random.Generator) -> str:
    """conv (kernel 1-3, stride 1-2) [→ norm] [→ conv with skip] → pool → dense."""
    text = (f'[[layer]]\nkind = "conv"\nchannels = 2\nkernel = {int(rng.integers(1, 4))}\n'
            f"stride = {int(rng.integers(1, 3))}\n")
    if rng.integers(3) == 0:
        text += f'[[layer]]\nkind = "norm"\nover = "{["batch", "features"][rng.integers(2)]}"\n'
    elif rng.integers(2):
        text += '[[layer]]\nkind = "conv"\nchannels = 2\nkernel = 1\nskip = 1\n'
    mode = ["mean", "max"][int(rng.integers(2))]
    return text + f'[[layer]]\nkind = "pool"\nmode = "{mode}"\n[[layer]]\nkind = "dense"\nunits = 1\n'


@pytest.mark.parametrize("seed", range(8))
def test_zero_init_on_random_layer_networks_agrees_with_torch(seed):
    """Random small stacks and activations: the tensors torch's descent moves from the zero
    start (random output bias, random data) are exactly those the fact does not freeze,
    and those it moves at the first step are the fact's first-step tensors."""
    rng = np.random.default_rng(seed)
    activation = ["tanh", "sigmoid", "relu"][seed % 3]
    spec = parse_spec(stack_spec(_random_layers(rng), 'kind = "zero_init"', activation))
    fact = derive(spec).facts[0]
    out = f"b{len(spec.network.stack)}"
    theta = {k: np.zeros(s) for k, s in _shapes(spec).items()}
    theta[out] = rng.normal(size=theta[out].shape)
    steps = torch_descent(spec, theta, rng.normal(size=(2, 1, 4)), rng.normal(size=(2, 1)), 6)
    moved = {k for k in theta if k != out and np.any(steps[-1][k] != 0)}
    assert moved == set(fact.details["moving"]), fact.summary
    assert {k for k in theta if k != out and np.any(steps[1][k] != 0)} == \
        set(fact.details["first_step"])
    assert (fact.verdict == "stuck") == (not moved)
