"""The grammar step: whitelisted tokens -> SymPy, node by node (runs in the worker process).

ML function applications, ``\\hat{y}``, ``\\max``/``\\min`` and ``cases`` are
parsed here; the rest goes to the ANTLR grammar of ``latex2sympy2_extended`` and
the result is rebuilt from a whitelist of SymPy heads.
"""
from __future__ import annotations

import functools
import math
import re
from typing import Callable, Iterable, Sequence

import sympy
from sympy import (Abs, Add, Max, Min, Mul, Piecewise, Pow, S, atan, cos, cosh, erf, exp, log, sign,
                   sin, sinh, tan, tanh)
from sympy.core.function import AppliedUndef
from sympy.core.relational import GreaterThan, LessThan, StrictGreaterThan, StrictLessThan

from ...errors import LatexInputError, ResourceLimitError


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
from .conventions import _VARIADIC, _Y, _YHAT, _Z, MAX_MAGNITUDE_DIGITS, ML_FUNCTIONS
from .tokens import (_IF_WORDS, _OPEN, _OTHERWISE, Token, _matching, _normalize,
                     _refuse_unsupported, _tokenize, _variable_hint, precheck)


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

