"""Machine-learning conventions of LaTeX input: the symbols, the function heads and the limits.

``\\log`` is the natural log, ``\\sigma(u)`` the logistic sigmoid of any ``u``,
``\\operatorname{relu}`` and friends map to :data:`ML_FUNCTIONS`.
"""
from __future__ import annotations

from typing import Callable

import sympy
from sympy import Abs, Max, Min, erf, exp, log, sign, tanh

from ..functions import YHAT as _YHAT
from ..functions import Y as _Y  # the package's own symbols and heads
from ..functions import Z as _Z
from ..functions import relu as _relu
from ..functions import sigmoid as _sigmoid
from ..functions import softplus as _softplus

# --------------------------------------------------------------------------- limits
MAX_CHARS = 500                  #: longest accepted formula
MAX_BRACE_DEPTH = 8              #: deepest ``{`` nesting
MAX_GROUP_DEPTH = 12             #: deepest nesting of ``{ ( [`` together
MAX_LITERAL_DIGITS = 6           #: longest run of digits in a number
MAX_MAGNITUDE_DIGITS = 300       #: most digits of any exact numeric subterm
TIME_LIMIT_SECONDS = 10.0        #: wall-clock limit of one parse in the worker
MEMORY_LIMIT_BYTES = 1 << 30     #: RLIMIT_AS of the worker
STARTUP_TIMEOUT_SECONDS = 60.0   #: importing SymPy in a fresh worker may be slow

# ------------------------------------------------------------- symbols and heads


def activation_variable() -> sympy.Symbol:
    """The real symbol ``z`` every parsed activation is written in (always the same object)."""
    return _Z


def loss_variables() -> tuple[sympy.Symbol, sympy.Symbol]:
    """The real symbols ``(yhat, y)`` every parsed loss is written in."""
    return (_YHAT, _Y)


#: Function names usable as ``\operatorname{name}(u)``, ``\mathrm{name}(u)`` or
#: ``\text{name}(u)`` (matched case-insensitively); ``\sigma(u)`` is ``sigmoid``
#: and ``\max``/``\min`` use ``max``/``min``.  The single place to swap in
#: custom Function classes.
ML_FUNCTIONS: dict[str, Callable[..., sympy.Expr]] = {
    "sigmoid": _sigmoid, "softplus": _softplus, "relu": _relu,
    "erf": erf, "sign": sign, "sgn": sign, "tanh": tanh, "exp": exp,
    "log": log, "ln": log, "abs": Abs, "max": Max, "min": Min,
}
_VARIADIC = {"max", "min"}                  # at least two arguments

