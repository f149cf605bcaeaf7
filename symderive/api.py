"""The orchestrator: a spec in, a :class:`Derivation` out, one call per stage."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .spec import Spec
from .symmetry import HypothesisResult, settle_hypothesis


@dataclass(frozen=True)
class Derivation:
    """Everything symderive established about a spec; renderers turn it into text."""

    spec: Spec
    results: tuple[HypothesisResult, ...]
    numeric: tuple[Any, ...] = field(default=())  # per hypothesis, or () when not run


def derive(spec: Spec) -> Derivation:
    """Settle every hypothesis of ``spec`` symbolically."""
    results = tuple(settle_hypothesis(spec.network, h, spec.check.seed + 1000 * k)
                    for k, h in enumerate(spec.hypotheses))
    return Derivation(spec, results)
