"""The LSTM kind's pieces against independent references: its NumPy pass (through time)
against finite differences and torch's nn.LSTM, its symbolic forward and SymPy gradients
against the NumPy pass, the exchange of two units, and the step-by-step local difference
against the full gradient difference."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symderive.engine.layers import lstm
from symderive.engine.layers.lstm import LSTMShape
from symderive.engine.layers.lstm_local import GROUPS, LocalUnits

SEEDS = range(12)


def random_case(seed: int, units: tuple[int, int] = (1, 4), readers: int = 2):
    rng = np.random.default_rng(seed)
    shape = LSTMShape(steps=int(rng.integers(1, 5)), inputs=int(rng.integers(1, 4)),
                      units=int(rng.integers(*units)))
    p = {n: rng.normal(0, 0.8, s) for n, s in shape.tensor_shapes().items()}
    X = rng.normal(0, 1, (int(rng.integers(1, 3)), shape.steps, shape.inputs))
    V = rng.normal(0, 1, (readers, shape.units))      # a dense layer reading h_T
    R = rng.normal(0, 1, (X.shape[0], readers))        # ∂ℓ/∂(its output)
    return shape, p, X, V, R


def loss(p, X, V, R, shape) -> float:
    H, _ = lstm.np_forward(p, X, shape)
    return float(((H @ V.T) * R).sum())


def backward(p, X, V, R, shape):
    H, states = lstm.np_forward(p, X, shape)
    grads, dX, steps = lstm.np_backward(p, X, states, R @ V, shape)
    return H, states, grads, dX, steps


# ---- NumPy pass against finite differences and torch ------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_backward_matches_finite_differences(seed):
    shape, p, X, V, R = random_case(seed)
    _, _, grads, dX, _ = backward(p, X, V, R, shape)
    h = 1e-6
    for name, value in list(p.items()) + [("X", X)]:
        analytic = dX if name == "X" else grads[name]
        for idx in np.ndindex(*value.shape):
            old = value[idx]
            value[idx] = old + h
            up = loss(p, X, V, R, shape)
            value[idx] = old - h
            down = loss(p, X, V, R, shape)
            value[idx] = old
            assert analytic[idx] == pytest.approx((up - down) / (2 * h), abs=1e-7, rel=1e-6), \
                (name, idx, shape)


@pytest.mark.parametrize("seed", SEEDS)
def test_matches_torch_lstm(seed):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    shape, p, X, V, R = random_case(100 + seed)
    net = torch.nn.LSTM(shape.inputs, shape.units, batch_first=True, dtype=torch.float64)
    with torch.no_grad():  # PyTorch's two biases: ours is their sum
        net.weight_ih_l0.copy_(torch.from_numpy(p["W"]))
        net.weight_hh_l0.copy_(torch.from_numpy(p["U"]))
        net.bias_ih_l0.copy_(torch.from_numpy(p["b"]))
        net.bias_hh_l0.zero_()
    x = torch.from_numpy(X.copy()).requires_grad_(True)
    _, (h_n, _) = net(x)           # zero initial state by default
    (h_n[0] @ torch.from_numpy(V).T * torch.from_numpy(R)).sum().backward()
    H, _, grads, dX, _ = backward(p, X, V, R, shape)
    np.testing.assert_allclose(H, h_n[0].detach().numpy(), atol=1e-13)
    np.testing.assert_allclose(dX, x.grad.numpy(), atol=1e-12)
    for name, param in (("W", net.weight_ih_l0), ("U", net.weight_hh_l0), ("b", net.bias_ih_l0)):
        np.testing.assert_allclose(grads[name], param.grad.numpy(), atol=1e-12, err_msg=name)


# ---- the symbolic forward ---------------------------------------------------
def symbolic_loss(theta: dict[str, np.ndarray], shape: LSTMShape, X, V, R) -> sp.Expr:
    total = sp.S.Zero
    for n in range(X.shape[0]):
        h = lstm.symbolic_forward(theta, [[sp.Float(v, 30) for v in row] for row in X[n]], shape)
        total += sp.Add(*[sp.Float(R[n, m] * V[m, u], 30) * h[u]
                          for m in range(V.shape[0]) for u in range(shape.units)])
    return total


@pytest.mark.parametrize("seed", SEEDS)
def test_symbolic_forward_matches_numpy(seed):
    """h_T of the symbolic forward at numbers (they fold as it is built) against NumPy."""
    shape, p, X, V, R = random_case(300 + seed)
    numbers = {n: np.vectorize(lambda v: sp.Float(float(v), 30), otypes=[object])(a)
               for n, a in p.items()}
    assert float(symbolic_loss(numbers, shape, X, V, R)) == pytest.approx(
        loss(p, X, V, R, shape), abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_symbolic_gradient_matches_numpy(seed):
    """SymPy's derivative of the symbolic forward (no backprop code) against BPTT (steps
    1-3, units 1-2: the expression grows fast with both), along a random direction: every parameter θ becomes θ₀ + ε v and d/dε at 0 is ∇L · v (one
    derivative checks every component; a wrong one would change the sum)."""
    shape, p, X, V, R = random_case(300 + seed, units=(1, 3))
    shape = LSTMShape(min(shape.steps, 3), min(shape.inputs, 2), shape.units)
    p = {n: a[tuple(slice(0, k) for k in s)] for (n, a), s in
         zip(p.items(), shape.tensor_shapes().values())}
    X, R = X[:1, :shape.steps, :shape.inputs], R[:1]
    rng, eps = np.random.default_rng(seed), sp.Symbol("eps", real=True)
    direction = {n: rng.normal(0, 1, a.shape) for n, a in p.items()}
    along = {n: np.vectorize(lambda v, w: sp.Float(float(v), 30) + sp.Float(float(w), 30) * eps,
                             otypes=[object])(p[n], direction[n]) for n in p}
    L = symbolic_loss(along, shape, X, V, R)
    assert float(L.xreplace({eps: 0})) == pytest.approx(loss(p, X, V, R, shape), abs=1e-12)
    _, _, grads, _, _ = backward(p, X, V, R, shape)
    want = sum(float((grads[n] * direction[n]).sum()) for n in p)
    assert float(sp.diff(L, eps).xreplace({eps: 0})) == pytest.approx(want, abs=1e-10)


# ---- the exchange of two units ---------------------------------------------------
def test_exchange_leaves_the_loss_unchanged_symbolically():
    shape = LSTMShape(steps=2, inputs=1, units=2)
    syms = lstm.symbols(1, shape)
    x = [[sp.Symbol("x_1", real=True)], [sp.Symbol("x_2", real=True)]]
    V = [sp.Symbol("W2_1_1", real=True), sp.Symbol("W2_1_2", real=True)]
    h = lstm.symbolic_forward(syms, x, shape)
    L = V[0] * h[0] + V[1] * h[1]
    swapped = lstm.exchange(syms, 0, 1, shape)
    subs = {a: b for n in syms for a, b in zip(syms[n].flat, swapped[n].flat)}
    subs.update({V[0]: V[1], V[1]: V[0]})
    assert sp.expand(L.xreplace(subs) - L) == 0
    rows_only = dict(subs)       # without exchanging U's columns it is not a symmetry
    rows_only.update({syms["U"][r, c]: swapped["U"][r, 1 - c] for r in range(8) for c in range(2)})
    point = {s: sp.Rational(k % 7 - 3, 4) for k, s in enumerate(sorted(L.free_symbols, key=str))}
    assert L.xreplace(rows_only).xreplace(point).evalf(20) != L.xreplace(point).evalf(20)


@pytest.mark.parametrize("seed", range(6))
def test_exchange_leaves_the_loss_unchanged_numerically(seed):
    rng = np.random.default_rng(400 + seed)
    shape = LSTMShape(steps=int(rng.integers(3, 9)), inputs=int(rng.integers(2, 5)),
                      units=int(rng.integers(2, 7)))
    p = {n: rng.normal(0, 0.8, s) for n, s in shape.tensor_shapes().items()}
    X, V = rng.normal(0, 1, (3, shape.steps, shape.inputs)), rng.normal(0, 1, (2, shape.units))
    R = rng.normal(0, 1, (3, 2))
    a, b = (int(u) for u in rng.choice(shape.units, 2, replace=False))
    swapped = lstm.exchange(p, a, b, shape)
    V2 = V[:, lstm.order(a, b, shape.units)]
    assert loss(swapped, X, V2, R, shape) == pytest.approx(loss(p, X, V, R, shape), abs=1e-12)
    rows = np.concatenate([g * shape.units + lstm.order(a, b, shape.units) for g in range(4)])
    assert np.array_equal(lstm.unit_values(swapped, a, "recurrent_outgoing", shape)[rows],
                          lstm.unit_values(p, b, "recurrent_outgoing", shape))
    assert abs(loss(swapped, X, V, R, shape) - loss(p, X, V, R, shape)) > 1e-9


# ---- the local difference, step by step -------------------------------------------
def tie_units(p, V, shape, i, j, groups):
    """Make units i, j (0-based) tie ``groups`` (aligned for U), copying i's values."""
    p, V = {n: v.copy() for n, v in p.items()}, V.copy()
    n, perm = shape.units, lstm.order(i, j, shape.units)
    for g in range(4):
        ri, rj = g * n + i, g * n + j
        if "incoming" in groups:
            p["W"][rj] = p["W"][ri]
        if "bias" in groups:
            p["b"][rj] = p["b"][ri]
        if "recurrent" in groups:
            p["U"][rj, perm] = p["U"][ri]
        if "recurrent_outgoing" in groups:
            p["U"][g * n + perm, j] = p["U"][g * n + np.arange(n), i]
    if "outgoing" in groups:
        V[:, j] = V[:, i]
    return p, V


