"""``input`` + ``[[layer]]`` specs: validation (exit 2 naming the layer), residual streams,
the bundled layer derivations, and their witnesses re-evaluated in torch."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import symderive
from conftest import ROOT, fresh_layer_caches
from layer_reference import torch_loss, witnesses_reproduced
from symderive.engine import mlp
from symderive.engine.layers.stack import Stack
from symderive.engine.layers.units import Units
from symderive.errors import SpecError
from symderive.spec import Spec

#: The bundled layer derivations with hypotheses (weight_norms_batch_norm has a fact only:
#: tests/test_scale.py checks it).
LAYERED = sorted(p for p in (ROOT / "derivations" / "layers").glob("*.toml")
                 if "[[hypothesis]]" in p.read_text(encoding="utf-8"))
HEAD = '[network]\ninput = {input}\nsamples = 2\n'
HYP = '[[hypothesis]]\nlayer = 1\nunits = [1, 2]\n'


def _spec(input_, *layers: str, hyp: str = HYP) -> str:
    return HEAD.format(input=input_) + "".join(f"[[layer]]\n{l}\n" for l in layers) + hyp


BAD = [
    ("skip between shapes", _spec("[1, 6]", 'kind = "conv"\nchannels = 2\nkernel = 3',
                                  'kind = "conv"\nchannels = 2\nkernel = 1\nskip = 1',
                                  'kind = "conv"\nchannels = 2\nkernel = 3\nskip = 1',
                                  'kind = "pool"', 'kind = "dense"\nunits = 1'),
     "layer[3].skip", "adds layer 1's output [2, 4] to layer 3's [2, 2]"),
    ("norm first", _spec("[3]", 'kind = "norm"', 'kind = "dense"\nunits = 2'),
     "layer[1].kind", "it is the first layer"),
    ("norm after pool", _spec("[1, 6]", 'kind = "conv"\nchannels = 2\nkernel = 3',
                              'kind = "pool"', 'kind = "norm"', 'kind = "dense"\nunits = 1'),
     "layer[3].kind", "layer 2 has no units"),
    ("pool before conv", _spec("[1, 6]", 'kind = "conv"\nchannels = 2\nkernel = 3',
                               'kind = "pool"', 'kind = "conv"\nchannels = 2\nkernel = 1',
                               'kind = "dense"\nunits = 1'),
     "layer[3].kind", "but layer 2 gives [2]"),
    ("output with positions", _spec("[1, 6]", 'kind = "conv"\nchannels = 2\nkernel = 3'),
     "layer[1].kind", "give one vector per sample"),
    ("kernel too large", _spec("[1, 3]", 'kind = "conv"\nchannels = 2\nkernel = 5',
                               'kind = "pool"', 'kind = "dense"\nunits = 1'),
     "layer[1].kernel", "larger than the padded input"),
    ("unknown kind", _spec("[3]", 'kind = "attention2"', 'kind = "dense"\nunits = 2'),
     "layer[1].kind", "must be one of dense, conv"),
    ("hypothesis on pool", _spec("[2, 4]", 'kind = "conv"\nchannels = 2\nkernel = 3',
                                 'kind = "pool"', 'kind = "dense"\nunits = 2',
                                 hyp='[[hypothesis]]\nlayer = 2\nunits = [1, 2]\n'),
     "hypothesis[1].layer", "layer 2 has no units; layers with units: 1, 3"),
    ("gain without norm", _spec("[3]", 'kind = "dense"\nunits = 2', 'kind = "dense"\nunits = 1',
                                hyp=HYP + 'tie = ["gain"]\n'),
     "hypothesis[1].tie", "unknown group 'gain'"),
    ("layers and [[layer]]", "[network]\nlayers = [2, 1]\ninput = [2]\n[[layer]]\nkind = "
     '"dense"\nunits = 1\n' + HYP, "network.layers", "exclusive"),
    ("bias on pool", _spec("[1, 4]", 'kind = "conv"\nchannels = 2\nkernel = 3',
                           'kind = "pool"\nbias = false', 'kind = "dense"\nunits = 1'),
     "layer[2].bias", "no parameters"),
    ("activation on flatten", _spec("[1, 4]", 'kind = "conv"\nchannels = 2\nkernel = 3',
                                    'kind = "flatten"\nactivation = "tanh"',
                                    'kind = "dense"\nunits = 1'),
     "layer[2].activation", "applies no activation"),
    ("init of the wrong shape", _spec("[3]", 'kind = "dense"\nunits = 2',
                                      'kind = "dense"\nunits = 1')
     + "[init]\nW1 = [[1, 2, 3]]\n", "init.W1", "shape [2, 3]"),
]


@pytest.mark.parametrize("text,field,says", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_an_unsupported_combination_names_the_layer(text, field, says):
    with pytest.raises(SpecError) as info:
        Spec.from_toml(text, "bad.toml")
    assert info.value.field == field
    assert says in str(info.value)


def test_the_command_line_exits_2_with_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(BAD[0][1])
    run = subprocess.run([sys.executable, "-m", "symderive", "derive", str(path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 2
    assert run.stdout == "" and "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1 and "layer[3].skip" in run.stderr


def test_a_residual_stream_names_the_other_layers_groups():
    spec = symderive.load(next(p for p in LAYERED if p.stem == "batchnorm_zero_scale_residual"))
    units = Units(spec.network, spec.hypotheses[0])
    assert units.stream == (1, 2)
    assert list(units.groups) == ["incoming", "bias", "gain", "shift", "outgoing",
                                  "incoming@1", "bias@1", "outgoing@1"]
    # outgoing@1: layer 2 reads channel 1 of layer 1 through its kernel slice W2[:, 0]
    assert units.groups["outgoing@1"][0][:3] == [("W2", (0, 0, 0)), ("W2", (0, 0, 1)),
                                                  ("W2", (0, 0, 2))]


def test_the_swap_leaves_the_loss_unchanged_in_torch():
    """Exchanging every pair of entries of every group (the swap P) at a random point
    gives the same loss, computed by torch, for each bundled layer derivation."""
    rng = np.random.default_rng(5)
    for path in LAYERED:
        spec = symderive.load(path)
        stack = Stack(spec.network)
        for hyp in spec.hypotheses:
            theta = {k: rng.uniform(-1, 1, size=s) + (1 if k[0] == "g" else 0)
                     for k, s in stack.shapes.items()}
            X = rng.normal(size=(spec.network.samples, *spec.network.input))
            Y = np.eye(spec.network.layers[-1])[rng.integers(0, spec.network.layers[-1],
                                                             spec.network.samples)]
            swapped = {k: v.copy() for k, v in theta.items()}
            for (a, ia), (b, ib) in Units(spec.network, hyp).swap():
                swapped[b][ib] = theta[a][ia]
            before = torch_loss(spec, theta, X, Y)[0].item()
            after = torch_loss(spec, swapped, X, Y)[0].item()
            assert after == pytest.approx(before, rel=1e-12, abs=1e-12), (path.name, hyp.name)
            assert not all(np.array_equal(theta[k], swapped[k]) for k in theta)


@pytest.mark.parametrize("path", LAYERED, ids=[p.stem for p in LAYERED])
def test_witnesses_reproduce_in_torch(path):
    """Every witness's difference, recomputed by torch autograd from the listed values."""
    assert witnesses_reproduced(symderive.derive(path, numeric=False))


