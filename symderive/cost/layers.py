"""The cost of a ``[[layer]]`` network's derivation, counted from its layers' kinds.

The work is NumPy passes: one forward + backward pass costs three times the
multiply-adds of the kinds' forwards (:meth:`LayerKind.flops`) per sample.  A
hypothesis spends at most :data:`TRIES` passes on the witness search of each group no structural proof settles, its
numeric check two passes per checked entry and the training steps (cut to
:data:`TRAINING_WORK`).  The swap's symbolic checks run on layers of at most
:data:`LEMMA_WORK` multiply-adds (larger ones on their kind's small instance), and
the whole loss only on networks of at most 120 parameter-samples, so the symbolic
part does not grow with the network.
"""
from __future__ import annotations

import math

from ..engine.layers.stack import Stack
from .layer_start import start_json_bytes, start_seconds
from ..engine.layers.swap import LEMMA_WORK  # noqa: F401 - documented bound, used by swap
from ..engine.layers.units import Units
from ..engine.layers.settle import TRIES, searched
from ..numeric.layers import CHECKED_PER_GROUP, TRAINING_WORK
from ..spec import Spec

#: Seconds per multiply-add of the kinds' NumPy passes on a loaded machine (measured by
#: benchmarks/bench_layers.py: 3 ns on the issue's CNN beside other jobs), and the limit.
SECONDS_PER_MAC = 4e-9
MAX_SECONDS = 30.0
#: Bytes of JSON per listed parameter of a witness (a float and its separator).
JSON_BYTES_PER_VALUE = 22


def pass_work(spec: Spec) -> float:
    """Multiply-adds of one forward + backward pass over every sample."""
    return 3.0 * Stack(spec.network).flops() * spec.network.samples


def stack_seconds(spec: Spec, numeric: bool = True) -> float:
    """The estimated time of the whole derivation, worst case (no witness found early)."""
    work = pass_work(spec)
    passes = 0.0
    for hyp in spec.hypotheses:
        units = Units(spec.network, hyp)
        groups = units.groups
        # the swap's result is not known before it runs: assume it holds when covered
        passes += TRIES * sum(searched(units, g, True) for g in groups)
        if numeric:
            passes += 2 * CHECKED_PER_GROUP * len(groups) + 1
    training = len(spec.hypotheses) * min(TRAINING_WORK, spec.check.steps * work) if numeric else 0
    laws = len(spec.facts) * (laws_passes(spec) if numeric else 0)
    return (passes * work + training + laws * work) * SECONDS_PER_MAC + \
        len(spec.facts) * laws_symbolic_seconds(spec) + start_seconds(spec)


def stack_json_bytes(spec: Spec) -> int:
    """Every witness lists every parameter: at most one witness per group."""
    count = Stack(spec.network).parameter_count()
    witnesses = sum(len(Units(spec.network, h).groups) for h in spec.hypotheses)
    return JSON_BYTES_PER_VALUE * count * witnesses + start_json_bytes(spec)


#: Seconds per term of the pre-activation the scale law's proof builds and checks (measured:
#: 1440 terms of a conv layer took 1.5-2.5 s on the loaded machine, the forward included).
SECONDS_PER_TERM = 1e-3


def laws_passes(spec: Spec) -> float:
    """The conservation fact's check (the only [[fact]] kind of a [[layer]] network):
    gradient descent and weight decay, gradient flow (Runge-Kutta, 4 passes a sub-step),
    and at worst the flow again with sub-steps REFINE times shorter."""
    from ..facts.checks import MAX_STEPS
    from ..facts.scale_check import REFINE, RK_SUBSTEPS

    steps = max(1, min(spec.check.steps, MAX_STEPS))
    return steps * (2 + 4 * RK_SUBSTEPS * (1 + REFINE))


def laws_symbolic_seconds(spec: Spec) -> float:
    """The proof's expansion of each norm's feeding layer, capped as the proof caps it."""
    from ..facts.scale import MAX_EXPANDED, sites

    shapes = Stack(spec.network).shapes
    total = 0.0
    for site in sites(spec.network)[0]:
        fan_in = math.prod(shapes[f"W{site.before.index}"][1:])
        terms = math.prod(site.before.out_shape) * (fan_in + 1)
        total += min(MAX_EXPANDED, terms) * SECONDS_PER_TERM
    return total