def local_values(m: LocalUnits, p, V, X, R, states, steps, n: int) -> dict:
    """Every symbol of the local model at sample n of a NumPy pass."""
    shape, out = m.shape, {}
    units = shape.units
    for t in range(0, shape.steps + 2):
        for which, u in enumerate(m.pair):
            if 1 <= t <= shape.steps:
                for name in ("i", "f", "g", "o"):
                    out[m.gate(name, which, t)] = states[name][t - 1][n, u]
                out[m.gate("tc", which, t)] = np.tanh(states["c"][t][n, u])
                out[m.dc(which, t)] = steps["dc"][t - 1][n, u]
            if 0 <= t <= shape.steps:
                out[m.gate("c", which, t)] = states["c"][t][n, u]
                out[m.h(u, t)] = states["h"][t][n, u]
        for u in range(units):
            if 1 <= t <= shape.steps:
                out[m.h(u, t)] = states["h"][t][n, u]
                for g in range(4):
                    out[m.dz(u, g, t)] = steps["dz"][t - 1][n, g * units + u]
        if 1 <= t <= shape.steps:
            out[m.x(t, "k")] = X[n, t - 1, 0]
    out.update({sp.Symbol(f"d{m.layer + 1}_n_{k + 1}", real=True): R[n, k]
                for k in range(R.shape[1])})
    params = {s: v for name, arr in lstm.symbols(m.layer, shape).items()
              for s, v in zip(arr.flat, p[name].flat)}
    params.update({sp.Symbol(f"W{m.layer + 1}_{k + 1}_{u + 1}", real=True): V[k, u]
                   for k in range(V.shape[0]) for u in range(units)})
    out.update(params)   # the representatives of tied classes among them
    return {s: v for s, v in out.items() if isinstance(s, sp.Symbol)}


