"""Lecture-note notation for reports: a LatexPrinter and the objects it prints.

:class:`ReportLatexPrinter` extends :class:`~symderive.printing.SymderiveLatexPrinter`
(which knows the generated parameter names: W^{(1)}_{21}, δ^{(2)}_{m}, ŷ_1) with
what a derivation written for people needs:

- ∂L/∂W^{(1)}_{21} as a fraction of partials;
- a difference written minuend first (ŷ_1 − y_1, not −y_1 + ŷ_1);
- the factors of a product in the order a reader expects:
  scalars, weight differences, errors, σ'(z), inputs, then sums last
  ((W^{(2)}_{11} − W^{(2)}_{12}) (ŷ_1 − y_1) σ'(z^{(1)}_1) x_k);
- whole matrices and vectors by name (W^{(1)}), the loss as a function
  (L(θ), ∇L(θ), the swap Pθ) and ellipses in long vectors.

Every piece of math in a report is a SymPy object printed here; the renderers
only join the printed pieces into environments.
"""
from __future__ import annotations

import re

import sympy as sp

from ..spec.undefined import act, dact
from ..spec.functions import relu, sigmoid, softplus
from .printing import SymderiveLatexPrinter

_MATRIX = re.compile(r"^(W|b)(\d+)$")
_WEIGHT = re.compile(r"^W\d")
_ERROR = re.compile(r"^(d\d|haty_|yhat_|y_|p_)")
_INPUT = re.compile(r"^(a\d|x_)")


class outact(sp.Function):
    """φ, the output layer's activation, named so that it cannot be confused with σ."""

    def _latex(self, printer, exp=None):
        s = rf"\varphi\left({printer._print(self.args[0])}\right)"
        return s if exp is None else rf"{s}^{{{exp}}}"


class LossOf(sp.Function):
    """L(θ): the loss as a function of all parameters (display only)."""

    def _latex(self, printer, exp=None):
        return rf"L\left({printer._print(self.args[0])}\right)"


class GradOf(sp.Function):
    """∇L(θ): the gradient of the loss (display only)."""

    def _latex(self, printer, exp=None):
        return rf"\nabla L\left({printer._print(self.args[0])}\right)"


class QuantityOf(sp.Function):
    """Q(θ): a conserved quantity as a function of the parameters (display only)."""

    def _latex(self, printer, exp=None):
        return rf"Q\left({printer._print(self.args[0])}\right)"


class BufferOf(sp.Function):
    """ν(θ): the momentum buffer of one parameter entry (display only)."""

    def _latex(self, printer, exp=None):
        s = rf"\nu\left({printer._print(self.args[0])}\right)"
        return s if exp is None else rf"{s}^{{{exp}}}"


class Swap(sp.Function):
    """Pθ: the parameters with the two units exchanged (display only)."""

    def _latex(self, printer, exp=None):
        arg = self.args[0]
        inner = printer._print(arg)
        if printer._needs_mul_brackets(arg, first=False, last=True):
            inner = rf"\left({inner}\right)"
        return rf"P {inner}"


class IndexRange(sp.Function):
    """``k = 1, …, K``: the range of a generic index (display only)."""

    def _latex(self, printer, exp=None):
        index, upper = self.args
        values = [str(v) for v in range(1, int(upper) + 1)] if upper <= 3 \
            else ["1", r"\dots", printer._print(upper)]
        return f"{printer._print(index)} = " + ", ".join(values)


class Dots(sp.AtomicExpr):
    """An ellipsis standing for omitted entries of a long vector."""

    is_commutative = True

    def _latex(self, printer, exp=None):
        return r"\dots"


class Step(sp.AtomicExpr):
    """θ_t, the parameters after t steps; ``Step(1)`` is θ_{t+1} (display only)."""

    is_commutative = True

    def __new__(cls, offset: int = 0):
        obj = super().__new__(cls)
        obj._offset = int(offset)
        return obj

    def _hashable_content(self):
        return (self._offset,)

    def _latex(self, printer, exp=None):
        return r"\theta_{t}" if self._offset == 0 else rf"\theta_{{t+{self._offset}}}"


