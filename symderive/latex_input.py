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
symderive._latex_worker``) with a memory limit and a wall-clock limit, so even
big-integer arithmetic hidden in a formula cannot hang the caller; cheap
size checks run in-process first.
"""
from __future__ import annotations

import atexit
import functools
import math
import re
from typing import Callable, Iterable, Sequence

import sympy
from sympy import (Abs, Add, Max, Min, Mul, Piecewise, Pow, S, atan, cos, cosh,
                   erf, exp, log, sign, sin, sinh, tan, tanh)
from sympy.core.function import AppliedUndef
from sympy.core.relational import (GreaterThan, LessThan, StrictGreaterThan,
                                   StrictLessThan)

from ._latex_worker import WorkerHandle
from .errors import LatexInputError, ResourceLimitError

__all__ = ["ML_FUNCTIONS", "parse_activation", "parse_loss", "activation_variable",
           "loss_variables", "describe", "warm_up", "shutdown_worker"]

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
try:  # the package's own symbols and smooth heads (print as σ(u), softplus(u), ReLU(u))
    from .functions import Y as _Y, YHAT as _YHAT, Z as _Z
    from .functions import relu as _relu, sigmoid as _sigmoid, softplus as _softplus
except ImportError:  # pragma: no cover - standalone use: the same symbols, plain SymPy forms
    _Z = sympy.Symbol("z", real=True)
    _YHAT = sympy.Symbol("yhat", real=True)
    _Y = sympy.Symbol("y", real=True)

    def _sigmoid(u: sympy.Expr) -> sympy.Expr:
        return 1 / (1 + exp(-u))

    def _softplus(u: sympy.Expr) -> sympy.Expr:
        return log(1 + exp(u))

    def _relu(u: sympy.Expr) -> sympy.Expr:
        return Max(0, u)


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

# ------------------------------------------------------------------ token tables
_GREEK = set("""alpha beta gamma Gamma delta Delta epsilon varepsilon zeta eta theta
 Theta vartheta iota kappa lambda Lambda mu nu xi Xi rho varrho Sigma varsigma tau
 upsilon Upsilon phi Phi varphi chi psi Psi omega Omega omicron varpi Pi""".split())
_SPACING = {",", ";", ":", "!", " ", "quad", "qquad", "displaystyle", "textstyle",
            "left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl",
            "Bigr", "biggl", "biggr", "Biggl", "Biggr", "middle"}
_ALIASES = {"dfrac": "frac", "tfrac": "frac", "cfrac": "frac", "ge": "geq",
            "le": "leq", "geqslant": "geq", "leqslant": "leq", "cdotp": "cdot",
            "widehat": "hat"}
_CHAR_ALIASES = {"lvert": "|", "rvert": "|", "vert": "|", "gt": ">", "lt": "<",
                 "ast": "*"}
#: Commands passed through to the grammar (after the rewrites above).
_GRAMMAR_COMMANDS = {"frac", "sqrt", "exp", "ln", "log", "tanh", "sinh", "cosh", "sin",
                     "cos", "tan", "arctan", "cdot", "times", "pi", "geq", "leq"}
#: Commands handled by this module before the grammar sees the text.
_OWN_COMMANDS = {"sigma", "max", "min", "hat"}
_REFUSED = {
    "in": "set membership (\\in) is not supported",
    "notin": "set membership (\\notin) is not supported",
    "binom": "binomial coefficients (\\binom) are not supported",
    "choose": "binomial coefficients (\\choose) are not supported",
    "det": "determinants (\\det) are not supported",
    "top": "transposes (^\\top) are not supported",
    "intercal": "transposes (^\\intercal) are not supported",
    "prime": "primes / derivatives (\\prime) are not supported",
    "partial": "derivatives (\\partial) are not supported",
    "nabla": "gradients (\\nabla) are not supported",
    "sum": "sums (\\sum) are not supported", "prod": "products (\\prod) are not supported",
    "int": "integrals (\\int) are not supported", "lim": "limits (\\lim) are not supported",
    "infty": "infinity (\\infty) is not supported",
    "neq": "'\\neq' is not supported (only <, >, \\leq, \\geq in cases conditions)",
    "ne": "'\\ne' is not supported (only <, >, \\leq, \\geq in cases conditions)",
    "approx": "'\\approx' is not supported: give the exact formula",
    "mod": "'\\mod' is not supported", "pmod": "'\\pmod' is not supported",
    "pm": "'\\pm' is ambiguous and not supported", "mp": "'\\mp' is not supported",
    "{": "braces as delimiters (\\{ \\}) are not supported",
    "}": "braces as delimiters (\\{ \\}) are not supported",
    "|": "norms (\\|) are not supported",
}
_TEXT_COMMANDS = r"text|mathrm|operatorname|mbox|textrm|mathit|textit|mathsf|rm"
_TOKEN_RE = re.compile(
    rf"(?P<text>\\(?:{_TEXT_COMMANDS})\s*\{{(?P<tc>[^{{}}\\]*)\}})"
    r"|(?P<env>\\(?:begin|end)\s*\{(?P<env_name>[^{}\\]*)\})"
    r"|(?P<rowsep>\\\\)"
    r"|(?P<cmd>\\[A-Za-z]+)"
    r"|(?P<sym>\\[^A-Za-z])"
    r"|(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<ws>\s+)"
    r"|(?P<ch>.)", re.S)
_ALLOWED_CHARS = set("+-*/^_()[]{}|.,&<>=!'") | set("abcdefghijklmnopqrstuvwxyz"
                                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_UNICODE = {"\u2212": "-", "\u00b7": r"\cdot ", "\u22c5": r"\cdot ", "\u00d7": r"\times ",
            "\u2264": r"\leq ", "\u2265": r"\geq ", "\u03c3": r"\sigma ", "\u03c0": r"\pi ",
            "\u0177": r"\hat{y}", "\u00a0": " "}
_OTHERWISE = {"otherwise", "else", "elsewhere", "o.w.", "sonst"}
_IF_WORDS = {"if", "for", "when", "where"}

Token = tuple  # (kind, value); kinds: text env rowsep cmd sym num ws ch ph


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


# ------------------------------------------------------------ cheap guards
#: Python, not LaTeX: dunders, ``**``, keywords and calls of builtins that run code.
_PYTHON = re.compile(r"__|\*\*|\b(?:lambda|import)\b|\b(?:exec|eval|open|compile)\s*\(")

def precheck(text: str) -> None:
    """Size guards that need no parsing: length, nesting depth, digits per literal."""
    if not isinstance(text, str):
        raise LatexInputError(f"a LaTeX formula must be a string, not {type(text).__name__}")
    if not text.strip():
        raise LatexInputError("the LaTeX formula is empty")
    if _PYTHON.search(text):
        raise LatexInputError("this looks like Python code, not a LaTeX formula (write "
                              "powers as z^{2} and products as 2 z or 2 \\cdot z); formulas "
                              "are read as LaTeX and never run")
    if len(text) > MAX_CHARS:
        raise ResourceLimitError(f"LaTeX formula too long: {len(text)} characters "
                                 f"(at most {MAX_CHARS})")
    digits = max((len(m) for m in re.findall(r"\d+", text)), default=0)
    if digits > MAX_LITERAL_DIGITS:
        raise ResourceLimitError(f"number with {digits} digits in LaTeX formula "
                                 f"(at most {MAX_LITERAL_DIGITS} digits per literal)")
    braces = groups = 0
    for piece in re.findall(r"\\\\|\\.|.", text, re.S):   # skip escaped \{ \( \\
        if piece in ("{", "(", "["):
            braces += piece == "{"
            groups += 1
            if braces > MAX_BRACE_DEPTH:
                raise ResourceLimitError(f"braces nested more than {MAX_BRACE_DEPTH} deep")
            if groups > MAX_GROUP_DEPTH:
                raise ResourceLimitError(f"brackets nested more than {MAX_GROUP_DEPTH} deep")
        elif piece in ("}", ")", "]"):
            braces -= piece == "}"
            groups -= 1


# ------------------------------------------------------------- tokenising
def _tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; map a few Unicode glyphs to LaTeX, refuse other characters."""
    text = text.strip()
    for outer in ("$$", "$"):
        if len(text) > 2 * len(outer) and text.startswith(outer) and text.endswith(outer):
            text = text[len(outer):-len(outer)].strip()
            break
    text = "".join(_UNICODE.get(c, c) for c in text)
    tokens: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind == "text":
            cmd = m.group(0)[1:m.group(0).index("{")].strip()
            tokens.append(("text", (cmd, m.group("tc").strip())))
        elif kind == "env":
            which = "begin" if m.group(0).startswith("\\begin") else "end"
            tokens.append(("env", (which, m.group("env_name").strip())))
        elif kind in ("cmd", "sym"):
            tokens.append((kind, m.group(0)[1:]))
        elif kind == "ch":
            ch = m.group(0)
            if ch not in _ALLOWED_CHARS:
                shown = ch if ch.isprintable() and ch.isascii() else f"U+{ord(ch):04X}"
                raise LatexInputError(f"unsupported character {shown!r} in LaTeX formula")
            tokens.append(("ch", ch))
        else:
            tokens.append((kind, m.group(0)))
    return tokens


