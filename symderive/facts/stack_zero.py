"""``zero_init`` on a ``[[layer]]`` network: every parameter 0, the output layer's biases free.

The layers go through their kinds' own symbolic forward (:class:`~symderive.engine.layers.
stack.Stack`), so nothing here knows a convolution from an attention head.  The frozen
set is the largest set S of entries whose gradient is identically 0 whenever S is 0
(every other parameter, the inputs, the targets and the free output biases arbitrary):
start from every entry, compute each entry's gradient with S at 0 (one tensor kept
symbolic at a time, then set to 0), drop every entry whose gradient is not proved 0,
and repeat.  Gradient descent (momentum and Adam too) started with S at 0 keeps S at 0,
so S never moves.  An entry dropped in the first round has a non-zero gradient at the
zero start itself, shown at a witness point; one dropped later moves only once the
first ones have.  Whether the units of a layer stay identical is the hypothesis "every
group of units 1 and 2 tied", settled by the engine (:func:`settle_stack`): the zero
start satisfies it, so a preserved tie keeps them identical at every step.
"""
from __future__ import annotations

import numpy as np
import sympy as sp

from ..engine.layers import layer_kind
from ..engine.layers.settle import settle_stack
from ..engine.layers.stack import Stack
from ..engine.local import is_identically_zero
from ..engine.network import target
from ..engine.symmetry import PRESERVED
from ..notation import partial
from ..spec import Hypothesis, Spec
from ..spec.facts import FactSpec
from .result import PROVED, REFUTED, UNDECIDED, FactResult, Statement

LOSS = sp.Symbol("L")
#: Parameter-samples up to which the symbolic pass runs (each round differentiates the
#: loss once per tensor); beyond, the fact is undecided and says so.
LIMIT = 400
#: Operations of a first-step gradient printed as a formula (larger: its witness value).
SHOWN_OPS = 40
#: Frozen tensors up to which each one's needed zeros are computed (pairs of tensors).
MAX_WHY = 8
STUCK, TRAINS, IDENTICAL = "stuck", "trains", "trains, units identical"


def free_entries(spec) -> set:
    """The output layer's bias entries, left free (arbitrary) as in the dense fact."""
    last = spec.stack[-1]
    if "bias" not in last.groups:
        return set()
    kind = layer_kind(last.kind)
    return {e for u in range(1, last.units + 1) for e in kind.own_entries(last, u, "bias")}


def _point_values(stack: Stack, data) -> tuple[np.ndarray, dict]:
    """Inputs (symbols, or the data's numbers) and the target substitution ({} : symbols)."""
    if data is None:
        return stack.inputs(), {}
    n, shape = len(data.inputs), stack.spec.input
    flat = np.array([sp.Rational(v.numerator, v.denominator)
                     for row in data.inputs for v in _flat(row)], dtype=object)
    targets = {target(s + 1, m + 1): sp.Rational(v.numerator, v.denominator)
               for s, row in enumerate(data.targets) for m, v in enumerate(_flat(row))}
    return flat.reshape((n, *shape)), targets


def _flat(row):
    if isinstance(row, (list, tuple)):
        return [v for item in row for v in _flat(item)]
    return [row]


def _gradients(stack: Stack, x, ys: dict, frozen: set) -> dict:
    """∂L/∂θ_e for every e in ``frozen``, with ``frozen`` at 0 (the rest symbols)."""
    theta, out = stack.theta, {}
    for name in theta:
        mine = [e for e in frozen if e[0] == name]
        if not mine:
            continue
        local = {n: _zeroed(t, [e for e in frozen if e[0] == n]) if n != name else t
                 for n, t in theta.items()}
        loss = stack.loss(local, x).xreplace(ys)
        zero = {theta[name][idx]: 0 for _, idx in mine}
        for e in mine:
            out[e] = loss.diff(theta[name][e[1]]).xreplace(zero)
    return out


def _zeroed(t: np.ndarray, entries) -> np.ndarray:
    t = t.copy()
    for _, idx in entries:
        t[idx] = sp.S.Zero
    return t


def frozen_set(stack: Stack, x, ys: dict, free: set) -> tuple[set, dict, set]:
    """(S, the first round's gradients, the entries the first round dropped): the
    greatest fixed point described above."""
    entries = {(n, idx) for n, t in stack.theta.items() for idx in np.ndindex(t.shape)}
    S, first, dropped = entries - free, None, None
    while True:
        grads = _gradients(stack, x, ys, S)
        first = grads if first is None else first
        drop = {e for e, g in grads.items() if not is_identically_zero(g)}
        dropped = drop if dropped is None else dropped
        if not drop:
            return S, first, dropped
        S -= drop


