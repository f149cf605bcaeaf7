"""The orchestrator: a spec in, a :class:`Derivation` out, one call per stage."""
from __future__ import annotations

from dataclasses import dataclass, field

from .facts import FactResult, settle_facts
from .generic import instantiated
from .numeric import NumericResult, cross_check_all
from .spec import Spec
from .symmetry import HypothesisResult, settle_hypothesis


@dataclass(frozen=True)
class Derivation:
    """Everything symderive established about a spec; renderers turn it into text."""

    spec: Spec
    results: tuple[HypothesisResult, ...]
    numeric: tuple[NumericResult, ...] = field(default=())  # per hypothesis, or () when not run
    facts: tuple[FactResult, ...] = field(default=())       # per [[fact]] table

    @property
    def agreement(self) -> bool:
        """False when the numeric cross-check contradicts a symbolic result."""
        return all(n.agreement for n in self.numeric)


def derive(spec: Spec, numeric: bool = True) -> Derivation:
    """Settle every hypothesis of ``spec`` symbolically, then cross-check it
    numerically (gradient check and training simulation) unless ``numeric`` is false."""
    results = tuple(settle_hypothesis(spec.network, h, spec.check.seed + 1000 * k)
                    for k, h in enumerate(spec.hypotheses))
    checked = cross_check_all(instantiated(spec), results) if numeric else ()
    return Derivation(spec, results, checked, settle_facts(spec))