def _normalize(tokens: list[Token]) -> list[Token]:
    """Drop spacing and sizing commands, apply aliases, make ``\\log`` the natural log."""
    out: list[Token] = []
    for i, (kind, val) in enumerate(tokens):
        if kind in ("cmd", "sym") and val in _SPACING:
            if val in ("left", "right") and i + 1 < len(tokens) and tokens[i + 1] == ("ch", "."):
                tokens[i + 1] = ("ws", " ")           # \left. and \right. delimit nothing
            out.append(("ws", " "))
        elif kind == "ch" and val == "~":
            out.append(("ws", " "))
        elif kind == "cmd" and val in _CHAR_ALIASES:
            out.append(("ch", _CHAR_ALIASES[val]))
        elif kind == "cmd":
            out.append(("cmd", _ALIASES.get(val, val)))
        elif kind == "text" and val[1] == "e" and val[0] in ("mathrm", "text", "rm"):
            out.append(("ch", "e"))                  # \mathrm{e} is Euler's number
        elif kind == "ch" and val == "=" and out and out[-1][0] == "ch" and out[-1][1] in "<>":
            out[-1] = ("cmd", "leq" if out[-1][1] == "<" else "geq")
        else:
            out.append((kind, val))
    while out and (out[-1][0] == "ws" or out[-1] in (("ch", "."), ("ch", ","))):
        out.pop()                                     # trailing sentence punctuation
    for i, tok in enumerate(out):                     # \log without base is ln
        if tok == ("cmd", "log") and _next_solid(out, i) != ("ch", "_"):
            out[i] = ("cmd", "ln")
        elif tok == ("cmd", "log"):                    # \log_e and \log_{e} are ln too
            rest = [j for j in range(i + 1, len(out)) if out[j][0] != "ws"][:4]
            texts = [out[j] for j in rest]
            for pattern in ([("ch", "_"), ("ch", "e")],
                            [("ch", "_"), ("ch", "{"), ("ch", "e"), ("ch", "}")]):
                if texts[:len(pattern)] == pattern:
                    out[i] = ("cmd", "ln")
                    for j in rest[:len(pattern)]:
                        out[j] = ("ws", " ")
                    break
    return out


