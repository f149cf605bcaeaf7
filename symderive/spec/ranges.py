"""What values an activation takes on the real line, checked before any work.

Two refusals rest on it (both exit 2, naming the field):

- an activation must be a real function of real z: ``(-1)^z``, ``0^z``,
  ``\\ln z`` or ``\\sqrt{z}`` are complex or infinite on half the line, and
  NumPy would only turn that into NaNs and warnings;
- with ``loss = "bce"`` the output activation must take values in (0, 1),
  where ln ŷ and ln(1 − ŷ) are defined: a LaTeX identity is refused as the
  named one is.

Both look at a few sample points.  A point where the rule fails is a concrete
counterexample; passing at every point is not a proof, so only what is shown
wrong is refused.  Nothing here may hang on a hostile formula, so both checks
compute in double precision with NumPy (SymPy's exact or 30-digit evaluation
would expand z^{999999}, or e^{e^{e^{e^{z}}}} at z = 3.1, without end); the
formula is lambdified from the generated symbol z only, like every activation.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import sympy as sp

from .functions import Z, lambdify_safe
from .latex.complexity import MAX_EXPONENT  # bigger powers: the guards' refusal says more

#: Generic points (no integers, no 0) where an activation must be real and finite.
GENERIC_POINTS = (-2.7, -1.3, -0.6, 0.35, 0.8, 1.9, 3.1)
#: Points where a bce output activation must lie strictly inside (0, 1); within ±5, where
#: float64 still tells σ(z) from 1.
RANGE_POINTS = (-5.0, -2.0, -1.0, -0.6, 0.0, 0.35, 1.0, 2.0, 5.0)


def _value(f: Callable, x: np.number) -> complex | None:
    """f(x) as a complex number, or None if the formula cannot take x's type."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return complex(np.asarray(f(x)).reshape(-1)[0])
        except (TypeError, ValueError, ArithmeticError):
            return None


def _complex_part(f: Callable, at: float) -> str:
    v = _value(f, np.complex128(at))
    if v is None or not np.isfinite(v.real) or not np.isfinite(v.imag) or v.imag == 0:
        return "not a real number"
    return f"the complex number {v.real:.4g} {v.imag:+.4g}i"


def not_real_at(expr: sp.Expr) -> str | None:
    """Why ``expr`` is not a real function of z (a point and its value), or None.

    Evaluated in real double precision: NaN at one generic point (a negative
    base to a fractional power, ln or √ of a negative number) is enough;
    infinite must happen at two (one pole, as in 1/(z + 2.7), is a singular
    point).  A formula that overflows double precision at ordinary z (an
    exponential tower) is refused too: the network's numbers would overflow."""
    if any(p.exp.is_Rational and abs(p.exp.p) > MAX_EXPONENT for p in expr.atoms(sp.Pow)):
        return None
    f = lambdify_safe((Z,), expr)
    infinite = []
    for at in GENERIC_POINTS:
        v = _value(f, np.float64(at))
        if v is None:
            continue
        if np.isnan(v.real) or np.isnan(v.imag):
            return f"at z = {at:g} it is {_complex_part(f, at)}"
        if not np.isfinite(v.real):
            infinite.append(at)
    if len(infinite) >= 2:
        return (f"at z = {infinite[0]:g} it is not finite (or overflows double precision, "
                "as the network's numbers would)")
    return None


def outside_unit_interval_at(f: Callable[[np.ndarray], np.ndarray]) -> str | None:
    """A point where the NumPy activation ``f`` is not strictly between 0 and 1, or None."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = np.asarray(f(np.array(RANGE_POINTS)), dtype=float)
    for at, v in zip(RANGE_POINTS, values):
        if not 0.0 < v < 1.0:
            return f"at z = {at:g} it is {v:.6g}"
    return None


__all__ = ["not_real_at", "outside_unit_interval_at"]
