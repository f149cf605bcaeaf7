"""Residual streams through attention and norms: the transformer block and the ResNet block.

- the kinds' NumPy passes against torch.nn (built from the spec's tables) and finite
  differences, on random small transformer blocks (tokens 1-3, features 2-4, heads 1-2,
  head_dim 1-2, causal or not, pre- or post-norm, layer or batch norm, a dense layer
  after with its own skip) and ResNet blocks (1-D and 2-D, a skip from a norm);
- the kinds' SymPy forward, differentiated as a whole loss, against the NumPy pass;
- verdicts: every witness recomputed by torch autograd, every ``preserved`` verdict
  checked on the whole loss differentiated by SymPy under the hypothesis (tiny shapes),
  neither with the kinds' own passes;
- what a unit and a stream are after attention (heads join no stream; an attention
  layer joins one by its output features: rows of O) and the errors that remain.
"""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from conftest import fresh_layer_caches
from layer_reference import torch_gradient
from symderive.engine.layers.settle import settle_stack, tie_substitution
from symderive.engine.layers.stack import Stack
from symderive.engine.layers.units import Units
from symderive.errors import SpecError
from symderive.spec import Hypothesis, Spec
from test_layer_kinds import _point, assert_passes_agree, assert_symbolic_agrees

HYP = "\n[[hypothesis]]\nlayer = 1\nunits = [1, 2]\n"


def transformer_spec(rng: np.random.Generator) -> Spec:
    """Embedding → attention (skip) → norm, pre- or post-norm, maybe a dense layer with
    its own skip, flatten, dense."""
    tokens = 1 + int(rng.integers(3))
    heads = 1 + int(rng.integers(2))
    head_dim = 1 + int(rng.integers(2))
    features = int(rng.integers(2, 5))
    over = "batch" if rng.integers(3) == 0 else "features"
    causal = "true" if rng.integers(2) else "false"
    pre = bool(rng.integers(2))
    lines = ["[network]", f"input = [{tokens}, 2]", "samples = 2",
             "[[layer]]", 'kind = "dense"', f"units = {features}", 'activation = "tanh"']
    norm = ["[[layer]]", 'kind = "norm"', f'over = "{over}"']
    attention = ["[[layer]]", 'kind = "attention"', f"heads = {heads}",
                 f"head_dim = {head_dim}", f"causal = {causal}", "skip = 1"]
    lines += norm + attention if pre else attention + norm
    if rng.integers(2):
        lines += ["[[layer]]", 'kind = "dense"', f"units = {features}", 'activation = "tanh"',
                  "skip = 3"]
    lines += ["[[layer]]", 'kind = "flatten"', "[[layer]]", 'kind = "dense"', "units = 1"]
    return Spec.from_toml("\n".join(lines) + HYP, "<transformer>")


def resnet_spec(rng: np.random.Generator, tiny: bool = False) -> Spec:
    """conv → norm (tanh) → conv → norm with skip = 2 (the skip from a norm) → pool → dense."""
    two_d = bool(rng.integers(2)) and not tiny
    size = 2 if tiny else int(rng.integers(2, 4))
    channels = 2 if tiny else int(rng.integers(2, 4))
    kernel = 1 if tiny else 3
    shape = [1] + [size] * (2 if two_d else 1)
    lines = ["[network]", f"input = {shape}", "samples = 2"]
    for k in range(2):
        over = ["features", "batch"][int(rng.integers(2))]
        lines += ["[[layer]]", 'kind = "conv"', f"channels = {channels}", f"kernel = {kernel}",
                  f"padding = {kernel // 2}", 'activation = "identity"',
                  "[[layer]]", 'kind = "norm"', f'over = "{over}"']
        lines += ['activation = "tanh"'] if k == 0 else ["skip = 2"]
    lines += ["[[layer]]", 'kind = "pool"', "[[layer]]", 'kind = "dense"', "units = 1"]
    return Spec.from_toml("\n".join(lines) + HYP, "<resnet>")


