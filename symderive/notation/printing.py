"""LaTeX notation for symderive's generated symbols, via SymPy's LatexPrinter.

Symbols are named by :mod:`symderive.network` (``W1_2_1``, ``d2_1_1`` ...);
this printer shows them as lecture notes do: W^{(1)}_{21}, δ^{(2)}_{1}, ŷ_1.
With more than one sample the sample index is shown as a superscript [n].
"""
from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter

_NAME = re.compile(r"^(W|b|a|z|d|x|y|haty|p|m)(\d*)_(\d+|[a-z])(?:_(\d+|[a-z]))?$")
_HEADS = {"W": "W", "b": "b", "a": "a", "z": "z", "d": r"\delta", "x": "x", "y": "y",
          "haty": r"\hat{y}", "p": r"\operatorname{softmax}(\hat{y})", "m": "m"}


def _indices(*parts: str) -> str:
    return ("," if any(len(p) > 1 for p in parts) else "").join(parts)


class SymderiveLatexPrinter(LatexPrinter):
    """LatexPrinter that knows symderive's parameter and activation names."""

    _default_settings = {**LatexPrinter._default_settings, "samples": 1}

    def _print_Symbol(self, expr, style="plain"):
        m = _NAME.match(expr.name)
        if not m:
            return super()._print_Symbol(expr, style)
        head, layer, a, b = m.groups()
        tex = _HEADS[head]
        if head == "W":
            return rf"{tex}^{{({layer})}}_{{{_indices(a, b)}}}"
        if head == "b":
            return rf"{tex}^{{({layer})}}_{{{a}}}"
        # Per-sample quantities: name_sample_index or name{layer}_sample_index.
        sample, index = a, b
        sup = [f"({layer})"] if layer else []
        if self._settings["samples"] > 1:
            sup.append(f"[{sample}]")
        sup_tex = f"^{{{''.join(sup)}}}" if sup else ""
        if head == "p":
            return rf"\operatorname{{softmax}}(\hat{{y}}{sup_tex})_{{{index}}}"
        return rf"{tex}{sup_tex}_{{{index}}}"

    def _print_Heaviside(self, expr, exp=None):
        tex = rf"H\left({self._print(expr.args[0])}\right)"
        return tex if exp is None else rf"{tex}^{{{exp}}}"


def latex(expr: sp.Basic, samples: int = 1, **settings) -> str:
    """LaTeX for ``expr`` in symderive's notation."""
    return SymderiveLatexPrinter({"samples": samples, **settings}).doprint(expr)