def full_differences(m: LocalUnits, grads, gV, shape, group):
    """The same entries as :meth:`LocalUnits.differences`, from the full gradients."""
    (i, j), n = m.pair, shape.units
    swap = m._swap
    cols = sorted({i, j, *range(min(n, 3))})
    if group == "incoming":
        return [grads["W"][g * n + i, 0] - grads["W"][g * n + j, 0] for g in range(4)]
    if group == "bias":
        return [grads["b"][g * n + i] - grads["b"][g * n + j] for g in range(4)]
    if group == "recurrent":
        return [grads["U"][g * n + i, k] - grads["U"][g * n + j, swap(k)]
                for g in range(4) for k in cols]
    if group == "recurrent_outgoing":
        return [grads["U"][g * n + r, i] - grads["U"][g * n + swap(r), j]
                for g in range(4) for r in cols]
    return [gV[0, i] - gV[0, j]]


TIES = [(), ("incoming", "recurrent", "bias"), ("incoming", "recurrent", "bias", "outgoing"),
        ("incoming", "bias", "recurrent_outgoing"), GROUPS]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("tie", TIES)
def test_local_difference_matches_the_full_gradient(seed, tie):
    shape, p, X, V, R = random_case(500 + seed, units=(2, 4))
    i, j = sorted(int(u) for u in np.random.default_rng(seed).choice(shape.units, 2, False))
    p, V = tie_units(p, V, shape, i, j, tie)
    H, states, grads, _, steps = backward(p, X, V, R, shape)
    gV = R.T @ H
    m = LocalUnits(1, shape, (i + 1, j + 1), tie=tie, readers=V.shape[0])
    values = [local_values(m, p, V, X, R, states, steps, n) for n in range(X.shape[0])]
    for t in range(1, shape.steps + 1):   # each step's deltas from the next step's
        for which, u in enumerate(m.pair):
            for k, e in enumerate(m.step_deltas(which, t)):
                want = steps["dz"][t - 1][:, k * shape.units + u] if k < 4 else \
                    steps["dc"][t - 1][:, u]
                got = [float(e.xreplace(v)) for v in values]
                np.testing.assert_allclose(got, want, atol=1e-12)
    for group in GROUPS:
        local = [sum(float(e.xreplace(v)) for v in values) for e in m.differences(group)]
        np.testing.assert_allclose(local, full_differences(m, grads, gV, shape, group),
                                   atol=1e-12, err_msg=group)