MAKERS = {"transformer": transformer_spec, "resnet": resnet_spec}
CASES = [(name, seed) for name in MAKERS for seed in range(6)]


@pytest.mark.parametrize("name, seed", CASES)
def test_numpy_pass_agrees_with_torch_and_finite_differences(name, seed):
    assert_passes_agree(MAKERS[name](np.random.default_rng(seed)), seed)


@pytest.mark.ci_tier     # SymPy differentiates attention and a norm: tens of seconds each
@pytest.mark.parametrize("pre", [False, True], ids=["post-norm", "pre-norm"])
def test_symbolic_forward_agrees_with_the_numpy_pass(pre):
    spec = tiny_block(pre)
    assert [s.kind for s in spec.network.stack][1:3] == (["norm", "attention"] if pre else
                                                          ["attention", "norm"])
    assert_symbolic_agrees(spec, 3)


def _hypotheses(spec: Spec) -> list[Hypothesis]:
    """On the first layer with units 2 (the stream's first layer) and on attention heads
    (when there are two): own groups tied, then every group tied."""
    out = []
    for s in spec.network.stack:
        if s.units < 2 or s.index == spec.network.stack[-1].index:
            continue
        own = tuple(g for g in s.groups if g in ("incoming", "bias", "query", "key", "value"))
        out += [Hypothesis("own", s.index, (1, 2), own, ()),
                Hypothesis("all", s.index, (1, 2), s.groups, ())]
    return out


def _whole_loss_differences(stack: Stack, units: Units, point) -> dict[str, float]:
    """Per group, |∂L/∂θ_i − ∂L/∂θ_j| of the whole SymPy loss for the group's first pair
    of entries, at a point satisfying the hypothesis: every other symbol replaced by its
    value, the loss differentiated in the one left (no kind's NumPy pass involved)."""
    from symderive.engine.network import target

    theta, X, Y = point
    units.impose(theta)
    loss = stack.loss()
    values = {stack.theta[k][i]: sp.Float(theta[k][i], 30)
              for k in theta for i in np.ndindex(*theta[k].shape)}
    xs = stack.inputs()
    values.update({xs[i]: sp.Float(X[i], 30) for i in np.ndindex(*xs.shape)})
    values.update({target(n + 1, 1): sp.Float(Y[n, 0], 30) for n in range(Y.shape[0])})
    out = {}
    for name, (ei, ej) in units.groups.items():
        slopes = []
        for t, idx in (ei[0], ej[0]):
            s = stack.theta[t][idx]
            alone = loss.xreplace({k: v for k, v in values.items() if k != s})
            slopes.append(alone.diff(s).xreplace({s: values[s]}))
        out[name] = abs(float(slopes[0] - slopes[1]))
    return out


def _torch_differences(spec: Spec, units: Units, point) -> dict[str, float]:
    """The same, from torch autograd on the spec's tables."""
    theta, X, Y = point
    units.impose(theta)
    grads = torch_gradient(spec, theta, X, Y)
    return {name: float(np.max(np.abs(units.difference(grads, name)))) for name in units.groups}


def _check_verdicts(spec: Spec, seed: int, differences) -> set[str]:
    """Every verdict of :func:`_hypotheses` against ``differences`` (preserved: 0 at a
    point satisfying the hypothesis) and every witness against torch."""
    stack = Stack(spec.network)
    seen = set()
    for hyp in _hypotheses(spec):
        result = settle_stack(spec.network, hyp, seed)
        units = Units(spec.network, hyp)
        seen.add(result.verdict)
        if result.verdict == "preserved":
            gaps = differences(spec, stack, units, _point(stack, seed))
            assert max(gaps.values()) < 1e-9, (hyp, gaps)
        for g in result.groups:
            if g.witness is None:
                continue
            w = g.witness
            theta = {k: np.asarray(v, dtype=float) for k, v in w.parameters.items()}
            grads = torch_gradient(spec, theta, np.asarray(w.inputs), np.asarray(w.targets))
            again = units.difference(grads, g.group)
            assert np.allclose(again, w.difference, rtol=1e-9, atol=1e-12)
            largest = max(float(np.max(np.abs(v))) for v in grads.values())
            assert np.max(np.abs(again)) > max(1e-9, 1e-7 * largest)    # far above rounding
    return seen