def _next_solid(tokens: Sequence[Token], i: int) -> Token | None:
    """The first non-whitespace token after position ``i``."""
    for tok in tokens[i + 1:]:
        if tok[0] != "ws":
            return tok
    return None


# --------------------------------------------------------------- refusals
def _refuse_unsupported(tokens: list[Token], kind: str) -> list[Token]:
    """Refuse constructs that would be guessed at; return the tokens without whitespace."""
    hint = _variable_hint(kind)
    solid: list[Token] = []
    for i, (k, v) in enumerate(tokens):
        if k == "ws":
            if (solid and solid[-1][0] == "num" and _next_solid(tokens, i)
                    and _next_solid(tokens, i)[0] == "num"):
                raise LatexInputError("numbers separated only by a space are ambiguous")
            continue
        _refuse_token(tokens, i, kind, hint)
        solid.append((k, v))
    _check_balanced(solid)
    _refuse_bare_function_names(solid)
    _refuse_ambiguous_numbers(solid)
    _refuse_ambiguous_division(solid)
    _refuse_ambiguous_scripts(solid)
    _refuse_ambiguous_bars(solid)
    return _brace_command_args(solid)


def _supported_commands() -> str:
    """The commands a formula may use, for messages."""
    names = sorted((_GRAMMAR_COMMANDS | _OWN_COMMANDS) - {"geq", "leq"})
    return (", ".join("\\" + n for n in names)
            + ", \\operatorname{softplus|ReLU|...}, |..| and \\begin{cases}")


def _variable_hint(kind: str) -> str:
    return ("an activation may only use z" if kind == "activation"
            else "a loss may only use \\hat{y} and y")


def _refuse_token(tokens: list[Token], i: int, kind: str, hint: str) -> None:
    """Refuse the single token ``tokens[i]`` if it is not supported."""
    k, v = tokens[i]
    nxt = _next_solid(tokens, i)
    if k == "ch":
        if v == "'":
            raise LatexInputError("primes (as in \\sigma'(z)) are not supported")
        if v == "=":
            raise LatexInputError("'=' is not supported: give only the formula, "
                                  "not an equation or definition")
        if v == "!":
            raise LatexInputError("'!' (factorial) is not supported")
        if v == "." and nxt not in (None, ("rowsep", "\\\\")) and nxt[0] != "env":
            raise LatexInputError("unexpected '.' (write decimals as 0.5)")
        if v == "^" and nxt is not None and _is_transpose(tokens, i):
            raise LatexInputError("transposes (^T, ^\\top) are not supported")
        if v == "_":
            prev = [t for t in tokens[:i] if t[0] != "ws"]
            if not prev or prev[-1] != ("cmd", "log"):
                raise LatexInputError("subscripts are not supported (only \\log_b x)")
    elif k in ("cmd", "sym"):
        if v in _REFUSED:
            raise LatexInputError(_REFUSED[v])
        if v in _GREEK:
            raise LatexInputError(f"unknown symbol \\{v}: {hint}")
        if v == "hat" and kind == "activation":
            raise LatexInputError(f"unknown symbol \\hat{{y}}: {hint}")
        if v not in _GRAMMAR_COMMANDS and v not in _OWN_COMMANDS:
            raise LatexInputError(f"unsupported LaTeX command \\{v}; supported: "
                                  f"{_supported_commands()}")
    elif k == "env" and v[1] != "cases":
        raise LatexInputError(f"environment {v[1]!r} is not supported (only cases)")


def _is_transpose(tokens: list[Token], i: int) -> bool:
    """Whether the ``^`` at ``i`` is followed by ``T``, ``{T}``, ``\\top`` or ``\\mathrm{T}``."""
    rest = [t for t in tokens[i + 1:i + 6] if t[0] != "ws"]
    if rest and rest[0] == ("ch", "{"):
        rest = rest[1:]
    return bool(rest) and (rest[0] in (("ch", "T"), ("cmd", "top"), ("cmd", "intercal"))
                           or rest[0][0] == "text" and rest[0][1][1] == "T")


_KNOWN_WORDS = set(ML_FUNCTIONS) | {"sqrt", "sinh", "cosh", "sin", "cos", "tan",
                                    "sigma", "frac", "arctan"}


def _refuse_bare_function_names(solid: list[Token]) -> None:
    """Refuse ``relu(z)`` or ``exp(z)`` written without a backslash (they would be products)."""
    run = ""
    for k, v in solid + [("end", "")]:
        if k == "ch" and v.isalpha():
            run += v
            continue
        hits = [w for w in _KNOWN_WORDS if (len(w) >= 3 and w in run.lower()) or run == w]
        if hits:
            word = max(hits, key=len)
            raise LatexInputError(f"'{word}' without a backslash would be a product of "
                                  f"letters: write \\operatorname{{{word}}}(...)")
        run = ""


def _refuse_ambiguous_numbers(solid: list[Token]) -> None:
    """Refuse scientific notation such as ``1e-3``, which the grammar reads as ``e - 3``."""
    for i in range(len(solid) - 2):
        a, b, c = solid[i:i + 3]
        if a[0] == "num" and b in (("ch", "e"), ("ch", "E")) and (
                c[0] == "num" or c in (("ch", "-"), ("ch", "+"))):
            raise LatexInputError("scientific notation (like 1e-3) is not supported: "
                                  "write 10^{-3}")


