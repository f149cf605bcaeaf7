"""How many terms the whole loss has once expanded into a sum of products, counted
before anything is built: the guards' estimates (``cost.facts``) and the engine's own
decision to skip the whole-loss zero proof (``engine.gradients``) both use it."""
from __future__ import annotations

from ..spec import NetworkSpec

#: Estimates are capped here (the refusal is certain long before).
_TERMS_CAP = 1e30


def expanded_terms(network: NetworkSpec) -> float:
    """Terms of the whole loss expanded into a sum of products (``facts.backprop``):
    a layer's pre-activation has (units before × terms of each activation + 1) terms; a
    polynomial σ of degree d raises them to up to C(terms + d − 1, d) monomials (z⁷ on
    [2, 3, 3, 1] is millions, and took minutes); a σ SymPy does not expand (tanh, erf)
    keeps one term per unit, a rational one (softsign) distributes its numerator; the
    loss, when a polynomial of degree q in ŷ, raises the output's terms likewise."""
    from math import comb

    act, loss = network.activation, network.loss
    degree = _polynomial_degree(act.expr) if act.latex_source is not None else None
    rational = act.latex_source is not None and degree is None and _rational(act.expr)
    terms = 1.0
    for l in range(1, network.depth + 1):
        pre = min(network.layers[l - 1] * terms + 1, _TERMS_CAP)
        if l == network.depth:
            terms = pre
        elif degree is not None and degree > 1:
            terms = float(comb(int(min(pre, 1e6)) + degree - 1, degree))
        else:
            terms = pre if rational else 1.0
        terms = min(terms, _TERMS_CAP)
    q = _polynomial_degree(loss.expr) if loss.latex_source is not None else 2
    q = q or 2
    return min(float(comb(int(min(terms * network.layers[-1], 1e6)) + q - 1, q)), _TERMS_CAP)


def _polynomial_degree(expr) -> int | None:
    """The degree of ``expr`` as a polynomial in its symbols, or None."""
    import sympy as sp

    try:
        symbols = sorted(expr.free_symbols, key=str)
        return int(sp.Poly(expr, *symbols).total_degree()) if expr.is_polynomial(*symbols) \
            else None
    except (sp.PolynomialError, TypeError, ValueError):
        return None


def _rational(expr) -> bool:
    """Has ``expr`` a numerator that expand distributes (a fraction, not a function)?"""
    import sympy as sp

    return any(isinstance(p, sp.Pow) and p.exp.is_negative for p in sp.preorder_traversal(expr))
