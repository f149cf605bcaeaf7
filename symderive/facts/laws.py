"""Continuous symmetries of a dense network's loss and the conservation laws they give.

A one-parameter group of transformations θ ↦ g_s(θ) that leaves the loss unchanged gives,
by differentiating L(g_s(θ)) = L(θ) at s = 0, an identity ⟨X(θ), ∇L(θ)⟩ = 0 for the
generator X.  When X(θ) is linear in θ and symmetric (X = Sθ with S a symmetric matrix),
Q(θ) = ⟨θ, Sθ⟩ is conserved by gradient flow (dQ/dt = −2⟨Sθ, ∇L⟩ = 0); when X is a
constant vector c, Q(θ) = ⟨c, θ⟩ is (dQ/dt = −⟨c, ∇L⟩ = 0).  The symmetries found here
(Kunin et al. 2021, "Neural Mechanics"; Du, Hu & Lee 2018):

- ``rescale``: a hidden unit u of a positively homogeneous σ (σ(cz) = cσ(z), c > 0):
  its incoming weights and bias times c, its outgoing weights divided by c.  The identity
  ⟨θ_in, g_in⟩ = ⟨θ_out, g_out⟩; the law ‖θ_in‖² − ‖θ_out‖².
- ``linear``: a hidden layer of a linear σ (σ(z) = cz): [W^(l) b^(l)] ↦ A[W^(l) b^(l)],
  W^(l+1) ↦ W^(l+1)A⁻¹ for any invertible A.  The law W^(l)W^(l)ᵀ + b b ᵀ − W^(l+1)ᵀW^(l+1),
  an r × r matrix whose diagonal holds the rescale laws of the layer's units.
- ``translation``: softmax cross-entropy on identity outputs is unchanged when every logit
  is shifted by the same amount: the output biases (shift c) and each column j of the
  last weight matrix (shift c·a_j).  The laws Σ_k b_k and Σ_k W_kj.
- ``scale`` (the parameters feeding a batch or layer norm) needs a norm layer kind, which
  the dense networks stated here do not have: :func:`find_laws` says so.

Proofs: each law's gradient identity is reduced symbolically, with σ, σ' undefined and the
rest of the network opaque (a^(l−1), δ^(l+1): the local derivation's symbols), to a
condition on σ alone (Euler's identity zσ'(z) − σ(z) = 0, or σ'(z_i)z_j − σ(z_j) = 0),
which is then proved for the network's σ; the per-step changes are proved term by term
(:mod:`.steps`).  The identity's residual per sample, summed over samples, is the
gradient's, so a law holds for every number of samples and every minibatch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from ..engine.network import activation_value, bias, delta, output_value, target, weight
from ..spec import NetworkSpec
from ..spec.functions import Z, relu
from ..spec.undefined import act, dact
from .result import PROVED, UNDECIDED, Statement

SYMMETRIES = ("rescale", "linear", "translation", "scale")
LOSS = sp.Symbol("L")
#: Outputs up to which softmax's translation identity is proved by differentiating the loss.
MAX_SOFTMAX_OUTPUTS = 24

Entry = Callable[[sp.Symbol], sp.Expr]   # what a parameter entry becomes (θ, ∂L/∂θ, ν ...)


@dataclass(frozen=True)
class Law:
    """One conserved quantity Q.  ``display(f, g)`` writes the symmetric bilinear form
    B(f, g) with Q(θ) = B(θ, θ) (``quadratic``), or the linear Q(f) (then g is unused),
    where f, g say what each parameter entry becomes (θ itself, ∂L/∂θ, a buffer ...)."""

    symmetry: str
    layer: int
    index: int | None                   # rescale: the unit; translation: column (None: biases)
    parameters: tuple[str, ...]         # the entries Q depends on, by generated name
    display: Callable[..., sp.Expr]
    quadratic: bool
    status: str = PROVED


def grad(s: sp.Symbol) -> sp.Expr:
    """∂L/∂s, unevaluated (display)."""
    return sp.Derivative(LOSS, s, evaluate=False)


# ------------------------------------------------------------- conditions on σ


def _piecewise(expr: sp.Expr) -> sp.Expr:
    """ReLU and Heaviside steps (H(0) = 0) as Piecewise, so that branches can cancel."""
    expr = expr.replace(lambda e: isinstance(e, relu),
                        lambda e: sp.Piecewise((e.args[0], e.args[0] > 0), (0, True)))
    expr = expr.replace(lambda e: isinstance(e, sp.Heaviside),
                        lambda e: sp.Piecewise((1, e.args[0] > 0), (0, True)))
    return expr.rewrite(sp.Piecewise)


def vanishes(expr: sp.Expr) -> bool:
    """True only when ``expr`` is proved identically 0 (expansion, then Piecewise folding)."""
    if sp.expand(expr) == 0:
        return True
    try:
        return sp.simplify(sp.piecewise_fold(_piecewise(expr))) == 0
    except (TypeError, ValueError, NotImplementedError):   # SymPy gives up: not proved
        return False


def euler_residual(network: NetworkSpec) -> sp.Expr:
    """zσ'(z) − σ(z): zero exactly for a positively homogeneous σ (Euler's identity)."""
    a = network.activation
    return Z * a.derivative(Z) - a(Z)


ZI, ZJ = sp.symbols("z_i z_j", real=True)


def linear_residual(network: NetworkSpec) -> sp.Expr:
    """σ'(z_i)z_j − σ(z_j): zero for all z_i, z_j exactly when σ(z) = cz."""
    a = network.activation
    return a.derivative(ZI) * ZJ - a(ZJ)