@pytest.mark.parametrize("name, seed", [(n, s) for n in MAKERS for s in range(3)])
def test_verdicts_are_what_torch_says(name, seed):
    """Preserved: torch's gradient differences vanish at a point satisfying the
    hypothesis; every witness: torch's gradients give its difference."""
    spec = MAKERS[name](np.random.default_rng(70 + seed))
    seen = _check_verdicts(spec, seed, lambda sp_, st, u, p: _torch_differences(sp_, u, p))
    assert seen == {"preserved", "broken"}


def tiny_block(pre: bool = False) -> Spec:
    """Embedding (2 features), one causal head added to the stream, a layer norm after
    it (post-norm) or before it (pre-norm), flatten, dense: for the whole SymPy loss."""
    norm = '[[layer]]\nkind = "norm"\n'
    attention = ('[[layer]]\nkind = "attention"\nheads = 1\nhead_dim = 1\ncausal = true\n'
                 "skip = 1\n")
    text = ('[network]\ninput = [2, 2]\nsamples = 2\n[[layer]]\nkind = "dense"\nunits = 2\n'
            'activation = "tanh"\n' + (norm + attention if pre else attention + norm)
            + '[[layer]]\nkind = "flatten"\n[[layer]]\nkind = "dense"\nunits = 1\n' + HYP)
    return Spec.from_toml(text, "<tiny block>")


@pytest.mark.ci_tier
@pytest.mark.parametrize("name", ["transformer", "resnet"])
def test_preserved_verdicts_on_the_whole_sympy_loss(name):
    """The same on tiny shapes, with the whole loss differentiated by SymPy (one pair
    of entries per group): a one-head block's stream, and a ResNet block."""
    spec = tiny_block() if name == "transformer" else \
        resnet_spec(np.random.default_rng(80), tiny=True)
    seen = _check_verdicts(spec, 0, lambda sp_, st, u, p: _whole_loss_differences(st, u, p))
    assert "preserved" in seen


BLOCK = """
[network]
input = [2, 2]
samples = 2
[[layer]]
kind = "dense"
units = 3
[[layer]]
kind = "attention"
heads = 2
head_dim = 1
skip = 1
[[layer]]
kind = "norm"
[[layer]]
kind = "flatten"
[[layer]]
kind = "dense"
units = 1
""" + HYP


def test_heads_join_no_stream_and_attention_joins_one_by_its_features():
    spec = Spec.from_toml(BLOCK, "<block>")
    heads = Units(spec.network, Hypothesis("", 2, (1, 2), (), ()))
    assert heads.stream == (2,)
    assert list(heads.groups) == ["query", "key", "value", "output"]
    features = Units(spec.network, Hypothesis("", 1, (1, 3), (), ()))
    assert features.stream == (1, 2)
    assert list(features.groups) == ["incoming", "bias", "outgoing", "incoming@2", "bias@2",
                                     "gain@2", "shift@2", "outgoing@2"]
    # incoming@2 is feature 1's row of O; outgoing the columns of Q, K and V that read it
    assert features.groups["incoming@2"][0] == [("O2", (0, 0)), ("O2", (0, 1))]
    assert features.groups["bias@2"] == ([("bo2", (0,))], [("bo2", (2,))])
    assert [e for e in features.groups["outgoing"][0] if e[0] == "K2"] == [
        ("K2", (0, 0)), ("K2", (1, 0))]
    assert spec.network.stack[0].groups == ("incoming", "bias", "gain", "shift", "outgoing")


