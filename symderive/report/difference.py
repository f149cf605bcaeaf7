"""What a gradient difference is made of, read off the factored formula the report shows.

A sentence such as "the difference is proportional to W₁₁ − W₁₂" must be true
of the formula next to it.  :func:`shape` therefore inspects the settled
residual itself and only reports a structure it has verified symbolically:

- ``single``: a factor W^{(l+1)}_{mi} − W^{(l+1)}_{mj} of one next-layer unit m
  (then the difference is proportional to it);
- ``sum``: a sum over the next layer's units of (W_{mi} − W_{mj}) times a
  coefficient c_m — checked by rebuilding the sum from the coefficients
  ∂D/∂W_{mi} (several output units, softmax, any loss); c_m is named the error
  δ_m only when it was checked to be it;
- ``activation``/``slope``: a factor σ(z_i) − σ(z_j) or σ'(z_i) − σ'(z_j) (the
  units' pre-activations are not tied);
- ``other``: nothing more is claimed than "not identically zero".
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from ..engine.local import LocalModel, act, dact
from ..engine.network import Network, delta, per_output_delta, weight

SINGLE, SUM, ACTIVATION, SLOPE, OTHER = "single", "sum", "activation", "slope", "other"


@dataclass(frozen=True)
class Shape:
    """The verified structure of a difference (see the module docstring)."""

    kind: str
    factor: sp.Expr | None = None   # single and sum: the weight gap (sum: for a generic m);
    #                                 activation/slope: the σ gap
    error: sp.Expr | None = None    # sum: δ_m, when every coefficient c_m is the error δ_m
    count: int = 0                  # sum: how many next-layer units
    samples: bool = False           # the difference is summed over samples


def shape(model: LocalModel, residual: sp.Expr) -> Shape:
    """The structure of ``residual`` (a settled, non-zero difference)."""
    expr, over_samples = _summand(residual, "n")
    n = "n" if over_samples else 1
    factors = sp.Mul.make_args(expr)
    for f in factors:
        found = _single(model, f) or _indexed_sum(model, f, n) or _explicit_sum(model, f, n)
        if found is not None:
            return Shape(found[0], *found[1:], samples=over_samples)
    for f in factors:
        kind = _unit_gap(model, f)
        if kind is not None:
            return Shape(kind, f, samples=over_samples)
    return Shape(OTHER, samples=over_samples)


def _summand(expr: sp.Expr, index: str) -> tuple[sp.Expr, bool]:
    """The summand of a Σ over ``index`` (factors outside it kept), and whether there was one."""
    parts = sp.Mul.make_args(expr)
    sums = [p for p in parts if isinstance(p, sp.Sum) and str(p.limits[0][0]) == index]
    if not sums:
        return expr, False
    rest = [p for p in parts if p is not sums[0]]
    return sp.Mul(*rest) * sums[0].function, True


def _pair(model: LocalModel, m) -> tuple[sp.Symbol, sp.Symbol]:
    i, j = model.hypothesis.units
    return weight(model.layer + 1, m, i), weight(model.layer + 1, m, j)


def _single(model: LocalModel, factor: sp.Expr):
    """A factor ±(W_{mi} − W_{mj}) for one m (explicit or the generic index)."""
    if not (factor.is_Add and len(factor.args) == 2):
        return None
    for m in ("m", *range(1, model.fan_out + 1)):
        a, b = _pair(model, m)
        if sp.expand(factor - (a - b)) == 0 or sp.expand(factor + (a - b)) == 0:
            return SINGLE, a - b
    return None


def _indexed_sum(model: LocalModel, factor: sp.Expr, n):
    """Σ_m of a summand that has the factor W_{mi} − W_{mj} (wide next layers)."""
    if not isinstance(factor, sp.Sum) or str(factor.limits[0][0]) != "m":
        return None
    a, b = _pair(model, "m")
    summand = factor.function
    if sp.expand(summand.xreplace({b: a})) != 0:
        return None
    coefficient = sp.cancel(summand / (a - b))
    if coefficient.has(a) or coefficient.has(b):
        return None
    return SUM, a - b, _error(model, n, [(coefficient, "m")]), model.fan_out


def _explicit_sum(model: LocalModel, factor: sp.Expr, n):
    """Σ_m (W_{mi} − W_{mj}) c_m written out, with c_m free of the outgoing weights."""
    if not factor.is_Add or model.fan_out < 2:
        return None
    pairs = [_pair(model, m) for m in range(1, model.fan_out + 1)]
    coefficients = [sp.diff(factor, a) for a, _ in pairs]
    weights = {s for pair in pairs for s in pair}
    if any(c.free_symbols & weights for c in coefficients):
        return None
    rebuilt = sp.Add(*[(a - b) * c for (a, b), c in zip(pairs, coefficients)])
    if sp.expand(rebuilt - factor) != 0 or sum(c != 0 for c in coefficients) < 2:
        return None
    indexed = [(c, m) for m, c in enumerate(coefficients, start=1)]
    a, b = _pair(model, "m")
    return SUM, a - b, _error(model, n, indexed), model.fan_out


def _error(model: LocalModel, n, coefficients) -> sp.Expr | None:
    """δ^{(l+1)}_m, when every coefficient c_m is δ^{(l+1)}_m; else None."""
    deltas = [(c, _delta_forms(model, n, m)) for c, m in coefficients]
    if all(any(sp.expand(c - d) == 0 for d in forms) for c, forms in deltas):
        return delta(model.layer + 1, n, "m")
    return None


def _delta_forms(model: LocalModel, n, m) -> list[sp.Expr]:
    """δ^{(l+1)}_{n,m} as a symbol and, for the output layer, in ŷ and y."""
    spec = model.network
    forms = [delta(model.layer + 1, n, m)]
    if model.layer + 1 == spec.depth and isinstance(n, int):
        if isinstance(m, int):
            forms.append(Network(spec).output_delta(n)[m - 1])
        elif spec.loss.name != "softmax_ce":
            forms.append(per_output_delta(spec, n, m))
    return forms


def _unit_gap(model: LocalModel, factor: sp.Expr) -> str | None:
    """σ(z_i) − σ(z_j) ('activation') or σ'(z_i) − σ'(z_j) ('slope'), either sign."""
    if not (factor.is_Add and len(factor.args) == 2):
        return None
    heads = {type(t if not t.could_extract_minus_sign() else -t) for t in factor.args}
    if heads == {act}:
        return ACTIVATION
    if heads == {dact}:
        return SLOPE
    return None


__all__ = ["Shape", "shape", "SINGLE", "SUM", "ACTIVATION", "SLOPE", "OTHER"]
