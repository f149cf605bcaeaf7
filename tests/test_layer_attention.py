"""The attention kind's pieces against independent references: its NumPy pass against
finite differences and torch (nn.MultiheadAttention and scaled_dot_product_attention),
its symbolic forward and SymPy gradients against the NumPy pass, the exchange of two
heads, and the local difference formula against the full gradient difference."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from symderive.engine.layers import attention as att
from symderive.engine.layers.attention import AttentionShape
from symderive.engine.layers.attention_local import (LocalHeads, _number,
                                                     one_feature_one_component, proved_zero)

SEEDS = range(12)


def random_shape(rng: np.random.Generator, features: int | None = None) -> AttentionShape:
    heads, head_dim = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    return AttentionShape(tokens=int(rng.integers(1, 5)),
                          features=features or int(rng.integers(1, 5)),
                          heads=heads, head_dim=head_dim, causal=bool(rng.integers(0, 2)))


def random_params(shape: AttentionShape, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {n: rng.normal(0, 0.8, s) for n, s in shape.tensor_shapes().items()}


def loss(p, X, R, shape) -> float:
    """A scalar loss with a dense upstream gradient: Σ Y ⊙ R."""
    return float((att.np_forward(p, X, shape)[0] * R).sum())


def case(seed: int, features: int | None = None):
    rng = np.random.default_rng(seed)
    shape = random_shape(rng, features)
    if features is None and rng.integers(0, 2):
        shape = AttentionShape(shape.tokens, shape.width, shape.heads, shape.head_dim,
                               shape.causal)
    N = int(rng.integers(1, 3))
    X = rng.normal(0, 1, (N, shape.tokens, shape.features))
    R = rng.normal(0, 1, X.shape)
    return shape, random_params(shape, rng), X, R


# ---- NumPy pass against finite differences -------------------------------
@pytest.mark.parametrize("seed", SEEDS)
def test_backward_matches_finite_differences(seed):
    shape, p, X, R = case(seed)
    Y, cache = att.np_forward(p, X, shape)
    grads, dX = att.np_backward(p, cache, R, shape)
    h = 1e-6
    for name, value in list(p.items()) + [("X", X)]:
        analytic = dX if name == "X" else grads[name]
        for idx in np.ndindex(*value.shape):
            old = value[idx]
            value[idx] = old + h
            up = loss(p, X, R, shape)
            value[idx] = old - h
            down = loss(p, X, R, shape)
            value[idx] = old
            assert analytic[idx] == pytest.approx((up - down) / (2 * h), abs=1e-6, rel=1e-6), \
                (name, idx, shape)


# ---- NumPy pass against torch ---------------------------------------------
def _torch_mha(shape, p, X, R):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    mha = torch.nn.MultiheadAttention(shape.features, shape.heads, batch_first=True,
                                      dtype=torch.float64)
    with torch.no_grad():   # the packed in_proj layout: rows of Q, then K, then V
        mha.in_proj_weight.copy_(torch.from_numpy(np.concatenate([p["Q"], p["K"], p["V"]])))
        mha.in_proj_bias.copy_(torch.from_numpy(np.concatenate([p["bq"], p["bk"], p["bv"]])))
        mha.out_proj.weight.copy_(torch.from_numpy(p["O"]))
        mha.out_proj.bias.copy_(torch.from_numpy(p["bo"]))
    x = torch.from_numpy(X.copy()).requires_grad_(True)
    mask = torch.triu(torch.ones(shape.tokens, shape.tokens, dtype=torch.bool), 1) \
        if shape.causal else None
    y, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
    (y * torch.from_numpy(R)).sum().backward()
    w = shape.width
    gin, gb = mha.in_proj_weight.grad.numpy(), mha.in_proj_bias.grad.numpy()
    grads = {"Q": gin[:w], "K": gin[w:2 * w], "V": gin[2 * w:], "bq": gb[:w],
             "bk": gb[w:2 * w], "bv": gb[2 * w:], "O": mha.out_proj.weight.grad.numpy(),
             "bo": mha.out_proj.bias.grad.numpy()}
    return y.detach().numpy(), grads, x.grad.numpy()


@pytest.mark.parametrize("seed", SEEDS)
def test_matches_torch_multihead_attention(seed):
    rng = np.random.default_rng(100 + seed)
    heads, head_dim = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    shape, p, X, R = case(100 + seed, features=heads * head_dim)
    shape = AttentionShape(shape.tokens, heads * head_dim, heads, head_dim, shape.causal)
    p = random_params(shape, rng)
    X = rng.normal(0, 1, (2, shape.tokens, shape.features))
    R = rng.normal(0, 1, X.shape)
    y_torch, g_torch, dx_torch = _torch_mha(shape, p, X, R)
    Y, cache = att.np_forward(p, X, shape)
    grads, dX = att.np_backward(p, cache, R, shape)
    np.testing.assert_allclose(Y, y_torch, atol=1e-12)
    np.testing.assert_allclose(dX, dx_torch, atol=1e-11)
    for name in att.TENSORS:
        np.testing.assert_allclose(grads[name], g_torch[name], atol=1e-11, err_msg=name)


@pytest.mark.parametrize("seed", SEEDS)
def test_matches_torch_sdpa_with_any_head_dim(seed):
    """heads·head_dim ≠ features is outside nn.MultiheadAttention: torch autograd through
    scaled_dot_product_attention with the projections written out."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    shape, p, X, R = case(200 + seed)
    t = {n: torch.from_numpy(v.copy()).requires_grad_(True) for n, v in p.items()}
    x = torch.from_numpy(X.copy()).requires_grad_(True)
    N, T = X.shape[:2]

    def heads(a):
        return a.reshape(N, T, shape.heads, shape.head_dim).transpose(1, 2)
    q, k, v = (heads(x @ t[n].T + t["b" + n.lower()]) for n in ("Q", "K", "V"))
    u = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=shape.causal)
    y = u.transpose(1, 2).reshape(N, T, shape.width) @ t["O"].T + t["bo"]
    (y * torch.from_numpy(R)).sum().backward()
    Y, cache = att.np_forward(p, X, shape)
    grads, dX = att.np_backward(p, cache, R, shape)
    np.testing.assert_allclose(Y, y.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dX, x.grad.numpy(), atol=1e-11)
    for name in att.TENSORS:
        np.testing.assert_allclose(grads[name], t[name].grad.numpy(), atol=1e-11, err_msg=name)


