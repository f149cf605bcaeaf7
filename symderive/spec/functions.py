"""Activation functions and losses: their SymPy form and their NumPy form.

Each named activation has a symbolic definition (a SymPy function of one
argument, with its derivative) and a hand-written NumPy definition used by
the numeric cross-check, so that the two are independent.  Activations and
losses read from LaTeX carry a SymPy expression in a generated symbol; their
NumPy form is produced by ``lambdify`` over that generated symbol only (never
over names taken from the input).
"""
from __future__ import annotations

import functools
import inspect
import math
import types
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import sympy as sp
from sympy.printing.numpy import NumPyPrinter

#: The variable activations are written in.
Z = sp.Symbol("z", real=True)
#: The variables a per-output loss is written in: prediction and target.
YHAT = sp.Symbol("yhat", real=True)
Y = sp.Symbol("y", real=True)


class sigmoid(sp.Function):
    """The logistic sigmoid 1/(1+e^{-x}), kept as one node for readable output."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        s = sigmoid(self.args[0])
        return s * (1 - s)

    @classmethod
    def eval(cls, x):  # noqa: D102 - SymPy hook
        if x.is_zero:
            return sp.Rational(1, 2)
        if x.is_Number:
            return 1 / (1 + sp.exp(-x))
        return None

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))

    def _eval_evalf(self, prec):
        return (1 / (1 + sp.exp(-self.args[0])))._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        s = rf"\sigma\left({printer._print(self.args[0])}\right)"
        return s if exp is None else rf"{s}^{{{exp}}}"


class relu(sp.Function):
    """max(0, x); its derivative is the Heaviside step with H(0) = 0, as in PyTorch."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.Heaviside(self.args[0], 0)

    @classmethod
    def eval(cls, x):  # noqa: D102 - SymPy hook
        if x.is_Number:
            return sp.Max(0, x)
        if x.is_nonnegative:
            return x
        if x.is_nonpositive:
            return sp.S.Zero
        return None

    def _eval_evalf(self, prec):
        return sp.Max(0, self.args[0])._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        s = rf"\operatorname{{ReLU}}\left({printer._print(self.args[0])}\right)"
        return s if exp is None else rf"{s}^{{{exp}}}"


