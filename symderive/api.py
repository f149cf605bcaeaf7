"""The orchestrator: a spec in, a :class:`Derivation` out, one call per stage."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

from .engine.frozen import frozen_parameters
from .engine.generic import instantiated
from .engine.partition import coarsest_partition
from .engine.start import spec_start
from .engine.symmetry import HypothesisResult, settle_hypothesis
from .facts import FactResult, check_facts, settle_facts
from .numeric import NumericResult, cross_check_all
from .numeric.startpoint import StartResult, check_start
from .numeric.trajectory import trajectory
from .spec import Spec


@dataclass(frozen=True)
class Derivation:
    """Everything symderive established about a spec; renderers turn it into text."""

    spec: Spec
    results: tuple[HypothesisResult, ...]
    numeric: tuple[NumericResult, ...] = field(default=())  # per hypothesis, or () when not run
    facts: tuple[FactResult, ...] = field(default=())       # per [[fact]] table
    start: StartResult | None = None                        # the [init] starting point

    @property
    def problems(self) -> list[str]:
        """The starting point's contradictions between proof and simulation."""
        return list(self.start.check.problems) if self.start and self.start.check else []

    @property
    def agreement(self) -> bool:
        """False when the numeric cross-check contradicts a symbolic result (or a fact)."""
        return (all(n.agreement for n in self.numeric)
                and all(f.numeric is None or f.numeric.agreement for f in self.facts)
                and not self.problems)

    def _repr_markdown_(self) -> str:
        """Notebooks: the Markdown report (math typeset by the notebook's MathJax)."""
        from .render.markdown import render

        return render(self)

    def _repr_latex_(self) -> str:
        """Notebooks exported to LaTeX/PDF: a fragment to place in the document."""
        from .render.latex import render

        return render(self, fragment=True)


def derive(spec: Spec, numeric: bool = True,
           progress: Callable[[str], None] | None = None) -> Derivation:
    """Settle every hypothesis of ``spec`` symbolically, then cross-check it
    numerically (gradient check and training simulation) unless ``numeric`` is false.
    ``progress`` receives one line per stage (:class:`symderive.guards.Progress`)."""
    say = progress or (lambda message: None)
    total = len(spec.hypotheses)
    results = []
    for k, h in enumerate(spec.hypotheses):
        say(f'[{k + 1}/{total}] hypothesis "{h.name}"')
        results.append(settle_hypothesis(spec.network, h, spec.check.seed + 1000 * k))
    if numeric and total:
        say(f"numeric cross-check of {total} hypothes{'is' if total == 1 else 'es'}")
    checked = cross_check_all(instantiated(spec), results) if numeric else ()
    if spec.facts:
        say(f"{len(spec.facts)} [[fact]] table{'' if len(spec.facts) == 1 else 's'}")
    facts = settle_facts(spec)
    if numeric and facts:
        say(f"numeric check of {len(facts)} fact{'' if len(facts) == 1 else 's'}")
        facts = check_facts(spec, facts)
    start = settle_start(spec, numeric, say)
    return Derivation(spec, tuple(results), checked, facts, start)


def settle_start(spec: Spec, numeric: bool = True,
                 say: Callable[[str], None] = lambda message: None) -> StartResult | None:
    """Classes and frozen sets of the [init] starting point (proved), its trajectory,
    and (``numeric``) the simulation that cross-checks them."""
    start = spec_start(spec)
    if start is None:
        return None
    say("the starting point: classes of units and frozen parameters")
    frozen = frozen_parameters(start)
    result = StartResult(start, coarsest_partition(start, frozen), frozen)
    concrete = instantiated(spec)
    traj = trajectory(concrete.network, start, spec.check)
    check = (check_start(concrete.network, start, result.partition, result.frozen, spec.check)
             if numeric else None)
    return replace(result, trajectory=traj, check=check)