EXPECTED = {
    "batchnorm_zero_scale_residual": ["broken", "preserved"],
    "conv_filters_tied": ["broken", "preserved"],
    "layer_norm_after_dense": ["broken", "preserved"],
    "small_cnn": ["broken", "preserved", "preserved"],
    "attention_identical_heads": ["broken", "preserved"],
    "attention_zero_query_key": ["broken", "preserved"],
    "lstm_zero_state": ["broken", "broken", "preserved"],
    "transformer_block": ["broken", "preserved", "broken", "preserved"],
    "resnet_block_zero_gain": ["broken", "broken", "preserved"],
    "conv_zero_init_tanh": ["preserved", "broken"],       # and an [init] start (stuck)
    "attention_zero_query_key_start": ["preserved", "broken"],   # (symmetric)
    "lstm_zero_start": ["preserved", "broken"],           # (stuck)
}


@pytest.mark.parametrize("path", LAYERED, ids=[p.stem for p in LAYERED])
def test_bundled_layer_derivations(path):
    d = symderive.derive(path)
    assert [r.verdict for r in d.results] == EXPECTED[path.stem]
    assert d.agreement
    text = d.to_markdown(detail="full")
    assert "Local difference formula." in text and "The swap P exchanges" in text
    assert d.to_json() == symderive.derive(path).to_json()     # byte for byte


