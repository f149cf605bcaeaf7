"""Read activation and loss formulas written in LaTeX, safely.

Users paste formulas from notes or forum posts, e.g. ``\\frac{z}{1+|z|}`` or
``-y\\log(\\hat{y})-(1-y)\\log(1-\\hat{y})``.  That text is untrusted, so this
module never evaluates it: it is tokenised here, checked against a whitelist,
and only then handed to the ANTLR grammar of ``latex2sympy2_extended``.  The
resulting tree is rebuilt node by node from a whitelist of SymPy heads, with
every symbol replaced by a fixed generated one (``z`` for activations,
``yhat`` and ``y`` for losses).

Machine-learning conventions that the grammar gets wrong are applied before
parsing: ``\\log`` is the natural log, ``\\sigma(u)`` is the logistic sigmoid of
*any* argument ``u``, ``\\operatorname{relu}(u)`` and friends map to
:data:`ML_FUNCTIONS`, ``\\max``/``\\min`` take comma separated arguments (the
grammar splits nested ones wrongly), and ``\\begin{cases}`` becomes a
``Piecewise``.  Anything ambiguous is refused with a :class:`LatexInputError`
that says what is not supported.

Parsing runs in a persistent worker process (``python -m
symderive.spec.latex.worker``) with a memory limit and a wall-clock limit, so even
big-integer arithmetic hidden in a formula cannot hang the caller; cheap
size checks run in-process first.
"""
from __future__ import annotations

import atexit

import sympy

from ...errors import LatexInputError, ResourceLimitError
from .worker import WorkerHandle

__all__ = ["ML_FUNCTIONS", "parse_activation", "parse_loss", "activation_variable",
           "loss_variables", "describe", "warm_up", "shutdown_worker"]

# ------------------------------------------------------------------ public API
def parse_activation(text: str) -> sympy.Expr:
    """Parse an activation formula written in ``z``.

    Returns an expression in :func:`activation_variable` only; raises
    :class:`LatexInputError` or :class:`ResourceLimitError` on refused input.
    """
    return _parse("activation", text)


def parse_loss(text: str) -> sympy.Expr:
    """Parse a loss formula written in ``\\hat{y}`` (prediction) and ``y`` (target).

    Returns an expression in :func:`loss_variables` only; raises
    :class:`LatexInputError` or :class:`ResourceLimitError` on refused input.
    """
    return _parse("loss", text)


def describe(expr: sympy.Expr) -> dict[str, str]:
    """LaTeX of a parsed formula and of its derivative in each of its variables (for reports)."""
    info = {"expr": sympy.latex(expr)}
    for sym in sorted(expr.free_symbols, key=lambda s: s.name):
        info[f"d/d{sym.name}"] = sympy.latex(sympy.diff(expr, sym))
    return info


def _parse(kind: str, text: str) -> sympy.Expr:
    """Cheap guards here, everything else in the worker under time and memory limits."""
    precheck(text)
    status, payload = _WORKER.request((kind, text), time_limit=TIME_LIMIT_SECONDS,
                                      memory_limit=MEMORY_LIMIT_BYTES,
                                      startup_timeout=STARTUP_TIMEOUT_SECONDS)
    if status == "ok":
        return payload
    if status == "LatexInputError":
        raise LatexInputError(payload)
    if status == "ResourceLimitError":
        raise ResourceLimitError(payload)
    raise RuntimeError(f"internal error in the LaTeX parser process:\n{payload}")
from .conventions import (MEMORY_LIMIT_BYTES, ML_FUNCTIONS, STARTUP_TIMEOUT_SECONDS,
                          TIME_LIMIT_SECONDS, activation_variable, loss_variables)
from .tokens import precheck

# ------------------------------------------------------------- the worker
_WORKER = WorkerHandle()
atexit.register(_WORKER.stop)


def warm_up() -> None:
    """Start the parse worker in the background so that the first parse is fast."""
    _WORKER.start(MEMORY_LIMIT_BYTES, TIME_LIMIT_SECONDS)


def shutdown_worker() -> None:
    """Stop the parse worker (a new one starts on the next parse)."""
    _WORKER.stop()