def _refuse_ambiguous_division(solid: list[Token]) -> None:
    """Refuse ``a/bc``: whether ``c`` is in the denominator is a guess."""
    for i, tok in enumerate(solid):
        if tok != ("ch", "/"):
            continue
        j = _skip_operand(solid, i + 1)
        if j < len(solid) and solid[j] == ("ch", "^"):
            j = _skip_operand(solid, j + 1)
        inside_bars = solid[:i].count(("ch", "|")) % 2 == 1
        if j < len(solid) and (_starts_operand(solid[j])
                               or (solid[j] == ("ch", "|") and not inside_bars)):
            raise LatexInputError("'/' followed by an implicit product is ambiguous: "
                                  "use \\frac{..}{..} or parentheses")


def _refuse_ambiguous_scripts(solid: list[Token]) -> None:
    """Refuse ``z^12`` (LaTeX shows z^1 2) and double superscripts ``a^b^c``."""
    for i, tok in enumerate(solid):
        if tok != ("ch", "^"):
            continue
        if i + 1 < len(solid) and solid[i + 1][0] == "num" and len(solid[i + 1][1]) > 1:
            raise LatexInputError(f"'^{solid[i + 1][1]}' is ambiguous (LaTeX shows only the "
                                  f"first digit raised): write ^{{{solid[i + 1][1]}}}")
        j = _skip_operand(solid, i + 1)
        if j < len(solid) and solid[j] == ("ch", "^"):
            raise LatexInputError("double superscript (a^b^c) is ambiguous: use braces")


def _refuse_ambiguous_bars(solid: list[Token]) -> None:
    """Refuse ``|`` that could open or close an absolute value (``|z|z|``, ``|z||z|``).

    A bar opens at depth 0 or after an operator; it closes before an operator
    or the end, or when too few bars are left for it to open.  Otherwise a bar
    between two operands inside an open ``|..|`` is a guess (and makes the
    grammar backtrack exponentially), so it is refused.
    """
    depth = 0
    for i, tok in enumerate(solid):
        if tok != ("ch", "|"):
            continue
        prev = solid[i - 1] if i else None
        nxt = solid[i + 1] if i + 1 < len(solid) else None
        if depth == 0 or prev is None or not _ends_operand(prev) or _opened_bar(solid, i - 1):
            depth += 1
            if depth > MAX_BRACE_DEPTH:
                raise ResourceLimitError(f"|..| nested more than {MAX_BRACE_DEPTH} deep")
        elif (nxt is None or not (_starts_operand(nxt) or nxt == ("ch", "|"))
              or solid[i + 1:].count(("ch", "|")) < depth + 1):   # too few bars left to open
            depth -= 1
        else:
            raise LatexInputError("ambiguous '|' (it could open or close an absolute "
                                  "value): add parentheses or \\cdot")


def _ends_operand(tok: Token) -> bool:
    k, v = tok
    return k in ("num", "ph") or (k == "ch" and (v.isalpha() or v in ")}]|")) or (
        k == "cmd" and v == "pi")


def _opened_bar(solid: list[Token], i: int) -> bool:
    """Whether the ``|`` at ``i`` (if any) is an opening bar: at the start or after an operator."""
    if i < 0 or solid[i] != ("ch", "|"):
        return False
    return i == 0 or not _ends_operand(solid[i - 1]) or _opened_bar(solid, i - 1)


def _brace_command_args(solid: list[Token]) -> list[Token]:
    """Give ``\\frac`` and ``\\sqrt`` braced arguments, as LaTeX does: ``\\frac12`` is 1/2."""
    out: list[Token] = []
    rest = list(solid)
    while rest:
        tok = rest.pop(0)
        out.append(tok)
        n_args = {("cmd", "frac"): 2, ("cmd", "sqrt"): 1}.get(tok, 0)
        if n_args == 1 and rest and rest[0] == ("ch", "["):
            end = _matching(rest, 0)
            out.extend(_brace_command_args(rest[:end + 1]))
            rest = rest[end + 1:]
        for _ in range(n_args):
            if not rest:
                raise LatexInputError(f"missing argument of \\{tok[1]}")
            if rest[0] == ("ch", "{"):
                end = _matching(rest, 0)
                out.extend([("ch", "{")] + _brace_command_args(rest[1:end]) + [("ch", "}")])
                rest = rest[end + 1:]
            elif rest[0][0] == "num" and len(rest[0][1]) > 1:    # \frac12: one digit each
                out.extend([("ch", "{"), ("num", rest[0][1][0]), ("ch", "}")])
                rest[0] = ("num", rest[0][1][1:])
            elif rest[0][0] == "num" or (rest[0][0] == "ch" and rest[0][1].isalpha()):
                out.extend([("ch", "{"), rest.pop(0), ("ch", "}")])
            else:
                raise LatexInputError("arguments of \\frac and \\sqrt must be braced, "
                                      "as in \\frac{1}{2}")
    return out


def _skip_operand(solid: list[Token], j: int) -> int:
    """Index just after one operand (number, letter, group, or command with its groups)."""
    if j >= len(solid):
        return j
    if solid[j] in (("ch", "("), ("ch", "{"), ("ch", "[")):
        return _matching(solid, j) + 1
    if solid[j][0] in ("cmd", "text"):
        is_function = solid[j][0] == "text" or solid[j][1] not in ("frac", "sqrt", "pi")
        j += 1
        if j < len(solid) and solid[j] == ("ch", "_"):          # \log_b
            j = _skip_operand(solid, j + 1)
        while j < len(solid) and solid[j] in (("ch", "{"), ("ch", "[")):
            j = _matching(solid, j) + 1
        if is_function and j < len(solid) and solid[j] == ("ch", "("):
            j = _matching(solid, j) + 1
        return j
    return j + 1


