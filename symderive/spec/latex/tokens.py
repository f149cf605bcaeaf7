"""Tokeniser and whitelist of LaTeX input: cheap size guards, tokens, refusal rules.

Nothing here parses: text is split into tokens, checked against the whitelist
and refused with a :class:`LatexInputError` when it is ambiguous or unsupported.
"""
from __future__ import annotations

import re
from typing import Sequence

from ...errors import LatexInputError, ResourceLimitError
from .conventions import (MAX_BRACE_DEPTH, MAX_CHARS, MAX_GROUP_DEPTH, MAX_LITERAL_DIGITS,
                          ML_FUNCTIONS)

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


