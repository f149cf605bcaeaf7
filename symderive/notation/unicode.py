"""The report's notation as Unicode text, for sites that render no MathJax (Stack Overflow).

:class:`UnicodePrinter` extends SymPy's pretty printer (``sympy.pretty(expr,
use_unicode=True)``) with what :class:`~.symbols.ReportLatexPrinter` knows: the
generated names (``W2_1_1`` → W⁽²⁾₁₁, ``d2_1_m`` → δ⁽²⁾ₘ, ``haty_1_1`` → ŷ₁),
σ and σ', ∂L/∂θ, L(θ), ∇L(θ), Pθ, and the reader's order of factors
((W⁽²⁾₁₁ − W⁽²⁾₁₂)⋅σ'(z)⋅(ŷ₁ − y₁)⋅xₖ).  The output may span several lines
(fractions, sums, matrices); :func:`pretty_inline` gives one line or None.
"""
from __future__ import annotations

import re

import sympy as sp
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.stringpict import prettyForm
from sympy.printing.str import StrPrinter

from ..spec.functions import relu, sigmoid, softplus
from ..spec.undefined import act, dact
from .printing import _NAME
from .symbols import BufferOf, GradOf, LossOf, QuantityOf, display_order, outact

_SUP = str.maketrans("0123456789()+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻")
_SUB = dict(zip("0123456789aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))
_HEADS = {"W": "W", "b": "b", "a": "a", "z": "z", "d": "δ", "x": "x", "y": "y", "haty": "ŷ",
          "m": "m"}
_MATRIX = re.compile(r"^(W|b)(\d+)$")
_GREEK = {"ell": "ℓ", "eta": "η", "theta": "θ", "delta": "δ", "mu": "μ", "lambda": "λ"}
_FUNCTIONS = {act: "σ", dact: "σ'", sigmoid: "σ", outact: "φ", relu: "ReLU",
              softplus: "softplus", LossOf: "L", GradOf: "∇L",
              QuantityOf: "Q", BufferOf: "ν"}


#: LaTeX commands of the report's own formulas and their Unicode (tex_text).
_TEX = {"sum": "Σ", "in": "∈", "notin": "∉", "partial": "∂", "sigma": "σ", "delta": "δ",
        "ell": "ℓ", "eta": "η", "theta": "θ", "lambda": "λ", "mu": "μ", "beta": "β",
        "epsilon": "ε", "varepsilon": "ε", "alpha": "α", "gamma": "γ", "pi": "π",
        "cdot": "⋅", "times": "×", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "ne": "≠",
        "neq": "≠", "to": "→", "mapsto": "↦", "infty": "∞", "ldots": "…", "dots": "…",
        "cdots": "⋯", "quad": " ", "qquad": "  ", "forall": "∀", "exists": "∃",
        "emptyset": "∅", "cup": "∪", "cap": "∩", "subseteq": "⊆", "approx": "≈",
        "prime": "′", "hat": "", "mathrm": "", "text": "", "operatorname": "", "left": "",
        "right": "", "bigl": "", "bigr": "", "Big": "", "big": "", "displaystyle": ""}
_TEX_COMMAND = re.compile(r"\\([A-Za-z]+)|\\([,;:! ])")
_FRAC = re.compile(r"\\frac\{([^{}]*)\}\{([^{}]*)\}")
_SCRIPT = re.compile(r"([_^])\{([^{}]*)\}|([_^])(\S)")
_SUP_ALL = dict(zip("0123456789()+-=nkmlijuv'", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻⁼ⁿᵏᵐˡⁱʲᵘᵛ′"))


def tex_text(tex: str) -> str:
    """A formula written in LaTeX, as Unicode text: commands by their symbols, scripts
    as Unicode sub- and superscripts where they exist, else ``_x``/``^x``; braces dropped.
    For the few formulas the report writes as LaTeX source rather than SymPy."""
    for _ in range(3):
        tex = _FRAC.sub(r"(\1)/(\2)", tex)
    text = _TEX_COMMAND.sub(lambda m: _TEX.get(m.group(1), m.group(1)) if m.group(1)
                            else " ", tex)
    for _ in range(3):                       # nested scripts: innermost first
        text = _SCRIPT.sub(_script, text)
    return text.replace("{", "").replace("}", "")


def _script(m: re.Match) -> str:
    kind, body = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    table = _SUP_ALL if kind == "^" else _SUB
    if body and all(c in table for c in body):
        return "".join(table[c] for c in body)
    return f"{kind}({body})" if len(body) > 1 else f"{kind}{body}"


def _sub(text: str) -> str:
    """Subscript characters when Unicode has them all, else ``_text``."""
    if all(c in _SUB for c in text):
        return "".join(_SUB[c] for c in text)
    return "_" + text


def _indices(*parts: str) -> str:
    sep = "," if any(len(p) > 1 for p in parts) else ""
    return _sub(sep.join(parts)) if not sep else _sub(parts[0]) + "," + _sub(parts[1])


class UnicodePrinter(PrettyPrinter):
    """SymPy's pretty printer in symderive's notation (see the module docstring)."""

    _default_settings = {**PrettyPrinter._default_settings, "use_unicode": True,
                         "samples": 1, "order": "none", "wrap_line": False}

    def __init__(self, settings=None):
        super().__init__(settings)
        self._samples = (settings or {}).get("samples", 1)

    def _print(self, expr, **kwargs):
        name = _FUNCTIONS.get(type(expr))
        if name is not None:
            return self._text(f"{name}({self._line(expr.args[0])})")
        return super()._print(expr, **kwargs)

    def _text(self, text: str) -> prettyForm:
        return prettyForm(text)

    def _line(self, expr) -> str:
        """``expr`` on one line (the argument of a function)."""
        form = self._print(expr)
        return str(form) if form.height() == 1 else sp.sstr(expr)

    def _print_Symbol(self, expr, bold_name=False):
        return self._text(self.name(expr.name))

    def name(self, name: str) -> str:
        if "\\" in name or "{" in name:      # a symbol that carries LaTeX (a report's formula)
            return tex_text(name)
        if name in _GREEK:
            return _GREEK[name]
        m = _MATRIX.match(name)
        if m:
            return f"{m.group(1)}{('(' + m.group(2) + ')').translate(_SUP)}"
        m = _NAME.match(name)
        if not m:
            return name
        head, layer, a, b = m.groups()
        sup = f"({layer})".translate(_SUP) if layer else ""
        if head == "W":
            return f"W{sup}{_indices(a, b)}"
        if head == "b":
            return f"b{sup}{_sub(a)}"
        sample = f"[{a}]" if self._samples > 1 else ""
        if head == "p":
            return f"softmax(ŷ{sample}){_sub(b)}"
        return f"{_HEADS[head]}{sup}{_sub(b)}{sample}"

    def _print_MatrixSymbol(self, expr):
        return self._text(self.name(expr.name))

    def _print_Heaviside(self, expr):
        return self._text(f"H({self._line(expr.args[0])})")

    def _print_Derivative(self, expr):
        if expr.expr.is_Symbol and len(expr.variables) == 1:
            return self._text(f"∂{self._line(expr.expr)}/∂{self._line(expr.variables[0])}")
        return super()._print_Derivative(expr)

    def _print_Swap(self, expr):
        inner = self._line(expr.args[0])
        return self._text(f"P({inner})" if expr.args[0].is_Add else f"P{inner}")

    def _print_Step(self, expr):
        return self._text("θₜ" if expr._offset == 0 else f"θₜ₊{_sub(str(expr._offset))}")

    def _print_IndexRange(self, expr):
        index, upper = expr.args
        values = [str(v) for v in range(1, int(upper) + 1)] if upper <= 3 \
            else ["1", "…", str(upper)]
        return self._text(f"{self._line(index)} = " + ", ".join(values))

    def _print_Float(self, expr):
        """As the LaTeX report writes it: -0.5, not -0.500."""
        return self._text(sp.latex(expr))

    def _print_Pow(self, power):
        if power.base.is_Integer and power.exp.is_Integer:    # 10⁻⁹, kept unevaluated
            return self._text(f"{power.base}{str(power.exp).translate(_SUP)}")
        return super()._print_Pow(power)

    def _print_Dots(self, expr):
        return self._text("…")

    def _print_Mul(self, product):
        factors = sp.Mul.make_args(product)
        if any(f.is_Pow and f.exp.is_negative for f in factors) or product.could_extract_minus_sign():
            return super()._print_Mul(product)
        coeff, rest = product.as_coeff_Mul()
        ordered = display_order(sp.Mul.make_args(rest))
        args = ([] if coeff == 1 else [coeff]) + ordered
        if len(args) == 1:
            return self._print(args[0])
        return super()._print_Mul(sp.Mul(*args, evaluate=False))

    def _print_Add(self, expr, order=None):
        terms = list(expr.args)
        positive = [t for t in terms if not t.could_extract_minus_sign()]
        negative = [t for t in terms if t.could_extract_minus_sign()]
        if not positive:
            return super()._print_Add(expr, order=order)
        return super()._print_Add(sp.Add(*(positive + negative), evaluate=False), order="none")


def pretty(expr: sp.Basic, samples: int = 1) -> str:
    """``expr`` as Unicode text, possibly over several lines."""
    return UnicodePrinter({"samples": samples}).doprint(expr)


def pretty_inline(expr: sp.Basic, samples: int = 1) -> str | None:
    """``expr`` on one line, or None when it needs several (fractions, sums, matrices)."""
    text = pretty(expr, samples)
    return None if "\n" in text else text


__all__ = ["UnicodePrinter", "pretty", "pretty_inline"]


class LinearPrinter(StrPrinter):
    """One line of Unicode text for any expression (inline math in prose and tables)."""

    def __init__(self, settings=None):
        super().__init__({k: v for k, v in (settings or {}).items() if k != "samples"})
        self._names = UnicodePrinter(settings)

    def _print(self, expr, **kwargs):
        name = _FUNCTIONS.get(type(expr))
        if name is not None:
            return f"{name}({self._print(expr.args[0])})"
        return super()._print(expr, **kwargs)

    def _print_Symbol(self, expr):
        return self._names.name(expr.name)

    _print_MatrixSymbol = _print_Symbol

    def _print_Mul(self, expr):
        return str(self._names._print_Mul(expr)) if "\n" not in str(
            self._names._print_Mul(expr)) else super()._print_Mul(expr).replace("*", "⋅")

    def _print_Derivative(self, expr):
        return f"∂{self._print(expr.expr)}/∂{self._print(expr.variables[0])}"

    def _print_Sum(self, expr):
        out = self._print(expr.function)
        for i, low, high in expr.limits:
            out = f"Σ_{{{self._print(i)}={self._print(low)}..{self._print(high)}}} ({out})"
        return out

    def _print_Pow(self, expr, rational=False):
        return super()._print_Pow(expr, rational).replace("**", "^")


def linear(expr: sp.Basic, samples: int = 1) -> str:
    """``expr`` on one line: the pretty form when it has one line, else a linear form."""
    return pretty_inline(expr, samples) or LinearPrinter({"samples": samples}).doprint(expr)


__all__ += ["LinearPrinter", "linear"]