def _starts_operand(tok: Token) -> bool:
    k, v = tok
    return (k in ("num", "text", "env") or (k == "ch" and (v.isalpha() or v in "(["))
            or (k == "cmd" and v not in ("cdot", "times", "geq", "leq")))


_OPEN = {"(": ")", "{": "}", "[": "]"}


def _matching(solid: Sequence[Token], j: int) -> int:
    """Index of the bracket closing the one at ``j`` (all three kinds must nest properly)."""
    stack: list[str] = []
    for k in range(j, len(solid)):
        kind, v = solid[k]
        if kind != "ch":
            continue
        if v in _OPEN:
            stack.append(_OPEN[v])
        elif v in ")}]":
            if not stack or stack.pop() != v:
                raise LatexInputError(f"unbalanced brackets: unexpected {v!r}")
            if not stack:
                return k
    raise LatexInputError("unbalanced brackets: missing closing bracket")


def _check_balanced(solid: Sequence[Token]) -> None:
    """Refuse unbalanced ``( ) { } [ ]`` anywhere in the formula."""
    j = 0
    while j < len(solid):
        if solid[j][0] == "ch" and solid[j][1] in ")}]":
            raise LatexInputError(f"unbalanced brackets: unexpected {solid[j][1]!r}")
        opens = solid[j][0] == "ch" and solid[j][1] in _OPEN
        j = _matching(solid, j) + 1 if opens else j + 1


# ------------------------------------------------------------- the worker
_WORKER = WorkerHandle()
atexit.register(_WORKER.stop)


def warm_up() -> None:
    """Start the parse worker in the background so that the first parse is fast."""
    _WORKER.start(MEMORY_LIMIT_BYTES, TIME_LIMIT_SECONDS)


def shutdown_worker() -> None:
    """Stop the parse worker (a new one starts on the next parse)."""
    _WORKER.stop()


# ------------------------------------------------------------------ parsing
def parse_untrusted(kind: str, text: str) -> sympy.Expr:
    """Parse ``text`` in this process (the worker's entry point; no time limit here)."""
    if kind not in ("activation", "loss"):
        raise ValueError(f"unknown formula kind {kind!r}")
    precheck(text)
    tokens = _refuse_unsupported(_normalize(_tokenize(text)), kind)
    expr = _FormulaParser(kind).parse(tokens, "expr")
    return _check_result(expr, kind)


def _check_result(expr: sympy.Basic, kind: str) -> sympy.Expr:
    """Refuse results that are not finite real-valued expressions in the generated symbols."""
    if not isinstance(expr, sympy.Expr):
        raise LatexInputError("the formula is a condition, not an expression")
    if expr.has(S.ImaginaryUnit):
        raise LatexInputError(f"the formula is not real-valued: it simplifies to {expr}")
    if expr.has(S.ComplexInfinity, S.NaN, S.Infinity, S.NegativeInfinity):
        raise LatexInputError(f"the formula is undefined (division by zero?): {expr}")
    allowed = {_Z} if kind == "activation" else {_YHAT, _Y}
    assert expr.free_symbols <= allowed, expr.free_symbols   # guaranteed by _rebuild
    return expr


