"""The numeric check of a starting point: a NumPy simulation against the proved classes
and frozen sets, and the witness that units of different classes do differ.

Gradient descent (the spec's optimizer and learning rate) runs from the starting
point, random tensors drawn from a seeded generator, on the ``[data]`` (or on
random data when there is none).  At every step the pre-activations of every
hidden unit are evaluated on the training inputs and on a few probe inputs
(which respect the input classes: a silent coordinate 0, equal columns equal):

- units of one class must agree to rounding (else: a contradiction);
- frozen entries must keep their initial values (else: a contradiction);
- for every two classes of a layer, the first step and input where their
  pre-activations differ is the witness that the classes are really distinct;
  when none is found the report says so (the data may make them coincide).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import mlp
from ..engine.frozen import Frozen
from ..engine.partition import SILENT, Partition
from ..engine.start import Start, float_parameters
from ..spec import CheckSpec, NetworkSpec
from . import points, single_threaded_blas
from .optimizers import make

#: At most this many steps are simulated (the classes are proved for all steps).
MAX_STEPS = 60
#: Probe inputs besides the training inputs.
PROBES = 4
#: Relative size of a difference that counts as rounding (same class) or as real (witness).
SAME_TOL, APART_TOL = 1e-7, 1e-6
#: All pairs of classes are compared up to this many classes in a layer; beyond, neighbours.
MAX_PAIRWISE = 64
#: Pairs listed in the JSON (the counts cover all of them).
SHOWN = 40


@dataclass(frozen=True)
class StartCheck:
    """What the simulation found."""

    steps: int                               # steps actually simulated (finite ones)
    largest_class_gap: float                 # relative, over every class and step
    largest_frozen_change: float
    separated: tuple[tuple[int, int, int, int, float], ...]   # layer, class a, b, step, |Δz|
    coincide: tuple[tuple[int, int, int], ...]                # layer, class a, b never apart
    pairs: int                               # pairs compared
    problems: tuple[str, ...]
    hidden_moved: float = 0.0                # largest relative change of a hidden-layer parameter

    @property
    def agreement(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "largest_class_gap": self.largest_class_gap,
            "largest_frozen_change": self.largest_frozen_change,
            "largest_hidden_change": self.hidden_moved,
            "pairs_compared": self.pairs,
            "pairs_separated": len(self.separated),
            "separated": [{"layer": l, "classes": [a, b], "step": t, "difference": d}
                          for l, a, b, t, d in self.separated[:SHOWN]],
            "coincide": [{"layer": l, "classes": [a, b]} for l, a, b in self.coincide[:SHOWN]],
            "problems": list(self.problems),
            "agreement": self.agreement,
        }


@dataclass(frozen=True)
class StartResult:
    """Everything established about a starting point: classes and frozen sets (proved),
    the asker's trajectory (computed) and the simulation's check (None when not run)."""

    start: Start
    partition: Partition
    frozen: Frozen
    trajectory: Any = None        # :class:`symderive.numeric.trajectory.Trajectory` or None
    check: StartCheck | None = None

    @property
    def agreement(self) -> bool:
        return self.check is None or self.check.agreement

    @property
    def stuck(self) -> bool:
        """Proved: every hidden-layer parameter is frozen (a network with a hidden layer)."""
        names = [n for n in self._names() if int(n[1:]) < self.start.depth]
        return bool(names) and all(self.frozen.summary(n) == "all" for n in names)

    @property
    def symmetric(self) -> bool:
        """Proved: some hidden layer keeps a class of two or more units for ever."""
        return any(len(c) > 1 for l in range(1, self.start.depth)
                   for c in self.partition.classes(l))

    @property
    def separated(self) -> bool:
        """Witnessed: the simulation separated every pair of classes it compared (all pairs
        up to :data:`MAX_PAIRWISE` classes a layer)."""
        return (self.check is not None and not self.check.coincide
                and all(self.partition.width(l) <= MAX_PAIRWISE
                        for l in range(1, self.start.depth)))

    @property
    def verdict(self) -> str:
        """stuck | symmetric | broken | undecided (docs/starting-points.md): the first that
        is proved (stuck, symmetric) or witnessed (broken: every two units come apart)."""
        if self.stuck:
            return "stuck"
        if self.symmetric:
            return "symmetric"
        return "broken" if self.separated else "undecided"

    def holds(self, claim: str) -> bool | None:
        """Is ``claim`` (stuck | symmetric | broken) true of this start?  None: neither
        proved nor refuted.  Refutations are witnesses: a hidden parameter that moved in
        the simulation, units the simulation separated, classes proved to stay."""
        moved = self.check is not None and self.check.hidden_moved > 1e-9
        if claim == "stuck":
            return True if self.stuck else (False if moved else None)
        if claim == "symmetric":
            return True if self.symmetric else (False if self.separated else None)
        return False if self.symmetric else (True if self.separated else None)

    def _names(self) -> tuple[str, ...]:
        from ..spec.init import tensor_names

        return tensor_names(self.start.network)

    def to_json(self) -> dict[str, Any]:
        from ..spec.init import tensor_names

        network = self.start.network
        out: dict[str, Any] = {
            "verdict": self.verdict,
            "classes": self.partition.to_json(),
            "effective_widths": {str(l): self.partition.width(l)
                                 for l in range(1, network.depth)},
            "frozen": {n: self.frozen.summary(n) for n in tensor_names(network)},
        }
        return with_simulation(out, self.trajectory, self.check)


def with_simulation(out: dict[str, Any], trajectory, check) -> dict[str, Any]:
    """A starting point's JSON with its trajectory (and its arithmetic) and its
    simulation's check, when they were computed (dense and ``[[layer]]`` networks alike)."""
    if trajectory is not None:
        out["trajectory"] = [s.to_json() for s in trajectory.steps]
        out["trajectory_arithmetic"] = trajectory.arithmetic
    if check is not None:
        out["numeric"] = check.to_json()
    return out


