"""The ``scale`` law of a ``[[layer]]`` network: the parameters feeding a batch or layer norm.

A norm layer divides its input's deviations from their mean by their standard deviation,
so (with ``eps = 0``) its output is unchanged when the input is multiplied by any c > 0.
When the layer before it is linear in its own parameters (dense or conv: every entry of
its pre-activation is a degree-1 polynomial in them) and its activation is positively
homogeneous (σ(cz) = cσ(z)), the loss is unchanged under θ → cθ for the parameters θ
that scale one statistics block:

- layer norm (``over = "features"``): one sample's whole output, so θ is every weight and
  bias of the layer before;
- batch norm (``over = "batch"``): one channel over the samples (and positions), so θ is
  that channel's incoming weights and bias; with no activation between the layer and the
  norm the bias drops out entirely (the mean absorbs it): ∂L/∂b_j = 0, and θ is the
  weights alone.

Differentiating L(cθ) = L(θ) at c = 1 gives ⟨θ, ∇_θ L⟩ = 0: ‖θ‖² is conserved by gradient
flow, grows by exactly η²‖∇_θ L‖² per step of gradient descent, and with weight decay λ
changes by ((1 − ηλ)² − 1)‖θ‖² + η²‖∇_θ L‖², which is 0 exactly at
‖θ‖² = η‖∇_θ L‖²/(λ(2 − ηλ)).  With ``eps > 0`` the invariance is only approximate: the
derivative in c of the output at c = 1 is computed and printed, and the law is not
called proved.  Each link is proved with SymPy on the spec's own shapes
(:func:`scale_laws`); :mod:`.scale_check` trains the network through the kinds' NumPy
passes and compares.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..engine.layers import layer_kind
from ..engine.layers.stack import Stack
from ..spec import NetworkSpec
from ..spec.functions import Z
from ..spec.layers import LayerSpec
from ..spec.layers.norm import feature_block, per_position
from .laws import Law, grad, vanishes
from .result import PROVED, UNDECIDED, Statement

C = sp.Symbol("c", positive=True)
#: The left side of a residual statement (the claim says what is subtracted from what).
_DELTA = sp.Symbol("Delta", real=True)
ETA, LAM = sp.symbols("eta lambda", positive=True)
#: Terms of the pre-activation (one sample) up to which the layer before is expanded.
MAX_EXPANDED = 20000
_BATCH = "batch"


@dataclass(frozen=True)
class Site:
    """A norm layer and the layer feeding it."""

    norm: LayerSpec
    before: LayerSpec
    samples: int

    @property
    def batch(self) -> bool:
        return layer_kind(self.norm.kind).statistics(self.norm) == _BATCH

    @property
    def bias_drops(self) -> bool:
        """Batch norm straight after the layer's pre-activation (no activation between):
        a channel's bias only shifts the channel, which the mean takes away.  Through a
        ReLU it does not (relu(z + b) is no shift), and the bias joins the law."""
        act = self.before.activation
        return self.batch and self.before.bias and (act is None or act.is_identity)

    @property
    def eps(self) -> float:
        return float(self.norm.option("eps"))

    def block(self) -> int:
        """How many entries one set of statistics runs over."""
        shape = self.norm.in_shape
        if not self.batch:
            return feature_block(shape, self.norm.option("axis"))
        axis = self.norm.option("axis")
        return self.samples * math.prod(n for a, n in enumerate(shape) if a != axis)


def sites(net: NetworkSpec) -> tuple[list[Site], list[str]]:
    """The norm layers whose input scales with the layer before it, and why the others not."""
    found, absent = [], []
    for norm in (s for s in net.stack if layer_kind(s.kind).statistics(s) is not None):
        before = net.stack[norm.index - 2]
        why = _refusal(net, before)
        if why:
            absent.append(f"scale: norm layer {norm.index} is fed by layer {before.index} "
                          f"({before.kind}), {why}")
        else:
            found.append(Site(norm, before, net.samples))
    if not found and not absent:
        kinds = ", ".join(dict.fromkeys(s.kind for s in net.stack))
        absent.append(f"scale: no layer normalises its input (the layers are {kinds})")
    return found, absent


def _refusal(net: NetworkSpec, before: LayerSpec) -> str:
    """Why the output of ``before`` does not scale with its own parameters ('' if it does)."""
    if not layer_kind(before.kind).linear_in_parameters:
        return "which is not linear in parameters of its own"
    if before.skip is not None:
        return f"whose output adds layer {before.skip}'s (skip), which does not scale with it"
    readers = [s.index for s in net.stack if s.skip == before.index]
    if readers:
        return (f"whose output also reaches layer {readers[0]} past the norm (skip), "
                "unnormalised")
    residual = _euler(before)
    if not vanishes(residual):
        return f"whose activation is not positively homogeneous (zσ'(z) − σ(z) = {residual})"
    return ""


def _euler(layer: LayerSpec) -> sp.Expr:
    act = layer.activation
    return sp.Integer(0) if act is None else Z * act.derivative(Z) - act(Z)


# ------------------------------------------------------------- the laws of a site


def site_laws(stack: Stack, site: Site) -> tuple[list[Law], list[Statement]]:
    """The laws of one norm layer, and the statements proving each link."""
    groups = _parameter_groups(stack, site)
    linear = _linear_statement(stack, site, groups)
    act = Statement(f"layer {site.before.index}'s activation is positively homogeneous "
                    "(Euler's identity zσ'(z) − σ(z))", _euler(site.before), sp.Integer(0))
    norm = _norm_statements(site)
    statements = [linear, act] + norm
    status = PROVED if all(s.status == PROVED for s in statements) else UNDECIDED
    laws = [Law("scale", site.before.index, index, names, _form(symbols), True, status)
            for index, (names, symbols) in groups.items()]
    if site.bias_drops:
        statements.append(_bias_statement(site))
    return laws, statements


def _parameter_groups(stack: Stack, site: Site) -> dict[int | None, tuple[tuple[str, ...], list]]:
    """Per law (a channel for batch norm, None for layer norm): the parameters' names and
    symbols.  Batch norm right after the pre-activation leaves the bias out: its gradient
    is 0 (:func:`_bias_statement`); through an activation the channel's bias is in."""
    before = site.before
    tensors = layer_kind(before.kind).tensors(before)
    theta = stack.theta
    if not site.batch:
        symbols = [s for name in tensors for s in theta[name].reshape(-1)]
        return {None: (tuple(str(s) for s in symbols), symbols)}
    weights, bias = theta[f"W{before.index}"], theta.get(f"b{before.index}")
    out = {}
    for j in range(weights.shape[0]):
        symbols = list(weights[j].reshape(-1))
        symbols += [bias[j]] if bias is not None and not site.bias_drops else []
        out[j + 1] = (tuple(str(s) for s in symbols), symbols)
    return out