class _FormulaParser:
    """Turns a whitespace-free token list into a SymPy expression.

    ML function applications, ``\\hat{y}`` and ``cases`` are parsed here
    (their arguments recursively), and replaced by placeholder atoms
    ``\\variable{P<n>}`` before the remaining text goes to the grammar.
    Users cannot write ``\\variable``, so placeholders cannot be forged.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.symbols = {"z": _Z} if kind == "activation" else {"y": _Y}
        self.placeholders: dict[str, sympy.Basic] = {}

    def parse(self, tokens: list[Token], mode: str) -> sympy.Basic:
        """Parse a fragment; ``mode`` is ``"expr"`` or ``"cond"`` (comparisons allowed)."""
        if not tokens:
            raise LatexInputError("empty (sub)formula")
        tokens = self._replace_heads(tokens)
        self._refuse_leftovers(tokens, mode)
        raw = _grammar_parse(_join(tokens))
        _digit_bound(raw, self.placeholders)
        return self._rebuild(raw)

    # ---- heads
    def _placeholder(self, value: sympy.Basic) -> Token:
        name = f"P{len(self.placeholders)}"
        self.placeholders[name] = value
        return ("ph", name)

    def _replace_heads(self, tokens: list[Token]) -> list[Token]:
        """Replace ``\\sigma(..)``, ``\\max(..)``, ``\\operatorname{f}(..)``, ``\\hat{y}``, cases.

        Also puts ``\\cdot`` before ``(`` after a letter, number, ``\\pi`` or a
        superscript group, so the grammar cannot read ``z(1-z)`` as a call.
        """
        out: list[Token] = []
        in_script: list[bool] = []        # per open brace: a script of a function (\log_{2})?
        i = 0
        while i < len(tokens):
            k, v = tokens[i]
            if (k == "cmd" and v in ("sigma", "max", "min")) or k == "text":
                name = self._head_name(tokens[i])
                args, i = self._call_args(tokens, i + 1, name)
                out.append(self._placeholder(_apply(name, args)))
                continue
            if (k, v) == ("cmd", "hat"):
                i = self._hat_y(tokens, i + 1)
                out.append(self._placeholder(_YHAT))
                continue
            if k == "env":
                if v != ("begin", "cases"):
                    raise LatexInputError("\\end{cases} without \\begin{cases}")
                value, i = self._cases(tokens, i + 1)
                out.append(self._placeholder(value))
                continue
            out.append(tokens[i])
            if (k, v) == ("ch", "{"):
                in_script.append(_is_function_script(tokens, i))
            closes_group = (k, v) == ("ch", "}") and not (in_script and in_script.pop())
            if (i + 1 < len(tokens) and tokens[i + 1] == ("ch", "(")
                    and not _is_function_script(tokens, i)
                    and (closes_group or k == "num" or (k, v) == ("cmd", "pi")
                         or (k == "ch" and v.isalpha()))):
                out.append(("cmd", "cdot"))   # z(1-z), z^{2}(z), \pi(2): products, not calls
            i += 1
        return out

    @staticmethod
    def _head_name(tok: Token) -> str:
        """The ML_FUNCTIONS key a head token refers to; refuse unknown names."""
        k, v = tok
        if k == "cmd":
            return "sigmoid" if v == "sigma" else v
        cmd, word = v
        if word.lower() in _OTHERWISE or word.lower() in _IF_WORDS:
            raise LatexInputError(f"\\{cmd}{{{word}}} is only allowed in a cases condition")
        if not re.fullmatch(r"[A-Za-z]+", word) or word.lower() not in ML_FUNCTIONS:
            shown = word if re.fullmatch(r"[ -~]{0,30}", word) else word[:30] + "..."
            raise LatexInputError(f"unknown function \\{cmd}{{{shown}}}; supported: "
                                  + ", ".join(sorted(ML_FUNCTIONS)))
        return word.lower()

    def _call_args(self, tokens: list[Token], j: int, name: str) -> tuple[list, int]:
        """Parse ``( arg, ... )`` at ``j``; return the arguments and the index after ``)``."""
        if j >= len(tokens) or tokens[j] != ("ch", "("):
            shown = "\\sigma (the sigmoid)" if name == "sigmoid" else name
            raise LatexInputError(f"{shown} must be applied with parentheses, "
                                  f"as in {shown.split()[0]}(z)")
        end = _matching(tokens, j)
        pieces = _split_top(tokens[j + 1:end], ("ch", ","))
        lo, hi = (2, None) if name in _VARIADIC else (1, 1)
        if len(pieces) < lo or (hi is not None and len(pieces) > hi):
            wanted = "at least 2 arguments" if hi is None else "1 argument"
            raise LatexInputError(f"{name} takes {wanted}, got {len(pieces)}")
        return [self.parse(p, "expr") for p in pieces], end + 1

    def _hat_y(self, tokens: list[Token], j: int) -> int:
        """Accept ``\\hat{y}`` or ``\\hat y`` at ``j``; return the index after it."""
        if tokens[j:j + 3] == [("ch", "{"), ("ch", "y"), ("ch", "}")]:
            return j + 3
        if tokens[j:j + 1] == [("ch", "y")]:
            return j + 1
        raise LatexInputError(f"unknown symbol \\hat{{..}}: {_variable_hint(self.kind)}")

    # ---- cases
    def _cases(self, tokens: list[Token], j: int) -> tuple[sympy.Expr, int]:
        """Parse the body of ``\\begin{cases} .. \\end{cases}`` into a ``Piecewise``."""
        depth, end = 1, j
        while end < len(tokens) and depth:
            if tokens[end][0] == "env":
                depth += 1 if tokens[end][1][0] == "begin" else -1
            end += 1
        if depth:
            raise LatexInputError("\\begin{cases} without \\end{cases}")
        rows = [r for r in _split_top(tokens[j:end - 1], ("rowsep", "\\\\")) if r]
        if not rows:
            raise LatexInputError("empty cases environment")
        pairs = [self._case_row(row) for row in rows]
        return _piecewise(pairs), end

    def _case_row(self, row: list[Token]) -> tuple[sympy.Expr, sympy.Basic]:
        """One ``value & condition`` row; ``\\text{otherwise}`` is ``True``."""
        cells = _split_top(row, ("ch", "&"))
        if len(cells) != 2:
            raise LatexInputError("each row of cases needs the form 'value & condition'")
        value, cond = cells
        while value and value[-1] == ("ch", ","):
            value = value[:-1]
        while cond and cond[-1] in (("ch", ","), ("ch", ".")):
            cond = cond[:-1]
        while cond and cond[0][0] == "text" and cond[0][1][1].lower() in _IF_WORDS:
            cond = cond[1:]
        if len(cond) == 1 and cond[0][0] == "text" and cond[0][1][1].lower() in _OTHERWISE:
            return self.parse(value, "expr"), S.true
        condition = self.parse(cond, "cond")
        if not isinstance(condition, (sympy.core.relational.Relational, sympy.And,
                                      sympy.logic.boolalg.BooleanAtom)):
            raise LatexInputError("a cases condition must be a comparison such as z > 0 "
                                  "or \\text{otherwise}")
        return self.parse(value, "expr"), condition

    # ---- grammar and rebuild
    @staticmethod
    def _refuse_leftovers(tokens: list[Token], mode: str) -> None:
        """Refuse separators and comparisons outside the places that give them meaning."""
        for k, v in tokens:
            if (k, v) == ("ch", ","):
                raise LatexInputError("unexpected ',' (commas only separate function arguments)")
            if k == "rowsep" or (k, v) == ("ch", "&"):
                raise LatexInputError("'&' and '\\\\' are only allowed inside \\begin{cases}")
            comparison = (k == "ch" and v in "<>") or (k == "cmd" and v in ("leq", "geq"))
            if mode == "expr" and comparison:
                raise LatexInputError("comparisons are only allowed in cases conditions")

    def _rebuild(self, node: sympy.Basic) -> sympy.Basic:
        """Rebuild the grammar's unevaluated tree from whitelisted heads and our own symbols."""
        unknown = sorted({s.name for s in node.atoms(sympy.Symbol)}
                         - set(self.symbols) - set(self.placeholders))
        if unknown:
            names = [("\\hat{y}" if n == "hat{y}" else n) for n in unknown]
            more = f" (also {', '.join(names[1:])})" if len(names) > 1 else ""
            raise LatexInputError(f"unknown symbol {names[0]}{more}: {_variable_hint(self.kind)}")
        return self._rebuild_node(node)

    def _rebuild_node(self, node: sympy.Basic) -> sympy.Basic:
        if isinstance(node, sympy.Symbol):
            if node.name in self.placeholders:
                return self.placeholders[node.name]
            return self.symbols[node.name]
        if node is S.ImaginaryUnit:
            raise LatexInputError(f"unknown symbol I: {_variable_hint(self.kind)}")
        if node in (S.ComplexInfinity, S.NaN, S.Infinity, S.NegativeInfinity):
            raise LatexInputError("the formula is undefined or infinite (division by zero?)")
        if node.is_Number:
            if not node.is_finite:
                raise LatexInputError(f"the formula contains a non-finite number {node}")
            return node
        if node in (S.Pi, S.Exp1):
            return node
        if isinstance(node, sympy.And):
            return sympy.And(*(self._rebuild_node(a) for a in node.args))
        head = type(node)
        if head not in _ALLOWED_HEADS:
            what = ("a call of an undefined function" if isinstance(node, AppliedUndef)
                    else head.__name__)
            raise LatexInputError(f"unsupported construct in formula: {what}")
        return _evaluate(head, [self._rebuild_node(a) for a in node.args])