def needed_zeros(stack: Stack, x, ys: dict, S: set, name: str,
                 rng: np.random.Generator) -> list[str]:
    """The other frozen tensors whose zeros ``name``'s frozen gradient needs: released
    alone (symbols, the rest of S still 0), each makes some entry's gradient clearly not
    0 at a point (:func:`_witness_value`)."""
    mine = sorted(e for e in S if e[0] == name)
    out = []
    for other in dict.fromkeys(e[0] for e in sorted(S) if e[0] != name):
        released = {e for e in S if e[0] != other}
        grads = _gradients(stack, x, ys, released)
        if any(_witness_value(grads[e], rng) is not None for e in mine):
            out.append(other)
    return out


def _witness_value(expr: sp.Expr, rng: np.random.Generator) -> tuple[dict, float] | None:
    """A rational point (quarters in [−2, 2]) where ``expr`` is clearly not 0."""
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    for _ in range(8):
        point = {s: sp.Rational(int(rng.integers(-8, 9)), 4) for s in symbols}
        value = complex(expr.xreplace(point).evalf(30))
        if abs(value) > 1e-9:
            return {str(s): float(v) for s, v in point.items()}, value.real
    return None


def zero_init_stack(spec: Spec, fact: FactSpec, seed: int) -> FactResult:
    net = spec.network
    stack = Stack(net)
    rows = len(spec.data.inputs) if spec.data is not None else net.samples
    if stack.parameter_count() * rows > LIMIT:
        return FactResult(fact, "undecided", (
            f"Not derived: the symbolic pass differentiates the loss of all "
            f"{stack.parameter_count()} parameters over {rows} samples, more than the "
            f"{LIMIT} parameter-samples this fact allows."), details={"moving": []})
    x, ys = _point_values(stack, spec.data)
    free = free_entries(net)
    S, first, now = frozen_set(stack, x, ys, free)
    rng = np.random.default_rng(seed)
    witnesses = {e: _witness_value(first[e], rng) for e in sorted(now)}
    first_movers = sorted({e[0] for e, w in witnesses.items() if w is not None})
    names = [n for n in stack.shapes if _entries(stack, n, free)]
    frozen_names = [n for n in names if all(e in S for e in _entries(stack, n, free))]
    moving = [n for n in names if n not in frozen_names and any(
        e not in free for e in _entries(stack, n, free))]
    identical = _identical(net, seed) if moving else {
        str(s.index): PRESERVED for s in net.stack[:-1] if s.units >= 2}
    verdict = STUCK if not moving else (
        IDENTICAL if identical and all(v == PRESERVED for v in identical.values()) else TRAINS)
    why = {n: needed_zeros(stack, x, ys, S, n, rng) for n in frozen_names} \
        if len(frozen_names) <= MAX_WHY else {}
    statements = tuple(_row(stack, n, S, free, first, witnesses, first_movers, why.get(n))
                       for n in names)
    summary = _summary(net, spec.data, frozen_names, first_movers,
                       [n for n in moving if n not in first_movers], identical, free)
    witness = _witness_json(stack, witnesses, free) if spec.data is None else None
    return FactResult(fact, verdict, summary, statements, _assumptions(spec, free), witness,
                      details={"moving": moving, "frozen": frozen_names,
                               "first_step": first_movers,
                               "hidden_units_identical": identical})


def _entries(stack: Stack, name: str, free: set) -> list:
    return [(name, idx) for idx in np.ndindex(stack.shapes[name]) if (name, idx) not in free]


def _identical(net, seed: int) -> dict[str, str]:
    """layer -> the engine's verdict on units 1 and 2 with every group tied."""
    out = {}
    for s in net.stack[:-1]:
        if s.units >= 2:
            hyp = Hypothesis("zero start", s.index, (1, 2), s.groups, ())
            out[str(s.index)] = settle_stack(net, hyp, seed).verdict
    return out


