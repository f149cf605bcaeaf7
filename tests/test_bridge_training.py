"""The bridge on non-dense models, compared with 50 steps of SGD in torch (float64).

Each model is built here with a defect the issue names (a zero-initialised CNN, a
residual CNN whose last batch-norm gain is zero, a transformer block with two
identical heads, an LSTM from zeros).  ``from_torch`` writes one hypothesis per pair
of units identical now, with the layer kinds' own groups; ``derive`` gives its
verdict.  A ``preserved`` pair must stay identical at every step in torch (the swap
proof holds at every point satisfying the hypothesis, so at this one); the
``broken`` pairs of these models get a group that differs now (an outgoing column),
and they must part in torch on this batch.  The starting point's proved classes and
frozen entries are compared with torch in test_layer_start_torch.py.
"""
from __future__ import annotations

import copy

import pytest

torch = pytest.importorskip("torch", reason="the PyTorch bridge's tests need torch "
                            "(pip install 'symderive[torch]')")
nn = torch.nn

import symderive  # noqa: E402
from symderive.bridge.convert import read  # noqa: E402
from symderive.bridge.read import read_model  # noqa: E402
from symderive.engine.layers.units import Units  # noqa: E402
from symderive.spec import Hypothesis  # noqa: E402
from test_bridge_kinds import Heads  # noqa: E402  (self-attention, flattened, a Linear)

STEPS = 50
LR = 0.1
#: float64 after 50 steps: identical computations agree to rounding, parted ones by far more
TIED, PARTED = 1e-12, 1e-6


def _gaps(model, x, spec, pair):
    """Per group of the pair, the largest |entry of unit i − its image for unit j| in the
    model's current parameters (the engine's pairing of entries)."""
    tensors = read_model(model, tuple(x.shape[1:])).tensors
    groups = Units(spec.network, Hypothesis("", pair.layer, pair.units)).groups
    return {name: max((abs(float(tensors[a][i] - tensors[b][j]))
                       for (a, i), (b, j) in zip(ei, ej)), default=0.0)
            for name, (ei, ej) in groups.items()}


def _trained(model, x, y, spec, pair):
    """Each step's largest gap over the groups that make the units' values."""
    m = copy.deepcopy(model).double()
    opt = torch.optim.SGD(m.parameters(), lr=LR)
    own = [g for g in _gaps(m, x, spec, pair) if g.split("@")[0] not in
           ("outgoing", "recurrent_outgoing", "output")]
    out = []
    for _ in range(STEPS):
        opt.zero_grad()
        nn.functional.mse_loss(m(x), y).backward()
        opt.step()
        gaps = _gaps(m, x, spec, pair)
        out.append(max(gaps[g] for g in own))
    return out


def _judge(model, x, y):
    """from_torch, derive, and each pair's verdict against torch's 50 steps."""
    spec = symderive.from_torch(model, x, y)
    d = symderive.derive(spec, numeric=False)
    reading = read(model, x, y)
    verdicts = []
    for pair, result in zip(reading.pairs, d.results):
        steps = _trained(model, x, y, spec, pair)
        if result.verdict == "preserved":
            assert max(steps) <= TIED, (pair, steps)
        else:
            assert result.verdict == "broken" and steps[-1] > PARTED, (pair, result.verdict)
        verdicts.append((pair.layer, pair.units, pair.tie, pair.zero, result.verdict))
    return verdicts


def test_zero_initialised_cnn_filters_stay_identical_in_torch():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv1d(1, 3, 3), nn.Tanh(), nn.Conv1d(3, 2, 3), nn.Tanh(),
                      nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(2, 1)).double()
    for p in list(m[0].parameters()) + list(m[2].parameters()):
        nn.init.zeros_(p)
    x, y = torch.randn(3, 1, 6, dtype=torch.float64), torch.randn(3, 1, dtype=torch.float64)
    verdicts = _judge(m, x, y)
    zeros = ("incoming", "bias", "outgoing")
    assert verdicts[:3] == [(1, u, (), zeros, "preserved") for u in ((1, 2), (1, 3), (2, 3))]
    # layer 2's filters are zero too, but the Linear reads them through different columns
    assert verdicts[3] == (2, (1, 2), (), ("incoming", "bias"), "broken")


