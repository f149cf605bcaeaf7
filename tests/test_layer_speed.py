"""The layer kinds' speed-ups change no expression and no number.

- :func:`~symderive.engine.layers.base.product` builds the very expression ``a * b``
  (same tree, same hash) for every kind of pair, the fast case and the others;
- the convolution's and the dense layer's symbolic forwards equal an entry-by-entry
  reference written here with SymPy's own ``*`` and ``Add`` (the swap compares them
  structurally, so the tree must be SymPy's, not merely equal in value);
- the stack's cross-check: the loss of the forward pass alone is the gradient pass's
  loss bit for bit, the point's gradient is a fresh pass's, and the gradient check
  still reports a backward pass that is off by 1 %.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import sympy as sp

from symderive.engine.layers import layer_kind, symbols
from symderive.engine.layers.base import product
from symderive.spec import Spec

REAL = [sp.Symbol(n, real=True) for n in ("W1_1_1", "W1_1_2", "x_1_1", "Xq_2", "b")]
OTHERS = [sp.Symbol("x_1_1"), sp.Symbol("W1_1_1", positive=True), sp.Dummy("d"),
          sp.Symbol("nc", commutative=False), sp.Integer(0), sp.Integer(3), sp.Rational(1, 2),
          sp.tanh(REAL[2]) + 1, REAL[0] * REAL[2], REAL[1] ** 2]


def test_product_is_sympys_own_product():
    for a, b in itertools.product(REAL + OTHERS, repeat=2):
        expected, got = a * b, product(a, b)
        assert sp.srepr(got) == sp.srepr(expected) and hash(got) == hash(expected), (a, b)
        assert got == expected and got.args == expected.args, (a, b)


def _reference_conv(layer, theta, x):
    """Each output entry as the textbook sum, with SymPy's ``*`` (no helper of the kind)."""
    kernel, stride, padding = (layer.option(k) for k in ("kernel", "stride", "padding"))
    W, b = theta[f"W{layer.index}"], theta.get(f"b{layer.index}")
    out = np.empty((x.shape[0],) + layer.out_shape, dtype=object)
    for n, o, *t in np.ndindex(*out.shape):
        terms = []
        for c in range(layer.in_shape[0]):
            for k in np.ndindex(*kernel):
                at = [ti * s + ki - p for ti, s, ki, p in zip(t, stride, k, padding)]
                inside = all(0 <= a < m for a, m in zip(at, layer.in_shape[1:]))
                terms.append(W[(o, c, *k)] * (x[(n, c, *at)] if inside else 0))
        out[(n, o, *t)] = sp.Add(*terms, b[o] if b is not None else 0)
    return out


HYP = "[[hypothesis]]\nlayer = 1\nunits = [1, 2]\ntie = ['incoming']\n"
CONVS = ["input = [2, 7]\n[[layer]]\nkind = 'conv'\nchannels = 3\nkernel = 3\nstride = 2\n"
         "padding = 1\n",
         "input = [2, 5, 4]\n[[layer]]\nkind = 'conv'\nchannels = 2\nkernel = [2, 3]\n"
         "stride = [2, 1]\npadding = [1, 0]\nbias = false\n"]


@pytest.mark.parametrize("text", CONVS)
@pytest.mark.parametrize("inputs", ["symbols", "expressions"])
def test_conv_forward_is_the_reference_tree(text, inputs):
    spec = Spec.from_toml("[network]\nsamples = 2\n" + text + "[[layer]]\nkind = 'pool'\n"
                          "[[layer]]\nkind = 'dense'\nunits = 1\n" + HYP)
    layer = spec.network.stack[0]
    kind = layer_kind(layer.kind)
    theta = {n: symbols(f"{n}r", s) for n, s in kind.tensors(layer).items()}
    x = symbols("Aq" if inputs == "symbols" else "xq", (2, *layer.in_shape))
    if inputs == "expressions":
        x = np.vectorize(lambda e: sp.tanh(e) + 1, otypes=[object])(x)
    got, expected = kind.forward(layer, theta, x), _reference_conv(layer, theta, x)
    assert got.shape == expected.shape
    assert all(sp.srepr(g) == sp.srepr(e) for g, e in zip(got.flat, expected.flat))


