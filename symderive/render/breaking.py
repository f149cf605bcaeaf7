"""Long formulas broken over lines, so that no display runs off the page.

:func:`tex_lines` prints a formula with :mod:`symderive.notation`; when it
would be wider than a budget (estimated by :func:`width`, in characters of
math), it breaks the formula at the + and − signs of its widest sum:

    c \\Bigl( t_1 + t_2          (first line)
    + t_3 \\Bigr) d              (continuation lines, indented by the renderer)

``\\Bigl``/``\\Bigr`` (unlike ``\\left``/``\\right``) may sit on different lines
of an ``align`` or ``aligned`` environment.  The pieces are printed by the
printer; only the joining happens here.
"""
from __future__ import annotations

import re

import sympy as sp

from ..notation import ReportLatexPrinter

#: Characters of math (as :func:`width` counts them) on a line of display math, left
#: side, right side and note together: ~6.5pt per character at 11pt fills the article's
#: 455pt; a fragment must also fit the 345pt of a default 10pt article (~5.5pt each).
LINE = 68
FRAGMENT_LINE = 60
#: The default budget of one formula on a line of its own.
BUDGET = LINE - 8
_FENCES = re.compile(r"\\(left|right|Bigl|Bigr)(?![A-Za-z])")
_COMMAND = re.compile(r"\\[A-Za-z]+")


def width(tex: str) -> float:
    """Roughly how many characters wide ``tex`` typesets (sub/superscripts count 0.6)."""
    return _width(_FENCES.sub("", tex))


def _width(tex: str) -> float:
    total, k, last_script = 0.0, 0, None
    while k < len(tex):
        c = tex[k]
        if tex.startswith(r"\frac{", k):
            num_end = _group_end(tex, k + 5)
            den_end = _group_end(tex, num_end + 1)
            total += max(_width(tex[k + 6:num_end]), _width(tex[num_end + 2:den_end])) + 0.4
            k, last_script = den_end + 1, None
            continue
        if c in "_^":
            end = _group_end(tex, k + 1) if tex[k + 1:k + 2] == "{" else k + 1
            script = 0.6 * _width(tex[k + 1:end + 1].strip("{}"))
            if last_script is not None:       # x^{a}_{b} and Σ's limits: they stack
                total += max(0.0, script - last_script)
                script = max(script, last_script)
                last_script = None
            else:
                total += script
                last_script = script
            k = end + 1
            continue
        last_script = None
        if c == "\\":
            m = _COMMAND.match(tex, k)
            name = m.group()[1:] if m else ""
            total += _COMMAND_WIDTH.get(name, 1.0)
            k = m.end() if m else k + 2
            if name == "sum":                 # limits sit under and over the Σ
                last_script = _COMMAND_WIDTH["sum"]
        else:
            total += _CHAR_WIDTH.get(c, 1.35 if c.isupper() else 1.0)
            k += 1
    return total


#: Widths (in characters) of commands and characters that are not one character wide.
_COMMAND_WIDTH = {"hat": 0.0, "operatorname": 0.0, "text": 0.0, "sum": 1.6, "log": 3.0,
                  "tanh": 4.0, "exp": 3.0, "qquad": 3.0, "quad": 1.5, "dots": 2.0,
                  "nabla": 1.2, "partial": 1.0}
_CHAR_WIDTH = {"{": 0.0, "}": 0.0, " ": 0.0, "&": 0.0, "+": 2.2, "-": 2.2, "=": 2.4,
               ",": 0.6, "'": 0.4, "(": 1.0, ")": 1.0}


def note_width(note: str | None) -> float:
    """The room a note ``&& \\text{(note)}`` takes: text is narrower than math, plus the gap."""
    return 0.0 if not note else 0.85 * (len(note) + 2) + 3


def _group_end(tex: str, start: int) -> int:
    """Index of the brace closing the group opened at ``tex[start]``."""
    depth = 0
    for k in range(start, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[k], 0)
        if depth == 0:
            return k
    return len(tex) - 1


def tex_lines(expr: sp.Basic, samples: int = 1, budget: float = BUDGET) -> list[str]:
    """``expr`` as LaTeX lines, each at most about ``budget`` characters wide if possible."""
    printer = ReportLatexPrinter({"samples": samples})
    whole = printer.doprint(expr)
    if width(whole) <= budget:
        return [whole]
    if expr.could_extract_minus_sign() and (-expr).is_Mul:
        lines = tex_lines(-expr, samples, budget - 2)
        return [f"- {lines[0]}", *lines[1:]]
    if expr.is_Add:
        return _break_sum(printer, expr, budget)
    if expr.is_Mul:
        return _break_product(printer, expr, samples, budget)
    if isinstance(expr, sp.Sum):
        return _break_sigma(printer, expr, samples, budget)
    return [whole]


def _signed_terms(printer: ReportLatexPrinter, expr: sp.Add) -> list[str]:
    out = []
    for k, term in enumerate(printer.ordered_terms(expr)):
        sign = "- " if term.could_extract_minus_sign() else ("+ " if k else "")
        body = -term if term.could_extract_minus_sign() else term
        text = printer._print(body)
        out.append(sign + (rf"\left({text}\right)" if body.is_Add else text))
    return out


def _break_sum(printer: ReportLatexPrinter, expr: sp.Add, budget: float) -> list[str]:
    """Terms packed greedily into lines."""
    lines: list[str] = []
    for term in _signed_terms(printer, expr):
        if lines and width(lines[-1] + term) <= budget:
            lines[-1] += " " + term
        else:
            lines.append(term)
    return lines


def _break_product(printer: ReportLatexPrinter, expr: sp.Mul, samples: int,
                   budget: float) -> list[str]:
    """The product's widest sum (or Σ) broken over lines; the other factors around it."""
    parts = printer.product_parts(expr)
    wide = [k for k, (f, _) in enumerate(parts) if f.is_Add or isinstance(f, sp.Sum)]
    if not wide:
        return [printer.doprint(expr)]
    widest = max(wide, key=lambda k: width(parts[k][1]))
    before = " ".join(t for _, t in parts[:widest])
    after = " ".join(t for _, t in parts[widest + 1:])
    factor = parts[widest][0]
    rest = budget - width(before) - width(after)
    if factor.is_Add:
        lines = _break_sum(printer, factor, rest - 4)
        lines[0], lines[-1] = r"\Bigl(" + lines[0], lines[-1] + r" \Bigr)"
    else:
        lines = tex_lines(factor, samples, rest)
    lines[0] = f"{before} {lines[0]}".strip()
    lines[-1] = f"{lines[-1]} {after}".strip()
    return lines


def _break_sigma(printer: ReportLatexPrinter, expr: sp.Sum, samples: int,
                 budget: float) -> list[str]:
    """Σ_n f with f broken over lines (inside \\Bigl( \\Bigr) when f is a sum)."""
    (index, low, high), outer = expr.limits[-1], expr.limits[:-1]
    body = sp.Sum(expr.function, *outer) if outer else expr.function
    sigma = rf"\sum_{{{printer._print(index)}={printer._print(low)}}}^{{{printer._print(high)}}}"
    if body.is_Add:
        lines = _break_sum(printer, body, budget - width(sigma) - 4)
        lines[0], lines[-1] = r"\Bigl(" + lines[0], lines[-1] + r" \Bigr)"
    else:
        lines = tex_lines(body, samples, budget - width(sigma))
    lines[0] = f"{sigma} {lines[0]}"
    return lines


__all__ = ["tex_lines", "width", "note_width", "LINE", "FRAGMENT_LINE", "BUDGET"]
