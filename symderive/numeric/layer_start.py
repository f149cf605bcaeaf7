"""The starting point of a ``[[layer]]`` network in numbers: the trajectory, witnesses that
units separate, and the simulation that checks the proved classes and frozen entries.

Gradient descent (the spec's optimizer and learning rate, exactly as given) runs in
float64 through the kinds' NumPy passes, from the start (random tensors and, without
``[data]``, the data drawn from the seed :data:`SEED_OFFSET` + ``check.seed``).  At
every step, for two units a, b of a layer: exchanging only their own rows (what makes
their outputs: incoming, recurrent rows, bias, queries, keys, values; not what reads
them) changes the layer's output at an input exactly when their outputs differ there.
So a change far above rounding at step t and sample n is a **witness** that the two
units are different functions at step t (re-evaluable from the seed and the steps).
Units of one proved class must not change it (else: a contradiction), and proved-frozen
entries must keep their values (else: a contradiction).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine.layers import layer_kind
from ..engine.layers.frozen import StackFrozen, float_point
from ..engine.layers.stack import Stack
from ..engine.layers.start import LayerClasses, StackStart
from ..spec.layers import LayerSpec, spec_kind
from .optimizers import make
from .trajectory import MAX_SHOWN, Step, Trajectory

#: At most this many steps are simulated (classes and frozen sets are proved for all).
MAX_STEPS = 60
#: Multiply-adds the simulation may spend in all.
SIMULATION_WORK = 5e7
#: A change of a layer's output far above rounding (relative): a witness.
APART = 1e-6
#: A change that still counts as rounding for units of one proved class.
SAME = 1e-8
#: Pairs of classes compared per layer at most (all pairs up to this many classes).
MAX_CLASSES = 24
#: Groups a unit owns that read it rather than make it (heads' output columns, an LSTM
#: unit's column of U): left out of the exchange that tests two units' outputs.
READING = ("output", "recurrent_outgoing")
#: The seed of random tensors and data: ``check.seed`` plus this (apart from the others).
SEED_OFFSET = 7919


@dataclass(frozen=True)
class Witness:
    """Units a and b of ``layer`` compute different outputs at ``step`` on ``sample``."""

    layer: int
    units: tuple[int, int]
    step: int
    sample: int
    difference: float

    def to_json(self) -> dict[str, Any]:
        return {"layer": self.layer, "units": list(self.units), "step": self.step,
                "sample": self.sample + 1, "difference": self.difference}


@dataclass(frozen=True)
class StackStartCheck:
    steps: int
    seed: int
    drawn: str                      # what was drawn from ``seed`` ("": nothing)
    witnesses: tuple[Witness, ...]
    pairs: int                      # pairs of classes compared
    problems: tuple[str, ...]
    hidden_moved: float

    @property
    def agreement(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"steps": self.steps, "seed": self.seed if self.drawn else None,
                "drawn": self.drawn or None,
                "arithmetic": "float64", "pairs_compared": self.pairs,
                "separated": [w.to_json() for w in self.witnesses],
                "largest_hidden_change": self.hidden_moved,
                "problems": list(self.problems), "agreement": self.agreement}


def simulate(start: StackStart, classes: dict[int, LayerClasses], frozen: StackFrozen,
             seed: int) -> tuple[StackStartCheck, Trajectory | None]:
    """The check and, for a concrete start with data, the trajectory (float64)."""
    spec, stack = start.spec, Stack(start.network)
    theta, X, Y = float_point(start, seed + SEED_OFFSET)
    first = {n: v.copy() for n, v in theta.items()}
    exact = start.concrete and spec.data is not None
    shown = min(spec.check.steps, MAX_SHOWN) if exact else -1
    per_step = 4 * stack.flops() * spec.network.samples + 1
    steps = int(max(shown, min(spec.check.steps, MAX_STEPS, SIMULATION_WORK // per_step)))
    names = list(stack.shapes)
    optimizer = make(spec.check.optimizer, spec.check.learning_rate)
    watch = _Watch(stack, classes)
    recorded: list[Step] = []
    diverged = False
    ran = 0
    with np.errstate(all="ignore"):
        for t in range(steps + 1):
            loss, grads, _ = stack.np_gradient(theta, X, Y)
            if not np.isfinite(loss) or not all(np.all(np.isfinite(g)) for g in grads.values()):
                diverged = True
                break
            ran = t
            watch.see(t, theta, X)
            if t <= shown:
                recorded.append(Step(t, loss, tuple((n, theta[n].tolist()) for n in names),
                                     tuple((n, grads[n].tolist()) for n in names)))
            if t == steps:
                break
            optimizer.step([theta[n] for n in names], [grads[n] for n in names])
    problems = watch.problems + _frozen_problems(frozen, first, theta)
    hidden = [n for s in spec.network.stack[:-1] for n in layer_kind(s.kind).tensors(s)]
    moved = max((float(np.max(np.abs(theta[n] - first[n]) / (1.0 + np.abs(first[n])),
                               initial=0.0)) for n in hidden), default=0.0)
    drawn = " and ".join(w for w, yes in (("the random tensors", not start.concrete),
                                          ("the data", spec.data is None)) if yes)
    check = StackStartCheck(ran, seed + SEED_OFFSET, drawn, tuple(watch.witnesses),
                            watch.pairs, tuple(problems), moved)
    trajectory = Trajectory(tuple(recorded), diverged) if exact and recorded else None
    return check, trajectory


def _frozen_problems(frozen: StackFrozen, first, theta) -> list[str]:
    if frozen.frozen is None:
        return []
    out = []
    for name, mask in frozen.frozen.items():
        change = float(np.max(np.abs(theta[name] - first[name])[mask], initial=0.0))
        if change > SAME * (1.0 + float(np.max(np.abs(first[name]), initial=0.0))):
            out.append(f"{name}: an entry proved frozen moved by {change:.3g}")
    return out


class _Watch:
    """Each step: the own-row exchange of class representatives (witnesses) and of the
    members of each proved class (must change nothing)."""

    def __init__(self, stack: Stack, classes: dict[int, LayerClasses]) -> None:
        self.stack, self.classes = stack, classes
        self.layers = {s.index: s for s in stack.spec.stack}
        self.witnesses: list[Witness] = []
        self.problems: list[str] = []
        self.open: dict[int, list[tuple[int, int]]] = {}
        self.pairs = 0
        for l, c in classes.items():
            reps = [members[0] for members in c.classes][:MAX_CLASSES]
            self.open[l] = [(a, b) for k, a in enumerate(reps) for b in reps[k + 1:]]
            self.pairs += len(self.open[l])

    def see(self, t: int, theta, X) -> None:
        inputs = _layer_inputs(self.stack, theta, X)
        for l, pairs in self.open.items():
            layer = self.layers[l]
            base, _ = layer_kind(layer.kind).np_forward(layer, theta, inputs[l - 1])
            scale = 1.0 + float(np.max(np.abs(base), initial=0.0))
            for a, b in list(pairs):
                change = _exchange_change(layer, theta, inputs[l - 1], base, a, b)
                n = int(np.argmax(change))
                if change[n] > APART * scale:
                    self.witnesses.append(Witness(l, (a, b), t, n, float(change[n])))
                    pairs.remove((a, b))
            for members in self.classes[l].classes:
                for b in members[1:]:
                    gap = float(np.max(_exchange_change(layer, theta, inputs[l - 1], base,
                                                       members[0], b), initial=0.0))
                    if gap > SAME * scale and len(self.problems) < 5:
                        self.problems.append(f"layer {l}: units {members[0]} and {b}, proved "
                                             f"identical, differ by {gap:.3g} at step {t}")


def _layer_inputs(stack: Stack, theta, X) -> list[np.ndarray]:
    """Each layer's input (the stack's forward, keeping every layer's output)."""
    values = [X]
    for layer in stack.spec.stack:
        z, _ = layer_kind(layer.kind).np_forward(layer, theta, values[-1])
        a = z if layer.activation is None else layer.activation.np_f(z)
        values.append(a + values[layer.skip] if layer.skip is not None else a)
    return values


def _exchange_change(layer: LayerSpec, theta, x, base, a: int, b: int) -> np.ndarray:
    """Per sample, the largest change of the layer's output when units a and b exchange
    their own rows."""
    kind = layer_kind(layer.kind)
    swapped = {n: v.copy() for n, v in theta.items()}
    for group in spec_kind(layer.kind).own_groups(layer.bias):
        if group in READING:
            continue
        for (ta, ia), (tb, ib) in zip(kind.own_entries(layer, a, group),
                                      kind.own_entries(layer, b, group)):
            swapped[ta][ia], swapped[tb][ib] = theta[tb][ib], theta[ta][ia]
    out, _ = kind.np_forward(layer, swapped, x)
    return np.abs(out - base).reshape(len(x), -1).max(axis=1)


__all__ = ["simulate", "StackStartCheck", "Witness", "MAX_STEPS", "SEED_OFFSET"]