def _bad(*tables: str, input: str = "[2, 2]") -> str:
    return f"[network]\ninput = {input}\n" + "".join(f"[[layer]]\n{t}\n" for t in tables) + HYP


@pytest.mark.parametrize("text, field, says", [
    (_bad('kind = "attention"\nheads = 2', 'kind = "flatten"', 'kind = "dense"\nunits = 2',
          'kind = "dense"\nunits = 2\nskip = 2', input="[2, 2]"),
     "layer[4].skip", "a skip needs the same shape"),
    (_bad('kind = "conv"\nchannels = 2\nkernel = 1', 'kind = "pool"',
          'kind = "dense"\nunits = 2\nskip = 2', input="[1, 2]"),
     "layer[3].skip", "a residual stream joins two layers whose outputs are channels"),
    (_bad('kind = "conv"\nchannels = 2\nkernel = 1', 'kind = "dense"\nunits = 2\nskip = 1',
          'kind = "flatten"', 'kind = "dense"\nunits = 1', input="[1, 2]"),
     "layer[2].skip", "channels on the same axis"),
    (_bad('kind = "dense"\nunits = 2', 'kind = "norm"', 'kind = "norm"',
          'kind = "dense"\nunits = 1', input="[2]"),
     "layer[3].kind", "layer 2 has no units"),
    (_bad('kind = "attention"\nheads = 2', 'kind = "norm"', 'kind = "flatten"',
          'kind = "dense"\nunits = 1') + '[[hypothesis]]\nlayer = 1\nunits = [1, 2]\n'
     'tie = ["gain"]\n', "hypothesis[2].tie", "unknown group 'gain'"),
])
def test_what_stays_unsupported_names_the_layer(text, field, says):
    with pytest.raises(SpecError) as info:
        Spec.from_toml(text, "bad.toml")
    assert info.value.field == field, info.value
    assert says in str(info.value)


def test_the_swap_check_fails_when_attention_pairs_its_features_wrongly(monkeypatch):
    """The stream's swap takes feature i's row of O to feature j's entry by entry; an
    attention kind that listed feature 2's row in another order must lose the swap."""
    from symderive.engine.layers import layer_kind
    from symderive.engine.layers.swap import swap_check

    spec = Spec.from_toml(BLOCK, "<block>")
    hyp = Hypothesis("", 1, (1, 2), spec.network.stack[0].groups, ())
    assert swap_check(spec.network, Units(spec.network, hyp))[0] is True
    kind = layer_kind("attention")
    original = type(kind).stream_entries

    def misordered(self, layer, channel, group):
        found = original(self, layer, channel, group)
        return found[::-1] if channel == 2 else found

    monkeypatch.setattr(type(kind), "stream_entries", misordered)
    fresh_layer_caches()    # what was kept for the spec came from the kind's own code
    assert swap_check(spec.network, Units(spec.network, hyp))[0] is False


@pytest.mark.parametrize("name", ["batchnorm_zero_scale_residual", "lstm_zero_state",
                                  "resnet_block_zero_gain", "transformer_block"])
def test_the_tie_substitution_makes_every_tied_pair_one_symbol(name):
    """In a stream (and an LSTM's U) a pair comes twice, once each way: the substitution
    must equate the two entries, not exchange them (which would impose nothing)."""
    import symderive
    from conftest import ROOT

    spec = symderive.load(ROOT / "derivations" / "layers" / f"{name}.toml")
    stack = Stack(spec.network)
    for hyp in spec.hypotheses:
        units = Units(spec.network, hyp)
        tie = tie_substitution(stack.theta, units)
        for group, (ei, ej) in units.groups.items():
            if units.base(group) not in hyp.tie:
                continue
            for (a, ia), (b, ib) in zip(ei, ej):
                assert stack.theta[a][ia].xreplace(tie) == stack.theta[b][ib].xreplace(tie), \
                    (hyp.name, group, (a, ia), (b, ib))