def test_what_the_induction_proves():
    full = LocalUnits(1, LSTMShape(4, 2, 3), (1, 3), tie=GROUPS)
    assert all(e == 0 for g in GROUPS for e in full.differences(g))
    rows = LocalUnits(1, LSTMShape(4, 2, 3), (1, 3), tie=("incoming", "recurrent", "bias"))
    assert all(rows.same_state(t) for t in range(5)) and not rows.same_delta(4)
    assert rows.differences("outgoing") == [0] and rows.differences("bias")[0] != 0
    # one step: the recurrent_outgoing columns are never read, the outgoing ones decide
    one = LocalUnits(1, LSTMShape(1, 2, 3), (1, 3), tie=("incoming", "recurrent", "bias",
                                                         "outgoing"))
    assert one.same_delta(1) and all(e == 0 for g in GROUPS for e in one.differences(g))
    two = LocalUnits(1, LSTMShape(2, 2, 3), (1, 3), tie=one.tie)
    assert two.same_delta(2) and not two.same_delta(1)
    unaligned = LocalUnits(1, LSTMShape(2, 1, 2), (1, 2), tie=("incoming", "bias"))
    assert not unaligned.same_state(2) and unaligned.same_state(1)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tie", TIES)
def test_steps_proved_once_per_pattern_decide_as_every_step(seed, tie):
    """One equation per pattern of steps proves what every step's own equation proves,
    and the groups' step-by-step decision is the differences being 0."""
    rng = np.random.default_rng(700 + seed)
    shape = LSTMShape(int(rng.integers(1, 7)), int(rng.integers(1, 3)), int(rng.integers(2, 5)))
    i, j = sorted(int(u) + 1 for u in rng.choice(shape.units, 2, replace=False))
    zero = ("recurrent_outgoing",) if seed % 3 == 0 and "recurrent_outgoing" not in tie else ()
    fast = LocalUnits(1, shape, (i, j), tie=tie, zero=zero, readers=2)
    slow = LocalUnits(1, shape, (i, j), tie=tie, zero=zero, readers=2, per_step=True)
    for t in range(shape.steps + 1):
        assert fast.same_state(t) == slow.same_state(t), t
    for t in range(1, shape.steps + 2):
        assert fast.same_delta(t) == slow.same_delta(t), t
    for group in GROUPS:
        assert fast.differences(group) == slow.differences(group), group
        assert fast.vanishes(group) == all(e == 0 for e in slow.differences(group)), group


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tie", TIES)
def test_pre_activations_compared_atom_by_atom_as_expanded(seed, tie):
    """The forward step's test, coefficient by coefficient, decides as expanding
    z_{t,i} − z_{t,j}, at the first step and at later ones."""
    rng = np.random.default_rng(800 + seed)
    shape = LSTMShape(3, int(rng.integers(1, 3)), int(rng.integers(2, 5)))
    i, j = sorted(int(u) + 1 for u in rng.choice(shape.units, 2, replace=False))
    zero = ("bias",) if seed % 2 and "bias" not in tie else ()
    m = LocalUnits(1, shape, (i, j), tie=tie, zero=zero)
    for t in (1, 2, 3):
        for g in range(4):
            assert m.same_z(g, t) == (sp.expand(m.z(0, g, t) - m.z(1, g, t)) == 0), (t, g)


# ---- a factor that vanishes, before any model ---------------------------------------
def _unit_slices(shape: LSTMShape, u: int) -> dict:
    """Unit u's (0-based) entries of each group, from the CONTRACT: its rows in the four
    gate blocks of W, U (all columns) and b, its column of U, its column of the reader V."""
    rows = [g * shape.units + u for g in range(4)]
    return {"incoming": ("W", np.ix_(rows, range(shape.inputs))),
            "recurrent": ("U", np.ix_(rows, range(shape.units))),
            "bias": ("b", (rows,)),
            "recurrent_outgoing": ("U", (slice(None), u)),
            "outgoing": ("V", (slice(None), u))}


