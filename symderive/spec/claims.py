"""Claims: the verdict someone asserts for a ``[[hypothesis]]`` or ``[[fact]]`` table.

A question on a forum is rarely "what is true?" but "X says this, Y says that:
who is right?".  ``claim`` records the asserted verdict (a word of the table's
kind) and ``claimed_by`` who asserts it, so that a report can open with a
judgement of each claim.  Validated like every other key: an error names the
field and lists the allowed words.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import SpecError
from .fields import _string, visible

#: The verdicts a hypothesis can be claimed to have (CONTRACT.md: preserved | broken).
HYPOTHESIS_CLAIMS: tuple[str, ...] = ("preserved", "broken")
#: kind of [[fact]] -> the verdict words its derivation produces (undecided aside).
FACT_CLAIMS: dict[str, tuple[str, ...]] = {
    "backprop_exact": ("exact",),
    "loss_gradient": ("proved",),
    "zero_init": ("stuck", "stuck iff sigma(0) = 0", "trains, units identical"),
    "unit_gradient": ("stays at zero", "comes back", "stays at zero iff sigma(0) = 0"),
    "dropout": ("preserved", "broken"),
    "optimizer": ("preserved", "broken"),
    "conservation": ("proved", "none found"),
    "gap_stability": ("gap grows", "gap shrinks", "neutral"),
}
#: What an [init] table can be claimed to be (docs/starting-points.md).
INIT_CLAIMS: tuple[str, ...] = ("stuck", "symmetric", "broken")
UNDECIDED = "undecided"


@dataclass(frozen=True)
class Claim:
    """``verdict`` asserted by ``by`` (None: nobody named)."""

    verdict: str
    by: str | None = None

    def holds(self, verdict: str) -> bool | None:
        """True when the derived verdict is the claimed one; None when it is undecided."""
        if verdict == UNDECIDED:
            return None
        return verdict == self.verdict

    def to_json(self, verdict: str) -> dict[str, Any]:
        return {"verdict": self.verdict, "by": self.by, "holds": self.holds(verdict)}


def parse_claim(table: dict[str, Any], where: str, allowed: tuple[str, ...]) -> Claim | None:
    """The ``claim``/``claimed_by`` keys of a table, or None when it has no ``claim``."""
    by = table.get("claimed_by")
    if by is not None:
        by = " ".join(_string(by, f"{where}.claimed_by", 200).split())
        if not visible(by):
            raise SpecError("must name who makes the claim (an empty string, or one of "
                            "only invisible characters, names nobody)",
                            field=f"{where}.claimed_by")
    if "claim" not in table:
        if by is not None:
            raise SpecError("needs a claim: add claim = \"" + allowed[0] + "\" (one of "
                            + ", ".join(allowed) + ")", field=f"{where}.claimed_by")
        return None
    verdict = table["claim"]
    if not isinstance(verdict, str) or verdict not in allowed:
        shown = repr(verdict) if isinstance(verdict, str) else "a non-string"
        raise SpecError(f"must be one of {', '.join(repr(a) for a in allowed)}, got {shown}",
                        field=f"{where}.claim")
    return Claim(verdict, by)


CLAIM_KEYS = {"claim", "claimed_by"}

__all__ = ["Claim", "parse_claim", "HYPOTHESIS_CLAIMS", "FACT_CLAIMS", "INIT_CLAIMS",
           "CLAIM_KEYS"]
