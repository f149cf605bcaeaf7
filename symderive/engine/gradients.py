"""Gradients of the loss: by direct differentiation and by backpropagation.

Both are exact.  Backpropagation is the chain rule organised layer by layer:
δ^{(L)} = ∂ℓ/∂z^{(L)}, δ^{(l)} = σ'(z^{(l)}) ⊙ (W^{(l+1)})^T δ^{(l+1)}, and
∂L/∂W^{(l)}_{ik} = Σ_n δ^{(l)}_{n,i} a^{(l-1)}_{n,k}.  The tests prove that the
two agree symbolically, which is the answer to "does backprop's layer-wise
computation cause the symmetry?": no, it computes the same exact derivative.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from ..spec import NetworkSpec
from .network import Network


def direct_gradient(net: Network, params: list[sp.Symbol]) -> list[sp.Expr]:
    """∂L/∂θ for each θ in ``params``, differentiating the whole loss.

    Each derivative is computed once per network and parameter: the proof of a
    zero difference, the whole-loss gradient check and the backprop-exact fact
    ask for the same derivatives of small networks."""
    return [_derivative(net.spec, p) for p in params]


@lru_cache(maxsize=1024)
def _derivative(spec: NetworkSpec, p: sp.Symbol) -> sp.Expr:
    return sp.diff(_whole_loss(spec), p)


@lru_cache(maxsize=16)
def _whole_loss(spec: NetworkSpec) -> sp.Expr:
    return Network(spec).loss


#: Operations in an activation and its derivative beyond which the whole loss is not
#: differentiated: the loss nests them once per layer, so its size grows like their
#: product (a cases-ELU on [2, 2, 2, 2, 1] took minutes).
SIMPLE_ACTIVATION_OPS = 12


def whole_loss_affordable(spec: NetworkSpec, limit: int) -> bool:
    """Is building (and differentiating) the whole loss cheap?  Its cost is the size of
    the nested expression: it grows with the parameters times samples (at most
    ``limit``) and, on networks with more than one hidden layer, multiplies with the
    activations' own size at every layer (Piecewise, Max and Min branches most)."""
    sizes = spec.layers
    count = sum(sizes[l] * (sizes[l - 1] + spec.bias) for l in range(1, len(sizes)))
    if count * spec.samples > limit:
        return False
    if len(sizes) <= 3:     # one hidden layer: the activations are not nested in each other
        return True
    for f in (spec.activation, spec.output_activation):
        if f.expr.has(sp.Piecewise, sp.Max, sp.Min):
            return False
        if sp.count_ops(f.expr) + sp.count_ops(f.derivative_expr) > SIMPLE_ACTIVATION_OPS:
            return False
    return True


#: Terms of the expanded whole loss the zero proof (:func:`symmetry._full_is_zero`) works
#: through in a second of CPU: it differentiates the loss in each of a group's parameters
#: and expands each tied difference.  Measured on this machine, 0.3 to 0.45 ms a term
#: (``engine.expansion.expanded_terms``): z³ on [2, 3, 1], 496 terms, 0.2 s; z³ + z on
#: [2, 3, 2], 1 950 terms, 0.6 s; z² on [2, 2, 2, 1], 16 800 terms, 7.5 s; z³ on
#: [2, 2, 2, 1], 6.3 million terms, past a minute.
WHOLE_LOSS_TERMS_PER_SECOND = 2200
#: The whole-loss zero proof of a group is skipped up front when it would take longer.
WHOLE_LOSS_SECONDS = 3.0


def whole_loss_cost(spec: NetworkSpec) -> tuple[float, float]:
    """(terms, CPU seconds) of the whole-loss zero proof of one group, estimated before
    anything is built: the terms of the loss expanded into a sum of products, which a
    polynomial activation or loss multiplies out layer by layer."""
    from .expansion import expanded_terms

    terms = expanded_terms(spec)
    return terms, terms / WHOLE_LOSS_TERMS_PER_SECOND


def whole_loss_skip_note(spec: NetworkSpec) -> str | None:
    """Why the whole-loss zero proof is skipped (its estimate is over
    :data:`WHOLE_LOSS_SECONDS`), in a sentence with the numbers; None when it runs."""
    terms, seconds = whole_loss_cost(spec)
    if seconds <= WHOLE_LOSS_SECONDS:
        from .expansion import over_allowance   # the derivation's shared allowance

        return over_allowance(seconds)
    shown = f"{seconds:.0f} s" if seconds < 1e6 else "more than a million seconds"
    return (f"The whole-loss check was skipped because it would cost too much: expanding the "
            f"loss would give about {terms:.2g} terms, an estimated {shown} of CPU, over the "
            f"limit of {WHOLE_LOSS_SECONDS:g} s.")


def backprop_deltas(net: Network, sample: int) -> tuple[list[list[sp.Expr]], list[list[sp.Expr]]]:
    """The deltas δ^{(l)} (index l = 1..L) and activations a^{(l)} of one sample."""
    z, a = net.forward(sample)
    L = net.depth
    # The output delta: differentiate the sample loss with respect to the output
    # pre-activations, held as placeholders so that only ℓ∘f is differentiated.
    holders = [sp.Dummy(f"zL{m}", real=True) for m in range(net.width(L))]
    f = net.activation(L)
    ell = net.spec.loss.per_sample([f(h) for h in holders], net.y(sample))
    back = dict(zip(holders, z[L]))
    deltas: list[list[sp.Expr]] = [[] for _ in range(L + 1)]
    deltas[L] = [sp.diff(ell, h).xreplace(back) for h in holders]
    for layer in range(L - 1, 0, -1):
        W_next, g = net.W(layer + 1), net.activation(layer)
        deltas[layer] = [
            g.derivative(z[layer][i])
            * sp.Add(*[W_next[m, i] * deltas[layer + 1][m] for m in range(W_next.rows)])
            for i in range(net.width(layer))
        ]
    return deltas, a


def backprop_gradient(net: Network, params: list[sp.Symbol]) -> list[sp.Expr]:
    """∂L/∂θ for each θ in ``params`` from backpropagation's deltas."""
    per_sample = [backprop_deltas(net, n + 1) for n in range(net.samples)]
    out = []
    for p in params:
        layer, i, k = _locate(p)
        terms = []
        for deltas, a in per_sample:
            d = deltas[layer][i - 1]
            terms.append(d if k is None else d * a[layer - 1][k - 1])
        out.append(sp.Add(*terms))
    return out


def _locate(p: sp.Symbol) -> tuple[int, int, int | None]:
    """(layer, row, column) of a weight symbol, (layer, unit, None) of a bias."""
    head, *idx = p.name.split("_")
    layer = int(head[1:])
    if head[0] == "W":
        return layer, int(idx[0]), int(idx[1])
    return layer, int(idx[0]), None
