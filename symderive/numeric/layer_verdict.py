"""Everything established about a ``[[layer]]`` network's starting point, and its verdict.

- classes (proved: :mod:`symderive.engine.layers.start`), frozen entries (proved:
  :mod:`symderive.engine.layers.frozen`), dead units (exact, on the given data);
- the trajectory and the simulation's witnesses (float64: :mod:`.layer_start`).

The verdict, as for a dense network (docs/starting-points.md): **stuck** when every
parameter of the layers before the last is proved frozen; **symmetric** when some layer
has a proved class of two or more units; **broken** when every two units of every layer
with classes are separated by a witness; else **undecided**.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..engine.layers import layer_kind
from ..engine.layers.frozen import StackFrozen, frozen_entries
from ..engine.layers.start import LayerClasses, StackStart, classes, dead_units
from ..spec import Spec
from .layer_start import StackStartCheck, simulate
from .startpoint import with_simulation


@dataclass(frozen=True)
class StackStartResult:
    start: StackStart
    classes: dict[int, LayerClasses]
    frozen: StackFrozen
    dead: dict[int, tuple[int, ...]] | None
    trajectory: Any = None
    check: StackStartCheck | None = None

    @property
    def agreement(self) -> bool:
        return self.check is None or self.check.agreement

    def hidden_tensors(self) -> list[str]:
        """The tensors of every layer but the last."""
        return [n for s in self.start.network.stack[:-1] for n in layer_kind(s.kind).tensors(s)]

    @property
    def stuck(self) -> bool:
        names = self.hidden_tensors()
        return self.frozen.done and bool(names) and all(
            self.frozen.summary(n) == "all" for n in names)

    @property
    def symmetric(self) -> bool:
        return any(len(c) > 1 for lc in self.classes.values() for c in lc.classes)

    @property
    def separated(self) -> bool:
        """Every two units of every layer with classes came apart in the simulation."""
        if self.check is None or not self.classes:
            return False
        apart = {(w.layer, *w.units) for w in self.check.witnesses}
        return all((l, a, b) in apart for l, lc in self.classes.items()
                   for a in range(1, self.layer(l).units + 1)
                   for b in range(a + 1, self.layer(l).units + 1))

    def layer(self, index: int):
        return self.start.network.stack[index - 1]

    @property
    def verdict(self) -> str:
        if self.stuck:
            return "stuck"
        if self.symmetric:
            return "symmetric"
        return "broken" if self.separated else "undecided"

    @property
    def moved(self) -> bool:
        """Witnessed: a parameter of a layer before the last moves (at step 1 by its
        gradient at the start, or in the simulation)."""
        at_start = any(self.frozen.moved[n].any() for n in self.hidden_tensors()
                       if n in self.frozen.moved)
        return at_start or (self.check is not None and self.check.hidden_moved > 1e-9)

    def holds(self, claim: str) -> bool | None:
        if claim == "stuck":
            return True if self.stuck else (False if self.moved else None)
        if claim == "symmetric":
            return True if self.symmetric else (False if self.separated else None)
        return False if self.symmetric else (True if self.separated else None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "classes": {str(l): [list(c) for c in lc.classes] for l, lc in self.classes.items()},
            "classes_proof": {str(l): lc.proof for l, lc in self.classes.items()},
            "frozen": {n: self.frozen.summary(n) for n in self.start.tensors},
            "frozen_analysis": self.frozen.note,
            "frozen_unverified": list(self.frozen.unverified),
            "frozen_seed": self.frozen.seed,
            "dead": None if self.dead is None else {str(l): list(u) for l, u in self.dead.items()},
        }
        return with_simulation(out, self.trajectory, self.check)


def settle_stack_start(spec: Spec, numeric: bool = True) -> StackStartResult:
    """Classes, frozen entries and dead units (proved), then the simulation and trajectory
    (the trajectory is computed even without ``numeric``: it is the asker's numbers)."""
    start = StackStart(spec)
    result = StackStartResult(start, classes(start), frozen_entries(start, spec.check.seed),
                              dead_units(start))
    check, trajectory = simulate(start, result.classes, result.frozen, spec.check.seed)
    return replace(result, trajectory=trajectory, check=check if numeric else None)


__all__ = ["StackStartResult", "settle_stack_start"]
