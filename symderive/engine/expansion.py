"""How many terms the whole loss has once expanded into a sum of products, counted
before anything is built: the guards' estimates (``cost.facts``) and the engine's own
decision to skip the whole-loss zero proof (``engine.gradients``) both use it.

For a ``[[layer]]`` network the count reads the loss as built (:func:`raw_terms`,
:func:`group_skip_note`, :func:`expand_seconds`), whatever kinds built it; and every
whole-loss step of a derivation spends one shared :func:`allowance`."""
from __future__ import annotations

import contextlib
import contextvars
import math
from functools import lru_cache
from typing import Iterator

import sympy as sp

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


#: CPU seconds per raw term of the expanded derivatives.  Measured (load 6 on 2 cores)
#: from 0.13 ms (a cubic activation's plain monomials) to 7 ms (a layer norm's terms,
#: each holding a power of the variance): the slow end is kept, so that the step runs
#: only when it is cheap whatever its terms hold (an over-estimate skips a proof; an
#: under-estimate ran for minutes).
SECONDS_PER_RAW_TERM = 6e-3
#: CPU seconds per node of the loss and per entry differentiated (``diff`` walks the
#: expression once for each entry of the two units: 0.3 s for one entry of a 141-node
#: LSTM loss).
SECONDS_PER_NODE = 2e-3
#: Counts are capped here (the step is skipped long before).
CAP = 1e30


def raw_terms(expr: sp.Expr, wrt: frozenset, zero: frozenset = frozenset()
              ) -> tuple[float, float, int]:
    """(T, D, nodes): the terms ``expand(expr)`` multiplies out before cancelling, the
    terms of the derivatives of ``expr`` in the symbols ``wrt`` expanded (summed over
    them), and the distinct nodes of ``expr``; the symbols ``zero`` are set to 0 after
    differentiating (a zeroed group: every product holding one vanishes before
    ``expand`` sees it).  Rules (T, D per node): a symbol has one term (none if
    zeroed) and D = 1 if it is differentiated in; a sum adds both;
    a product multiplies the T and takes D by the product rule; a positive integer
    power n of a base of T terms has C(T + n − 1, n) terms; any other power or function
    is one term (expand leaves it whole) whose derivative brings its argument's D twice
    (the outer derivative, and the chain)."""
    memo: dict[sp.Basic, tuple[float, float]] = {}
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in memo:
            continue
        if not ready and node.args:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args if a not in memo)
            continue
        memo[node] = _rule(node, [memo[a] for a in node.args], wrt, zero)
    t, d = memo[expr]
    return t, d, len(memo)


def _rule(node: sp.Basic, args: list[tuple[float, float]], wrt: frozenset,
          zero: frozenset) -> tuple[float, float]:
    if not args:
        return 0.0 if node in zero else 1.0, 1.0 if node in wrt else 0.0
    if isinstance(node, sp.Add):
        return min(CAP, sum(t for t, _ in args)), min(CAP, sum(d for _, d in args))
    if isinstance(node, sp.Mul):
        total = math.prod(t for t, _ in args)
        d = sum(di * math.prod(t for k, (t, _) in enumerate(args) if k != i)
                for i, (_, di) in enumerate(args) if di)
        return min(CAP, total), min(CAP, d)
    if isinstance(node, sp.Pow) and node.exp.is_Integer and node.exp > 1:
        n, (tb, db) = int(node.exp), args[0]
        return _multiset(tb, n), min(CAP, n * _multiset(tb, n - 1) * db)
    return 1.0, min(CAP, 2.0 * sum(d for _, d in args))


def _multiset(terms: float, n: int) -> float:
    """C(terms + n − 1, n): the monomials of a sum of ``terms`` terms to the power n."""
    if terms >= CAP ** (1 / max(n, 1)):
        return CAP
    return min(CAP, float(math.comb(int(terms) + n - 1, n)))


