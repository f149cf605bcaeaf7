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
    plot = _plot(data)         # a plot, or the words that every gap is exactly 0
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


def gap_plot(numerics) -> Block | None:
    """The gaps over the training steps as a plot (None when no hypothesis was trained).
    A curve that is exactly 0 at every step is said in words, not drawn: a log axis has
    no 0, and drawn at a floor such curves would lie on top of each other."""
    return _plot([as_json(x) for x in numerics] if numerics else [])


def _plot(data) -> Block | None:
    series, zero, clamped, dropped = [], [], False, False
    for k, d in enumerate(data, start=1):
        gaps = [float(v) for v in ((d or {}).get("training") or {}).get("gaps") or ()]
        if not gaps:
            continue
        if all(v == 0.0 for v in gaps):
            zero.append(f"H{k}")
            continue
        points = tuple((float(s), max(v, FLOOR)) for s, v in thin(gaps) if v != 0.0)
        clamped = clamped or any(0.0 < v < FLOOR for _, v in thin(gaps))
        dropped = dropped or any(v == 0.0 for _, v in thin(gaps))
        series.append(Series(f"H{k}", points))
    words = _zero_words(zero)
    if not series:
        return para(words) if words else None
    caption: list = ["Gap between the two units' assumed parameters over the training steps, "
                     "per hypothesis (log scale)."]
    caption += [" " + words] if words else []
    caption += [" Steps where a gap is exactly 0 are left out (a log axis has no 0)."] \
        if dropped else []
    caption += [" Gaps below ", Math(number(FLOOR)), " are drawn at ", Math(number(FLOOR)),
                "."] if clamped else []
    return Plot(tuple(series), "step", "gap", inline(*caption), _gap_table(data),
                label="fig:gaps")


def _zero_words(labels: list[str]) -> str:
    if not labels:
        return ""
    from .proofs import joined

    whose = "its gap is" if len(labels) == 1 else "their gaps are"
    return (f"{joined(labels)} {'is' if len(labels) == 1 else 'are'} not drawn: {whose} "
            "exactly 0 at every step.")


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


__all__ = ["numeric_section", "numeric_alerts", "gap_plot", "thin", "as_json", "FLOOR", "MAX_POINTS"]
