"""The display form of a difference: factored, in index notation when wide.

A difference that is not zero is shown as the reader would write it: e.g.
x_k (W^{(2)}_{11} − W^{(2)}_{12}) σ'(z^{(1)}_1) (ŷ_1 − y_1) for one sample, or
with Σ_n over samples and Σ_m over the next layer's units when writing the
terms out would not fit on a line.  Its size is independent of the network's
size beyond the units involved.
"""
from __future__ import annotations

import re
from functools import lru_cache

import sympy as sp

from ..notation.printing import latex
from .local import LocalModel, act, dact
from .network import Network, delta, per_output_delta, target

#: Sums with more terms than this are written with Σ and a generic index.
EXPLICIT = 3


def display_residual(model: LocalModel, group: str) -> tuple[sp.Expr, str | None]:
    """The difference of one group's component (generic index k or m when wide)."""
    spec = model.network
    n = 1 if spec.samples == 1 else "n"
    if group == "outgoing":
        c = "m" if model.fan_out > 1 else 1
        core = tidy(model.activation_difference(n))
        expr = _output_deltas(model, model.next_delta(n, c) * core, n, c)
    else:
        expr = _error_display(model, n)
        c = "k" if model.fan_in > 1 else 1
        if group == "incoming":
            expr = model.input(n, c) * expr
        else:
            c = 1
    if spec.samples > 1:
        expr = _sum(expr, "n", spec.samples)
    return readable(expr), (c if isinstance(c, str) else None)


@lru_cache(maxsize=64)
def _error_display(model: LocalModel, n) -> sp.Expr:
    """δ^{(l)}_{n,i} − δ^{(l)}_{n,j}, written out or with Σ_m (cached: the incoming and
    bias differences share it, and factoring it is the costly part of a display)."""
    if model.fan_out <= EXPLICIT:
        return tidy(_output_deltas(model, model.error_difference(n), n, None))
    m = "m"
    d = model.next_delta(n, m)
    term = dact(model.z(n, 0)) * model.V(m, 0) * d - dact(model.z(n, 1)) * model.V(m, 1) * d
    term = tidy(_output_deltas(model, term, n, m))
    return _sum(term, m, model.fan_out)


def _sum(expr: sp.Expr, index: str, upper: int) -> sp.Expr:
    """Σ_{index=1}^{upper} expr, with factors free of the index pulled out."""
    marker = f"_{index}"
    depends = lambda f: any(s.name.endswith(marker) or f"{marker}_" in s.name
                            for s in f.free_symbols)
    factors = sp.Mul.make_args(expr)
    outside = [f for f in factors if not depends(f)]
    inside = [f for f in factors if depends(f)]
    i = sp.Symbol(index, integer=True, positive=True)
    return sp.Mul(*outside) * sp.Sum(sp.Mul(*inside), (i, 1, upper))


def _output_deltas(model: LocalModel, expr: sp.Expr, n, m) -> sp.Expr:
    """Write δ^{(L)} as ∂ℓ/∂z^{(L)} in ŷ and y when the next layer is the output and it is short."""
    spec = model.network
    if model.layer + 1 != spec.depth or not isinstance(n, int):
        return expr
    if isinstance(m, str):
        generic = _generic_output_delta(spec, n, m)
        return expr if generic is None else expr.xreplace({delta(spec.depth, n, m): generic})
    deltas = _output_delta(spec, n)
    if any(sp.count_ops(d) > 8 for d in deltas):
        return expr
    return expr.xreplace({delta(spec.depth, n, k + 1): d for k, d in enumerate(deltas)})


@lru_cache(maxsize=64)
def _output_delta(spec, n: int) -> tuple[sp.Expr, ...]:
    """δ^{(L)} of sample n (cached: every display of a spec's hypotheses asks for it)."""
    return tuple(Network(spec).output_delta(n))


def _generic_output_delta(spec, n: int, m: str) -> sp.Expr | None:
    """δ^{(L)}_{n,m} with index m when it is short; None for softmax (outputs coupled)."""
    if spec.loss.name == "softmax_ce":
        return None
    d = per_output_delta(spec, n, m)
    return None if sp.count_ops(d) > 8 else d


def tidy(expr: sp.Expr) -> sp.Expr:
    """Group a difference by the opaque downstream quantities and factor each coefficient."""
    e = sp.expand(expr)
    if e == 0:
        return e
    keys = sorted({s for s in e.free_symbols if s.name.startswith(("d", "haty", "p_"))},
                  key=lambda s: s.name)
    collected = sp.collect(e, keys, func=factor) if keys else factor(e)
    return sp.factor_terms(collected)


@lru_cache(maxsize=1024)
def factor(expr: sp.Expr) -> sp.Expr:
    """``sympy.factor``, once per expression: the displays of a spec's groups and
    hypotheses factor the same coefficients again and again."""
    return sp.factor(expr)


_OUTPUT = re.compile(r"^haty_(\w+)_(\w+)$")


def readable(expr: sp.Expr) -> sp.Expr:
    """Group a difference written in ŷ and y by the output errors ŷ_m − y_m, when shorter.

    (W₁₁ − W₁₂)ŷ₁ + W₁₂y₁ − W₁₁y₁ reads better as (W₁₁ − W₁₂)(ŷ₁ − y₁).
    """
    expr = expr.replace(lambda e: isinstance(e, sp.Sum),
                        lambda e: sp.Sum(readable(e.function), *e.limits))
    pairs = {s: target(*_OUTPUT.match(s.name).groups()) for s in expr.free_symbols
             if _OUTPUT.match(s.name)}
    if not pairs or isinstance(expr, sp.Sum):
        return expr
    errors = {yhat: sp.Dummy() for yhat in sorted(pairs, key=str)}
    e = sp.expand(expr.xreplace({yhat: y + errors[yhat] for yhat, y in pairs.items()}))
    coefficients = sp.collect(e, list(errors.values()), evaluate=False)
    if set(coefficients) - set(errors.values()) or e.free_symbols & set(pairs.values()):
        return expr            # not a function of the errors alone
    grouped = sp.factor_terms(sp.Add(*[factor(coefficients[d]) * (yhat - pairs[yhat])
                                       for yhat, d in errors.items() if d in coefficients]))
    return grouped if len(latex(grouped)) < len(latex(expr)) else expr


__all__ = ["display_residual", "tidy", "readable", "act", "dact", "EXPLICIT"]