def _form(symbols: list):
    """B(f, g) = Σ f(θ)g(θ) over the law's parameters: Q = ‖θ‖²."""
    return lambda f, g=None: sp.Add(*[f(s) * (g or f)(s) for s in symbols])


def _linear_statement(stack: Stack, site: Site, groups) -> Statement:
    """Every pre-activation entry of the layer before, with one law's parameters scaled by
    c: c times itself in the entries the law's statistics read, itself elsewhere."""
    before = site.before
    inputs = _opaque_input(before)
    weights = stack.shapes[f"W{before.index}"]
    terms = math.prod(before.out_shape) * (math.prod(weights[1:]) + 1)
    if terms > MAX_EXPANDED:
        return Statement(f"layer {before.index}'s pre-activation scales with its parameters "
                         f"(not expanded: {terms} terms, more than {MAX_EXPANDED})",
                         _DELTA, _DELTA, UNDECIDED)
    z = layer_kind(before.kind).forward(before, stack.theta, inputs)
    axis = 1 + site.norm.option("axis")
    bias = stack.theta.get(f"b{before.index}")
    residual = sp.Integer(0)
    for index, (_, symbols) in groups.items():
        joint = list(symbols) + ([bias[index - 1]] if index is not None and bias is not None
                                 else [])
        own = set(joint)
        for pos in np.ndindex(*z.shape):
            entry = z[pos]
            if index is None or pos[axis] == index - 1:
                moved = _euler_residual(entry, joint)
            else:       # another channel's entry: it must not read this law's parameters
                moved = sp.Add(*sorted(entry.free_symbols & own, key=str))
            residual = residual if moved == 0 else moved
    status = PROVED if residual == 0 else UNDECIDED
    what = ("all of them" if not site.batch else "channel j's incoming weights and bias "
            "(read by channel j only)")
    return Statement(f"layer {before.index}'s pre-activation is homogeneous of degree 1 in "
                     f"{what}: Σ θ ∂z/∂θ − z for every entry (Euler's identity, so "
                     "z(cθ) = c z(θ); the layer's input opaque)",
                     _DELTA, residual, status)