def _rank(factor: sp.Basic) -> int:
    """Where a factor goes in a printed product (see the module docstring)."""
    if isinstance(factor, sp.Sum):
        return 9
    if factor.is_Number or (factor.is_Symbol and not _named(factor)):
        return 0
    names = [s.name for s in factor.free_symbols]
    if factor.is_Add and any(_WEIGHT.match(n) for n in names):
        return 1        # a difference of weights: the reason a difference is non-zero
    if factor.has(dact):
        return 2        # σ'(z)
    if factor.is_Symbol and _WEIGHT.match(factor.name):
        return 3
    if factor.has(act) or any(_INPUT.match(n) for n in names):
        return 5        # activations a = σ(z) and inputs x
    if any(_ERROR.match(n) for n in names):
        return 4        # errors δ, ŷ − y
    return 6


def _named(symbol: sp.Symbol) -> bool:
    """Is ``symbol`` one of the generated, indexed names (rather than η, θ, L ...)?"""
    return "_" in symbol.name or bool(_WEIGHT.match(symbol.name))


def _leading(term: sp.Basic) -> int:
    """Sums first in a sum of terms: Σ_k W_{ik} x_k + b_i."""
    return 0 if any(isinstance(f, sp.Sum) for f in sp.Mul.make_args(term)) else 1


#: Functions of one argument, printed name(argument) with plain parentheses.
_FUNCTIONS = {act: r"\sigma", dact: r"\sigma'", sigmoid: r"\operatorname{sigmoid}", outact: r"\varphi",
              relu: r"\operatorname{ReLU}", softplus: r"\operatorname{softplus}"}


def display_order(factors) -> list[sp.Basic]:
    """Factors in the order :class:`ReportLatexPrinter` prints a product in."""
    return sorted(factors, key=_rank)


class ReportLatexPrinter(SymderiveLatexPrinter):
    """The printer of every formula in a LaTeX or Markdown report."""

    _default_settings = {**SymderiveLatexPrinter._default_settings,
                         "fold_func_brackets": True, "mat_delim": "("}

    def _print(self, expr, **kwargs):
        name = _FUNCTIONS.get(type(expr))
        if name is None:
            return super()._print(expr, **kwargs)
        out = rf"{name}({self._print(expr.args[0])})"
        exp = kwargs.get("exp")
        return out if exp is None else rf"{out}^{{{exp}}}"

    def _print_Heaviside(self, expr, exp=None):
        out = rf"H({self._print(expr.args[0])})"
        return out if exp is None else rf"{out}^{{{exp}}}"

    def _print_Pow(self, expr):
        if expr.base.is_Integer and expr.exp.is_Integer:    # 10^{-9}, kept unevaluated
            return rf"{self._print(expr.base)}^{{{self._print(expr.exp)}}}"
        return super()._print_Pow(expr)

    def _print_MatrixSymbol(self, expr):
        return self._print_Symbol(sp.Symbol(expr.name))

    def _print_Symbol(self, expr, style="plain"):
        m = _MATRIX.match(expr.name)
        if m:
            return rf"{m.group(1)}^{{({m.group(2)})}}"
        return super()._print_Symbol(expr, style)

    def _print_Derivative(self, expr):
        if expr.expr.is_Symbol and len(expr.variables) == 1:
            var = self._print(expr.variables[0])
            return rf"\frac{{\partial {self._print(expr.expr)}}}{{\partial {var}}}"
        return super()._print_Derivative(expr)

    def _print_Sum(self, expr):
        """Σ_n Σ_m f rather than one Σ over a stack of ranges."""
        if len(expr.limits) == 1:
            return super()._print_Sum(expr)
        out = super()._print_Sum(sp.Sum(expr.function, expr.limits[0]))
        for i, low, high in expr.limits[1:]:
            out = rf"\sum_{{{self._print(i)}={self._print(low)}}}^{{{self._print(high)}}} {out}"
        return out

    def ordered_terms(self, expr: sp.Add) -> list[sp.Basic]:
        """The terms of a sum in printing order: positive ones (sums first), then negative."""
        terms = self._as_ordered_terms(expr, order=None)
        positive = sorted((t for t in terms if not t.could_extract_minus_sign()), key=_leading)
        return positive + [t for t in terms if t.could_extract_minus_sign()]

    def _print_Add(self, expr, order=None):
        terms = self.ordered_terms(expr)
        if terms[0].could_extract_minus_sign():
            return super()._print_Add(expr, order=order)
        return super()._print_Add(sp.Add(*terms, evaluate=False), order="none")

    def product_parts(self, expr: sp.Basic) -> list[tuple[sp.Basic, str]]:
        """The factors of a product (no minus sign) in printing order, each with its LaTeX."""
        coeff, rest = expr.as_coeff_Mul()
        ordered = display_order(sp.Mul.make_args(rest))  # stable: ties keep SymPy's order
        parts = [] if coeff == 1 else [(coeff, self._print(coeff))]
        for k, f in enumerate(ordered):
            out = self._print(f)
            if self._needs_mul_brackets(f, first=not parts, last=k == len(ordered) - 1):
                out = rf"\left({out}\right)"
            parts.append((f, out))
        return parts

    def _print_Mul(self, expr):
        if expr.could_extract_minus_sign():
            inner = self._print_Mul(-expr) if (-expr).is_Mul else self._print(-expr)
            if (-expr).is_Add:
                inner = rf"\left({inner}\right)"
            return f"- {inner}"
        if any(f.is_Pow and f.exp.is_negative for f in sp.Mul.make_args(expr)):
            return super()._print_Mul(expr)
        return " ".join(out for _, out in self.product_parts(expr))