class Residual(nn.Module):
    """tanh(conv1(x)), then h + bn(conv2(h)) with bn's gain zero, pooled, dense."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv1d(1, 2, 3, padding=1), nn.Conv1d(2, 2, 3, padding=1)
        self.bn, self.pool, self.fc = nn.BatchNorm1d(2), nn.AdaptiveAvgPool1d(1), nn.Linear(2, 1)

    def forward(self, x):
        h = torch.tanh(self.conv1(x))
        h = h + self.bn(self.conv2(h))
        return self.fc(torch.flatten(self.pool(h), 1))


def _residual(tie_fc: bool):
    torch.manual_seed(1)
    m = Residual().double()
    with torch.no_grad():
        m.conv1.weight[1] = m.conv1.weight[0]
        m.conv1.bias[1] = m.conv1.bias[0]
        w = m.conv2.weight                        # aligned: the swap maps W[i, i] to W[j, j]
        w[1, 1], w[1, 0] = w[0, 0].clone(), w[0, 1].clone()
        m.conv2.bias[1] = m.conv2.bias[0]
        m.bn.weight.zero_()
        m.bn.bias[1] = m.bn.bias[0]
        if tie_fc:
            m.fc.weight[0, 1] = m.fc.weight[0, 0]
    return m


@pytest.mark.parametrize("tie_fc, verdict", [(True, "preserved"), (False, "broken")])
def test_residual_cnn_with_zero_batch_norm_gain(tie_fc, verdict):
    torch.manual_seed(2)
    # (3 samples of length 5 made the engine's derivation run past 10 minutes)
    x, y = torch.randn(2, 1, 3, dtype=torch.float64), torch.randn(2, 1, dtype=torch.float64)
    tie = ("incoming", "bias") + (("outgoing",) if tie_fc else ())
    # the pair is stated on conv2, whose groups name the whole stream (incoming covers
    # conv1's filters, incoming@1); bn's gain and shift are 0 in both channels
    assert _judge(_residual(tie_fc), x, y) == [(2, (1, 2), tie, ("gain", "shift"), verdict)]


@pytest.mark.parametrize("tie_output, verdict", [(True, "preserved"), (False, "broken")])
def test_transformer_block_with_two_identical_heads(tie_output, verdict):
    torch.manual_seed(3)
    m = Heads(tokens=3).double()
    d = m.copy_head()
    if tie_output:
        with torch.no_grad():
            m.attn.out_proj.weight[:, d:] = m.attn.out_proj.weight[:, :d]
    x, y = torch.randn(2, 3, 4, dtype=torch.float64), torch.randn(2, 1, dtype=torch.float64)
    tie = ("query", "key", "value") + (("output",) if tie_output else ())
    assert _judge(m, x, y) == [(1, (1, 2), tie, (), verdict)]


class Recurrent(nn.Module):
    """An LSTM's last hidden state, a Linear."""

    def __init__(self):
        super().__init__()
        self.lstm, self.fc = nn.LSTM(2, 2, batch_first=True), nn.Linear(2, 1)

    def forward(self, x):
        return self.fc(self.lstm(x)[0][:, -1])


@pytest.mark.parametrize("tie_fc, verdict", [(True, "preserved"), (False, "broken")])
def test_lstm_from_zeros(tie_fc, verdict):
    torch.manual_seed(4)
    m = Recurrent().double()
    with torch.no_grad():
        for p in m.lstm.parameters():
            p.zero_()
        if tie_fc:
            m.fc.weight[0, 1] = m.fc.weight[0, 0]
    x, y = torch.randn(2, 2, 2, dtype=torch.float64), torch.randn(2, 1, dtype=torch.float64)
    zero = ("incoming", "recurrent", "bias", "recurrent_outgoing")
    assert _judge(m, x, y) == [(1, (1, 2), ("outgoing",) if tie_fc else (), zero, verdict)]


def test_inspect_pairs_identical_lstm_units_and_says_what_was_derived():
    torch.manual_seed(4)
    m = Recurrent().double()
    with torch.no_grad():
        for p in m.lstm.parameters():
            p.zero_()
        m.fc.weight[0, 1] = m.fc.weight[0, 0]
    x, y = torch.randn(2, 2, 2, dtype=torch.float64), torch.randn(2, 1, dtype=torch.float64)
    result = symderive.inspect(m, x, y, numeric=False)
    [(pair, verdict)] = result.pairs
    assert (pair.layer, pair.units, verdict) == (1, (1, 2), "preserved")
    assert result.dead == () and result.start.verdict == "symmetric"
    assert result.judgement == (
        "Units 1 and 2 of 'lstm' are identical now (outgoing, incoming zero, recurrent zero, "
        "bias zero, recurrent_outgoing zero) and will stay identical for ever (proved). "
        "In 'lstm' these units compute the same function at every step of training (proved "
        "classes): units 1 and 2. No parameter is frozen.")
    assert "Units 1 and 2 of 'lstm' are identical now" in result.to_markdown()
