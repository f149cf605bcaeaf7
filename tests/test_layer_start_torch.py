"""A ``[[layer]]`` network's starting point against 50 steps of training in torch itself.

Each model is built in torch with a start worth asking about (zero-initialised filters,
tied channels with a norm and a skip, tied and zeroed attention heads, an LSTM from
zeros, random starts); ``from_torch`` states it exactly ([init], [data]) and ``derive``
proves classes and frozen entries.  Then torch trains a float64 copy with plain SGD:

- units of one proved class compute equal outputs at every step (for heads, computed
  here from ``in_proj_weight`` by hand; for LSTM units, the whole hidden sequence);
- proved-frozen entries keep their values exactly;
- a pair the simulation separates with a witness does part in torch;
- the reported trajectory (float64) matches torch's steps of the same loss and rate.

None of this uses symderive's own passes: torch is the independent computation.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the PyTorch bridge's tests need torch "
                            "(pip install 'symderive[torch]')")
nn = torch.nn

import symderive  # noqa: E402
from symderive.bridge.read import read_model  # noqa: E402
from test_bridge_kinds import Heads  # noqa: E402  (self-attention, flattened, a Linear)

STEPS, LR = 50, 0.05
TIED, PARTED = 1e-10, 1e-6


def _train(model, x, y, steps=STEPS, lr=LR):
    """A float64 copy trained with SGD on the mean squared error; its copies per step."""
    m = copy.deepcopy(model).double()
    opt = torch.optim.SGD(m.parameters(), lr=lr)
    out = [copy.deepcopy(m)]
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(m(x), y).backward()
        opt.step()
        out.append(copy.deepcopy(m))
    return out


def _analyse(model, x, y):
    spec = symderive.from_torch(model, x, y, loss=nn.MSELoss(), lr=LR)
    return spec, symderive.derive(spec)


def _check_frozen(d, models, x):
    """Every entry proved frozen keeps its value in torch (read back in the spec's names)."""
    first = read_model(models[0], tuple(x.shape[1:])).tensors
    count = 0
    for m in models[1:]:
        now = read_model(m, tuple(x.shape[1:])).tensors
        for name, mask in d.start.frozen.frozen.items():
            a, b = np.asarray(first[name], float), np.asarray(now[name], float)
            assert np.array_equal(a[mask], b[mask]), name
            count += int(mask.sum())
    return count


def _check_classes(d, models, outputs):
    """Units of one class have equal outputs at every step; returns the largest gap of
    every pair of units the simulation separated, at the last step."""
    apart = {}
    for m in models:
        for layer, lc in d.start.classes.items():
            values = outputs(m, layer)
            for c in lc.classes:
                for u in c[1:]:
                    gap = float((values[u - 1] - values[c[0] - 1]).detach().abs().max())
                    assert gap <= TIED, (layer, c, u, gap)
    last = models[-1]
    for w in d.start.check.witnesses:
        values = outputs(last, w.layer)
        a, b = w.units
        apart[(w.layer, a, b)] = float((values[a - 1] - values[b - 1]).detach().abs().max())
    return apart


# ------------------------------------------------------------------ convolution


def _conv_model(tie: bool):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv1d(1, 3, 3), nn.Tanh(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                      nn.Linear(3, 1)).double()
    with torch.no_grad():
        m[0].weight[1] = m[0].weight[0]
        m[0].bias[1] = m[0].bias[0]
        if tie:
            m[4].weight[0, 1] = m[4].weight[0, 0]
    return m


def _conv_outputs(x):
    return lambda m, layer: m[0](x).transpose(0, 1)      # channel by channel


@pytest.mark.parametrize("tie", [True, False])
def test_tied_filters_stay_tied_exactly_when_what_reads_them_is_tied(tie):
    x = torch.randn(3, 1, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = torch.randn(3, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    m = _conv_model(tie)
    spec, d = _analyse(m, x, y)
    classes = [list(c) for c in d.start.classes[1].classes]
    assert classes == ([[1, 2], [3]] if tie else [[1], [2], [3]])
    models = _train(m, x, y)
    apart = _check_classes(d, models, _conv_outputs(x))
    assert d.start.verdict == ("symmetric" if tie else "broken")
    assert all(gap > PARTED for gap in apart.values()) and apart
    if not tie:   # the untied outgoing column separates filters 1 and 2
        assert (1, 1, 2) in apart


def test_zero_initialised_convolution_with_tanh_is_stuck_as_torch_shows():
    torch.manual_seed(3)
    m = nn.Sequential(nn.Conv1d(1, 3, 3), nn.Tanh(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                      nn.Linear(3, 1)).double()
    for p in list(m[0].parameters()) + [m[4].weight]:
        nn.init.zeros_(p)
    x = torch.randn(3, 1, 6, dtype=torch.float64)
    y = torch.randn(3, 1, dtype=torch.float64)
    spec, d = _analyse(m, x, y)
    assert {n: d.start.frozen.summary(n) for n in ("W1", "b1", "W3", "b3")} == {
        "W1": "all", "b1": "all", "W3": "all", "b3": "none"}
    assert d.start.verdict == "stuck"
    models = _train(m, x, y)
    assert _check_frozen(d, models, x) > 0
    assert not torch.equal(models[0][4].bias, models[-1][4].bias)   # b3 does move


# ------------------------------------------------------------------ norm and skip


class NormSkip(nn.Module):
    """tanh(conv1(x)), then h + tanh(ln(conv2(h))) over the channels, pooled, dense."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv1d(1, 3, 3, padding=1), nn.Conv1d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm1d(3)
        self.pool, self.fc = nn.AdaptiveAvgPool1d(1), nn.Linear(3, 1)

    def forward(self, x):
        h = torch.tanh(self.conv1(x))
        h = h + self.bn(self.conv2(h))
        return self.fc(torch.flatten(self.pool(h), 1))


def _norm_skip(gain_tied: bool):
    torch.manual_seed(4)
    m = NormSkip().double()
    with torch.no_grad():
        m.conv1.weight[1] = m.conv1.weight[0]
        m.conv1.bias[1] = m.conv1.bias[0]
        w = m.conv2.weight          # aligned rows and columns: W[1,1] = W[0,0], W[1,0] = W[0,1]
        w[1, 1], w[1, 0], w[1, 2] = w[0, 0].clone(), w[0, 1].clone(), w[0, 2].clone()
        w[2, 1] = w[2, 0].clone()
        m.conv2.bias[1] = m.conv2.bias[0]
        m.bn.weight[1] = m.bn.weight[0] if gain_tied else 2 * m.bn.weight[0]
        m.bn.bias[1] = m.bn.bias[0]
        m.fc.weight[0, 1] = m.fc.weight[0, 0]
    return m


@pytest.mark.parametrize("gain_tied", [True, False])
def test_a_residual_stream_with_batch_norm_keeps_channels_tied_only_with_equal_gains(gain_tied):
    x = torch.randn(2, 1, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    y = torch.randn(2, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    m = _norm_skip(gain_tied)
    spec, d = _analyse(m, x, y)
    layer = 1 if 1 in d.start.classes else min(d.start.classes)
    classes = [list(c) for c in d.start.classes[layer].classes]
    assert ([1, 2] in classes) == gain_tied
    models = _train(m, x, y)

    def outputs(model, l):
        h = torch.tanh(model.conv1(x))
        return (h if l == 1 else model.conv2(h)).transpose(0, 1)

    apart = _check_classes(d, models, outputs)
    assert all(gap > PARTED for gap in apart.values())


# ------------------------------------------------------------------ attention


def _head_outputs(x):
    """Each head's output softmax(q kᵀ/√d) v, computed here from in_proj (not symderive)."""
    def outputs(m, layer):
        w, b, d = m.attn.in_proj_weight, m.attn.in_proj_bias, 2
        q, k, v = (x @ w[i * 4:(i + 1) * 4].T + b[i * 4:(i + 1) * 4] for i in range(3))
        heads = []
        for h in range(2):
            s = slice(h * d, (h + 1) * d)
            a = torch.softmax(q[..., s] @ k[..., s].transpose(1, 2) / d ** 0.5, dim=-1)
            heads.append(a @ v[..., s])
        return heads
    return outputs


@pytest.mark.parametrize("zero_qk", [True, False])
def test_tied_heads_stay_tied_and_zero_queries_and_keys_stay_zero(zero_qk):
    torch.manual_seed(7)
    m = Heads(tokens=3).double()
    with torch.no_grad():
        w, b = m.attn.in_proj_weight, m.attn.in_proj_bias
        for k in range(3):
            w[k * 4 + 2:k * 4 + 4] = w[k * 4:k * 4 + 2]
            b[k * 4 + 2:k * 4 + 4] = b[k * 4:k * 4 + 2]
        m.attn.out_proj.weight[:, 2:] = m.attn.out_proj.weight[:, :2]
        if zero_qk:
            w[:8] = 0
            b[:8] = 0
    x = torch.randn(2, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    y = torch.randn(2, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    spec, d = _analyse(m, x, y)
    assert [list(c) for c in d.start.classes[1].classes] == [[1, 2]]
    frozen = {n: d.start.frozen.summary(n) for n in ("Q1", "K1", "bq1", "bk1")}
    assert frozen == ({n: "all" for n in frozen} if zero_qk else {n: "none" for n in frozen})
    models = _train(m, x, y)
    _check_classes(d, models, _head_outputs(x))
    assert _check_frozen(d, models, x) == (0 if not zero_qk else STEPS * 4 * 4 * 2 + STEPS * 8)


# ------------------------------------------------------------------ LSTM


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm, self.fc = nn.LSTM(2, 3, batch_first=True), nn.Linear(3, 1)

    def forward(self, x):
        return self.fc(self.lstm(x)[0][:, -1])


def _hidden(x):
    return lambda m, layer: m.lstm(x)[0].permute(2, 0, 1)       # unit by unit, every step


@pytest.mark.parametrize("start", ["zero", "random"])
def test_lstm_units_from_zeros_and_from_random(start):
    torch.manual_seed(10)
    m = Recurrent().double()
    if start == "zero":
        with torch.no_grad():
            for p in m.lstm.parameters():
                p.zero_()
            m.fc.weight[0, 2] = m.fc.weight[0, 0]
    x = torch.randn(2, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(11))
    y = torch.randn(2, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(12))
    spec, d = _analyse(m, x, y)
    classes = [list(c) for c in d.start.classes[1].classes]
    assert classes == ([[1, 3], [2]] if start == "zero" else [[1], [2], [3]])
    models = _train(m, x, y)
    apart = _check_classes(d, models, _hidden(x))
    assert all(gap > PARTED for gap in apart.values())
    if start == "random":
        assert d.start.verdict == "broken" and len(apart) == 3


# ------------------------------------------------------------------ the trajectory


def test_the_trajectory_is_torchs_own_steps():
    """Loss and every parameter at steps 0..10 against torch (sum of squares, the same
    rate: the bridge converts torch's mean to symderive's sum)."""
    m = _conv_model(tie=False)
    x = torch.randn(3, 1, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(13))
    y = torch.randn(3, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(14))
    spec, d = _analyse(m, x, y)
    steps = d.start.trajectory.steps
    assert [s.step for s in steps] == list(range(11))
    models = _train(m, x, y, steps=10)
    for s, model in zip(steps, models):
        ours = dict(s.parameters)
        theirs = read_model(model, tuple(x.shape[1:])).tensors
        for name, value in ours.items():
            assert np.allclose(np.asarray(value, float), np.asarray(theirs[name], float),
                               rtol=1e-9, atol=1e-12), (s.step, name)
        # symderive's loss is half the sum of squares (docs/spec-format.md)
        loss = float(nn.functional.mse_loss(model(x), y, reduction="sum")) / 2
        assert abs(float(s.loss) - loss) <= 1e-9 * (1 + loss), (s.step, s.loss, loss)