class softplus(sp.Function):
    """ln(1 + e^x); its derivative is the sigmoid."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sigmoid(self.args[0])

    @classmethod
    def eval(cls, x):  # noqa: D102 - SymPy hook
        if x.is_Number:
            return sp.log(1 + sp.exp(x))
        return None

    def _eval_evalf(self, prec):
        return sp.log(1 + sp.exp(self.args[0]))._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real

    def _latex(self, printer, exp=None):
        s = rf"\operatorname{{softplus}}\left({printer._print(self.args[0])}\right)"
        return s if exp is None else rf"{s}^{{{exp}}}"


def _np_sigmoid(u: np.ndarray) -> np.ndarray:
    # Split by sign so that exp never overflows.
    out = np.empty_like(u, dtype=float)
    pos = u >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-u[pos]))
    e = np.exp(u[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _np_softplus(u: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, u)


def _np_phi(u: np.ndarray) -> np.ndarray:
    """Φ, the standard normal CDF: the exact GELU is z·Φ(z) (PyTorch's approximate='none')."""
    return 0.5 * (1.0 + _np_erf(u / math.sqrt(2.0)))


@dataclass(frozen=True)
class Activation:
    """An elementwise activation: SymPy expression in :data:`Z` plus NumPy twins."""

    name: str
    expr: sp.Expr
    np_f: Callable[[np.ndarray], np.ndarray] = field(compare=False, repr=False)
    np_df: Callable[[np.ndarray], np.ndarray] = field(compare=False, repr=False)
    smooth: bool = True
    latex_source: str | None = None
    #: where the activation is not differentiable (ReLU: 0); witnesses stay away
    kinks: tuple[float, ...] = ()

    def __call__(self, u: sp.Expr) -> sp.Expr:
        return self.expr.xreplace({Z: u})

    def derivative(self, u: sp.Expr) -> sp.Expr:
        return self.derivative_expr.xreplace({Z: u})

    @property
    def derivative_expr(self) -> sp.Expr:
        return heaviside_at_zero(sp.diff(self.expr, Z))

    def distance_to_kink(self, z: np.ndarray) -> np.ndarray:
        """|z − nearest kink| elementwise (+inf for a smooth activation; NaN stays NaN)."""
        out = np.full(np.shape(z), np.inf)
        for k in self.kinks:
            out = np.minimum(out, np.abs(np.asarray(z) - k))
        return np.where(np.isnan(z), np.nan, out)

    @property
    def is_identity(self) -> bool:
        return self.expr == Z


def _named_activations() -> dict[str, Activation]:
    return {
        "identity": Activation("identity", Z, lambda u: u, np.ones_like),
        "sigmoid": Activation("sigmoid", sigmoid(Z), _np_sigmoid,
                              lambda u: _np_sigmoid(u) * (1 - _np_sigmoid(u))),
        "tanh": Activation("tanh", sp.tanh(Z), np.tanh, lambda u: 1 - np.tanh(u) ** 2),
        "relu": Activation("relu", relu(Z), lambda u: np.maximum(u, 0.0),
                           lambda u: (u > 0).astype(float), smooth=False, kinks=(0.0,)),
        "softplus": Activation("softplus", softplus(Z), _np_softplus, _np_sigmoid),
        "gelu": Activation("gelu", Z / 2 * (1 + sp.erf(Z / sp.sqrt(2))), lambda u: u * _np_phi(u),
                           lambda u: _np_phi(u) + u * np.exp(-u * u / 2) / math.sqrt(2 * math.pi)),
        "silu": Activation("silu", Z * sigmoid(Z), lambda u: u * _np_sigmoid(u),
                           lambda u: _np_sigmoid(u) * (1 + u * (1 - _np_sigmoid(u)))),
    }


ACTIVATIONS: dict[str, Activation] = _named_activations()
LOSSES: tuple[str, ...] = ("mse", "bce", "softmax_ce")


def _lambdify_generated(expr: sp.Expr, symbol: sp.Symbol) -> Callable[[np.ndarray], np.ndarray]:
    """NumPy function of ``expr``; ``expr`` holds only our generated ``symbol``."""
    f = lambdify_safe((symbol,), expr)
    return lambda u: np.broadcast_to(np.asarray(f(u), dtype=float), np.shape(u)).copy()


class heaviside(sp.Function):
    """Stands for Heaviside(u, H0) in generated code, printed as a call to our NumPy twin."""


#: SymPy >= 1.13 can skip printing the expression into the function's docstring.
_NO_DOCSTRING = ({"docstring_limit": 0}
                 if "docstring_limit" in inspect.signature(sp.lambdify).parameters else {})


def lambdify_safe(symbols: Sequence[sp.Symbol], expr: sp.Expr | list[sp.Expr]) -> Callable:
    """``sympy.lambdify`` over symderive's own generated symbols only: the one place
    symderive turns an expression into code.

    Safe: the code lambdify generates is printed from a SymPy tree whose free
    symbols are all in ``symbols``, generated by symderive, never a name from
    user input (anything else raises ValueError).  Our own functions are printed
    as calls to their hand-written NumPy versions (inlining Max or Piecewise
    trees is very slow in SymPy's printer); unordered printing and no docstring
    keep lambdify fast on big expressions.
    """
    exprs = expr if isinstance(expr, list) else [expr]
    stray = set().union(*(e.free_symbols for e in exprs)) - set(symbols)
    if stray:
        raise ValueError(f"unexpected symbols {sorted(map(str, stray))}: only generated "
                         "symbols may be lambdified")
    exprs = [e.replace(sp.Heaviside, heaviside) for e in exprs]
    printer = NumPyPrinter({"order": "none", "fully_qualified_modules": False,
                            "allow_unknown_functions": True})
    # Generated names are valid identifiers already: no dummies needed.
    return sp.lambdify(list(symbols), exprs if isinstance(expr, list) else exprs[0],
                       modules=[NUMPY_FUNCTIONS, numpy_namespace()], printer=printer,
                       dummify=False, **_NO_DOCSTRING)


@functools.cache
def numpy_namespace() -> dict[str, object]:
    """NumPy's loaded public names, for generated code: an explicit dict instead of
    lambdify's "numpy", which runs ``from numpy import *`` and so imports the lazy
    submodules (testing, f2py, ma, ...: a fifth of a second) that no formula uses."""
    names = {k: v for k, v in vars(np).items()
             if not k.startswith("_") and not isinstance(v, types.ModuleType)}
    return names | {"I": 1j}


def _np_heaviside(u, h0=0.0):
    return np.heaviside(u, h0)


def _np_relu(u):
    return np.maximum(u, 0.0)


#: math.erf elementwise: NumPy has no erf, and SymPy's printer would otherwise fall
#: back to math.erf, which takes scalars only (a GELU activation crashed on arrays).
_np_erf = np.vectorize(math.erf, otypes=[float])


#: Hand-written NumPy versions of the functions symderive's expressions may call,
#: by the name SymPy's code printer gives them.
NUMPY_FUNCTIONS: dict[str, Callable] = {
    "sigmoid": _np_sigmoid, "softplus": _np_softplus, "relu": _np_relu,
    "Heaviside": _np_heaviside, "heaviside": _np_heaviside, "erf": _np_erf,
}


def _is_smooth(expr: sp.Expr) -> bool:
    return not expr.has(sp.Abs, sp.Max, sp.Min, sp.Heaviside, sp.Piecewise, sp.sign, relu)


def heaviside_at_zero(expr: sp.Expr) -> sp.Expr:
    """Give every Heaviside step H(0) = 0, the convention of PyTorch's ReLU.

    SymPy differentiates Max(0, z) to Heaviside(z), whose H(0) is 1/2; a ReLU
    written in LaTeX must behave like the named one."""
    return expr.replace(lambda e: isinstance(e, sp.Heaviside) and e.args[1:] != (0,),
                        lambda e: sp.Heaviside(e.args[0], 0))


def kink_points(expr: sp.Expr) -> tuple[float, ...]:
    """The real z where a non-smooth expression in :data:`Z` may have a kink.

    Candidates are the zeros of the arguments of |u|, sign, H, ReLU, of the
    differences of Max/Min arguments and of Piecewise conditions.  When one
    cannot be solved, 0 is assumed (the common case) rather than nothing."""
    candidates: list[sp.Expr] = []
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Abs, sp.sign, sp.Heaviside, relu)):
            candidates.append(node.args[0])
        elif isinstance(node, (sp.Max, sp.Min)):
            a = node.args
            candidates += [a[i] - a[j] for i in range(len(a)) for j in range(i + 1, len(a))]
        elif isinstance(node, sp.Piecewise):
            for _, cond in node.args:
                candidates += [r.lhs - r.rhs for r in cond.atoms(sp.core.relational.Relational)]
    points: set[float] = set()
    for u in candidates:
        points |= _real_zeros(u)
    return tuple(sorted(p for p in points if not _differentiable_at(expr, p)))


