"""The orchestrator: a spec in, a :class:`Derivation` out, one call per stage."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from .engine.generic import instantiated
from .engine.mlp import single_threaded_blas
from .engine.symmetry import HypothesisResult, settle_hypothesis
from .spec import Spec

if TYPE_CHECKING:  # imported where used: a run without them does not pay their import
    from .facts import FactResult
    from .numeric import NumericResult


@dataclass(frozen=True)
class Derivation:
    """Everything symderive established about a spec; renderers turn it into text."""

    spec: Spec
    results: tuple[HypothesisResult, ...]
    numeric: tuple[NumericResult, ...] = field(default=())  # per hypothesis, or () when not run
    facts: tuple[FactResult, ...] = field(default=())       # per [[fact]] table

    @property
    def agreement(self) -> bool:
        """False when the numeric cross-check contradicts a symbolic result (or a fact)."""
        return (all(n.agreement for n in self.numeric)
                and all(f.numeric is None or f.numeric.agreement for f in self.facts))

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
    with single_threaded_blas():  # the witnesses' NumPy passes, as the cross-check's
        for k, h in enumerate(spec.hypotheses):
            say(f'[{k + 1}/{total}] hypothesis "{h.name}"')
            results.append(settle_hypothesis(spec.network, h, spec.check.seed + 1000 * k))
    if numeric and total:
        say(f"numeric cross-check of {total} hypothes{'is' if total == 1 else 'es'}")
    checked = _cross_check(spec, results) if numeric and total else ()
    return Derivation(spec, tuple(results), checked, _facts(spec, numeric, say))


def _cross_check(spec: Spec, results: list[HypothesisResult]) -> tuple[NumericResult, ...]:
    from .numeric import cross_check_all

    return cross_check_all(instantiated(spec), results)


def _facts(spec: Spec, numeric: bool, say: Callable[[str], None]) -> tuple[FactResult, ...]:
    """Every [[fact]] table settled (and checked unless not ``numeric``); () without any."""
    if not spec.facts:
        return ()
    from .facts import check_facts, settle_facts

    say(f"{len(spec.facts)} [[fact]] table{'' if len(spec.facts) == 1 else 's'}")
    facts = settle_facts(spec)
    if numeric and facts:
        say(f"numeric check of {len(facts)} fact{'' if len(facts) == 1 else 's'}")
        facts = check_facts(spec, facts)
    return facts