def test_a_stack_of_dense_layers_is_the_dense_network():
    """The dense kind inside a stack gives the gradients of the layers = [...] path."""
    text = _spec("[3]", 'kind = "dense"\nunits = 4', 'kind = "dense"\nunits = 2',
                 hyp=HYP).replace("samples = 2", 'samples = 2\nactivation = "tanh"')
    spec = Spec.from_toml(text, "<dense>")
    plain = Spec.from_toml("[network]\nlayers = [3, 4, 2]\nsamples = 2\n" + HYP, "<plain>")
    rng = np.random.default_rng(3)
    stack = Stack(spec.network)
    theta = {k: rng.normal(size=s) for k, s in stack.shapes.items()}
    X, Y = rng.normal(size=(2, 3)), rng.normal(size=(2, 2))
    _, grads, _ = stack.np_gradient(theta, X, Y)
    params = mlp.Params([theta["W1"], theta["W2"]], [theta["b1"], theta["b2"]])
    _, reference, _ = mlp.loss_and_gradient(plain.network, params, X, Y)
    for l in (1, 2):
        assert np.allclose(grads[f"W{l}"], reference.W[l - 1], rtol=1e-12)
        assert np.allclose(grads[f"b{l}"], reference.b[l - 1], rtol=1e-12)
    assert [r.verdict for r in symderive.derive(spec, numeric=False).results] == \
        [r.verdict for r in symderive.derive(plain, numeric=False).results]


def test_the_swap_check_fails_when_a_kind_pairs_entries_wrongly(monkeypatch):
    """A kind that listed the entries reading unit 2 in another order than unit 1's
    would pair them wrongly; the layer-by-layer check must then refuse the swap."""
    from symderive.engine.layers import layer_kind
    from symderive.engine.layers.swap import swap_check

    spec = symderive.load(ROOT / "derivations" / "layers" / "conv_filters_tied.toml")
    units = Units(spec.network, spec.hypotheses[1])
    assert swap_check(spec.network, units) == (True, "whole loss")
    kind = layer_kind("conv")
    original = type(kind).reads

    def misordered(self, layer, labels, unit):
        found = original(self, layer, labels, unit)
        return {g: e[::-1] for g, e in found.items()} if unit == 2 else found

    monkeypatch.setattr(type(kind), "reads", misordered)
    fresh_layer_caches()    # what was kept for the spec came from the kind's own code
    assert swap_check(spec.network, Units(spec.network, spec.hypotheses[1]))[0] is False


@pytest.mark.parametrize("path", LAYERED, ids=[p.stem for p in LAYERED])
def test_every_format_renders_a_layer_derivation(path):
    """Markdown (brief and full), JSON, LaTeX and the beamer talk: no format crashes on a
    [[layer]] network, and each opens with its answer."""
    from symderive.render import beamer, json as json_render, latex, markdown

    d = symderive.derive(path)
    assert "## Answer" in markdown.render(d) and "## Answer" in markdown.render(d, detail="full")
    assert json.loads(json_render.render(d))["answer"].strip()
    assert r"\section{Answer}" in latex.render(d)
    talk = beamer.render(d)
    assert talk.count(r"\begin{frame}") >= 1 and "Answer" in talk
