"""Report sections for generic mode's assumptions and for ``[[fact]]`` derivations.

A hook of :mod:`symderive.report.builder`: :func:`extra_sections` gives the
blocks to append after the hypothesis sections.  Each fact becomes a section
with its summary, a theorem holding its statements (one equation each, with
the claim in words), the assumptions, and the witness's figures.
"""
from __future__ import annotations

import math
import re

import sympy as sp

from ..notation import number
from .model import (Alert, Block, Equation, Items, Math, Plot, Section, Series, Strong, Table,
                    Text, Theorem, inline, para)
from .numeric import thin

#: Witness entries shown in the report; parameters, inputs and targets stay in the JSON.
_BULKY = ("parameters", "inputs", "targets")


def extra_sections(derivation) -> list[Block]:
    """The generic-mode assumptions (if any) and one section per fact."""
    out: list[Block] = []
    generic = generic_section(derivation.results)
    if generic is not None:
        out.append(generic)
    out += [fact_section(k, f) for k, f in enumerate(getattr(derivation, "facts", ()), start=1)]
    return out


def generic_section(results) -> Section | None:
    """What the proofs of a generic network assumed, hypothesis by hypothesis."""
    rows = [(k, r) for k, r in enumerate(results, start=1) if getattr(r, "assumptions", ())]
    if not rows:
        return None
    body: list[Block] = [para(
        "The activation or the loss of this network is an undefined function, so every "
        "equality proved above holds for every differentiable choice of it, every width "
        "and every downstream architecture. Exactly this was assumed:")]
    for k, r in rows:
        body.append(para(Strong(f"H{k} ({r.hypothesis.name}):")))
        body.append(Items(tuple(inline(a) for a in r.assumptions)))
    return Section("Generic mode: what was assumed", tuple(body), label="sec:generic")


def fact_section(k: int, result) -> Section:
    """Section F{k}: summary, theorem with the statements, assumptions, witness."""
    body: list[Block] = [para(Strong(f"Verdict: {result.verdict}."), " " + result.summary)]
    theorem: list[Block] = []
    for s in result.statements:
        theorem.append(para(f"{s.claim[:1].upper()}{s.claim[1:]} ({s.status}):"))
        theorem.append(Equation((sp.Eq(s.lhs, s.rhs, evaluate=False),)))
    if theorem:
        body.append(Theorem(tuple(theorem), name=result.fact.name, label=f"thm:f{k}"))
    for words, lhs, rhs in getattr(result, "computed", ()):
        body.append(para(f"{words[:1].upper()}{words[1:]} (computed numbers, not proved):"))
        body.append(Equation((sp.Eq(lhs, rhs, evaluate=False),)))
    if result.assumptions:
        body.append(para("Assumed:"))
        body.append(Items(tuple(inline(a) for a in result.assumptions)))
    if result.witness:
        body.append(para("Witness (concrete values; the full point is in the JSON report):"))
        body.append(Items(tuple(inline(f"{key}: {_short(v)}") for key, v in result.witness.items()
                                if key not in _BULKY)))
    body += numeric_blocks(getattr(result, "numeric", None))
    return Section(f"Fact F{k}: {result.fact.name}", tuple(body), label=f"sec:f{k}")


def numeric_blocks(check) -> list[Block]:
    """The fact's NumPy check: what was computed, its figures, and a loud alert on disagreement."""
    if check is None:
        return []
    out: list[Block] = []
    if check.problems:
        out.append(Alert("The numeric check contradicts this fact",
                         (para("Do not trust the verdict above until this is resolved:"),
                          Items(tuple(inline(p) for p in check.problems)))))
    out.append(para(Strong("Numeric check"), " (NumPy, independent of the symbolic "
                    "derivation; numbers can only contradict a proof): " + check.method))
    out.append(Items(tuple(with_tolerance(line) for line in check.lines)
                     + (inline("agrees with the verdict: " + ("yes" if check.agreement
                                                                else "NO")),)))
    plot = _plot(dict(check.figures).get("plot"))
    return out + ([plot] if plot is not None else [])


#: Steps shown in the table that stands for a fact's plot.
_TABLE_STEPS = 5


def _plot(plot) -> Plot | None:
    """A check's curves ``{"series": [(name, values after 0, 1, ... steps)], "ylabel",
    "caption"}``, on a linear scale, with a table of a few steps standing for it."""
    if not plot or not plot.get("series"):
        return None
    series = plot["series"]
    curves = tuple(Series(name, tuple((float(s), float(v)) for s, v in thin(list(values))))
                   for name, values in series)
    longest = max(len(values) for _, values in series)
    steps = sorted({round(k * (longest - 1) / (_TABLE_STEPS - 1)) for k in range(_TABLE_STEPS)})
    rows = tuple((inline(name),) + tuple((Text(f"{values[s]:.6g}" if s < len(values)
                                               else "n/a"),) for s in steps)
                 for name, values in series)
    table = Table(("after step", *(str(s) for s in steps)), rows, inline(plot["caption"]))
    return Plot(curves, "step", plot["ylabel"], inline(plot["caption"]), table, log_y=False)


#: How the facts' checks word their tolerance: |a − n| ≤ ATOL + RTOL|n| (a: analytic, n: numeric).
_TOLERANCE = re.compile(r"\|a − n\| ≤ ([0-9.e+-]+) \+ ([0-9.e+-]+)\|n\|")


def with_tolerance(line: str) -> tuple:
    """A line of a numeric check with its tolerance typeset as math, not as text."""
    match = _TOLERANCE.search(line)
    if match is None:
        return inline(line)
    a, n = sp.Symbol("a"), sp.Symbol("n")
    atol, rtol = (_constant(float(x)) for x in match.groups())
    bound = sp.Le(sp.Abs(a - n), sp.Add(atol, sp.Mul(rtol, sp.Abs(n), evaluate=False),
                                        evaluate=False), evaluate=False)
    return inline(line[:match.start()], Math(bound), line[match.end():])


def _constant(value: float) -> sp.Basic:
    """10^k for a power of ten (1e-05 reads as 10^{-5}), else the number."""
    exponent = round(math.log10(value)) if value > 0 else None
    if exponent is not None and value == 10.0 ** exponent:
        return sp.Pow(10, exponent, evaluate=False)
    return number(value)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return "; ".join(f"{k} = {_short(v)}" for k, v in value.items())
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value[:8]) + (", ..." if len(value) > 8 else "") + "]"
    return str(value)


__all__ = ["extra_sections", "generic_section", "fact_section", "numeric_blocks", "with_tolerance"]
