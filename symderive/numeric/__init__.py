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

import contextlib
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

from ..engine.symmetry import PRESERVED, HypothesisResult
from ..spec import Spec
from .agreement import gradient_problems, notes, training_problems, witness_start
from .gradcheck import GradientCheck, gradient_check
from .training import Training, simulate

#: Third element of the seed: keeps the gradient check's and the training's draws apart.
GRADIENT_CHECK, TRAINING = 0, 1


@dataclass(frozen=True)
class NumericResult:
    """The cross-check of one hypothesis."""

    gradient_check: GradientCheck
    training: Training
    problems: tuple[str, ...]      # contradictions of the symbolic result
    notes: tuple[str, ...]         # plain statements about the figures
    #: The activations and loss the numbers used, as in the JSON network (values may be dicts).
    functions: tuple[tuple[str, Any], ...] = field(default=(), hash=False)

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
            "training": self.training.to_json(),
        }


def cross_check(spec: Spec, result: HypothesisResult, index: int) -> NumericResult:
    """Gradient check and training simulation of hypothesis number ``index`` (0-based)."""
    hyp = result.hypothesis
    check = gradient_check(spec.network, hyp, (spec.check.seed, index, GRADIENT_CHECK))
    search = result.verdict != PRESERVED
    run = simulate(spec.network, hyp, spec.check, (spec.check.seed, index, TRAINING),
                   search=search, fallback=witness_start(spec.network, result) if search else None)
    smooth = spec.network.activation.smooth and spec.network.output_activation.smooth
    problems = (gradient_problems(result, check, smooth)
                + training_problems(spec.network, result, run))
    network = spec.network.to_json()
    functions = tuple((k, network[k]) for k in ("activation", "output_activation", "loss"))
    return NumericResult(check, run, tuple(problems),
                         tuple(notes(spec.network, result, check, run, smooth)), functions)


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


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run BLAS on one thread: for these small matrices threads only cost time
    (10-20x on two busy cores), and the figures no longer depend on how many
    cores the machine has."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: the results are the same, only slower
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


__all__ = ["NumericResult", "cross_check", "cross_check_all", "contradictions",
           "GradientCheck", "Training"]
