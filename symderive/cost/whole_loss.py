"""The cost of the whole-loss step of a ``[[layer]]`` network, estimated before it runs.

The last step of a group nothing else settled (:func:`..engine.layers.settle._whole_loss_zero`)
differentiates the network's whole SymPy loss in each of the group's entries and expands
each tied difference.  Its time is that of ``expand``, which multiplies out every
product before anything cancels: a batch norm's ``1/sqrt(variance)`` differentiated
brings the variance's derivative into every product, and a polynomial activation
raises the terms to its degree (a residual CNN with batch norm on 3 samples of length
5 ran for more than 10 minutes).  So the estimate counts, on the loss as built (a
network of at most 120 parameter-samples, built in about a second), the terms that
expanding the derivatives would produce before cancelling (:func:`raw_terms`), and
the nodes that differentiating walks, with constants measured on this machine by
``benchmarks/bench_kind_costs.py`` (:mod:`symderive.engine.expansion` holds the count,
which the engine uses itself).  The engine skips the step over
:data:`~symderive.engine.gradients.WHOLE_LOSS_SECONDS` (the group stays undecided and
says why), and the guards count what is left (at most that limit a group).

Nothing here names a kind: the count reads the expression, whatever built it.
"""
from __future__ import annotations

from ..engine.expansion import (SECONDS_PER_NODE, SECONDS_PER_RAW_TERM,  # noqa: F401
                                WHOLE_LOSS_TOTAL, allowance, expand_seconds, group_seconds,
                                over_allowance, raw_terms)
from ..spec import Hypothesis, NetworkSpec

__all__ = ["group_cost", "raw_terms", "allowance", "over_allowance", "expand_seconds",
           "WHOLE_LOSS_TOTAL", "SECONDS_PER_RAW_TERM", "SECONDS_PER_NODE"]



def group_cost(network: NetworkSpec, hyp: Hypothesis, group: str) -> tuple[float, float]:
    """(raw terms, CPU seconds) of the whole-loss step of one group of ``hyp``, as the
    engine estimates it before deciding to run it
    (:func:`symderive.engine.expansion.group_seconds`)."""
    from ..engine.layers.settle import tie_substitution
    from ..engine.layers.stack import Stack
    from ..engine.layers.units import Units

    stack, units = Stack(network), Units(network, hyp)
    return group_seconds(stack, units.groups[group], tie_substitution(stack.theta, units))