# ---- the symbolic forward --------------------------------------------------
def _symbolic_loss(theta: dict[str, np.ndarray], shape: AttentionShape, X, R) -> sp.Expr:
    total = sp.S.Zero
    for n in range(X.shape[0]):
        Y = att.symbolic_forward(theta, [[sp.Float(v, 30) for v in row] for row in X[n]], shape)
        total += sp.Add(*[Y[t][f] * sp.Float(R[n, t, f], 30)
                          for t in range(shape.tokens) for f in range(shape.features)])
    return total


@pytest.mark.parametrize("seed", range(8))
def test_symbolic_gradient_matches_numpy(seed):
    """SymPy's derivative of the symbolic forward (no backprop code) against the NumPy
    backward pass along a random direction: every parameter θ becomes θ₀ + ε v and
    d/dε at 0 is ∇L · v (one derivative checks every component).  Features 1-2: the
    expression grows with features × heads × head_dim."""
    rng = np.random.default_rng(300 + seed)
    shape = AttentionShape(tokens=int(rng.integers(1, 5)), features=int(rng.integers(1, 3)),
                           heads=int(rng.integers(1, 4)), head_dim=int(rng.integers(1, 4)),
                           causal=bool(rng.integers(0, 2)))
    p = random_params(shape, rng)
    X = rng.normal(0, 1, (1, shape.tokens, shape.features))
    R = rng.normal(0, 1, X.shape)
    eps = sp.Symbol("eps", real=True)
    direction = {n: rng.normal(0, 1, a.shape) for n, a in p.items()}
    along = {n: np.vectorize(lambda v, w: sp.Float(float(v), 30) + sp.Float(float(w), 30) * eps,
                             otypes=[object])(p[n], direction[n]) for n in p}
    L = _symbolic_loss(along, shape, X, R)
    assert float(L.xreplace({eps: 0})) == pytest.approx(loss(p, X, R, shape), abs=1e-12)
    grads, _ = att.np_backward(p, att.np_forward(p, X, shape)[1], R, shape)
    want = sum(float((grads[n] * direction[n]).sum()) for n in p)
    assert float(sp.diff(L, eps).xreplace({eps: 0})) == pytest.approx(want, abs=1e-10)


