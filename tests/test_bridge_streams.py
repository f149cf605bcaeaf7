"""The bridge on residual streams, compared with 50 steps of SGD in torch (float64).

The shapes torch users write: a transformer block after an embedding, post-norm
(``ln(h + attn(h))``) and pre-norm (``h + attn(ln(h))``), with a feed-forward layer and
its own residual sum; a ResNet block (conv → BN → relu, then ``h + bn(conv(h))``, the
skip from a norm) whose last batch-norm gain is zero; a traced ``x + f(x)`` where f
ends in a LayerNorm.  Each pair the bridge finds identical gets the engine's verdict,
and torch's own training must agree: a ``preserved`` pair stays identical to rounding
at every step, a ``broken`` one parts.  Shapes outside the contract are a SpecError
naming the call or module.
"""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the PyTorch bridge's tests need torch "
                            "(pip install 'symderive[torch]')")
nn = torch.nn

import symderive  # noqa: E402
from symderive.bridge.read import read_model  # noqa: E402
from test_bridge_kinds import Heads, Residual  # noqa: E402  (head copy; a ResNet block)
from test_bridge_training import _judge  # noqa: E402  (from_torch, derive, 50 torch steps)

pytestmark = pytest.mark.ci_tier          # 50 steps of torch training per model


class Block(nn.Module):
    """Embedding, self-attention added to the stream, layer norm, a feed-forward layer
    with its own residual sum and layer norm, flattened, a Linear (post-norm)."""

    def __init__(self, tokens=3, pre=False):
        super().__init__()
        self.pre = pre
        self.emb = nn.Linear(2, 4)
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)
        self.ln1, self.ff, self.ln2 = nn.LayerNorm(4), nn.Linear(4, 4), nn.LayerNorm(4)
        self.fc = nn.Linear(4 * tokens, 1)

    def forward(self, x):
        h = self.emb(x)
        if self.pre:
            y = self.ln1(h)
            h = h + self.attn(y, y, y, need_weights=False)[0]
            h = h + torch.tanh(self.ff(self.ln2(h)))
        else:
            h = self.ln1(h + self.attn(h, h, h)[0])
            h = self.ln2(h + torch.tanh(self.ff(h)))
        return self.fc(torch.flatten(h, 1))

    def copy_head(self, output: bool) -> None:
        """Head 2 := head 1 in Q, K, V (rows and biases), and in O's columns if asked."""
        d = Heads.copy_head(self)
        if output:
            with torch.no_grad():
                self.attn.out_proj.weight[:, d:] = self.attn.out_proj.weight[:, :d]


def test_the_block_reads_as_the_contracts_tables():
    post = [e.entry for e in read_model(Block(), (3, 2)).layers]
    pre = [e.entry for e in read_model(Block(pre=True), (3, 2)).layers]
    attention = {"kind": "attention", "heads": 2, "head_dim": 2, "bias": True}
    norm = {"kind": "norm", "over": "features", "eps": 1e-05, "bias": True}
    assert [(e["kind"], e.get("skip")) for e in post] == [
        ("dense", None), ("attention", 1), ("norm", None), ("dense", 3), ("norm", None),
        ("flatten", None), ("dense", None)]
    assert post[1] == attention | {"skip": 1} and post[2] == norm
    assert [(e["kind"], e.get("skip")) for e in pre] == [
        ("dense", None), ("norm", None), ("attention", 1), ("norm", None), ("dense", 3),
        ("flatten", None), ("dense", None)]
    assert pre[4]["activation"] == "tanh"