def _row(stack: Stack, name: str, S: set, free: set, first: dict, witnesses: dict,
         first_movers: list, needs: list[str] | None) -> Statement:
    """One tensor's row: an entry's gradient at the zero start, in words from the frozen
    set and the witnesses (a witnessed entry first, then one not proved 0)."""
    entries = _entries(stack, name, free)
    e = next((f for f in entries if witnesses.get(f)),
             next((f for f in entries if f in witnesses), entries[0]))
    lhs = partial(LOSS, stack.theta[name][e[1]])
    grad = first.get(e, sp.S.Zero)
    held = sum(f in S for f in entries)
    if held == len(entries):
        return Statement(f"tensor {name}: frozen: its gradient is 0 whenever the frozen parameters "
                         f"are 0 (proved symbolically), so it never moves{_needs(needs)}",
                         lhs, sp.S.Zero)
    part = "" if held == 0 else f" ({held} of its {len(entries)} entries frozen)"
    if witnesses.get(e):
        _, value = witnesses[e]
        shown = grad if sp.count_ops(grad) <= SHOWN_OPS else sp.Float(value, 6)
        where = "" if shown is grad else " (its value at the witness point)"
        return Statement(f"tensor {name}: moves at the first step{part}: its gradient at the "
                         f"zero start is not 0, {value:.4g} at the witness point{where}", lhs,
                         shown, REFUTED if where else PROVED)
    if e in witnesses:
        return Statement(f"tensor {name}: not proved frozen{part}: its gradient at the zero "
                         "start is not proved 0, and no point tried made it clearly non-zero",
                         lhs, grad, UNDECIDED)
    movers = _listed(first_movers) if first_movers else "other parameters"
    has = "has" if len(first_movers) == 1 else "have"
    return Statement(f"tensor {name}: 0 at the zero start, not proved frozen{part}: its "
                     f"gradient is not proved 0 once {movers} {has} moved", lhs, sp.S.Zero)


def _needs(needs: list[str] | None) -> str:
    """Which zeros the frozen gradient needs, in words (nothing when not computed)."""
    if needs is None:
        return ""
    if not needs:
        return ("; releasing any one other frozen tensor alone still leaves it 0: the "
                "remaining zeros keep it frozen")
    one = len(needs) == 1
    return (f"; it needs {_listed(needs)} at 0: with {'it' if one else 'any one of them'} "
            "released, its gradient is not 0 at some point")


def _summary(net, data, frozen: list, first: list, later: list, identical: dict,
             free: set) -> str:
    where = "on the given data" if data is not None else "for any inputs and targets"
    free_words = " (the output layer's biases free)" if free else ""
    parts = [f"From all-zero parameters{free_words}, {where}:"]
    if frozen:
        one = len(frozen) == 1
        parts.append(f"{_listed(frozen)} never move{'s' if one else ''} "
                     f"({'its gradient is' if one else 'their gradients are'} 0 whenever the "
                     "frozen parameters are 0);")
    if first:
        parts.append(f"{_listed(first)} move{'s' if len(first) == 1 else ''} at the first step;")
    if later:
        parts.append(f"{_listed(later)} can move once those have moved;")
    if not first and not later:
        parts.append("nothing but the output layer's biases moves, so the network is stuck;"
                     if free else "nothing moves, so the network is stuck;")
    kept = [l for l, v in identical.items() if v == PRESERVED]
    if kept and (first or later):
        words = {s.index: layer_kind(s.kind).unit_word(s) for s in net.stack}
        parts.append("the " + " and the ".join(f"{words[int(l)]}s of layer {l}" for l in kept)
                     + " stay identical for ever (every group of two of them tied at 0: "
                     "the tie is preserved).")
    return " ".join(parts).rstrip(";") + ("" if parts[-1].endswith(".") else ".")


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _assumptions(spec: Spec, free: set) -> tuple[str, ...]:
    data = ("the inputs and targets are the given data" if spec.data is not None
            else "the inputs and targets are arbitrary (symbols)")
    return ("every parameter is 0" + (" except the output layer's biases, which are free"
                                      if free else ""), data,
            "the layers go through their kinds' symbolic forward, on the spec's shapes")


def _witness_json(stack: Stack, witnesses: dict, free: set) -> dict | None:
    """The first witness as a point anyone can re-evaluate: every parameter (0, the free
    output biases as drawn), the inputs and targets, and the entry's gradient there."""
    for (name, idx), w in sorted(witnesses.items()):
        if w is None:
            continue
        point, value = w
        value_of = lambda sym: point.get(str(sym), 0.0)   # noqa: E731 - absent: not in it
        theta = {n: np.zeros(t.shape) for n, t in stack.theta.items()}
        for n, i in free:
            theta[n][i] = value_of(stack.theta[n][i])
        x = stack.inputs()
        inputs = np.vectorize(value_of, otypes=[float])(x)
        width = stack.spec.layers[-1]
        targets = [[value_of(target(s + 1, m + 1)) for m in range(width)]
                   for s in range(x.shape[0])]
        return {"parameters": {n: t.tolist() for n, t in theta.items()},
                "inputs": inputs.tolist(), "targets": targets,
                "tensor": name, "index": [i + 1 for i in idx], "gradient": value}
    return None


__all__ = ["zero_init_stack", "frozen_set", "free_entries"]