def residual_at(expr: sp.Expr, points) -> tuple[dict, float] | None:
    """The first of ``points`` where ``expr`` is clearly non-zero: a witness."""
    for point in points:
        try:
            value = float(sp.N(expr.xreplace(point)))
        except (TypeError, ValueError):
            continue
        if abs(value) > 1e-9:
            return {str(k): float(v) for k, v in point.items()}, value
    return None


# ------------------------------------------------------------- the local reductions


def _incoming(network: NetworkSpec, layer: int, u) -> list[tuple[sp.Symbol, sp.Expr]]:
    """(θ, the input it multiplies) for unit u's incoming weights and bias (sample n)."""
    K = network.layers[layer - 1]
    rows = [(weight(layer, u, k), activation_value(layer - 1, "n", k)) for k in range(1, K + 1)]
    return rows + ([(bias(layer, u), sp.Integer(1))] if network.bias else [])


def _outgoing_signal(network: NetworkSpec, layer: int, u) -> sp.Expr:
    """T_u = Σ_m W^(l+1)_mu δ^(l+1)_m (sample n): what σ'(z_u) multiplies in δ_u."""
    M = network.layers[layer + 1]
    return sp.Add(*[weight(layer + 1, m, u) * delta(layer + 1, "n", m) for m in range(1, M + 1)])


def layer_reduction(network: NetworkSpec, layer: int, i, j) -> tuple[bool, sp.Expr]:
    """The identity of units i, j of ``layer`` (generic names such as "u", or numbers)
    reduced to a condition on σ, by backpropagation with σ undefined:

        Σ_k (∂ℓ/∂W_ik) W_jk + (∂ℓ/∂b_i) b_j − Σ_m W_mi ∂ℓ/∂W_mj = T_i (σ'(z_i) z_j − σ(z_j)),

    T_i = Σ_m W_mi δ_m.  Proved in two expansions, each linear in the widths: the first
    sum is σ'(z_i) T_i z_j (δ_i = σ'(z_i) T_i; z_j = Σ_k W_jk a_k + b_j), the second
    T_i σ(z_j).  Returns (proved, the reduced form); i = j is the rescale identity."""
    T = sp.Symbol(f"T_{i}", real=True)
    zj = sp.Add(*[t * x for t, x in _incoming(network, layer, j)])
    # σ'(z_i) and σ(z_j) are single factors whatever z_i, z_j are: written at the symbols
    # z_i, z_j (their values are the sums), the expansions stay linear in the widths
    first = sp.Add(*[dact(ZI) * T * x * t for (t, x) in _incoming(network, layer, j)])
    M = network.layers[layer + 1]
    second = sp.Add(*[weight(layer + 1, m, i) * delta(layer + 1, "n", m) * act(ZJ)
                      for m in range(1, M + 1)])
    proved = (sp.expand(first - dact(ZI) * T * zj) == 0
              and sp.expand(second - _outgoing_signal(network, layer, i) * act(ZJ)) == 0)
    return proved, T * (dact(ZI) * ZJ - act(ZJ))


SHIFT = sp.Symbol("c", real=True)


def translation_residual(network: NetworkSpec) -> sp.Expr:
    """ℓ(ŷ + c·1) − ℓ(ŷ) for the loss per sample (sample 1), the logarithms of the shifted
    sums of exponentials written as c + log of the sum (their arguments are positive)."""
    K = network.layers[-1]
    yhat = [output_value(1, k) for k in range(1, K + 1)]
    y = [target(1, k) for k in range(1, K + 1)]
    loss = network.loss.per_sample(yhat, y)
    shifted = loss.xreplace({v: v + SHIFT for v in yhat})
    shifted = shifted.replace(lambda e: isinstance(e, sp.log),
                              lambda e: sp.log(sp.factor_terms(sp.expand(e.args[0]))))
    return sp.expand(sp.expand_log(shifted, force=True) - loss)


def translation_applies(network: NetworkSpec) -> bool:
    return network.loss.name == "softmax_ce" and network.output_activation.is_identity


def translation_proved(network: NetworkSpec) -> str:
    """Proved when ℓ(ŷ + c·1) − ℓ(ŷ) expands to 0 (up to MAX_SOFTMAX_OUTPUTS outputs);
    differentiating in c at 0 gives Σ_k ∂ℓ/∂ŷ_k = 0."""
    if network.layers[-1] > MAX_SOFTMAX_OUTPUTS:
        return UNDECIDED
    return PROVED if translation_residual(network) == 0 else UNDECIDED


__all__ = ["Law", "SYMMETRIES", "LOSS", "grad", "vanishes", "euler_residual",
           "linear_residual", "residual_at", "layer_reduction",
           "translation_residual", "translation_applies", "translation_proved", "Statement"]