#: How far beside a candidate kink a branch is chosen (the branches are then exact).
_SIDE = 1e-9


def _differentiable_at(expr: sp.Expr, p: float) -> bool:
    """Is ``expr`` differentiable at z = p?  A candidate kink (a zero of a Max, |u| or
    case condition) is a kink only if the derivative really jumps there: softsign,
    an ELU or max(0, z − 1) at 0 are differentiable.  On each side the non-smooth
    nodes are replaced by the branch they take just beside p, leaving two smooth
    expressions whose values and derivatives at p are compared symbolically.
    Anything that cannot be decided counts as a kink (the cautious answer)."""
    try:
        left, right = _branch(expr, p - _SIDE), _branch(expr, p + _SIDE)
        if left is None or right is None:
            return False
        at = sp.nsimplify(p)
        jumps = [(left - right).xreplace({Z: at}),
                 (sp.diff(left, Z) - sp.diff(right, Z)).xreplace({Z: at})]
        return all(sp.simplify(j) == 0 for j in jumps)
    except (TypeError, ValueError, ArithmeticError, NotImplementedError, AttributeError,
            RecursionError):
        return False


def _branch(expr: sp.Expr, at: float) -> sp.Expr | None:
    """``expr`` with every non-smooth node replaced by the smooth branch it takes at z = ``at``
    (innermost first), or None where a branch cannot be chosen."""
    if not expr.args:
        return expr
    args = [_branch(a, at) for a in expr.args] if not isinstance(expr, sp.Piecewise) else None
    if args is not None and any(a is None for a in args):
        return None
    point = sp.Float(at)
    value = (lambda u: complex(u.xreplace({Z: point}).evalf()).real)
    if isinstance(expr, sp.Piecewise):
        for e, cond in expr.args:
            if cond == sp.true or bool(cond.xreplace({Z: point})):
                return _branch(e, at)
        return None
    if isinstance(expr, (sp.Abs, relu)):
        u = args[0]
        return (u if value(u) >= 0 else -u) if isinstance(expr, sp.Abs) else \
            (u if value(u) > 0 else sp.S.Zero)
    if isinstance(expr, (sp.sign, sp.Heaviside)):
        return sp.S.One if value(args[0]) > 0 else (-sp.S.One if isinstance(expr, sp.sign)
                                                    else sp.S.Zero)
    if isinstance(expr, (sp.Max, sp.Min)):
        pick = max if isinstance(expr, sp.Max) else min
        return pick(args, key=value)
    return expr.func(*args)


#: Polynomials up to this degree are solved exactly; higher ones numerically (an exact
#: solution of z^12 - 3z + 1 takes SymPy seconds, of degree 99 for ever).
EXACT_DEGREE = 4


def _real_zeros(u: sp.Expr) -> set[float]:
    if Z not in u.free_symbols:
        return set()
    poly = _polynomial(u)
    if poly is not None and poly.degree() > EXACT_DEGREE:
        return _numeric_real_roots(poly)
    if sp.count_ops(u) <= 12:
        try:
            sol = sp.solveset(u, Z, domain=sp.S.Reals)
            if isinstance(sol, sp.FiniteSet) and all(v.is_real for v in sol):
                return {float(v) for v in sol}
        except (NotImplementedError, TypeError, ValueError):
            pass
    return {0.0}