@pytest.mark.parametrize("seed", range(8))
def test_the_structural_rule_holds_on_the_numpy_pass(seed):
    """Whenever :func:`by_structure` calls a group's gradient 0, the NumPy pass through
    time gives 0 for both units' entries of it, at random points with the groups zeroed
    (all 32 ways of zeroing the five groups), with and without a bias; and it claims
    the cases the formulas give (one step, the layer's only two units)."""
    from symderive.engine.layers.lstm_local import by_structure

    rng = np.random.default_rng(2300 + seed)
    shape = LSTMShape(steps=int(rng.integers(1, 4)), inputs=int(rng.integers(1, 3)),
                      units=int(rng.integers(2, 4)))
    bias = bool(seed % 2)
    claimed = 0
    for mask in range(32):
        zero = tuple(g for k, g in enumerate(GROUPS) if mask >> k & 1)
        claims = [g for g in GROUPS if by_structure(g, zero, shape.steps, shape.units, bias)]
        if not claims:
            continue
        p = {n: rng.normal(0, 0.8, s) for n, s in shape.tensor_shapes().items()}
        if not bias:
            p["b"][:] = 0
        V = rng.normal(0, 1, (2, shape.units))
        X = rng.normal(0, 1, (2, shape.steps, shape.inputs))
        R = rng.normal(0, 1, (2, 2))
        pair = sorted(rng.choice(shape.units, 2, replace=False))
        for u in pair:
            for g in zero:
                name, where = _unit_slices(shape, u)[g]
                (V if name == "V" else p[name])[where] = 0
        H, _, grads, _, _ = backward(p, X, V, R, shape)
        grads["V"] = R.T @ H                       # ∂ℓ/∂V for ℓ = Σ (H Vᵀ) ⊙ R
        for g in claims:
            claimed += 1
            for u in pair:
                name, where = _unit_slices(shape, u)[g]
                assert np.allclose(grads[name][where], 0, atol=1e-12), (zero, g, u, shape)
    assert claimed > 10
    assert by_structure("recurrent", (), 1, 3, True)
    assert by_structure("incoming", ("outgoing",), 3, 2, True)
    assert not by_structure("incoming", ("outgoing",), 3, 3, True)


# ---- an LSTM that reads the units of the layer before ---------------------------------
DENSE_LSTM = """
[network]
input = [3, 3]
samples = 2

[[layer]]
kind = "dense"
units = 3
activation = "tanh"

[[layer]]
kind = "lstm"
units = 2

[[layer]]
kind = "dense"
units = 1

[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["incoming", "bias"]

[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["incoming", "bias", "outgoing"]
"""


def test_an_lstm_reads_the_units_before_it_through_the_columns_of_w():
    """Per-token dense units read by an LSTM: their outgoing group is W's columns (every
    gate's rows) at the unit's feature; with it tied the units stay identical (the swap,
    its lemma on the LSTM's small instance with two inputs); free, the outgoing columns
    are equal (the two units compute the same values) but the incoming rows separate,
    and torch recomputes that witness (W1[0] − W1[1])."""
    import symderive
    from layer_reference import torch_gradient
    from symderive.engine.layers.units import Units
    from symderive.spec import Spec

    spec = Spec.from_toml(DENSE_LSTM, "t")
    ei, ej = Units(spec.network, spec.hypotheses[0]).groups["outgoing"]
    assert ei == [("W2", (r, 0)) for r in range(8)] and ej == [("W2", (r, 1)) for r in range(8)]
    free, tied = symderive.derive(spec, numeric=False).results
    assert tied.verdict == "preserved" and tied.swap_invariant
    status = {g.group: g.status for g in free.groups}
    assert free.verdict == "broken" and status["outgoing"] == "equal", status
    rows = next(g for g in free.groups if g.group == "incoming")
    assert rows.status == "different"
    w = rows.witness
    theta = {k: np.array(v) for k, v in w.parameters.items()}
    grads = torch_gradient(spec, theta, np.array(w.inputs), np.array(w.targets))
    np.testing.assert_allclose(w.difference, grads["W1"][0] - grads["W1"][1], atol=1e-9)
    assert np.max(np.abs(w.difference)) > 1e-6
