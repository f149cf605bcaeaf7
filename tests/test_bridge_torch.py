"""The bridge from PyTorch on real modules, compared with training in torch itself.

Each model is built here with a known defect (duplicated rows, a zero last layer,
dead ReLUs); what symderive proves about it (classes, frozen entries, verdicts) is
compared with 50 steps of SGD in torch, in float64.
"""
from __future__ import annotations

import copy
from fractions import Fraction

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the PyTorch bridge's tests need torch "
                            "(pip install 'symderive[torch]')")
nn = torch.nn

import symderive  # noqa: E402
from symderive.bridge import state_dict  # noqa: E402

STEPS = 50
LR = 0.1


def _train(model, x, y, loss, steps=STEPS, lr=LR):
    """A float64 copy of ``model`` trained with SGD; per step the pre-activations of
    every Linear on ``x`` (rows: samples) and the parameters."""
    m = copy.deepcopy(model).double()
    linears = [mod for mod in m.modules() if isinstance(mod, nn.Linear)]
    seen: list = []
    hooks = [mod.register_forward_hook(lambda mod, i, o: seen.append(o.detach().clone()))
             for mod in linears]
    opt = torch.optim.SGD(m.parameters(), lr=lr)
    pre, params = [], [{k: v.detach().clone() for k, v in m.state_dict().items()}]
    for _ in range(steps):
        seen.clear()
        opt.zero_grad()
        value = loss(m(x.double()), y.double())
        pre.append(list(seen))
        value.backward()
        opt.step()
        params.append({k: v.detach().clone() for k, v in m.state_dict().items()})
    for h in hooks:
        h.remove()
    return pre, params


def _units_equal(pre, layer, i, j):
    """Units i and j (1-based) of Linear number ``layer`` agree at every step."""
    return all(torch.equal(p[layer - 1][:, i - 1], p[layer - 1][:, j - 1]) for p in pre)


def _check_classes(result, pre):
    """Every proved class agrees bitwise in torch; units of different classes part."""
    for l in range(1, len(result.start.partition.labels) - 1):
        classes = result.start.partition.classes(l)
        for c in classes:
            assert all(_units_equal(pre, l, c[0], u) for u in c[1:]), (l, c)
        for a in range(len(classes)):
            for b in range(a + 1, len(classes)):
                assert not _units_equal(pre, l, classes[a][0], classes[b][0]), (l, a, b)


def _check_frozen(result, params, keys):
    """The entries torch never moved in 50 steps are exactly the proved frozen ones."""
    for t in result.spec.init.tensors:
        key = keys[t.name]
        moved = torch.stack([p[key] for p in params]).ne(params[0][key]).any(dim=0)
        mask = result.start.frozen.entries(t.name)
        still = ~moved.numpy().reshape(mask.shape)
        assert (still == mask).all(), (t.name, still, mask)


def _keys(model):
    linears = [name for name, mod in model.named_modules() if isinstance(mod, nn.Linear)]
    out = {}
    for l, name in enumerate(linears, start=1):
        out |= {f"W{l}": f"{name}.weight", f"b{l}": f"{name}.bias"}
    return out


def _duplicated_mlp():
    torch.manual_seed(1)
    m = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    with torch.no_grad():
        for src, dst in ((1, 3), (0, 2)):
            m[0].weight[dst] = m[0].weight[src]
            m[0].bias[dst] = m[0].bias[src]
        m[2].weight[:, 3] = m[2].weight[:, 1]   # units 2 and 4 share everything
    return m


def test_duplicated_rows_classes_verdicts_and_frozen_match_torch():
    m = _duplicated_mlp()
    x, y = torch.randn(6, 3), torch.randn(6, 2)
    r = symderive.inspect(m, x, y, nn.MSELoss(), lr=LR)
    verdicts = {p.units: v for p, v in r.pairs}
    assert verdicts == {(1, 3): "broken", (2, 4): "preserved"}
    pre, params = _train(m, x, y, nn.MSELoss())
    assert _units_equal(pre, 1, 2, 4)           # preserved: equal at every step
    assert not _units_equal(pre, 1, 1, 3)       # broken: they part
    assert r.start.partition.classes(1) == [[1], [2, 4], [3], [5]]
    _check_classes(r, pre)
    _check_frozen(r, params, _keys(m))
    assert r.judgement.startswith("Units 1 and 3 of '0' are identical now (incoming, bias) "
                                  "and can separate (the hypothesis tying only what they "
                                  "share is broken, with a witness). On this batch they part "
                                  "at step ")


def test_init_is_the_parameters_exactly_and_the_data_the_batch():
    m = _duplicated_mlp()
    x, y = torch.randn(4, 3), torch.randn(4, 2)
    spec = symderive.from_torch(m, x, y)
    W1 = spec.init.tensor("W1").values
    assert all(W1[i][k] == Fraction(float(m[0].weight[i, k].detach())) for i in range(5)
               for k in range(3))
    assert spec.data.inputs[2][1] == Fraction(float(x[2, 1]))
    assert symderive.Spec.from_dict(spec.to_dict()) == spec


