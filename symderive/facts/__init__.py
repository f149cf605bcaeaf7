"""Facts: derivations other than a two-unit hypothesis (``[[fact]]`` tables of a spec).

Each kind is a vertical slice: one module holds its proof (``settle``) and its
numeric check (``check``), and :data:`KINDS` below registers it.  The report
renders every kind the same way from its :class:`~.result.Statement` list
(:mod:`symderive.report.facts`), so adding a kind means: a module here, one
line in :data:`KINDS`, and the keys its table accepts in
:data:`symderive.spec.facts.KINDS`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..engine.generic import instantiated_network, instantiation
from ..numeric import single_threaded_blas
from ..spec import NetworkSpec, Spec
from ..spec.facts import FactSpec
from .checks import MAX_STEPS, FactNumeric
from .result import FactResult, Statement


@dataclass(frozen=True)
class Kind:
    """One kind of fact: the module (in this package) holding its derivation and its
    numeric check, by name, imported when a spec has a fact of the kind
    (``trained``: the check runs gradient descent and takes ``steps`` and a learning
    rate)."""

    module: str
    settle_name: str
    check_name: str | None
    seeded: bool = True
    trained: bool = False
    #: settle reads the whole spec (its [check], [init] and [data]), not only the network
    whole_spec: bool = False
    #: the check is given the spec's [data] (None without one), keyword ``data``
    data: bool = False

    @property
    def settle(self) -> Callable[..., FactResult]:
        return self._function(self.settle_name)

    @property
    def check(self) -> Callable[..., FactNumeric] | None:
        return None if self.check_name is None else self._function(self.check_name)

    def _function(self, name: str) -> Callable:
        """A function of this kind's module (names from :data:`KINDS`, never the spec's)."""
        return getattr(importlib.import_module(f"{__name__}.{self.module}"), name)


#: Every kind of ``[[fact]]``, by the name its table gives in ``kind``.
KINDS: dict[str, Kind] = {
    "backprop_exact": Kind("backprop", "backprop_exact", "backprop_check", seeded=False),
    "loss_gradient": Kind("losses", "loss_gradient", "loss_gradient_check", seeded=False),
    "zero_init": Kind("zero", "zero_init", "zero_init_check", trained=True, whole_spec=True,
                      data=True),
    "unit_gradient": Kind("zero", "unit_gradient", "unit_gradient_check"),
    "dropout": Kind("dropout", "dropout", "dropout_check"),
    "optimizer": Kind("optimizer", "optimizer_fact", "optimizer_check", trained=True),
    "conservation": Kind("conservation", "conservation", "check", seeded=False,
                         trained=True),
    "gap_stability": Kind("stability", "gap_stability", "gap_stability_check", trained=True,
                          whole_spec=True),
}


def settle_fact(network: NetworkSpec, fact: FactSpec, seed: int,
                spec: Spec | None = None) -> FactResult:
    """The derivation of one fact about ``network`` (``spec``: for a kind that reads it)."""
    kind = KINDS[fact.kind]   # spec validation rules out unknown kinds
    if kind.whole_spec:
        return kind.settle(spec, fact, seed)
    return kind.settle(network, fact, seed) if kind.seeded else kind.settle(network, fact)


def settle_facts(spec: Spec) -> tuple[FactResult, ...]:
    """Every ``[[fact]]`` of ``spec``, in order."""
    return tuple(settle_fact(spec.network, f, spec.check.seed + 500 + 1000 * k, spec)
                 for k, f in enumerate(spec.facts))


def check_facts(spec: Spec, results: tuple[FactResult, ...]) -> tuple[FactResult, ...]:
    """``results`` with their ``numeric`` field filled in (None for a kind without a check)."""
    with single_threaded_blas(), np.errstate(all="ignore"):
        return tuple(replace(r, numeric=check_fact(spec, r, k)) for k, r in enumerate(results))


def check_fact(spec: Spec, result: FactResult, index: int) -> FactNumeric | None:
    """The numeric check of fact number ``index`` (0-based), seeded from spec.check.seed."""
    net = instantiated_network(spec.network)
    rng = np.random.default_rng((spec.check.seed, index, 7))
    steps = max(1, min(spec.check.steps, MAX_STEPS))
    kind = KINDS[result.fact.kind]
    if kind.check is None:
        return None
    given = {"data": spec.data} if kind.data else {}
    out = (kind.check(net, result, rng, steps, spec.check.learning_rate, **given)
           if kind.trained else kind.check(net, result, rng, **given))
    used = instantiation(spec.network)
    if used:
        words = ", ".join(f"{k} := {v}" for k, v in used.items())
        out = replace(out, method=f"{out.method} Evaluated with {words}.",
                      figures=out.figures + (("instantiation", used),))
    return out


__all__ = ["FactResult", "FactSpec", "FactNumeric", "KINDS", "Statement", "check_fact",
           "check_facts", "settle_fact", "settle_facts"]