def _polynomial(u: sp.Expr) -> sp.Poly | None:
    """``u`` as a polynomial in :data:`Z` with numeric coefficients, else None."""
    try:
        if not u.is_polynomial(Z):
            return None
        poly = sp.Poly(u, Z)
    except (sp.PolynomialError, TypeError, ValueError):
        return None
    return poly if all(c.is_number for c in poly.all_coeffs()) else None


def _numeric_real_roots(poly: sp.Poly) -> set[float]:
    """The real roots of ``poly`` in floating point (eigenvalues of its companion
    matrix, milliseconds for any degree the guards allow): a kink is a place where
    samples are redrawn, so its position matters to far less than 1e-3."""
    if all(c.is_Rational for c in poly.all_coeffs()):
        poly = poly.sqf_part()        # simple roots only: np.roots scatters a multiple one
    coefficients = np.array([float(c) for c in poly.all_coeffs()], dtype=float)
    if not np.all(np.isfinite(coefficients)):
        return {0.0}
    with np.errstate(all="ignore"):
        roots = np.roots(coefficients)
    real = roots[np.abs(roots.imag) <= 1e-6 * (1.0 + np.abs(roots.real))].real
    return {float(r) for r in real if np.isfinite(r)}


def activation_from_expr(expr: sp.Expr, latex_source: str) -> Activation:
    """An :class:`Activation` for an expression in :data:`Z` read from LaTeX."""
    d = heaviside_at_zero(sp.diff(expr, Z))
    kinks = () if _is_smooth(expr) else kink_points(expr)
    return Activation("latex", expr, _lambdify_generated(expr, Z), _lambdify_generated(d, Z),
                      smooth=not kinks, latex_source=latex_source, kinks=kinks)


@dataclass(frozen=True)
class Loss:
    """A loss: a name, and for ``latex`` losses the per-output expression ℓ(ŷ, y)."""

    name: str
    expr: sp.Expr | None = None
    latex_source: str | None = None

    def per_sample(self, yhat: list[sp.Expr], y: list[sp.Expr]) -> sp.Expr:
        """The loss of one sample, summed over output units, as in CONTRACT.md."""
        if self.name == "mse":
            return sp.Rational(1, 2) * sp.Add(*[(p - t) ** 2 for p, t in zip(yhat, y)])
        if self.name == "bce":
            return -sp.Add(*[t * sp.log(p) + (1 - t) * sp.log(1 - p) for p, t in zip(yhat, y)])
        if self.name == "softmax_ce":
            lse = sp.log(sp.Add(*[sp.exp(p) for p in yhat]))
            return -sp.Add(*[t * (p - lse) for p, t in zip(yhat, y)])
        assert self.expr is not None
        return sp.Add(*[self.expr.xreplace({YHAT: p, Y: t}) for p, t in zip(yhat, y)])

    def np_value_and_grad(self, yhat: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Loss of a batch (rows are samples) and its gradient with respect to ``yhat``."""
        if self.name == "any":  # the undefined loss of generic mode, instantiated as MSE
            return Loss("mse").np_value_and_grad(yhat, y)
        if self.name == "mse":
            r = yhat - y
            return 0.5 * float(np.sum(r * r)), r
        if self.name == "bce":
            val = -np.sum(y * np.log(yhat) + (1 - y) * np.log(1 - yhat))
            return float(val), -(y / yhat) + (1 - y) / (1 - yhat)
        if self.name == "softmax_ce":
            m = yhat.max(axis=1, keepdims=True)
            lse = m + np.log(np.exp(yhat - m).sum(axis=1, keepdims=True))
            p = np.exp(yhat - lse)
            val = -np.sum(y * (yhat - lse))
            return float(val), p * y.sum(axis=1, keepdims=True) - y
        f, df = _loss_numpy(self)
        return float(np.sum(f(yhat, y))), df(yhat, y)


@functools.lru_cache(maxsize=64)
def _loss_numpy(loss: Loss):
    """ℓ and ∂ℓ/∂ŷ of a LaTeX loss as NumPy functions, lambdified once per loss (every
    pass of the witnesses, the gradient check and the training asks for them)."""
    assert loss.expr is not None
    f = lambdify_safe((YHAT, Y), loss.expr)
    df = lambdify_safe((YHAT, Y), sp.diff(loss.expr, YHAT))
    shape = lambda g: (lambda a, b: np.broadcast_to(np.asarray(g(a, b), float), np.shape(a)).copy())
    return shape(f), shape(df)