@lru_cache(maxsize=8)
def stack_loss(stack):
    """The whole SymPy loss of a ``[[layer]]`` network, built once for its estimates."""
    return stack.loss()


def group_seconds(stack, entries, tie: dict) -> tuple[float, float]:
    """(raw terms, CPU seconds) of the whole-loss step of one group of a ``[[layer]]``
    network: ``entries`` its two units' paired entries, ``tie`` the hypothesis's
    substitution (its zeroed symbols count as 0)."""
    ei, ej = entries
    wrt = frozenset(stack.theta[t][i] for t, i in ei + ej)
    zero = frozenset(k for k, v in tie.items() if v == 0)
    _, d, nodes = raw_terms(stack_loss(stack), wrt, zero)
    return d, (d * SECONDS_PER_RAW_TERM + len(wrt) * nodes * SECONDS_PER_NODE) * \
        zero_test_factor(stack)


def zero_test_factor(stack) -> float:
    """The layers' own correction of the count (:meth:`LayerKind.zero_test_factor`: how
    many times it under-counts SymPy's zero test through a layer, given those before)."""
    from .layers import layer_kind

    layers = stack.spec.stack
    return max(layer_kind(s.kind).zero_test_factor(s, layers[:s.index - 1]) for s in layers)


def group_skip_note(stack, entries, tie: dict, limit: float) -> str | None:
    """Why the whole-loss step of a group is skipped (its estimate, :func:`group_seconds`,
    is over ``limit``, or over what is left of the derivation's :func:`allowance`), in a
    sentence with the numbers; None when it runs."""
    terms, seconds = group_seconds(stack, entries, tie)
    if seconds > limit:
        shown = f"{seconds:.0f} s" if seconds < 1e6 else "more than a million seconds"
        return (f"The whole-loss check was skipped because it would cost too much: "
                f"expanding the loss's derivatives in this group's entries would multiply "
                f"out about {terms:.2g} terms, an estimated {shown} of CPU, over the limit "
                f"of {limit:g} s.")
    return over_allowance(seconds)


def expand_seconds(loss: sp.Expr) -> float:
    """CPU seconds of expanding the difference of ``loss`` and a copy with some symbols
    exchanged (the swap's whole-loss confirmation): twice its raw terms, at
    :data:`SECONDS_PER_RAW_TERM` (a residual CNN with batch norm on 3 samples of length
    10 has about 10⁶ and did not finish in minutes)."""
    return 2 * raw_terms(loss, frozenset())[0] * SECONDS_PER_RAW_TERM


# ---- one allowance for every whole-loss step of a derivation --------------------------
#: Estimated CPU seconds all the whole-loss steps of one derivation may spend together:
#: each step is at most WHOLE_LOSS_SECONDS, and the guards count this allowance once in
#: the time limit, however many hypotheses and groups a spec has.
WHOLE_LOSS_TOTAL = 6.0
_LEFT: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
    "whole_loss_left", default=None)


@contextlib.contextmanager
def allowance(seconds: float = WHOLE_LOSS_TOTAL) -> Iterator[None]:
    """Within this block (one derivation: :func:`symderive.derive`), the whole-loss steps
    share ``seconds`` of estimated CPU, spent in the order they run (the same order
    every run, so the same spec gives the same report)."""
    token = _LEFT.set([seconds])
    try:
        yield
    finally:
        _LEFT.reset(token)


def over_allowance(seconds: float) -> str | None:
    """Spend ``seconds`` of the derivation's allowance and return None, or, when less is
    left, the sentence saying the step was skipped (outside :func:`allowance`: None)."""
    left = _LEFT.get()
    if left is None or seconds <= left[0]:
        if left is not None:
            left[0] -= seconds
        return None
    return (f"The whole-loss check was skipped because this derivation's whole-loss "
            f"checks would together cost too much: this one, an estimated {seconds:.1f} s "
            f"of CPU, is over the {max(left[0], 0.0):.1f} s left of the "
            f"{WHOLE_LOSS_TOTAL:g} s they share.")
