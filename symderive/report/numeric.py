"""The numeric cross-check as a table, a plot of the gaps, and a loud warning on disagreement.

Reads each hypothesis's cross-check through its JSON form (``to_json()``, or
a dict), so that the report depends only on the documented shape:
``{"gradient_check": {...}, "training": {"gaps": [...], ...}, "agreement": bool,
"problems": [...]}``.
"""
from __future__ import annotations

import math
from typing import Any

import sympy as sp

from ..notation import number
from .model import (Alert, Block, Inline, Items, Math, Plot, Section, Series, Table, Text, inline,
                    para)

#: Gaps below this (exact zeros included) are drawn at it: a log axis has no 0.
FLOOR = 1e-18
#: At most this many points per curve.
MAX_POINTS = 200
#: The steps shown in the Markdown table that stands in for the plot.
TABLE_STEPS = (0, 1, 10, 100, 1000, 10000)


def as_json(numeric: Any) -> dict[str, Any] | None:
    """A cross-check result as its JSON dict (or None when it was not run)."""
    if numeric is None:
        return None
    if hasattr(numeric, "to_json"):
        return numeric.to_json()
    return numeric if isinstance(numeric, dict) else None


def numeric_section(results, numerics) -> Section | None:
    """The cross-check section, or None when no hypothesis has one."""
    data = [as_json(x) for x in numerics] if numerics else []
    if not any(data):
        return None
    body: list[Block] = [para(
        "Independently of the proofs above, symderive checks the symbolic gradients "
        "against finite differences at random points, and trains the network from a "
        "random start that satisfies each hypothesis, recording the gap between the two "
        "units' assumed parameters after every step. Numbers never prove an equality; "
        "they can only contradict a proof.")]
    body += _alerts(data)
    body.append(_summary(results, data))
    notes = tuple(inline(f"H{k}: {note}") for k, d in enumerate(data, start=1) if d
                  for note in d.get("notes") or [])
    if notes:
        body.append(Items(notes))
    plot = _plot(data)
    if plot is not None:
        body.append(plot)
    return Section("Numeric cross-check", tuple(body), label="sec:numeric")


def numeric_alerts(numerics) -> list[Block]:
    """The loud warning when a cross-check contradicts a symbolic result, else nothing."""
    return _alerts([as_json(x) for x in numerics] if numerics else [])


def _alerts(data) -> list[Block]:
    bad = [(k, d) for k, d in enumerate(data, start=1) if d and d.get("agreement") is False]
    if not bad:
        return []
    items = tuple(inline(f"H{k}: " + ("; ".join(map(str, d.get("problems") or []))
                                      or "the numbers contradict the symbolic result"))
                  for k, d in bad)
    return [Alert("The numeric cross-check disagrees with the symbolic results",
                  (para("Do not trust the conclusions below until this is resolved:"),
                   Items(items)))]


def _cell(value: Any) -> tuple[Inline, ...]:
    if isinstance(value, bool):
        return (Text("yes" if value else "NO"),)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return (Math(number(value, 3)),)
    return (Text("n/a" if value is None else str(value)),)


def _bound(value: Any) -> tuple[Inline, ...]:
    """An error as the power of ten above it: rounding noise should not change the report."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return _cell(value)
    if value == 0:
        return (Math(sp.Integer(0)),)
    exponent = math.ceil(math.log10(value))
    return (Text("below "), Math(sp.Pow(10, exponent, evaluate=False)))


def _gradient_check(grad: dict) -> tuple[Inline, ...]:
    """'passed, error below 10^{-9}' (or 'FAILED, ...')."""
    word = {True: "passed", False: "FAILED"}.get(grad.get("passed"), "n/a")
    error = grad.get("max_abs_error")
    if not isinstance(error, (int, float)) or not math.isfinite(error):
        return (Text(word),)
    return (Text(f"{word}, error "),) + _bound(error)


def _first_step(train: dict) -> tuple[Inline, ...]:
    step = train.get("first_step_over_1e-8")
    return (Text("never"),) if step is None and "gaps" in train else _cell(step)


def _summary(results, data) -> Table:
    rows = []
    for k, (r, d) in enumerate(zip(results, data), start=1):
        if not d:
            rows.append((inline(f"H{k}"), inline(r.verdict)) + ((Text("not run"),),) * 4)
            continue
        grad, train = d.get("gradient_check") or {}, d.get("training") or {}
        rows.append((inline(f"H{k}"), inline(r.verdict), _gradient_check(grad),
                     _cell(train.get("max_gap")), _first_step(train),
                     _cell(d.get("agreement"))))
    header = ("", "verdict", "gradient check", "largest gap", "first step > 1e-8", "agrees")
    caption = inline("Cross-check per hypothesis: the symbolic gradient against finite "
                     "differences (the largest absolute error, as the power of ten above it), "
                     "and the largest gap between the two units' assumed parameters during "
                     "training.")
    return Table(header, tuple(rows), caption, label="tab:numeric")


def thin(values: list[float], limit: int = MAX_POINTS) -> list[tuple[int, float]]:
    """At most ``limit`` (step, value) points, evenly spread, first and last kept."""
    n = len(values)
    if n <= limit:
        return list(enumerate(values))
    steps = sorted({round(k * (n - 1) / (limit - 1)) for k in range(limit)})
    return [(s, values[s]) for s in steps]


def _plot(data) -> Plot | None:
    series = []
    for k, d in enumerate(data, start=1):
        gaps = ((d or {}).get("training") or {}).get("gaps")
        if gaps:
            points = tuple((float(s), max(float(v), FLOOR)) for s, v in thin(list(gaps)))
            series.append(Series(f"H{k}", points))
    if not series:
        return None
    caption = inline("Gap between the two units' assumed parameters over the training steps, "
                     "per hypothesis (log scale). Gaps below ", Math(number(FLOOR)),
                     ", exact zeros included, are drawn at ", Math(number(FLOOR)), ".")
    return Plot(tuple(series), "step", "gap", caption, _gap_table(data), label="fig:gaps")


def _gap_table(data) -> Table:
    """The plot as a table: the gap at a few steps, per hypothesis."""
    longest = max(len(((d or {}).get("training") or {}).get("gaps") or []) for d in data)
    steps = [s for s in TABLE_STEPS if s < longest] + [longest - 1]
    steps = sorted(set(steps))
    rows = []
    for k, d in enumerate(data, start=1):
        gaps = ((d or {}).get("training") or {}).get("gaps") or []
        cells = tuple(_cell(float(gaps[s])) if s < len(gaps) else (Text("n/a"),) for s in steps)
        rows.append((inline(f"H{k}"),) + cells)
    header = ("gap after step", *(str(s) for s in steps))
    return Table(header, tuple(rows), inline("Gap between the two units' assumed parameters "
                                              "after selected training steps."))


__all__ = ["numeric_section", "numeric_alerts", "thin", "as_json", "FLOOR", "MAX_POINTS"]