def tex(expr: sp.Basic, samples: int = 1) -> str:
    """LaTeX for ``expr`` in report notation (``samples`` > 1 shows the sample index)."""
    return ReportLatexPrinter({"samples": samples}).doprint(expr)


def minus(a: sp.Basic, b: sp.Basic) -> sp.Expr:
    """``a − b`` kept unevaluated, so that a − a can be shown before it cancels."""
    return sp.Add(a, sp.Mul(-1, b), evaluate=False)


def partial(of: sp.Symbol, wrt: sp.Symbol) -> sp.Derivative:
    """∂of/∂wrt, unevaluated."""
    return sp.Derivative(of, wrt, evaluate=False)


def index_sum(term, index: str, upper: int) -> sp.Expr:
    """Σ_{index=1}^{upper} term(index); the term itself when ``upper`` is 1.

    ``term`` is a function of the index (a string such as ``"m"`` or the
    integer 1), because our symbols carry their indices in their names.
    """
    if upper == 1:
        return term(1)
    i = sp.Symbol(index, integer=True, positive=True)
    return sp.Sum(term(index), (i, 1, upper))


def number(value: float, digits: int = 4) -> sp.Expr:
    """A value for display: exact quarter-integers as decimals, others to ``digits`` digits."""
    value = float(value)
    if value == int(value) and abs(value) < 1e6:
        return sp.Integer(int(value))
    if value * 4 == int(value * 4) and abs(value) < 1e6:
        return sp.Float(value, 3 if abs(value) < 10 else 6)
    return sp.Float(value, digits)


def vector(values, limit: int = 6) -> sp.Matrix:
    """A row vector of values; more than ``limit`` entries are cut with an ellipsis."""
    shown = [number(v) for v in values]
    if len(shown) > limit:
        shown = shown[: limit - 1] + [Dots(), shown[-1]]
    return sp.Matrix([shown])


def matrix(rows) -> sp.Matrix:
    """A matrix of values (a list of rows)."""
    return sp.Matrix([[number(v) for v in row] for row in rows])


__all__ = ["ReportLatexPrinter", "display_order", "outact", "tex", "minus", "partial",
           "index_sum", "number", "vector",
           "matrix", "LossOf", "GradOf", "QuantityOf", "BufferOf", "IndexRange", "Swap", "Dots", "Step"]