def test_dense_forward_is_the_reference_tree():
    spec = Spec.from_toml("[network]\ninput = [3]\nsamples = 2\n"
                          "[[layer]]\nkind = 'dense'\nunits = 2\n" + HYP)
    layer = spec.network.stack[0]
    kind = layer_kind(layer.kind)
    theta = {n: symbols(f"{n}r", s) for n, s in kind.tensors(layer).items()}
    x = symbols("xq", (2, 3))
    got = kind.forward(layer, theta, x)
    W, b = theta["W1"], theta["b1"]
    for n, u in np.ndindex(2, 2):
        expected = sp.Add(*[W[u, k] * x[n, k] for k in range(3)], b[u])
        assert sp.srepr(got[n, u]) == sp.srepr(expected)


SMALL_CNN = ("[network]\ninput = [2, 6]\nsamples = 2\nloss = 'mse'\n"
             "[[layer]]\nkind = 'conv'\nchannels = 3\nkernel = 2\n"
             "[[layer]]\nkind = 'pool'\n[[layer]]\nkind = 'dense'\nunits = 2\n")


def _point(text: str, seed: int = 3):
    from symderive.engine.layers.settle import random_point
    from symderive.engine.layers.stack import Stack
    from symderive.engine.layers.units import Units

    spec = Spec.from_toml(text)
    stack = Stack(spec.network)
    units = Units(spec.network, spec.hypotheses[0])
    return spec, stack, units, random_point(stack, units, np.random.default_rng(seed))


def test_the_loss_alone_is_the_gradient_pass_loss_bit_for_bit():
    _, stack, _, p = _point(SMALL_CNN + HYP)
    assert stack.np_loss(p.theta, p.X, p.Y) == stack.np_gradient(p.theta, p.X, p.Y)[0]


def test_the_stack_gradient_check_still_catches_a_wrong_backward(monkeypatch):
    """Finite differences of the forward pass alone against the point's gradient: a
    backward pass off by 1 % in one tensor is reported as a problem."""
    from symderive.engine.layers.conv import Conv
    from symderive.engine.symmetry import HypothesisResult
    from symderive.numeric.layers import check_stack

    spec = Spec.from_toml(SMALL_CNN + HYP)
    result = HypothesisResult(spec.hypotheses[0], (), "broken", False, True, "layer by layer")
    assert check_stack(spec, result, 5).problems == ()
    right = Conv.np_backward

    def wrong(self, layer, theta, cache, dout):
        dx, grads = right(self, layer, theta, cache, dout)
        return dx, {k: v * 1.01 for k, v in grads.items()}
    monkeypatch.setattr(Conv, "np_backward", wrong)
    check = check_stack(spec, result, 5)
    assert check.problems and "finite differences" in check.problems[0]


def test_training_starts_from_the_points_own_gradient():
    """The first step reuses the point's gradient: the same as a fresh pass, bit for bit."""
    _, stack, _, p = _point(SMALL_CNN + HYP)
    fresh = stack.np_gradient({k: v.copy() for k, v in p.theta.items()}, p.X, p.Y)[1]
    assert fresh.keys() == p.grads.keys()
    assert all(np.array_equal(fresh[k], p.grads[k]) for k in fresh)


# ---- the groups' index runs, and where the local derivation is tried ----------------
LAYERED = sorted((__import__("pathlib").Path(__file__).parent.parent / "derivations" /
                  "layers").glob("*.toml"))


def _entry_by_entry(units, theta, grads):
    """impose and difference written entry by entry, in the groups' order (no runs)."""
    theta = {k: v.copy() for k, v in theta.items()}
    for name, (ei, ej) in units.groups.items():
        if units.base(name) in units.hyp.tie:
            for (ta, ia), (tb, ib) in zip(ei, ej):
                theta[tb][ib] = theta[ta][ia]
        elif units.base(name) in units.hyp.zero:
            for t, idx in ei + ej:
                theta[t][idx] = 0
    diffs = {name: np.array([grads[a][ia] - grads[b][ib] for (a, ia), (b, ib) in zip(ei, ej)])
             for name, (ei, ej) in units.groups.items()}
    return theta, diffs