def _euler_residual(entry: sp.Expr, joint: list) -> sp.Expr:
    """Σ θ ∂z/∂θ − z over the law's parameters: 0 exactly when z is homogeneous of degree
    1 in them, i.e. z(cθ) = c z(θ) (Euler).  An expanded sum whose every term is one
    parameter times factors free of the others is such a z, term by term (each term's
    Euler sum is the term): the residual is the sum of the terms that are not.  Any
    other expression is differentiated and expanded."""
    own = set(joint)
    rest = []
    for term in sp.Add.make_args(entry):
        factors = sp.Mul.make_args(term)
        mine = [f for f in factors if f in own]
        others = [f for f in factors if f not in own]
        if any(not (f.is_Symbol or f.is_Number) for f in others):
            moved = sp.Add(*[s * entry.diff(s) for s in joint if s in entry.free_symbols])
            return sp.expand(moved - entry)
        if len(mine) != 1:
            rest.append(term * (len(mine) - 1))     # its Euler sum minus itself
    return sp.Add(*rest)


def _opaque_input(before: LayerSpec) -> np.ndarray:
    """One sample's input to ``before`` as generated symbols a_1 ... (its value is opaque)."""
    shape = (1, *before.in_shape)
    out = np.empty(shape, dtype=object)
    for k, idx in enumerate(np.ndindex(*shape), start=1):
        out[idx] = sp.Symbol(f"a_{k}", real=True)
    return out


def _block(n: int) -> list[sp.Symbol]:
    return [sp.Symbol(f"x_{k}", real=True) for k in range(1, n + 1)]


def _mean(xs: list) -> sp.Expr:
    return sp.Add(*xs) / len(xs)


