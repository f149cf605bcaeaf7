"""``[init]`` and ``[data]`` of ``[[layer]]`` networks: reading them, and what is proved.

The comparisons with torch's own training are in test_layer_start_torch.py (CI tier, as
are the two slowest here);
here: the tables' shapes and errors, and small starts whose classes, frozen entries and
dead units are checked against independent computations (a hand-written forward pass in
NumPy, and the definition of a class: the exchange applied to the tensors).
"""
from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import symderive
from symderive import Spec, SpecError

ROOT = Path(__file__).resolve().parents[1]

CONV = """
[network]
input = [1, 6]
activation = "{act}"
samples = 2
[[layer]]
kind = "conv"
channels = 3
kernel = 2
[[layer]]
kind = "pool"
[[layer]]
kind = "dense"
units = 1
[init]
{init}
[data]
inputs = [[[1, 2, 3, 4, 5, 6]], [[0.5, -1, 0, 2, 1, 3]]]
targets = [[1], [0]]
"""


def _conv(init: str, act: str = "tanh") -> str:
    return CONV.format(init=init, act=act)


BAD = [
    ("a kernel of the wrong shape", 'W1 = [[1, 2], [3, 4], [5, 6]]', "init.W1",
     "nested lists of shape [3, 1, 2]"),
    ("an unknown tensor", 'Q1 = "zero"', "init.Q1", "this network's tensors are W1, b1, W3, b3"),
    ("a word", 'b1 = "ones"', "init.b1", '"zero", "random", a number'),
    ("a bias too long", "b1 = [1, 2, 3, 4]", "init.b1", "a list of 4 where a list of 3"),
    ("an expression", 'W3 = "2*3"', "init.W3", '"zero", "random", a number'),
]