@pytest.mark.parametrize("path", LAYERED, ids=[p.stem for p in LAYERED])
def test_runs_impose_and_differ_as_entry_by_entry(path):
    """The index runs (NumPy advanced indexing per tensor) give the entry-by-entry
    result on every bundled layer derivation's hypotheses, streams included (where the
    exchanges compose and imposing goes entry by entry)."""
    import symderive
    from symderive.engine.layers.stack import Stack
    from symderive.engine.layers.units import Units

    spec = symderive.load(path)
    stack = Stack(spec.network)
    rng = np.random.default_rng(5)
    for hyp in spec.hypotheses:
        units = Units(spec.network, hyp)
        theta = {k: rng.normal(size=s) for k, s in stack.shapes.items()}
        grads = {k: rng.normal(size=s) for k, s in stack.shapes.items()}
        want_theta, want = _entry_by_entry(units, theta, grads)
        got_theta = {k: v.copy() for k, v in theta.items()}
        units.impose(got_theta)
        for k in theta:
            assert np.array_equal(got_theta[k], want_theta[k]), (hyp.name, k)
        for name in units.groups:
            assert np.array_equal(units.difference(grads, name), want[name]), (hyp.name, name)


def test_a_group_that_differs_at_the_first_point_gets_no_local_derivation(monkeypatch):
    """Attention heads with query, key and value tied and output free: the query, key
    and value groups differ at the search's first point, so the local model is tried
    only for the output group (which it proves), and the verdicts are unchanged."""
    from symderive.engine.layers import attention

    from test_layer_kinds2_specs import ATTENTION

    text = ATTENTION.replace("input = [2, 2]", "input = [4, 4]")
    tried = []
    original = type(attention.KIND).local_zero

    def recording(self, layer, after, hyp, group):
        tried.append(group)
        return original(self, layer, after, hyp, group)

    monkeypatch.setattr(type(attention.KIND), "local_zero", recording)
    result = symderive_derive(text)
    assert result.hypothesis.tie == ("query", "key", "value")
    assert {g.group: g.status for g in result.groups} == {
        "query": "different", "key": "different", "value": "different", "output": "equal"}
    assert tried == ["output"]       # the second hypothesis (all tied) is the swap's


def symderive_derive(text: str):
    from symderive.api import derive

    return derive(Spec.from_toml(text, "t"), numeric=False).results[0]


PRE_NORM = """
[network]
input = [4, 2]
samples = 1

[[layer]]
kind = "dense"
units = 3
activation = "tanh"

[[layer]]
kind = "norm"
over = "features"

[[layer]]
kind = "attention"
heads = 2
head_dim = 1
skip = 1

[[layer]]
kind = "flatten"

[[layer]]
kind = "dense"
units = 2

[[hypothesis]]
layer = 1
units = [1, 3]
zero = ["incoming", "outgoing"]
"""


def test_a_norm_before_attention_is_not_differentiated_whole(monkeypatch):
    """A pre-norm block's gains: the whole-loss zero test took 47 s a group (estimated
    at 2 s; the command line ran past its limit). Attention after a norm multiplies the
    estimate (zero_test_factor), so the step is skipped and says so; without the norm
    the factor is 1."""
    from symderive.engine.layers import attention, settle

    def never(*args):
        raise AssertionError("the whole loss was differentiated")

    monkeypatch.setattr(settle, "_whole_loss_zero", never)
    result = symderive_derive(PRE_NORM)
    skipped = {g.group for g in result.groups if g.method == "whole loss skipped"}
    assert {"gain", "shift"} <= skipped
    assert all(g.note.startswith("The whole-loss check was skipped")
               for g in result.groups if g.group in skipped)
    spec = Spec.from_toml(PRE_NORM, "t")
    layers = spec.network.stack
    assert attention.KIND.zero_test_factor(layers[2], layers[:2]) > 10
    assert attention.KIND.zero_test_factor(layers[2], layers[:1]) == 1.0