# ---- the exchange of two heads ----------------------------------------------
def test_exchange_leaves_the_loss_unchanged_symbolically():
    shape = AttentionShape(tokens=2, features=2, heads=2, head_dim=1, causal=True)
    syms = att.symbols(1, shape)
    x = [[sp.Symbol(f"x_{t}_{k}", real=True) for k in range(2)] for t in range(2)]
    Y = att.symbolic_forward(syms, x, shape)
    swapped = att.exchange(syms, 0, 1, shape)
    subs = {a: b for n in syms for a, b in zip(syms[n].flat, swapped[n].flat)}
    assert len({a for a, b in subs.items() if a != b}) == 2 * (3 * 2 + 3 + 2)  # all but bo
    for t in range(2):
        for f in range(2):
            assert sp.expand(Y[t][f].xreplace(subs) - Y[t][f]) == 0
    # a half exchange (the query rows only) is not a symmetry
    half = {a: b for a, b in zip(syms["Q"].flat, swapped["Q"].flat)}
    assert sp.expand(Y[1][0].xreplace(half) - Y[1][0]) != 0


@pytest.mark.parametrize("seed", range(6))
def test_exchange_leaves_the_loss_unchanged_numerically(seed):
    rng = np.random.default_rng(400 + seed)
    shape = AttentionShape(tokens=int(rng.integers(3, 7)), features=int(rng.integers(2, 6)),
                           heads=int(rng.integers(2, 5)), head_dim=int(rng.integers(1, 4)),
                           causal=bool(seed % 2))
    p = random_params(shape, rng)
    X = rng.normal(0, 1, (3, shape.tokens, shape.features))
    R = rng.normal(0, 1, X.shape)
    a, b = rng.choice(shape.heads, 2, replace=False)
    swapped = att.exchange(p, int(a), int(b), shape)
    assert loss(swapped, X, R, shape) == pytest.approx(loss(p, X, R, shape), abs=1e-12)
    assert np.array_equal(att.head_values(swapped, int(a), "output", shape),
                          att.head_values(p, int(b), "output", shape))
    half = dict(p, V=att.exchange(p, int(a), int(b), shape)["V"])
    assert abs(loss(half, X, R, shape) - loss(p, X, R, shape)) > 1e-9


# ---- the local difference formula ------------------------------------------
GROUPS = ("query", "key", "value", "output")


def tie_heads(p, shape, i, j, groups):
    """Copy head i's groups onto head j (0-based)."""
    p = {n: v.copy() for n, v in p.items()}
    si, sj = shape.head_slice(i), shape.head_slice(j)
    for g in groups:
        for name, axis in att.GROUPS[g]:
            if axis == 0:
                p[name][sj] = p[name][si]
            else:
                p[name][:, sj] = p[name][:, si]
    return p


def local_values(model: LocalHeads, p, cache, X, dY, n: int) -> dict:
    """The local model's symbols at sample n of a NumPy pass, read from the pass."""
    shape, out = model.shape, {}
    for which in (0, 1):
        h = model.heads[which] - 1
        for t in range(shape.tokens):
            for c in range(shape.head_dim):
                for sym, arr in ((model.q(which, t, c), "q"), (model.k(which, t, c), "k"),
                                 (model.v(which, t, c), "v")):
                    if isinstance(sym, sp.Symbol):
                        out[sym] = cache[arr][n, h, t, c]
            for s in shape.visible(t)[:-1]:
                sym = model.A(which, t, s)
                if isinstance(sym, sp.Symbol):
                    out[sym] = cache["A"][n, h, t, s]
    for t in range(shape.tokens):
        out[model.x(t)] = X[n, t, 0]
        out.update({model.delta(t, f): dY[n, t, f] for f in range(shape.features)})
    out.update({s: v for s, v in zip(att.symbols(model.layer, shape)["O"].flat, p["O"].flat)})
    return out


def full_difference(grads, shape, i, j, group, bias):
    """Entry (component 1, feature 1) of head i's group gradient minus head j's."""
    si, sj = shape.head_slice(i), shape.head_slice(j)
    if group == "output":
        return grads["O"][0, si][0] - grads["O"][0, sj][0]
    name = {"query": "Q", "key": "K", "value": "V"}[group]
    g = grads["b" + name.lower()] if bias else grads[name][:, 0]
    return g[si][0] - g[sj][0]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("tied", [(), ("query", "key", "value"), ("query", "key"), ("value",)])
def test_local_difference_matches_the_full_gradient(seed, tied):
    shape, p, X, dY = case(500 + seed)
    if shape.heads < 2:
        shape = AttentionShape(shape.tokens, shape.features, 2, shape.head_dim, shape.causal)
        p = random_params(shape, np.random.default_rng(seed))
    p = tie_heads(p, shape, 0, shape.heads - 1, tied)
    Y, cache = att.np_forward(p, X, shape)
    grads, _ = att.np_backward(p, cache, dY, shape)
    model = LocalHeads(2, shape, (1, shape.heads), tie=tied)
    for group in GROUPS:
        for bias in ((False,) if group == "output" else (False, True)):
            expr = model.difference(group, bias)
            local = sum(float(expr.xreplace(local_values(model, p, cache, X, dY, n)))
                        for n in range(X.shape[0]))
            full = full_difference(grads, shape, 0, shape.heads - 1, group, bias)
            assert local == pytest.approx(full, abs=1e-10), (group, bias)


