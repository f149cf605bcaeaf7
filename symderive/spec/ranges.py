"""What values an activation takes on the real line, checked before any work.

Two refusals rest on it (both exit 2, naming the field):

- an activation must be real and finite at generic real points: ``(-1)^z``,
  ``0^z``, ``\\ln z`` or ``\\sqrt{z}`` are complex or infinite on half the line,
  and NumPy would only turn that into NaNs and warnings;
- with ``loss = "bce"`` the output activation must take values in (0, 1),
  where ln ŷ and ln(1 − ŷ) are defined: a LaTeX identity is refused as the
  named one is.

Both are decided at a few exact points, evaluated with SymPy to 30 digits (no
NumPy rounding: (1 + tanh z)/2 at z = 20 is below 1, not 1.0).  A point where
the rule fails is a concrete counterexample; passing at every point is not a
proof, so only what is shown wrong is refused.
"""
from __future__ import annotations

import sympy as sp

from .functions import Z

#: Generic points (no integers, no 0) where an activation must be real and finite.
GENERIC_POINTS = tuple(sp.Rational(p, 100) for p in (-270, -130, -60, 35, 80, 190, 310))
#: Points where a bce output activation must lie strictly inside (0, 1).
RANGE_POINTS = tuple(sp.Integer(p) for p in (-20, -5, -2, -1, 0, 1, 2, 5, 20)) + GENERIC_POINTS
DIGITS = 30


def _value(expr: sp.Expr, at: sp.Rational) -> sp.Expr | None:
    """expr(at) as a number to :data:`DIGITS` digits, or None if SymPy cannot say."""
    try:
        v = sp.N(expr.xreplace({Z: at}), DIGITS)
    except (TypeError, ValueError, ArithmeticError, RecursionError):
        return None
    return v if v.is_number else None


def _show(at: sp.Rational) -> str:
    return f"{float(at):g}"


def not_real_at(expr: sp.Expr) -> str | None:
    """Why ``expr`` is not a real function of z (a point and its value), or None."""
    for at in GENERIC_POINTS:
        v = _value(expr, at)
        if v is None:
            continue
        if v.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            return f"at z = {_show(at)} it is not finite"
        re, im = v.as_real_imag()
        if im != 0 and abs(im) > sp.Float(10) ** (-DIGITS + 5) * (1 + abs(re)):
            return f"at z = {_show(at)} it is the complex number {sp.N(v, 4)}"
    return None


def outside_unit_interval_at(expr: sp.Expr) -> str | None:
    """A point where ``expr`` is not strictly between 0 and 1, or None."""
    for at in RANGE_POINTS:
        v = _value(expr, at)
        if v is None or not v.is_real:
            continue
        if v <= 0 or v >= 1:
            return f"at z = {_show(at)} it is {float(v):.6g}"
    return None


__all__ = ["not_real_at", "outside_unit_interval_at"]
