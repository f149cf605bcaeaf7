"""The converters of layer kinds beyond the dense layer, at the level of spec tables.

The engine states dense networks today; convolutions, norms, pooling, attention and
LSTMs are being added.  Their converters already write the contract's ``[[layer]]``
tables and tensors (PyTorch layouts); here the tables are compared with the modules,
the way back (``state_dict``) is checked by running the model, and a spec the
validator cannot state yet must be a clean SpecError.
"""
from __future__ import annotations

from fractions import Fraction

import pytest

torch = pytest.importorskip("torch", reason="the PyTorch bridge's tests need torch "
                            "(pip install 'symderive[torch]')")
nn = torch.nn

import symderive  # noqa: E402
from symderive.bridge import state_dict  # noqa: E402
from symderive.bridge.convert import _values, read  # noqa: E402
from symderive.bridge.read import read_model  # noqa: E402


class Residual(nn.Module):
    """conv -> batch norm -> relu, then h + bn(conv(h)), pooled, dense."""

    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3)
        self.conv2, self.bn2 = nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3)
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(3, 2)

    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = h + self.bn2(self.conv2(h))
        return self.fc(torch.flatten(self.pool(h), 1))


class Block(nn.Module):
    """self-attention -> layer norm -> LSTM (last hidden state) -> dense."""

    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)
        self.ln, self.lstm = nn.LayerNorm(4), nn.LSTM(4, 3, batch_first=True)
        self.fc = nn.Linear(3, 1)

    def forward(self, x):
        a, _ = self.attn(x, x, x)
        out, (h, c) = self.lstm(self.ln(a))
        return self.fc(out[:, -1])


def _exact(value):
    return Fraction(value) if isinstance(value, str) else Fraction(repr(value))


def _tables(model, shape):
    """The [[layer]] tables and tensors (as spec values) the bridge reads of ``model``."""
    b = read_model(model, shape)
    return [layer.entry for layer in b.layers], {k: _values(v) for k, v in b.tensors.items()}


def test_residual_cnn_tables():
    torch.manual_seed(0)
    layers, init = _tables(Residual(), (2, 5, 5))
    assert layers == [
        {"kind": "conv", "channels": 3, "kernel": 3, "stride": 1, "padding": 1,
         "activation": "identity", "bias": True},
        {"kind": "norm", "over": "batch", "eps": 1e-05, "bias": True, "activation": "relu"},
        {"kind": "conv", "channels": 3, "kernel": 3, "stride": 1, "padding": 1,
         "activation": "identity", "bias": True},
        {"kind": "norm", "over": "batch", "eps": 1e-05, "bias": True, "skip": 2},
        {"kind": "pool", "mode": "mean"},
        {"kind": "dense", "units": 2, "activation": "identity", "bias": True}]
    assert list(init) == ["W1", "b1", "g2", "s2", "W3", "b3", "g4", "s4", "W6", "b6"]
    w = init["W3"]                                # [out, in, kh, kw], as PyTorch
    assert (len(w), len(w[0]), len(w[0][0]), len(w[0][0][0])) == (3, 3, 3, 3)


def test_attention_layer_norm_lstm_tables():
    torch.manual_seed(1)
    m = Block()
    layers, init = _tables(m, (5, 4))
    assert layers == [
        {"kind": "attention", "heads": 2, "head_dim": 2, "bias": True},
        {"kind": "norm", "over": "features", "eps": 1e-05, "bias": True},
        {"kind": "lstm", "units": 3},
        {"kind": "dense", "units": 1, "activation": "identity", "bias": True}]
    assert list(init) == ["Q1", "K1", "V1", "bq1", "bk1", "bv1", "O1", "bo1", "g2", "s2",
                          "W3", "U3", "b3", "W4", "b4"]
    E = 4
    assert [_exact(v) for v in init["K1"][1]] == [
        Fraction(float(v)) for v in m.attn.in_proj_weight.detach()[E + 1]]
    assert len(init["U3"]) == 12 and len(init["W3"][0]) == 4       # [4·units, in], i f g o
    assert _exact(init["b3"][5]) == (Fraction(float(m.lstm.bias_ih_l0.detach()[5]))
                                     + Fraction(float(m.lstm.bias_hh_l0.detach()[5])))


class Heads(nn.Module):
    """Self-attention, flattened, dense (the kinds refuse a norm or skip on heads)."""

    def __init__(self, tokens=5):
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)
        self.fc = nn.Linear(4 * tokens, 1)

    def forward(self, x):
        return self.fc(torch.flatten(self.attn(x, x, x)[0], 1))

    def copy_head(self):
        """Head 2 := head 1 in Q, K and V (rows and biases); returns the head size."""
        E, d = 4, 2
        with torch.no_grad():
            w, bias = self.attn.in_proj_weight, self.attn.in_proj_bias
            for k in range(3):
                w[k * E + d:k * E + 2 * d] = w[k * E:k * E + d]
                bias[k * E + d:k * E + 2 * d] = bias[k * E:k * E + d]
        return d


def test_two_identical_heads_are_a_pair_with_their_groups():
    torch.manual_seed(5)
    m = Heads()
    d = m.copy_head()
    r = read(m, torch.randn(2, 5, 4), torch.randn(2, 1))
    assert [(p.layer, p.units, p.tie, p.zero) for p in r.pairs] == [
        (1, (1, 2), ("query", "key", "value"), ())]
    assert r.tables["hypothesis"][0]["tie"] == ["query", "key", "value"]
    with torch.no_grad():
        m.attn.out_proj.weight[:, d:] = m.attn.out_proj.weight[:, :d]
    r = read(m, torch.randn(2, 5, 4), torch.randn(2, 1))
    assert r.pairs[0].tie == ("query", "key", "value", "output")