def test_one_token_drops_query_and_key():
    """On one token the softmax Jacobian vanishes: tied query, key and value with
    different output slices leave query and key equal, the value different."""
    one = LocalHeads(1, AttentionShape(1, 2, 2, 2), (1, 2), tie=("query", "key", "value"))
    assert sp.expand(one.difference("query")) == 0
    assert sp.expand(one.difference("key", bias=True)) == 0
    assert sp.expand(one.difference("value")) != 0
    two = LocalHeads(1, AttentionShape(2, 2, 2, 2, causal=True), (1, 2),
                     tie=("query", "key", "value"))
    assert sp.expand(two.difference("query")) != 0
    same = LocalHeads(1, AttentionShape(3, 2, 2, 1), (1, 2), tie=GROUPS)
    assert same.identical and all(sp.expand(same.difference(g)) == 0 for g in GROUPS)


def test_zero_query_gives_uniform_attention_and_no_query_or_key_gradient():
    model = LocalHeads(1, AttentionShape(3, 2, 2, 1), (1, 2), tie=("value", "output"),
                       zero=("query", "key"))
    assert model.A(0, 0, 2) == sp.Rational(1, 3)
    assert model.gradient("query", 0) == 0 and model.gradient("key", 1, bias=True) == 0


# ---- deciding a difference fast: one feature, one component, a point first ----------
HYPOTHESES = [(("query", "key", "value"), ()), (("query", "key"), ()), (("value",), ()),
              ((), ()), (("value",), ("query", "key")), (("value", "output"), ("query",)),
              (("query", "key", "output"), ("value",)), (("output",), ("key",))]


