"""What a ``[[fact]]`` derivation establishes: statements, a verdict, assumptions, a witness."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp

from ..notation import tex
from ..spec.facts import FactSpec

PROVED, REFUTED, UNDECIDED = "proved", "refuted", "undecided"


@dataclass(frozen=True)
class Statement:
    """One equation ``lhs = rhs`` with its status: proved symbolically, or refuted by a witness."""

    claim: str                  # in words, our own (never spec text)
    lhs: sp.Basic
    rhs: sp.Basic
    status: str = PROVED

    def to_json(self, samples: int = 1) -> dict[str, Any]:
        return {"claim": self.claim, "lhs_latex": tex(self.lhs, samples),
                "rhs_latex": tex(self.rhs, samples), "status": self.status}


@dataclass(frozen=True)
class FactResult:
    """The outcome of one fact: ``verdict`` is a short word the kind defines."""

    fact: FactSpec
    verdict: str
    summary: str                                   # one or two sentences, our own words
    statements: tuple[Statement, ...] = ()
    assumptions: tuple[str, ...] = ()
    witness: dict[str, Any] | None = None          # concrete numbers, JSON-ready
    details: dict[str, Any] = field(default_factory=dict)   # kind-specific figures
    #: the NumPy check (:class:`symderive.facts.numeric.FactNumeric`), None when not run
    numeric: Any = field(default=None, compare=False)
    #: computed values to display, (words, lhs, rhs): numbers, never a proof
    computed: tuple[tuple[str, sp.Basic, sp.Basic], ...] = ()

    def to_json(self, samples: int = 1) -> dict[str, Any]:
        out = self.fact.to_json()
        out.update({
            "verdict": self.verdict,
            "summary": self.summary,
            "statements": [s.to_json(samples) for s in self.statements],
            "assumptions": list(self.assumptions),
            "witness": self.witness,
        })
        out.update(self.details)
        check = self.numeric
        if check is not None and getattr(check, "items_key", None) in out:
            out[check.items_key] = [{**entry, "numeric": figures} for entry, figures
                                    in zip(out[check.items_key], check.items)]
        return out