@pytest.mark.parametrize("make, shape", [(Residual, (4, 2, 5, 5)), (Block, (2, 5, 4))])
def test_state_dict_back_runs_the_same_model(make, shape):
    torch.manual_seed(2)
    m = make()
    x = torch.randn(*shape)
    init = _tables(m, shape[1:])[1]
    before = m(x).detach()
    twin = make()
    twin.load_state_dict(state_dict(twin, init, x))
    buffers = {k: v for k, v in m.state_dict().items() if "running" in k or "batches" in k}
    twin.load_state_dict(buffers, strict=False)
    assert torch.allclose(twin(x), before, rtol=1e-5, atol=1e-6)
    same = state_dict(m, {}, x)                  # nothing given: the model's own
    assert same.keys() == m.state_dict().keys()
    assert all(torch.equal(same[k], v) for k, v in m.state_dict().items())


def test_state_dict_writes_each_tensor_where_it_came_from():
    torch.manual_seed(3)
    m = Block()
    x = torch.randn(2, 5, 4)
    ones = [[1.0] * 4 for _ in range(4)]
    sd = state_dict(m, {"K1": ones, "b3": [0.5] * 12}, x)
    w = sd["attn.in_proj_weight"]
    assert torch.equal(w[4:8], torch.ones(4, 4))
    assert torch.equal(w[:4], m.attn.in_proj_weight.detach()[:4])
    assert torch.equal(sd["lstm.bias_ih_l0"], torch.full((12,), 0.5))
    assert torch.equal(sd["lstm.bias_hh_l0"], torch.zeros(12))
    with pytest.raises(symderive.SpecError, match="W9 is not a tensor"):
        state_dict(m, {"W9": ones}, x)


@pytest.mark.parametrize("make, shape", [(Residual, (4, 2, 5, 5)), (Block, (2, 5, 4)),
                                         (Heads, (2, 5, 4))])
def test_a_model_without_identical_units_is_read_with_its_start(make, shape):
    """A skip from a norm layer (conv, bn, relu, then x + bn(conv(x))) and a norm after
    attention are read (tests/test_bridge_streams.py derives them); a model without
    identical units is still a spec: its [init] holds every parameter exactly and its
    [data] the batch, for the starting-point analysis."""
    m = make()
    x = torch.randn(*shape)
    spec = symderive.from_torch(m, x, torch.randn(shape[0], m.fc.out_features))
    assert spec.hypotheses == ()
    from symderive.spec.layers.start import stack_tensors

    shapes = {t.name: t.array().shape for t in spec.init.tensors}   # none random
    assert shapes == dict(stack_tensors(spec.network))
    given = spec.data.input_array()
    assert given.shape == tuple(shape)
    assert all(Fraction(float(v)) == g for v, g in zip(x.double().flatten().tolist(),
                                                        given.flatten()))


def test_leaky_relu_and_elu_become_latex_activations():
    m = nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(0.2), nn.Linear(3, 3), nn.ELU(),
                      nn.Linear(3, 1))
    layers = _tables(m, (2,))[0]
    assert layers[0]["activation"] == {"latex": "\\max(z, 0.2 z)"}
    assert layers[1]["activation"] == {"latex": "\\max(z, 0) - \\max(0, 1.0 (1 - \\exp(z)))"}


@pytest.mark.parametrize("module, message", [
    (nn.Conv1d(2, 3, 3, dilation=2), "dilation"),
    (nn.BatchNorm1d(2).eval(), "eval mode"),
    (nn.AdaptiveAvgPool1d(2), "only to 1"),
    (nn.MultiheadAttention(2, 1), "batch_first=True"),
    (nn.LSTM(2, 2, num_layers=2, batch_first=True), "num_layers=1"),
    (nn.GELU(approximate="tanh"), "approximate"),
])
def test_module_settings_outside_the_contract_are_refused(module, message):
    from symderive.bridge.builder import Builder
    from symderive.bridge.kinds import convert_module

    b = Builder((2, 6))
    b.add("prev", "Conv1d", {"kind": "conv", "channels": 2, "activation": "identity"}, (2, 6))
    with pytest.raises(symderive.SpecError, match=message) as exc:
        convert_module(module, "enc.3", b)
    assert exc.value.field == "enc.3"


def test_a_layer_spec_from_torch_round_trips_through_to_dict():
    m = nn.Sequential(nn.Conv1d(1, 2, 3), nn.Tanh(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                      nn.Linear(2, 1))
    nn.init.zeros_(m[0].weight)
    nn.init.zeros_(m[0].bias)
    spec = symderive.from_torch(m, torch.randn(3, 1, 5), torch.randn(3, 1))
    tables = spec.to_dict()
    assert [t["kind"] for t in tables["layer"]] == ["conv", "pool", "dense"]
    assert tables["network"]["samples"] == 3 and tables["init"]["W1"] == [[[0, 0, 0]]] * 2
    assert symderive.Spec.from_dict(tables, "<torch>") == spec


def test_a_layer_model_without_identical_units_still_states_its_start():
    """No hypothesis to write, but [init] and [data] (nested per sample, PyTorch's layout)
    are the question: every entry the float it is, exactly."""
    torch.manual_seed(5)
    m = Heads(tokens=3)
    x = torch.randn(2, 3, 4)
    spec = symderive.from_torch(m, x, torch.randn(2, 1))
    assert spec.hypotheses == ()
    q = spec.init.tensor("Q1").array()
    assert q.shape == (4, 4)
    assert q[1, 2] == Fraction(float(m.attn.in_proj_weight.detach()[1, 2]))
    inputs = spec.data.input_array()
    assert inputs.shape == (2, 3, 4) and inputs[1, 2, 3] == Fraction(float(x[1, 2, 3]))