@pytest.mark.parametrize("seed", range(2 * len(HYPOTHESES)))
def test_one_feature_one_component_decides_as_the_full_shape(seed):
    """The reduced shape proves exactly what the full one proves (expanded), group by
    group, bias entries included: two features and two value components, so that
    the (f, c) parts the reduction leaves out are there."""
    tokens = 3 if seed % 4 == 0 else 2         # three tokens: causal only (the expansion)
    shape = AttentionShape(tokens, 2, 2 + seed % 3 // 2, 2, causal=seed % 2 == 0)
    tie, zero = HYPOTHESES[seed // 2]
    full = LocalHeads(1, shape, (1, shape.heads), tie, zero)
    small = LocalHeads(1, one_feature_one_component(shape), (1, shape.heads), tie, zero)
    for group in GROUPS:
        for bias in ((False,) if group == "output" else (False, True)):
            want = sp.expand(full.difference(group, bias)) == 0
            assert (sp.expand(small.difference(group, bias)) == 0) == want, (group, bias)
            got = proved_zero(1, shape, (1, shape.heads), tie, zero, group, bias, True)
            assert got == want, (group, bias)


@pytest.mark.parametrize("seed", SEEDS)
def test_the_point_model_is_the_symbolic_difference_at_that_point(seed):
    """The same formulas on numbers: the symbolic difference with every symbol replaced
    by the point's integer gives the point model's exact value (times √d, left out)."""
    rng = np.random.default_rng(950 + seed)
    shape = AttentionShape(int(rng.integers(1, 5)), int(rng.integers(1, 3)),
                           int(rng.integers(2, 4)), int(rng.integers(1, 3)),
                           bool(rng.integers(0, 2)))
    tie, zero = HYPOTHESES[seed % len(HYPOTHESES)]
    symbolic = LocalHeads(2, shape, (1, 2), tie, zero)
    at_point = LocalHeads(2, shape, (1, 2), tie, zero, point=1)
    for group in GROUPS:
        expr = symbolic.difference(group, seed % 2 == 1 and group != "output")
        value = expr.xreplace({s: _number(f"1:{s.name}") for s in expr.free_symbols})
        scale = 1 if group in ("value", "output") else sp.sqrt(shape.head_dim)
        want = at_point.difference(group, seed % 2 == 1 and group != "output")
        assert sp.simplify(value * scale - sp.Rational(want)) == 0, group


def test_long_sequences_are_proved_as_built():
    """16 causal tokens: the output columns of heads with tied query, key and value,
    and the zero queries and keys, are proved without expanding; the rest is not."""
    shape = AttentionShape(16, 64, 4, 16, causal=True)
    tied = dict(tie=("query", "key", "value"), zero=())
    assert proved_zero(1, shape, (1, 2), group="output", bias=False, expand=False, **tied)
    assert not proved_zero(1, shape, (1, 2), group="value", bias=False, expand=False, **tied)
    zeroed = dict(tie=("value",), zero=("query", "key"))
    for group in ("query", "key", "output"):
        assert proved_zero(1, shape, (3, 4), group=group, bias=False, expand=False, **zeroed)
    assert not proved_zero(1, shape, (3, 4), group="value", bias=False, expand=False, **zeroed)


@pytest.mark.parametrize("tokens, tried", [(16, True), (att.BUILT_TOKENS + 1, False)])
def test_the_kind_tries_the_local_model_up_to_built_tokens(tokens, tried, monkeypatch):
    """Tied query, key and value: the output columns are proved by what their gradient is
    made of at any length; the value rows need the local model, which is tried at 16
    tokens (it finds them different) and not past BUILT_TOKENS."""
    from symderive.engine.layers import attention_local
    from symderive.spec import Spec
    from test_layer_kinds2_specs import ATTENTION

    spec = Spec.from_toml(ATTENTION.replace("input = [2, 2]", f"input = [{tokens}, 2]"), "t")
    layer, after, hyp = spec.network.stack[0], spec.network.stack[1], spec.hypotheses[0]
    assert hyp.tie == ("query", "key", "value")
    calls = []
    original = attention_local.proved_zero
    monkeypatch.setattr(attention_local, "proved_zero",
                        lambda *a, **k: calls.append(a) or original(*a, **k))
    assert att.KIND.local_zero(layer, after, hyp, "output") is True
    assert calls == []
    assert att.KIND.local_zero(layer, after, hyp, "value") is False
    assert bool(calls) is tried


# ---- the structural rule: what a gradient is made of ---------------------------------
def _assumptions():
    """Every way of leaving each group free, tying it or zeroing it (3⁴ = 81)."""
    from itertools import product

    for states in product(("free", "tie", "zero"), repeat=len(GROUPS)):
        yield (tuple(g for g, s in zip(GROUPS, states) if s == "tie"),
               tuple(g for g, s in zip(GROUPS, states) if s == "zero"))


def zero_heads(p, shape, heads, groups):
    """Zero the groups of the heads (0-based)."""
    p = {n: v.copy() for n, v in p.items()}
    for h in heads:
        s = shape.head_slice(h)
        for g in groups:
            for name, axis in att.GROUPS[g]:
                if axis == 0:
                    p[name][s] = 0
                else:
                    p[name][:, s] = 0
    return p


@pytest.mark.parametrize("seed", range(6))
def test_the_structural_rule_holds_on_the_numpy_pass(seed):
    """Whenever :func:`by_structure` calls a difference 0 without building it, the NumPy
    backward pass (not the local model) gives 0 for every entry of the group at random
    points with the hypothesis imposed; and it makes the claim in the cases the
    formulas say (a tied output with tied query and key, a zeroed factor)."""
    from symderive.engine.layers.attention_local import by_structure

    rng = np.random.default_rng(1700 + seed)
    shape = AttentionShape(int(rng.integers(2, 5)), int(rng.integers(1, 4)), 2,
                           int(rng.integers(1, 3)), bool(rng.integers(0, 2)))
    claimed = 0
    for tie, zero in _assumptions():
        if not any(by_structure(g, tie, zero) for g in GROUPS):
            continue
        p = zero_heads(tie_heads(random_params(shape, rng), shape, 0, 1, tie), shape,
                       (0, 1), zero)
        X = rng.normal(0, 1, (2, shape.tokens, shape.features))
        dY = rng.normal(0, 1, X.shape)
        _, cache = att.np_forward(p, X, shape)
        grads, _ = att.np_backward(p, cache, dY, shape)
        for group in GROUPS:
            if by_structure(group, tie, zero):
                claimed += 1
                i, j = (np.concatenate([att.head_values(grads, h, group, shape)])
                        for h in (0, 1))
                assert np.allclose(i, j, atol=1e-12), (tie, zero, group)
    assert claimed > 100
    assert by_structure("output", ("query", "key", "value"), ())
    assert by_structure("query", (), ("key",)) and not by_structure("query", (), ("query",))
    assert not by_structure("value", ("query", "key", "value"), ())
