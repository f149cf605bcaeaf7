"""The asker's numbers as tables: parameters and loss at each step, and the first gradient,
so that a hand computation can be checked line by line."""
from __future__ import annotations

from fractions import Fraction

import sympy as sp

from ..engine.network import bias, weight
from .model import Block, Math, Table, inline, para

#: Steps per table (columns), and parameter rows shown at most.
STEPS_PER_TABLE, MAX_ROWS = 4, 40


def trajectory_blocks(spec, trajectory, tables: int | None = None) -> list[Block]:
    """Tables of the trajectory, or nothing when there is none; ``tables``: at most this
    many tables of steps and no gradient table (the brief answer shows the first)."""
    if trajectory is None or not trajectory.steps:
        return []
    steps = trajectory.steps
    opt = {"sgd": "plain gradient descent", "momentum": "gradient descent with momentum 0.9",
           "adam": "Adam"}[spec.check.optimizer]
    out: list[Block] = [para(
        f"The first steps of {opt} with learning rate {spec.check.learning_rate:g}, exactly as "
        f"given, on the data ({trajectory.arithmetic}"
        + (": every number below is exact" if trajectory.exact else "") + "). The loss is "
        "the sum over samples, without 1/N. The column of step t shows the parameters after t "
        "updates and the loss there.")]
    if trajectory.diverged:
        out.append(para("The values became infinite or undefined after step "
                        f"{steps[-1].step}: the learning rate is too large for these numbers."))
    rows = _rows(steps[0])
    starts = list(range(0, len(steps), STEPS_PER_TABLE))
    for first in starts[:tables]:
        chunk = steps[first:first + STEPS_PER_TABLE]
        out.append(_table(rows, chunk, first // STEPS_PER_TABLE,
                          exact=any(s.exact for s in steps)))
    if tables is None:
        out.append(_gradient_table(rows, steps[0]))
    else:
        out.append(para(f"Steps {STEPS_PER_TABLE * tables} to {steps[-1].step} and the "
                        "gradients are in the full report and the JSON report."))
    if len(rows) > MAX_ROWS:
        out.append(para(f"Only the first {MAX_ROWS} of {len(rows)} parameters are shown; the "
                        "JSON report has them all."))
    return out


def _rows(step) -> list[tuple[str, tuple[int, ...]]]:
    """(tensor, index) of every parameter entry, in spec order."""
    out = []
    for name, value in step.parameters:
        if name[0] == "W":
            out += [(name, (r, c)) for r, row in enumerate(value) for c in range(len(row))]
        else:
            out += [(name, (i,)) for i in range(len(value))]
    return out


def _symbol(name: str, index: tuple[int, ...]) -> sp.Symbol:
    l = int(name[1:])
    return weight(l, index[0] + 1, index[1] + 1) if name[0] == "W" else bias(l, index[0] + 1)


def _value(step, name: str, index: tuple[int, ...], gradient: bool = False):
    values = dict(step.gradient if gradient else step.parameters)[name]
    return values[index[0]][index[1]] if len(index) == 2 else values[index[0]]


def _table(rows, chunk, k: int, exact: bool = False) -> Table:
    """Steps ``chunk`` as columns; ``exact``: some steps of the trajectory are exact, so the
    float64 ones are marked."""
    header = ("", *(f"step {s.step}" + ("" if s.exact or not exact else " (float64)")
                     for s in chunk))
    body = [(inline("loss L"), *(inline(*_number(s.loss)) for s in chunk))]
    for name, index in rows[:MAX_ROWS]:
        body.append((inline(Math(_symbol(name, index))),
                     *(inline(*_number(_value(s, name, index))) for s in chunk)))
    first, last = chunk[0].step, chunk[-1].step
    return Table(header, tuple(body), inline(f"Parameters and loss, steps {first} to {last}."),
                 label=f"tab:trajectory{k + 1}")


def _gradient_table(rows, step) -> Table:
    body = [(inline(Math(_symbol(name, index))),
             inline(*_number(_value(step, name, index, gradient=True))))
            for name, index in rows[:MAX_ROWS]]
    return Table(("parameter", "gradient at step 0"), tuple(body),
                 inline("The gradient of the loss at the starting point: step 1 is the "
                        "starting point minus the learning rate times this."),
                 label="tab:gradient0")


def _number(v) -> tuple:
    """A value as a reader checks it: an exact decimal, a fraction, or 6 significant digits."""
    if isinstance(v, Fraction):
        decimal = _decimal(v)
        if decimal is not None:
            return (decimal,)
        if v.denominator < 10 ** 6:
            return (Math(sp.Rational(v.numerator, v.denominator)),)
        return (f"\u2248 {float(v):.10g}",)   # exact, but too long to read: 10 digits
    return (f"{float(v):.6g}",)


def _decimal(v: Fraction) -> str | None:
    """``v`` written exactly with at most 12 decimals, if it can be."""
    for places in range(13):
        scaled = v * 10 ** places
        if scaled.denominator == 1:
            text = f"{abs(scaled.numerator):0{places + 1}d}"
            whole, frac = text[:len(text) - places] or "0", text[len(text) - places:]
            return ("-" if v < 0 else "") + whole + ("." + frac if places else "")
    return None


__all__ = ["trajectory_blocks"]