#: SymPy heads the grammar's output may contain (anything else is refused).
_ALLOWED_HEADS = frozenset({Add, Mul, Pow, exp, log, Abs, Max, Min, tanh, sinh, cosh, sin,
                            cos, tan, atan, sign, erf, StrictGreaterThan, GreaterThan,
                            StrictLessThan, LessThan})


def _is_function_script(tokens: list[Token], i: int) -> bool:
    """Whether ``tokens[i]`` starts a script of a function: ``\\log_{2}(``, ``\\sin^2(``."""
    if i == 0:
        return False
    if tokens[i - 1] == ("ch", "_"):
        return True
    return (tokens[i - 1] == ("ch", "^") and i > 1 and tokens[i - 2][0] == "cmd"
            and tokens[i - 2][1] not in ("pi", "frac", "sqrt"))


def _apply(name: str, args: list[sympy.Expr]) -> sympy.Expr:
    """Apply the ML function ``name`` to already parsed arguments."""
    for a in args:
        if not isinstance(a, sympy.Expr):
            raise LatexInputError(f"the argument of {name} must be an expression")
        if a.has(S.ImaginaryUnit):
            raise LatexInputError(f"the argument of {name} is not real-valued: {a}")
    return _evaluate(ML_FUNCTIONS[name], args)


def _evaluate(head: Callable[..., sympy.Basic], args: Iterable[sympy.Basic]) -> sympy.Basic:
    """``head(*args)``, turning SymPy's refusals (e.g. Max of non-real numbers) into ours."""
    try:
        return head(*args)
    except (ValueError, ArithmeticError) as exc:
        raise LatexInputError(f"cannot evaluate the formula: {exc}") from None


def _piecewise(pairs: list[tuple[sympy.Expr, sympy.Basic]]) -> sympy.Expr:
    """Build a Piecewise; refuse an ``otherwise`` row that is not last or incomplete cover."""
    conds = [c for _, c in pairs]
    if any(c is S.true for c in conds[:-1]):
        raise LatexInputError("the \\text{otherwise} row of cases must be the last one")
    if conds[-1] is not S.true and not _covers_reals(conds):
        raise LatexInputError("the cases do not provably cover every input: "
                              "end with a row 'value & \\text{otherwise}'")
    return Piecewise(*pairs)


def _covers_reals(conds: list[sympy.Basic]) -> bool:
    """Whether univariate conditions together hold for every real number."""
    union = sympy.Or(*conds)
    if union is S.true:
        return True
    if len(union.free_symbols) != 1:
        return False
    try:
        return union.as_set() == S.Reals
    except (NotImplementedError, TypeError, ValueError):
        return False


def _split_top(tokens: Sequence[Token], sep: Token) -> list[list[Token]]:
    """Split at ``sep`` tokens outside brackets and nested environments."""
    pieces: list[list[Token]] = [[]]
    depth = 0
    for tok in tokens:
        k, v = tok
        if (k == "ch" and v in _OPEN) or (k == "env" and v[0] == "begin"):
            depth += 1
        elif (k == "ch" and v in ")}]") or (k == "env" and v[0] == "end"):
            depth -= 1
        if tok == sep and depth == 0:
            pieces.append([])
        else:
            pieces[-1].append(tok)
    return pieces


def _join(tokens: Iterable[Token]) -> str:
    """Render tokens as text for the grammar; placeholders become ``\\variable{P<n>}``."""
    parts = []
    for k, v in tokens:
        if k == "cmd":
            parts.append(f"\\{v} ")
        elif k == "ph":
            parts.append(f"\\variable{{{v}}}")
        elif k == "num":
            parts.append(v)
        elif k == "ch":
            parts.append(v)
        else:  # text, env, rowsep, sym never reach here
            raise AssertionError(f"token {k} left for the grammar")
    return "".join(parts)