def _norm_statements(site: Site) -> list[Statement]:
    """The norm's output is unchanged when its block of n inputs is multiplied by c > 0:
    the deviations scale by c, the biased variance by c², and the output (eps = 0) not at
    all; with eps > 0 its derivative in c at c = 1 is printed instead."""
    n = site.block()
    xs = _block(n)
    dev_residual = sp.expand(_mean([C * x for x in xs]) - C * _mean(xs))
    d = sp.symbols(f"d_1:{n + 1}", real=True)
    var = sp.Add(*[di ** 2 for di in d]) / n
    var_residual = sp.expand(sp.Add(*[(C * di) ** 2 for di in d]) / n - C ** 2 * var)
    where = (f"the {n} entries of one channel over the samples and positions"
             if site.batch else f"the {n} features of one token"
             if per_position(site.norm.in_shape, site.norm.option("axis"))
             else f"the {n} entries of one sample")
    out = [Statement(f"norm layer {site.norm.index}, {where}: the mean of c·x minus c "
                     "times that of x (so each deviation from the mean scales by c)",
                     _DELTA, dev_residual,
                     PROVED if dev_residual == 0 else UNDECIDED),
           Statement(f"norm layer {site.norm.index}: the biased variance of c·x minus c² "
                     "times that of x", _DELTA,
                     var_residual, PROVED if var_residual == 0 else UNDECIDED)]
    dev, v, g, eps = sp.Symbol("D", real=True), sp.Symbol("V", nonnegative=True), \
        sp.Symbol("gamma", real=True), sp.nsimplify(site.eps)
    out_c = g * C * dev / sp.sqrt(C ** 2 * v + eps)
    exact = site.eps == 0
    if exact:   # √(c²V) = c√V for c > 0, V ≥ 0: SymPy cancels c as it builds the difference
        residual = out_c - g * dev / sp.sqrt(v)
        residual = residual if residual == 0 else sp.simplify(residual)
    else:
        residual = sp.simplify(sp.diff(out_c, C).subs(C, 1))
    out.append(Statement(
        f"norm layer {site.norm.index}: γ·D/√(V + ε) with D → cD, V → c²V, "
        + ("ε = 0, minus the unscaled output (c > 0)" if exact else
           f"ε = {site.eps:g}: its derivative in c at c = 1, not 0, so the scale law is "
           "approximate (exact only with eps = 0)"),
        _DELTA, residual,
        PROVED if exact and residual == 0 else UNDECIDED))
    return out


def _bias_statement(site: Site) -> Statement:
    """Batch norm: a channel's bias shifts every entry of its block by the same t, which
    the mean takes away: the deviations of x + t minus those of x."""
    xs = _block(site.block())
    t = sp.Symbol("t", real=True)
    residual = sp.expand(_mean([x + t for x in xs]) - _mean(xs) - t)
    b = sp.Symbol(f"b{site.before.index}_j", real=True)
    return Statement(f"batch norm layer {site.norm.index}: a channel's bias shifts its whole "
                     "block by t, and the mean of x + t minus that of x minus t is "
                     f"{residual}, so the deviations, the output and the loss do not depend "
                     "on it: the bias's gradient is 0",
                     grad(b), residual, PROVED if residual == 0 else UNDECIDED)


def equilibrium_statement(law: Law) -> Statement:
    """With weight decay the per-step change ((1 − ηλ)² − 1)Q + η²G, linear in Q, vanishes
    exactly at Q = ηG/(λ(2 − ηλ)) (checked by substitution)."""
    Q, G = sp.symbols("Q G", positive=True)
    change = ((1 - ETA * LAM) ** 2 - 1) * Q + ETA ** 2 * G
    value = ETA * G / (LAM * (2 - ETA * LAM))
    # linear in Q with a non-zero slope (ηλ(ηλ − 2) for 0 < ηλ < 2): one root, this one
    ok = sp.cancel(change.subs(Q, value)) == 0 and sp.diff(change, Q) != 0
    return Statement("weight decay: the squared norm at which a step leaves it unchanged "
                     "(G the squared norm of the gradient; below it the norm grows, above it "
                     "shrinks)", law.display(lambda s: s),
                     ETA * law.display(grad) / (LAM * (2 - ETA * LAM)),
                     PROVED if ok and law.status == PROVED else UNDECIDED)


def scale_laws(net: NetworkSpec) -> tuple[list[Law], list[Statement], list[str]]:
    """Every scale law of a ``[[layer]]`` network, the statements proving them, and the
    norm layers without one (with the reason)."""
    stack = Stack(net)
    laws, statements = [], []
    found, absent = sites(net)
    for site in found:
        more, proofs = site_laws(stack, site)
        laws += more
        statements += proofs
        if more:
            statements.append(equilibrium_statement(more[0]))
    return laws, statements, absent
