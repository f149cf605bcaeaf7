"""The training simulation: do two tied units stay tied under gradient descent?

From a seeded random initialisation satisfying the hypothesis, ``steps`` of
full-batch gradient descent (SGD, momentum or Adam) run on seeded random
data, and after every step the *gap* is recorded: the largest |θ_i − θ_j|
over the hypothesis's tied and zeroed groups (all groups when it assumes
none).  gaps[k] is the gap after k steps; gaps[0] is the initial one.

If the requested learning rate makes the loss blow up (not finite, or
:data:`EXPLODED` times the initial loss), the gaps say nothing about the
symmetry, so the run is repeated with the learning rate halved, and the
report says so.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import mlp
from ..spec import CheckSpec, Hypothesis, NetworkSpec
from .optimizers import make
from .points import Start, training_start

#: A gap above this is "over 1e-8" (first_step_over_1e-8).
SEPARATED = 1e-8
#: A gap at or below this, starting from exactly 0, is floating-point rounding.
ROUNDING = 1e-12
#: The loss growing by this factor over the initial loss counts as diverging.
EXPLODED = 1e6
#: At most this many halvings of the learning rate.
HALVINGS = 20


@dataclass(frozen=True)
class Training:
    """One simulated run and the gap between the two units at every step."""

    optimizer: str
    steps: int
    learning_rate: float               # the rate of the run reported
    requested_learning_rate: float     # check.learning_rate
    groups: tuple[str, ...]            # the groups the gap is measured over
    gaps: tuple[float, ...]            # after 0, 1, ... steps (fewer if it diverged)
    initial_loss: float | None
    final_loss: float | None
    diverged_at_step: int | None       # None: the run reached ``steps``
    dead_at_start: bool = False        # both units have σ'(z) = 0 on every sample at step 0
    #: the largest |dL/dθ_i − dL/dθ_j| over ``groups`` at the start: 0 means the run
    #: cannot separate the units (dead units, say), whatever the verdict
    initial_gradient_gap: float = 0.0
    #: the largest |θ| at the start, for telling a visible update from a lost one
    parameter_scale: float = 1.0
    #: "random" (seeded initialisation and data) or "witness" (a witness's point)
    start: str = "random"

    @property
    def update_visible(self) -> bool:
        """Would one step's difference between the units survive rounding?  Not with a
        tiny (or subnormal) learning rate: θ + lr·g then rounds back to θ."""
        return (self.learning_rate * self.initial_gradient_gap
                > 1e-12 * (1.0 + self.parameter_scale))

    @property
    def max_gap(self) -> float:
        return max(self.gaps, default=0.0)

    def first_step_over(self, threshold: float) -> int | None:
        return next((k for k, g in enumerate(self.gaps) if g > threshold), None)

    @property
    def exact_zero(self) -> bool:
        return bool(self.gaps) and self.max_gap == 0.0

    @property
    def rounding_level(self) -> bool:
        """Not exactly 0, but never above rounding noise."""
        return 0.0 < self.max_gap <= ROUNDING and self.gaps[0] == 0.0

    @property
    def noise_grew(self) -> bool:
        """The gap appeared at rounding level and then grew: the tied set is unstable."""
        k = self.first_step_over(0.0)
        return (k is not None and k > 0 and self.gaps[k] <= ROUNDING
                and self.max_gap > ROUNDING)

    @property
    def behaviour(self) -> str:
        """One phrase for the gap: what a reader should take from the run."""
        if self.diverged_at_step is not None:
            return "diverged"
        if self.gaps and self.gaps[0] > 0.0:
            return "untied at the start"
        if self.exact_zero:
            return "exactly zero"
        if self.rounding_level:
            return "rounding level"
        return "rounding noise grew" if self.noise_grew else "grew"

    def to_json(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer, "steps": self.steps,
            "learning_rate": self.learning_rate,
            "requested_learning_rate": self.requested_learning_rate,
            "groups": list(self.groups), "max_gap": self.max_gap,
            "first_step_over_1e-8": self.first_step_over(SEPARATED),
            "exact_zero": self.exact_zero, "rounding_level": self.rounding_level,
            "rounding_noise_grew": self.noise_grew, "behaviour": self.behaviour,
            "diverged_at_step": self.diverged_at_step,
            "dead_at_start": self.dead_at_start,
            "initial_loss": self.initial_loss, "final_loss": self.final_loss,
            "initial_gradient_gap": self.initial_gradient_gap, "start": self.start,
            "gaps": list(self.gaps),
        }


def gap_groups(spec: NetworkSpec, hyp: Hypothesis) -> tuple[str, ...]:
    """The tied and zeroed groups (equal at the start), or every group if there are none."""
    groups = spec.unit_groups(hyp.layer)
    assumed = tuple(g for g in groups if g in hyp.tie or g in hyp.zero)
    return assumed or groups


def gap(p: mlp.Params, hyp: Hypothesis, groups: tuple[str, ...]) -> float:
    """The largest |θ_i − θ_j| over ``groups`` of the hypothesis's two units."""
    i, j = hyp.units
    return max(float(np.maximum.reduce(np.abs(mlp.group_values(p, hyp.layer, i, g)
                                              - mlp.group_values(p, hyp.layer, j, g)),
                                       axis=None, initial=0.0))
               for g in groups)