def test_learning_rate_and_loss_scale_make_torchs_first_step():
    """The trajectory's step 1 (exact, symderive's loss and rate) is torch's SGD step."""
    torch.manual_seed(3)
    m = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2))
    x, y = torch.randn(5, 2), torch.randn(5, 2)
    for loss in (nn.MSELoss(), nn.MSELoss(reduction="sum")):
        d = symderive.derive(symderive.from_torch(m, x, y, loss, lr=LR), numeric=False)
        step = d.start.trajectory.steps[1]
        assert step.exact
        _, params = _train(m, x, y, loss, steps=1)
        back = state_dict(m.double(), dict(step.parameters), x)
        for key, value in params[1].items():
            assert torch.allclose(back[key], value, rtol=1e-12, atol=1e-14), key
        m.float()


def test_cross_entropy_targets_are_one_hot_and_scaled_by_the_batch():
    torch.manual_seed(4)
    m = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 3))
    x, labels = torch.randn(4, 2), torch.tensor([0, 2, 1, 2])
    spec = symderive.from_torch(m, x, labels, nn.CrossEntropyLoss(), lr=0.5)
    assert spec.network.loss.name == "softmax_ce"
    assert [list(map(int, r)) for r in spec.data.targets] == [[1, 0, 0], [0, 0, 1], [0, 1, 0],
                                                              [0, 0, 1]]
    assert spec.check.learning_rate == 0.125    # 0.5 / 4 samples
    logits = symderive.from_torch(nn.Sequential(nn.Linear(2, 1)), x, torch.ones(4, 1),
                                  nn.BCEWithLogitsLoss())
    assert logits.network.output_activation.name == "sigmoid"


def test_zero_last_layer_output_units_part_and_nothing_is_frozen():
    torch.manual_seed(2)
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    nn.init.zeros_(m[2].weight)
    nn.init.zeros_(m[2].bias)
    x, y = torch.randn(5, 3), torch.randn(5, 2)
    r = symderive.inspect(m, x, y, nn.MSELoss())
    assert [(p.layer, p.units, p.zero, v) for p, v in r.pairs] == [
        (2, (1, 2), ("incoming", "bias"), "broken")]
    pre, params = _train(m, x, y, nn.MSELoss())
    assert not _units_equal(pre, 2, 1, 2)
    _check_classes(r, pre)
    _check_frozen(r, params, _keys(m))
    assert all(r.start.frozen.summary(t) == "none" for t in ("W1", "b1", "W2", "b2"))


def test_dead_relus_from_an_unlucky_init_are_dead_and_frozen_in_torch():
    torch.manual_seed(5)
    m = nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 1))
    with torch.no_grad():
        m[0].bias[[1, 4]] = -20.0
    x, y = torch.rand(8, 2), torch.randn(8, 1)
    r = symderive.inspect(m, x, y, nn.MSELoss())
    pre, params = _train(m, x, y, nn.MSELoss())
    dead_in_torch = tuple(int(u) + 1 for u in np.flatnonzero((pre[0][0] <= 0).all(0).numpy()))
    assert dead_in_torch and dict(r.dead) == {1: dead_in_torch}
    assert {2, 5} <= set(dead_in_torch)
    _check_classes(r, pre)
    _check_frozen(r, params, _keys(m))
    assert "dead on this batch" in r.judgement
    assert "'0.weight'" in r.judgement          # its frozen rows, by state_dict name


def test_traced_module_names_its_layers_and_reports_render():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(2, 3), nn.Linear(3, 1)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    torch.manual_seed(6)
    net = Net()
    with torch.no_grad():
        net.fc1.weight[2] = net.fc1.weight[0]
        net.fc1.bias[2] = net.fc1.bias[0]
    r = symderive.inspect(net, torch.randn(3, 2), torch.randn(3, 1), "mse", numeric=False)
    assert r.names == ("fc1", "fc2")
    assert r.judgement.startswith("Units 1 and 3 of 'fc1' are identical now")
    for text in (r.to_markdown(), r.to_latex(), r.to_json(), r._repr_markdown_()):
        assert "Units 1 and 3 of" in text


@pytest.mark.parametrize("model, where", [
    (lambda: nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2), nn.ReLU(),
                                                          nn.Dropout2d(0.5))), "1.2"),
    (lambda: nn.Sequential(nn.Linear(2, 2), nn.Softmax(dim=1)), "1"),
    (lambda: nn.Sequential(nn.ReLU(), nn.Linear(2, 1)), "0"),
])
def test_unsupported_modules_are_refused_by_path(model, where):
    with pytest.raises(symderive.SpecError) as exc:
        symderive.from_torch(model(), torch.randn(2, 2), torch.randn(2, 2))
    assert exc.value.field == where
    assert str(exc.value).startswith(f"<torch>: {where}: ")


def test_untraceable_model_and_bad_losses_are_spec_errors():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 1)

        def forward(self, x):
            return self.fc(x) if x.sum() > 0 else -self.fc(x)

    x = torch.randn(2, 2)
    with pytest.raises(symderive.SpecError, match="torch.fx cannot trace"):
        symderive.from_torch(Branchy(), x, torch.randn(2, 1))
    with pytest.raises(symderive.SpecError, match="bce needs the model to end with Sigmoid"):
        symderive.from_torch(nn.Linear(2, 1), x, torch.ones(2, 1), nn.BCELoss())
    with pytest.raises(symderive.SpecError, match="reduction='none'"):
        symderive.from_torch(nn.Linear(2, 1), x, torch.ones(2, 1), nn.MSELoss(reduction="none"))