@pytest.mark.parametrize("pre", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("output, verdict", [(True, "preserved"), (False, "broken")])
def test_identical_heads_in_a_transformer_block(pre, output, verdict):
    torch.manual_seed(5)
    m = Block(pre=pre).double()
    m.copy_head(output)
    x, y = torch.randn(2, 3, 2, dtype=torch.float64), torch.randn(2, 1, dtype=torch.float64)
    tie = ("query", "key", "value") + (("output",) if output else ())
    assert _judge(m, x, y) == [(2 if not pre else 3, (1, 2), tie, (), verdict)]


def _identical_features(m: Block, readout: bool) -> None:
    """Features 1 and 2 of the stream identical in every layer that makes them: the
    embedding's rows, O's rows and bo, both norms' gains and shifts (1 and 0 already),
    the feed-forward layer's rows and columns aligned; the readout's columns too if asked."""
    with torch.no_grad():
        m.emb.weight[1], m.emb.bias[1] = m.emb.weight[0], m.emb.bias[0]
        p = m.attn.in_proj_weight
        p[:, 1] = p[:, 0]                                 # Q, K, V read features 1 and 2 alike
        m.attn.out_proj.weight[1] = m.attn.out_proj.weight[0]
        m.attn.out_proj.bias[1] = m.attn.out_proj.bias[0]
        w = m.ff.weight
        w[:, 1] = w[:, 0]
        w[1] = w[0]
        m.ff.bias[1] = m.ff.bias[0]
        if readout:
            f = m.fc.weight.view(1, 3, 4)
            f[:, :, 1] = f[:, :, 0]


@pytest.mark.parametrize("readout, verdict", [(True, "preserved"), (False, "broken")])
def test_identical_features_of_the_residual_stream(readout, verdict):
    torch.manual_seed(6)
    m = Block().double()
    _identical_features(m, readout)
    x, y = torch.randn(2, 3, 2, dtype=torch.float64), torch.randn(2, 1, dtype=torch.float64)
    found = _judge(m, x, y)
    stream = [v for v in found if v[1] == (1, 2) and v[0] != 2]
    assert stream and all(v[4] == verdict for v in stream), found


@pytest.mark.parametrize("tie_fc, verdict", [(True, "preserved"), (False, "broken")])
def test_resnet_block_with_batchnorm2d_and_a_zero_last_gain(tie_fc, verdict):
    """Channels 1 and 2 of 3 identical in both convolutions and batch norms; the
    readout's columns equal or not."""
    torch.manual_seed(7)
    m = Residual().double()
    with torch.no_grad():
        m.conv1.weight[1], m.conv1.bias[1] = m.conv1.weight[0], m.conv1.bias[0]
        w = m.conv2.weight                 # aligned: the swap maps W[i, i] to W[j, j]
        w[1, 1], w[1, 0], w[1, 2] = w[0, 0].clone(), w[0, 1].clone(), w[0, 2].clone()
        w[2, 1] = w[2, 0]
        m.conv2.bias[1] = m.conv2.bias[0]
        m.bn2.weight.zero_()
        if tie_fc:
            m.fc.weight[:, 1] = m.fc.weight[:, 0]
    x, y = torch.randn(3, 2, 3, 3, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    found = _judge(m, x, y)
    # the stream joins conv1 (its BN) and conv2 (its BN); the hypothesis is stated once
    assert [v[1:] for v in found] == [((1, 2), ("incoming", "bias", "gain") +
                                       (("outgoing",) if tie_fc else ()), ("shift",), verdict)]


class NormedSkip(nn.Module):
    """A traced x + f(x) whose f ends in a LayerNorm: h + ln(fc2(h))."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.ln = nn.Linear(3, 3), nn.Linear(3, 3), nn.LayerNorm(3)
        self.out = nn.Linear(3, 1)

    def forward(self, x):
        h = torch.tanh(self.fc1(x))
        return self.out(h + self.ln(self.fc2(h)))


@pytest.mark.parametrize("tie_out, verdict", [(True, "preserved"), (False, "broken")])
def test_a_skip_over_a_layer_norm(tie_out, verdict):
    torch.manual_seed(8)
    m = NormedSkip().double()
    with torch.no_grad():
        m.fc1.weight[2], m.fc1.bias[2] = m.fc1.weight[0], m.fc1.bias[0]
        w = m.fc2.weight
        w[2, 2], w[2, 0], w[2, 1], w[1, 2] = w[0, 0].clone(), w[0, 2].clone(), w[0, 1], w[1, 0]
        m.fc2.bias[2] = m.fc2.bias[0]
        if tie_out:
            m.out.weight[0, 2] = m.out.weight[0, 0]
    x, y = torch.randn(3, 3, dtype=torch.float64), torch.randn(3, 1, dtype=torch.float64)
    found = _judge(m, x, y)
    assert [v[1] for v in found] == [(1, 3)] and found[0][4] == verdict, found


class ReluAfterSum(Residual):
    def forward(self, x):
        h = torch.relu(self.bn1(self.conv1(x)))
        h = torch.relu(h + self.bn2(self.conv2(h)))
        return self.fc(torch.flatten(self.pool(h), 1))


class InputSkip(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn, self.fc = nn.MultiheadAttention(4, 2, batch_first=True), nn.Linear(12, 1)

    def forward(self, x):
        return self.fc(torch.flatten(x + self.attn(x, x, x)[0], 1))


class TokenBatchNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.bn, self.fc = nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(9, 1)

    def forward(self, x):
        return self.fc(torch.flatten(self.bn(self.emb(x)), 1))


class ConvLayerNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.ln, self.fc = nn.Conv1d(1, 2, 3), nn.LayerNorm(2), nn.Linear(4, 1)

    def forward(self, x):
        return self.fc(torch.flatten(self.ln(self.conv(x)), 1))


@pytest.mark.parametrize("make, shape, message", [
    (ReluAfterSum, (2, 2, 3, 3), "<torch>: relu_1: torch.relu after a residual sum is not "
     "supported"),
    (InputSkip, (2, 3, 4), "<torch>: add: a residual sum with the model's input is not "
     "supported"),
    (TokenBatchNorm, (2, 3, 2), "<torch>: bn: BatchNorm1d on [tokens, features] normalises "
     "the tokens as channels"),
    (ConvLayerNorm, (2, 1, 4), "<torch>: ln: LayerNorm over the last axis of a convolution's"),
])
def test_shapes_outside_the_contract_name_their_call(make, shape, message):
    m = make()
    with pytest.raises(symderive.SpecError) as exc:
        symderive.from_torch(m, torch.randn(*shape), torch.randn(shape[0], m.fc.out_features))
    assert str(exc.value).startswith(message), str(exc.value)
