"""Facts: derivations other than a two-unit hypothesis (``[[fact]]`` tables of a spec).

Each kind is one module; :func:`settle_fact` dispatches on ``kind``.  See
:mod:`.spec` for the keys of each kind and :class:`.result.FactResult` for
what comes back (rendered by :mod:`symderive.report.facts` and the JSON
report's ``facts`` list).
"""
from __future__ import annotations

from ..spec import NetworkSpec, Spec
from .backprop import backprop_exact
from .dropout import dropout
from .losses import loss_gradient
from .optimizer import optimizer_fact
from .result import FactResult, Statement
from .spec import FactSpec
from .zero import unit_gradient, zero_init


def settle_fact(network: NetworkSpec, fact: FactSpec, seed: int) -> FactResult:
    """The derivation of one fact about ``network``."""
    if fact.kind == "backprop_exact":
        return backprop_exact(network, fact)
    if fact.kind == "loss_gradient":
        return loss_gradient(network, fact)
    if fact.kind == "zero_init":
        return zero_init(network, fact, seed)
    if fact.kind == "unit_gradient":
        return unit_gradient(network, fact, seed)
    if fact.kind == "dropout":
        return dropout(network, fact, seed)
    if fact.kind == "optimizer":
        return optimizer_fact(network, fact, seed)
    raise ValueError(f"unknown fact kind {fact.kind!r}")  # spec validation rules this out


def settle_facts(spec: Spec) -> tuple[FactResult, ...]:
    """Every ``[[fact]]`` of ``spec``, in order."""
    return tuple(settle_fact(spec.network, f, spec.check.seed + 500 + 1000 * k)
                 for k, f in enumerate(spec.facts))


__all__ = ["FactResult", "FactSpec", "Statement", "settle_fact", "settle_facts"]
