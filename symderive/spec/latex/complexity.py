"""How complicated a parsed formula is: the resource guards refuse it in milliseconds
(:func:`symderive.guards.check_resources`) instead of after minutes of work.

A short formula can still be ruinous: ``\\frac`` nested eight deep or a tower
``e^{e^{e^{\\dots}}}`` makes every derivative, simplification and kink search
grow without bound, and ``z^{100}`` sends the kink search into a polynomial of
degree 100 and overflows float64 for |z| > 1200.  Two measures of the parsed
tree catch them (both are far above any activation or loss in use: GELU, ELU,
Mish, softsign, swish, Huber, focal loss…):

- **nesting**: functions and powers inside one another along one path
  (``e^{e^{z}}`` is 2; Mish ``z \\tanh(\\ln(1+e^{z}))`` is 3);
- **degree**: the polynomial degree, counting a function of ``u`` as ``u``
  (``(1+z)^{9}(2+z)^{9}`` is 18), overall and inside the arguments of kinks
  (``|u|``, ``\\max``, ``\\min``, the conditions of ``cases``), whose roots the
  witness search and the numeric check must find.
"""
from __future__ import annotations

import sympy

#: Functions and powers nested inside one another, at most.
MAX_NESTING = 5
#: An exponent's numerator, at most (the resource guards' limit: exact arithmetic with
#: z^{999999} or its expansion never finishes; the range checks leave such powers to them).
MAX_EXPONENT = 100
#: Polynomial degree (functions of u counted as u), at most: overall, and where a kink is.
MAX_DEGREE = 100
MAX_KINK_DEGREE = 12
#: The heads whose argument's roots are kinks.
KINK_HEADS = (sympy.Abs, sympy.Max, sympy.Min, sympy.Heaviside, sympy.sign)


def problem(expr: sympy.Basic) -> str | None:
    """Why ``expr`` is too complicated to derive with, or None."""
    depth = nesting(expr)
    if depth > MAX_NESTING:
        return (f"nests functions, fractions or powers {depth} deep (at most {MAX_NESTING}): "
                "its derivatives would grow without bound")
    deg = kink_degree(expr)
    if deg > MAX_KINK_DEGREE:
        return (f"has a kink at the roots of a polynomial of degree {deg} (at most "
                f"{MAX_KINK_DEGREE}): they cannot be solved for in reasonable time")
    deg = degree(expr)
    if deg > MAX_DEGREE:
        return (f"has polynomial degree {deg} (at most {MAX_DEGREE}): such powers overflow "
                "in floating point")
    return None


def kink_degree(expr: sympy.Basic) -> int:
    """The largest degree of an argument of a kink (|u|, max, min, a condition of cases)."""
    best = 0
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, KINK_HEADS):
            best = max([best] + [degree(a) for a in node.args])
        elif isinstance(node, sympy.Piecewise):
            best = max([best] + [_condition_degree(c) for _, c in node.args])
    return best


def nesting(expr: sympy.Basic) -> int:
    """The most functions and powers on one root-to-leaf path (iterative: no recursion limit)."""
    best = 0
    stack = [(expr, 0)]
    while stack:
        node, above = stack.pop()
        here = above + (1 if isinstance(node, (sympy.Pow, sympy.Function, sympy.Piecewise))
                        and not _is_square_root_of_number(node) else 0)
        best = max(best, here)
        stack.extend((a, here) for a in node.args if not isinstance(a, sympy.Number))
    return best


def _is_square_root_of_number(node: sympy.Basic) -> bool:
    return isinstance(node, sympy.Pow) and node.base.is_Number and node.exp.is_Number


def degree(expr: sympy.Basic) -> int:
    """Polynomial degree in the formula's symbols; f(u) counts as u, 1/u as u."""
    if expr.is_Symbol:
        return 1
    if expr.is_Number or not expr.free_symbols:
        return 0
    if isinstance(expr, sympy.Mul):
        return sum(degree(a) for a in expr.args)
    if isinstance(expr, sympy.Pow):
        base = degree(expr.base)
        n = expr.exp
        if n.is_Integer:
            return base * abs(int(n))
        return max(base, degree(n))
    if isinstance(expr, sympy.Piecewise):
        return max(max(degree(e), _condition_degree(c)) for e, c in expr.args)
    return max((degree(a) for a in expr.args), default=0)


def _condition_degree(cond: sympy.Basic) -> int:
    return max((degree(a) for a in getattr(cond, "args", ()) if isinstance(a, sympy.Expr)),
               default=0)