def _digit_bound(node: sympy.Basic, known: dict[str, sympy.Basic]) -> float | None:
    """Upper bound of the digits needed to write a numeric subtree exactly (None if symbolic).

    Run on the grammar's unevaluated tree, it refuses numbers with more than
    :data:`MAX_MAGNITUDE_DIGITS` digits before anything evaluates them (e.g.
    ``2^{2^{2^{2^{2^2}}}}`` or ``(\\frac{999999}{999998})^{10^{200}}``); ``known``
    gives the values of placeholders (parts already parsed and evaluated).
    """
    if isinstance(node, sympy.Symbol):
        value = known.get(node.name)
        return _digit_bound(value, {}) if value is not None and value.is_number else None
    if isinstance(node, sympy.Rational):
        digits = _digits(node.p) + _digits(node.q)
    elif not node.args:                           # pi, E
        digits = 1.0
    else:
        bounds = [_digit_bound(a, known) for a in node.args]
        if any(d is None for d in bounds):
            return None
        digits = _combine_digits(node, bounds)
    if digits > MAX_MAGNITUDE_DIGITS:
        raise ResourceLimitError("number too large in formula: a numeric subterm would "
                                 f"have more than {MAX_MAGNITUDE_DIGITS} digits")
    return digits


def _combine_digits(node: sympy.Basic, bounds: list[float]) -> float:
    """Digit bound of a numeric node from the bounds of its arguments."""
    if isinstance(node, Pow):                     # |exponent| < 10**digits
        base, expo = bounds
        return 10.0 ** min(expo, 400.0) * base
    if isinstance(node, exp):                     # e**x has about 0.43 x digits
        return 10.0 ** min(bounds[0], 400.0) * 0.4343
    if isinstance(node, (Add, Mul)):              # exact rationals: digits add up
        return sum(bounds)
    return max(bounds)


def _digits(n: int) -> float:
    """log10 of ``|n|`` (0 for 0 and 1); n has at most a few hundred digits here."""
    return math.log10(abs(n)) if abs(n) > 1 else 0.0


# ------------------------------------------------------------ the grammar
def _grammar_parse(text: str) -> sympy.Basic:
    """Run latex2sympy2_extended's ANTLR grammar; refuse anything it cannot read fully."""
    converter = _converter_class()(None, is_real=True, convert_degrees=False,
                                   config=_conversion_config())
    try:
        return converter.parse(text)
    except RecursionError:
        raise ResourceLimitError("formula nested too deeply to parse") from None
    except Exception as exc:  # the grammar signals every problem with bare Exception
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LatexInputError(f"cannot parse the LaTeX formula ({reason})") from None


@functools.lru_cache(maxsize=1)
def _conversion_config():
    from latex2sympy2_extended.latex2sympy2 import ConversionConfig
    return ConversionConfig(lowercase_symbols=False, interpret_as_mixed_fractions=False,
                            interpret_simple_eq_as_assignment=False,
                            interpret_contains_as_eq=False)


@functools.lru_cache(maxsize=1)
def _converter_class() -> type:
    """latex2sympy2_extended's converter, fixed in two places.

    * 1.11.0 ignores ``interpret_as_mixed_fractions=False``: ``2\\frac{1}{2}``
      becomes 5/2 and ``2(3)`` becomes 5.  Juxtaposition here is always a product.
    * The whole input must be consumed (checked on the token stream).
    * ``e^{..}`` is built unevaluated (the library's evaluation turned
      ``e^{\\log_2 z}`` into ``z``); our rebuild evaluates bottom-up.
    * Numbers are converted exactly (decimals become Rationals) without the
      library's ``sympy.Number(str)``, which would run ``sympify`` on input text.
    """
    from antlr4 import Token as AntlrToken
    from latex2sympy2_extended.latex2sympy2 import _Latex2Sympy

    class _Converter(_Latex2Sympy):
        def parse(self, latex_str: str):
            parser = self.create_parser(latex_str)
            math_ctx = parser.math()
            if parser.getCurrentToken().type != AntlrToken.EOF:
                raise Exception("trailing input that is not part of the formula")
            if math_ctx.set_relation():
                return self.convert_set_relation(math_ctx.set_relation())
            if math_ctx.set_elements():       # a single element is just the formula
                return self.convert_set_elements(math_ctx.set_elements())
            raise Exception("not a single formula")

        def parse_number(self, text: str):
            # The library calls sympy.Number(text), i.e. sympify on a string.
            if not re.fullmatch(r"\d+(\.\d+)?", text):
                raise Exception("unsupported number format")
            return sympy.Rational(text) if "." in text else sympy.Integer(int(text))

        def handle_exp(self, func):
            # The library evaluates exp(arg) here, and exp(log(x, 2)) with the
            # unevaluated two-argument log wrongly collapses to x.
            sup = func.supexpr()
            if sup is None:
                return sympy.E
            arg = self.convert_expr(sup.expr()) if sup.expr() else self.convert_atom(sup.atom())
            return sympy.exp(arg, evaluate=False)

        def convert_postfix_list(self, arr, i=0):
            res = self.convert_postfix(arr[i])
            if isinstance(res, list):
                raise Exception("derivatives are not supported")
            if i == len(arr) - 1:
                return res
            return self.mul_flat(res, self.convert_postfix_list(arr, i + 1))

    return _Converter
