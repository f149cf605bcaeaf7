"""The numeric cross-check: the proof confirmed by numbers computed another way.

For each hypothesis, independently of the symbolic derivation's own steps:

1. :mod:`.gradcheck` — the symbolic gradients of the two units' groups
   (lambdified from generated names only, :mod:`.symbolic`) against central
   finite differences of the hand-written NumPy loss (:mod:`symderive.mlp`);
2. :mod:`.training` — full-batch gradient descent (:mod:`.optimizers`) from a
   random initialisation satisfying the hypothesis, recording the gap
   between the two units at every step;
3. :mod:`.agreement` — whether the figures contradict the symbolic verdict.

A contradiction never raises: it is recorded (``agreement`` false, with
``problems``) so that the report is still written, loudly, and the CLI then
exits with status 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import replace
from typing import Any, Sequence

from ..engine.mlp import pass_work, single_threaded_blas
from ..engine.symmetry import PRESERVED, HypothesisResult
from ..spec import Spec
from .agreement import gradient_problems, notes, training_problems, witness_start
from .gradcheck import GradientCheck, gradient_check
from .training import Training, simulate

#: Third element of the seed: keeps the gradient check's and the training's draws apart.
GRADIENT_CHECK, TRAINING = 0, 1
#: Multiply-adds the training simulations of one derivation may take together (about a
#: second on one core): a wide network trains fewer steps than asked, never fewer than
#: :data:`MIN_TRAINING_STEPS`, and the report says so.  The verdicts are symbolic; the
#: simulation illustrates them, and its cost should follow the proof's, not the width².
TRAINING_BUDGET = 3e9
MIN_TRAINING_STEPS = 10


@dataclass(frozen=True)
class NumericResult:
    """The cross-check of one hypothesis."""

    gradient_check: GradientCheck
    training: Training
    problems: tuple[str, ...]      # contradictions of the symbolic result
    notes: tuple[str, ...]         # plain statements about the figures
    #: The activations and loss the numbers used, as in the JSON network (values may be dicts).
    functions: tuple[tuple[str, Any], ...] = field(default=(), hash=False)
    #: the default [check] steps when the training ran fewer (TRAINING_BUDGET), else None
    default_steps: int | None = None

    @property
    def agreement(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "agreement": self.agreement,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "evaluated_with": dict(self.functions),
            "gradient_check": self.gradient_check.to_json(),
            "group_differences": {d.group: {"max_abs": d.max_abs,
                                            "within_tolerance": d.within_tolerance}
                                  for d in self.gradient_check.differences},
            "training": self.training.to_json() | (
                {"default_steps": self.default_steps} if self.default_steps else {}),
        }


def training_steps(spec: Spec) -> int:
    """The training steps each hypothesis gets: [check] steps when the spec gives them,
    else the default unless the simulations together would exceed
    :data:`TRAINING_BUDGET` multiply-adds (the guards refuse what is too costly)."""
    if spec.check.steps_given:
        return spec.check.steps
    per_step = pass_work(spec.network) * max(1, len(spec.hypotheses))
    affordable = int(TRAINING_BUDGET // max(1, per_step))
    return min(spec.check.steps, max(MIN_TRAINING_STEPS, affordable))


def cross_check(spec: Spec, result: HypothesisResult, index: int) -> NumericResult:
    """Gradient check and training simulation of hypothesis number ``index`` (0-based)."""
    hyp = result.hypothesis
    given = spec.data.targets if spec.data is not None else None   # the data's own targets
    check = gradient_check(spec.network, hyp, (spec.check.seed, index, GRADIENT_CHECK), given)
    steps = training_steps(spec)
    search = result.verdict != PRESERVED
    run = simulate(spec.network, hyp, replace(spec.check, steps=steps),
                   (spec.check.seed, index, TRAINING), search=search,
                   fallback=witness_start(spec.network, result) if search else None,
                   given=given)
    smooth = spec.network.activation.smooth and spec.network.output_activation.smooth
    problems = (gradient_problems(result, check, smooth)
                + training_problems(spec.network, result, run))
    said = list(notes(spec.network, result, check, run, smooth))
    capped = steps < spec.check.steps
    if capped:
        said.append(f"the training ran {steps} of the {spec.check.steps} default steps: "
                    f"at this size the simulations would exceed the numeric budget of "
                    f"{TRAINING_BUDGET:.0e} multiply-adds (the verdict is symbolic and "
                    f"does not depend on it; give [check] steps to run exactly that many)")
    network = spec.network.to_json()
    functions = tuple((k, network[k]) for k in ("activation", "output_activation", "loss"))
    return NumericResult(check, run, tuple(problems), tuple(said), functions,
                         spec.check.steps if capped else None)


def cross_check_all(spec: Spec,
                    results: Sequence[HypothesisResult]) -> tuple[NumericResult, ...]:
    """One :class:`NumericResult` per hypothesis, in order.  ``spec`` must have concrete
    functions (generic mode's σ and ℓ instantiated): numbers need them."""
    with single_threaded_blas():
        return tuple(cross_check(spec, r, k) for k, r in enumerate(results))


def contradictions(results: Sequence[HypothesisResult],
                   numeric: Sequence[NumericResult]) -> list[str]:
    """One line per contradicted hypothesis: its name and its problems."""
    return [f"hypothesis {r.hypothesis.name!r}: {'; '.join(n.problems)}"
            for r, n in zip(results, numeric) if n.problems]


__all__ = ["NumericResult", "cross_check", "cross_check_all", "contradictions",
           "GradientCheck", "Training", "single_threaded_blas"]