@dataclass(frozen=True)
class _Run:
    gaps: tuple[float, ...]
    initial_loss: float | None
    final_loss: float | None           # None when the run diverged
    diverged_at: int | None


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and np.isfinite(value) else None


def run(spec: NetworkSpec, hyp: Hypothesis, start: Start, optimizer: str, lr: float,
        steps: int, groups: tuple[str, ...]) -> _Run:
    """``steps`` of full-batch descent from a copy of ``start``; stops if the loss blows up."""
    p = start.params.copy()
    opt = make(optimizer, lr)
    gaps: list[float] = []
    first = None
    with np.errstate(all="ignore"):
        for k in range(steps + 1):
            value, grad, _ = mlp.loss_and_gradient(spec, p, start.X, start.Y)
            first = value if first is None else first
            g = gap(p, hyp, groups)
            if not (np.isfinite(value) and np.isfinite(g)) or value > EXPLODED * (1 + abs(first)):
                return _Run(tuple(gaps), _finite(first), None, k)
            gaps.append(g)
            if k < steps:
                opt.step(p.W + p.b, grad.W + grad.b)
    return _Run(tuple(gaps), _finite(first), _finite(value), None)


#: Initialisations tried in search of one where the two units' gradients differ.
STARTS = 16


def gradient_gap(spec: NetworkSpec, hyp: Hypothesis, start: Start,
                 groups: tuple[str, ...]) -> float:
    """max |dL/dθ_i − dL/dθ_j| over ``groups`` at ``start`` (0.0 if not finite)."""
    with np.errstate(all="ignore"):
        _, grad, _ = mlp.loss_and_gradient(spec, start.params, start.X, start.Y)
    g = gap(grad, hyp, groups)
    return g if np.isfinite(g) else 0.0


def informative_start(spec: NetworkSpec, hyp: Hypothesis, rng: np.random.Generator,
                      groups: tuple[str, ...], fallback: Start | None = None,
                      given: np.ndarray | None = None) -> Start:
    """The first initialisation where the gradients of ``groups`` differ between the units.

    A start can be uninformative by chance: two tied ReLU units that are dead on
    every sample get zero gradients, so they cannot separate however broken
    the symmetry is in general.  If no such start turns up, ``fallback`` (a
    witness's point, where they differ) is used when given, else the first
    start, and :func:`~symderive.numeric.agreement.training_problems` calls
    the run inconclusive rather than a contradiction.
    """
    first = None
    for _ in range(STARTS):
        start = training_start(spec, hyp, rng, given)
        first = first or start
        if gradient_gap(spec, hyp, start, groups) > SEPARATED:
            return start
    if fallback is not None and gradient_gap(spec, hyp, fallback, groups) > SEPARATED:
        return fallback
    return first


def _scale(p: mlp.Params) -> float:
    return max(float(np.max(np.abs(a), initial=0.0)) for a in p.W + p.b)


def simulate(spec: NetworkSpec, hyp: Hypothesis, check: CheckSpec,
             seed: tuple[int, ...], search: bool = True,
             fallback: Start | None = None, given: np.ndarray | None = None) -> Training:
    """Run the simulation, halving the learning rate while the loss blows up.

    ``search``: start where the units' gradients differ (:func:`informative_start`,
    which falls back on ``fallback``); ``given``: the spec's own targets, if any."""
    groups = gap_groups(spec, hyp)
    rng = np.random.default_rng(seed)
    # A proved-preserved hypothesis has no start where the units differ: don't look.
    start = (informative_start(spec, hyp, rng, groups, fallback, given) if search
             else training_start(spec, hyp, rng, given))
    lr = check.learning_rate
    result = run(spec, hyp, start, check.optimizer, lr, check.steps, groups)
    for _ in range(HALVINGS):
        if result.diverged_at is None or result.diverged_at == 0:
            break  # fine, or not finite even before the first step: halving cannot help
        lr /= 2
        result = run(spec, hyp, start, check.optimizer, lr, check.steps, groups)
    dead = mlp.dead_units(spec, start.params, start.X, hyp.layer, hyp.units)
    return Training(check.optimizer, check.steps, lr, check.learning_rate, groups,
                    result.gaps, result.initial_loss, result.final_loss, result.diverged_at,
                    dead, gradient_gap(spec, hyp, start, groups), _scale(start.params),
                    "witness" if start is fallback else "random")