@pytest.mark.parametrize("init, field, says", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_init_names_the_field(init, field, says):
    with pytest.raises(SpecError) as info:
        Spec.from_toml(_conv(init), "bad.toml")
    assert info.value.field == field
    assert says in str(info.value)


@pytest.mark.parametrize("data, field, says", [
    ("inputs = [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6]]\ntargets = [[1], [0]]", "data.inputs",
     "shape [2, 1, 6]"),
    ("inputs = [[[1, 2, 3, 4, 5]], [[1, 2, 3, 4, 5]]]\ntargets = [[1], [0]]", "data.inputs",
     "a list of 5 where a list of 6"),
    ("inputs = [[[1, 2, 3, 4, 5, 6]]]\ntargets = [[1, 2]]", "data.targets", "of 1 number"),
])
def test_bad_data_names_the_field(data, field, says):
    text = _conv('W1 = "zero"').split("[data]")[0] + "[data]\n" + data + "\n"
    with pytest.raises(SpecError) as info:
        Spec.from_toml(text.replace("samples = 2\n", ""), "bad.toml")
    assert info.value.field == field
    assert says in str(info.value)


@pytest.mark.ci_tier     # a fresh interpreter (10 s on a loaded machine)
def test_the_command_line_exits_2_with_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(_conv(BAD[0][1]))
    run = subprocess.run([sys.executable, "-m", "symderive", "derive", str(path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2 and run.stdout == "" and "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1 and "init.W1" in run.stderr


def test_exact_values_in_pytorch_layout_round_trip():
    spec = Spec.from_toml(_conv('W1 = [[["1/3", 0.1]], [[2, -1]], [[0, 0]]]\nb1 = 0.5'), "x.toml")
    w = spec.init.tensor("W1").array()
    assert w.shape == (3, 1, 2) and w[0, 0, 0] == Fraction(1, 3) and w[0, 0, 1] == Fraction(1, 10)
    assert spec.data.input_array()[1, 0, 1] == -1
    again = Spec.from_dict(spec.to_dict(), "x.toml")
    assert again == spec and again.init.to_json() == spec.init.to_json()


# ------------------------------------------------------------------ what is proved


def _numpy_forward(W, b, V, c, X):
    """conv (k = 2, stride 1) -> tanh -> mean over positions -> dense: written here."""
    z = np.stack([np.stack([W[:, 0, 0] * x[0, t] + W[:, 0, 1] * x[0, t + 1] + b
                            for t in range(x.shape[1] - 1)], axis=1) for x in X])
    return np.tanh(z).mean(axis=2) @ V.T + c, z


@pytest.mark.ci_tier     # finite differences over every parameter, step by step
def test_tied_channels_with_tied_columns_form_a_class_and_an_untied_one_does_not():
    init = ('W1 = [[[0.5, -0.25]], [[0.5, -0.25]], [[0.5, -0.25]]]\nb1 = [0.1, 0.1, 0.1]\n'
            'W3 = [[1, 1, 2]]\nb3 = 0')
    d = symderive.derive(Spec.from_toml(_conv(init), "tied.toml"))
    assert [list(c) for c in d.start.classes[1].classes] == [[1, 2], [3]]
    assert d.start.verdict == "symmetric"
    # channel 3 reads the same kernel but a different outgoing weight: a witness separates it
    [w] = [w for w in d.start.check.witnesses if w.units == (1, 3)]
    assert w.step >= 1 and w.difference > 1e-6
    # the witness re-evaluated without symderive: SGD steps in NumPy by finite differences
    X = d.spec.data.input_array().astype(float)
    Y = np.array(d.spec.data.targets, dtype=float)
    p = {n: d.start.start.tensors[n].astype(float) for n in ("W1", "b1", "W3", "b3")}

    def loss(q):
        out, _ = _numpy_forward(q["W1"], q["b1"], q["W3"], q["b3"], X)
        return 0.5 * float(((out - Y) ** 2).sum())

    for _ in range(w.step):
        grads = {}
        for n, v in p.items():
            g = np.zeros_like(v)
            for idx in np.ndindex(*v.shape):
                up, down = {k: a.copy() for k, a in p.items()}, {k: a.copy() for k, a in p.items()}
                up[n][idx] += 1e-6
                down[n][idx] -= 1e-6
                g[idx] = (loss(up) - loss(down)) / 2e-6
            grads[n] = g
        p = {n: v - d.spec.check.learning_rate * grads[n] for n, v in p.items()}
    _, z = _numpy_forward(p["W1"], p["b1"], p["W3"], p["b3"], X)
    assert np.max(np.abs(z[:, 0] - z[:, 2])) > 1e-4           # channels 1 and 3 differ
    assert np.max(np.abs(z[:, 0] - z[:, 1])) < 1e-9           # channels 1 and 2 do not


def test_a_random_entry_never_fixes_a_pair():
    init = 'W1 = [[[0.5, -0.25]], [[0.5, -0.25]], [[1, 1]]]\nb1 = "random"\nW3 = [[1, 1, 2]]'
    d = symderive.derive(Spec.from_toml(_conv(init), "random.toml"))
    assert [list(c) for c in d.start.classes[1].classes] == [[1], [2], [3]]
    assert d.start.verdict != "symmetric"
    report = json.loads(d.to_json())["init"]
    assert report["classes"] == {"1": [[1], [2], [3]]} and "trajectory" not in report


def test_zero_weights_with_tanh_freeze_everything_but_the_output_bias():
    d = symderive.derive(Spec.from_toml(_conv('W1 = "zero"\nb1 = "zero"\nW3 = "zero"\nb3 = 0'),
                                        "zero.toml"))
    summary = {n: d.start.frozen.summary(n) for n in ("W1", "b1", "W3", "b3")}
    assert summary == {"W1": "all", "b1": "all", "W3": "all", "b3": "none"}
    assert d.start.verdict == "stuck" and d.start.holds("stuck") is True
    # the factor that vanishes: W1's gradient needs W3 = 0, W3's needs layer 1 silent
    assert d.start.frozen.factors["W1"] == ("W3",)
    assert set(d.start.frozen.factors["W3"]) == {"W1", "b1"}
    answer = d.to_markdown()
    assert "**Stuck.**" in answer and "W1, b1 and W3 never move, and only b3 can learn" in answer
    # the trajectory: only b3 moves, and it follows the closed form b ← b − η Σ_n (b − y_n)
    steps = json.loads(d.to_json())["init"]["trajectory"]
    b, rate = 0.0, d.spec.check.learning_rate
    for s in steps:
        assert s["parameters"]["b3"] == [pytest.approx(b, abs=1e-15)]
        assert s["parameters"]["W3"] == [[0.0, 0.0, 0.0]]
        b -= rate * ((b - 1) + (b - 0))


def test_dead_relu_channels_are_found_exactly():
    init = 'W1 = [[[1, 1]], [[-1, -1]], [[0, 0]]]\nb1 = [0, -1, 0]\nW3 = [[1, 2, 3]]\nb3 = 0'
    text = _conv(init, "relu").replace("[[0.5, -1, 0, 2, 1, 3]]", "[[0.5, 1, 0, 2, 1, 3]]")
    d = symderive.derive(Spec.from_toml(text, "dead.toml"))
    # channel 2: -(x_t + x_{t+1}) - 1 < 0 on these positive inputs; channel 3: exactly 0
    assert d.start.dead == {1: (2, 3)}
    X = d.spec.data.input_array().astype(float)
    _, z = _numpy_forward(d.start.start.tensors["W1"].astype(float),
                          d.start.start.tensors["b1"].astype(float), np.ones((1, 3)), 0, X)
    assert (z[:, 1] < 0).all() and (z[:, 2] == 0).all() and (z[:, 0] > 0).any()
    # a dead ReLU channel's own rows never move
    assert d.start.frozen.summary("b1") == [[2], [3]]
    assert "channels 2 and 3 of layer 1 are dead" in d.to_markdown()


def test_the_claim_about_a_layer_start_is_judged():
    text = _conv('W1 = "zero"\nb1 = "zero"\nW3 = "zero"\nb3 = 0\nclaim = "broken"\n'
                 'claimed_by = "the blog"')
    d = symderive.derive(Spec.from_toml(text, "claim.toml"))
    report = json.loads(d.to_json())
    assert report["init"]["claim"] == {"verdict": "broken", "by": "the blog", "holds": False}
    assert report["answer"].startswith("The blog is wrong.")


def test_the_frozen_verification_walks_a_shared_loss_once():
    """A loss through a batch norm shares subexpressions between samples; SymPy's
    ``free_symbols`` walks every shared subtree again (a ResNet block's start took over 20
    minutes).  The verification's own walk visits each distinct subexpression once: on a
    chain whose tree has 2**24 leaves it finds the same symbols as ``free_symbols`` finds
    on a short one."""
    import sympy as sp

    from symderive.engine.layers.frozen import _symbols

    def chain(depth):
        xs = sp.symbols(f"x0:{depth}", real=True)
        ys = sp.symbols(f"y0:{depth}", real=True)
        e, f = sp.Symbol("w", real=True), sp.Function("f")
        for x, y in zip(xs, ys):
            e = f(e) * x + f(e) * y ** 2
        return e, {*xs, *ys, sp.Symbol("w", real=True)}

    short, names = chain(6)
    assert _symbols(short) == short.free_symbols == names
    long, names = chain(24)
    assert _symbols(long) == names