def training_data(start: Start, network: NetworkSpec, rng: np.random.Generator):
    """The [data] as floats, or random data (as many samples as the network has)."""
    if start.data is not None:
        return (np.array(start.data.inputs, dtype=float),
                np.array(start.data.targets, dtype=float))
    return points.inputs(network, rng, network.samples), points.targets(network, rng)


def probe_inputs(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random inputs with one value per input class (0 for the silent coordinates)."""
    values = rng.normal(size=(PROBES, int(labels.max(initial=-1)) + 1))
    out = np.zeros((PROBES, len(labels)))
    for k, c in enumerate(labels):
        if c != SILENT:
            out[:, k] = values[:, c]
    return out


def _pairs(count: int) -> list[tuple[int, int]]:
    if count <= MAX_PAIRWISE:
        return [(a, b) for a in range(count) for b in range(a + 1, count)]
    return [(a, a + 1) for a in range(count - 1)]


class _Watch:
    """Pre-activations per class, step by step."""

    def __init__(self, partition: Partition, depth: int) -> None:
        self.partition = partition
        self.layers = list(range(1, depth))
        self.gap = 0.0
        self.first: dict[tuple[int, int, int], tuple[int, float]] = {}

    def see(self, step: int, zs: list[np.ndarray]) -> None:
        for l in self.layers:
            z, labels = zs[l], self.partition.labels[l]
            scale = 1.0 + float(np.max(np.abs(z), initial=0.0))
            reps = [int(np.flatnonzero(labels == c)[0]) for c in range(int(labels.max()) + 1)]
            for c, r in enumerate(reps):
                members = labels == c
                gap = float(np.max(np.abs(z[:, members] - z[:, [r]]), initial=0.0)) / scale
                self.gap = max(self.gap, gap)
            for a, b in _pairs(len(reps)):
                if (l, a, b) in self.first:
                    continue
                d = float(np.max(np.abs(z[:, reps[a]] - z[:, reps[b]]), initial=0.0))
                if d / scale > APART_TOL:
                    self.first[(l, a, b)] = (step, d)

    def pairs(self) -> list[tuple[int, int, int]]:
        return [(l, a, b) for l in self.layers
                for a, b in _pairs(int(self.partition.labels[l].max(initial=-1)) + 1)]


def check_start(network: NetworkSpec, start: Start, partition: Partition, frozen: Frozen,
                check: CheckSpec) -> StartCheck:
    """Simulate from ``start`` (``network``: concrete functions) and compare (module doc)."""
    rng = np.random.default_rng((check.seed, 14, 1))
    with single_threaded_blas(), np.errstate(all="ignore"):
        return _simulate(network, start, partition, frozen, check, rng)


def _simulate(network, start, partition, frozen, check, rng) -> StartCheck:
    p = float_parameters(start, rng)
    X, Y = training_data(start, network, rng)
    # with [data] the classes are proved on the data's inputs only: no probes off them
    probes = X if start.data is not None else np.vstack([X, probe_inputs(partition.labels[0],
                                                                          rng)])
    initial, watch = p.copy(), _Watch(partition, start.depth)
    optimizer = make(check.optimizer, check.learning_rate)
    steps, moved, hidden = 0, 0.0, 0.0
    for step in range(min(check.steps, MAX_STEPS) + 1):
        zs, _ = mlp.forward(network, p, probes)
        if not all(np.all(np.isfinite(z)) for z in zs[1:]):
            break
        watch.see(step, zs)
        moved = max(moved, _frozen_change(p, initial, frozen, network.bias))
        hidden = max(hidden, _hidden_change(p, initial))
        steps = step
        if step == min(check.steps, MAX_STEPS):
            break
        _, grad, _ = mlp.loss_and_gradient(network, p, X, Y)
        optimizer.step([*p.W, *p.b], [*grad.W, *grad.b])
    return _result(watch, steps, moved, hidden)


def _frozen_change(p, initial, frozen: Frozen, bias: bool) -> float:
    """Largest change of a frozen entry, relative to 1 + its initial value."""
    worst = 0.0
    for l in range(1, len(p.W) + 1):
        pairs = [(p.W[l - 1], initial.W[l - 1], frozen.weights[l])]
        if bias:
            pairs.append((p.b[l - 1][:, None], initial.b[l - 1][:, None], frozen.biases[l]))
        for now, then, mask in pairs:
            change = np.abs(now - then) / (1.0 + np.abs(then))
            worst = max(worst, float(np.max(np.where(mask, change, 0.0), initial=0.0)))
    return worst


def _hidden_change(p, initial) -> float:
    """Largest change of a hidden layer's weight or bias, relative to 1 + its initial value."""
    pairs = [(a, b) for l in range(len(p.W) - 1)
             for a, b in ((p.W[l], initial.W[l]), (p.b[l], initial.b[l]))]
    return max((float(np.max(np.abs(a - b) / (1.0 + np.abs(b)), initial=0.0)) for a, b in pairs),
               default=0.0)


def _result(watch: _Watch, steps: int, moved: float, hidden: float) -> StartCheck:
    problems = []
    if watch.gap > SAME_TOL:
        problems.append(f"units of one class have pre-activations {watch.gap:.3g} apart "
                        "(relative) in the simulation")
    if moved > 1e-9:
        problems.append(f"a parameter proved frozen moved by {moved:.3g} (relative) in the "
                        "simulation")
    pairs = watch.pairs()
    separated = tuple((l, a + 1, b + 1, *watch.first[(l, a, b)]) for l, a, b in pairs
                      if (l, a, b) in watch.first)
    coincide = tuple((l, a + 1, b + 1) for l, a, b in pairs if (l, a, b) not in watch.first)
    return StartCheck(steps, watch.gap, moved, separated, coincide, len(pairs), tuple(problems),
                      hidden)


__all__ = ["StartCheck", "check_start", "MAX_STEPS", "training_data"]
