"""The numeric work of each stage of a derivation, counted as the code runs it.

Each function follows one stage (its docstring names the code) and counts its passes,
draws, steps and finite differences with the unit costs of :mod:`.passes`.  Where
the work depends on what the stage finds (a witness on the first draw or the 64th),
the count is the expected one under the draws' own distributions, or the most the
code does when that cannot be told from the spec.
"""
from __future__ import annotations

from ..engine import witness as witnesses
from ..numeric import gradcheck, points, training
from ..spec import Hypothesis, NetworkSpec
from . import passes as P
from .passes import ARRAY_CALL, forward, full_pass, parameters, step


def _group_can_differ(net: NetworkSpec, h: Hypothesis, group: str) -> bool:
    """May the two units' gradients differ on ``group`` (so that a witness is searched
    for beyond the first draw)?  Not when every group is assumed (the local proof
    settles them all), nor the outgoing group of units whose z are tied."""
    assumed = set(h.tie) | set(h.zero)
    if all(g in assumed for g in net.unit_groups(h.layer)):
        return False
    pinned = {"incoming"} | ({"bias"} if net.bias else set())
    return not (group == "outgoing" and pinned <= assumed)


def witness_search(net: NetworkSpec, h: Hypothesis) -> float:
    """``engine.witness.witness_search`` for every group of a hypothesis (settle): each
    try draws every parameter, evaluates a pass and redraws the samples near a kink up
    to REDRAWS times; a group that may differ tries until a point is clear of kinks."""
    N = net.samples
    evaluations, give_up = P.kink_settling(P.row_clear(net), N, witnesses.REDRAWS)
    point = (P.draw(net, P.WITNESS_DRAW)
             + evaluations * (full_pass(net, N) + net.depth * ARRAY_CALL))
    tries = P.expected_tries(give_up, witnesses.TRIES)
    return sum(point * (tries if _group_can_differ(net, h, g) else 1.0)
               for g in net.unit_groups(h.layer))


def check_points(net: NetworkSpec, redraws: int, wanted: int, retry: bool = True) -> float:
    """``numeric.points.check_point`` ``wanted`` times (``retry``), or the facts' points
    (``facts.checks._point``: one draw each): draws of every parameter, each with up to
    ``redraws`` forward passes that redraw the samples near a kink; with ``retry`` a
    draw that gives up is replaced, at most points.TRIES times, and a point not found
    ends the search.  Each point found gets a full pass (its loss is checked finite)."""
    N = net.samples
    checks, give_up = P.kink_settling(P.row_clear(net), N, redraws - 1)
    draw = P.draw(net) + checks * forward(net, N)
    if not retry:
        return wanted * draw
    draws = P.expected_tries(give_up, points.TRIES)
    found = 1.0 - give_up ** points.TRIES
    attempted = sum(found ** k for k in range(wanted))
    return attempted * (draws * draw + full_pass(net, N))


def _moved_unit(net: NetworkSpec, t: int) -> float:
    """One loss of a finite difference in weight layer t+1 (``gradcheck.finite_difference``):
    the moved unit's column and a rank-one update of a wide next layer, or the forward
    pass from the perturbed layer on."""
    s, N = net.layers, net.samples
    if gradcheck.rank_one(net, t):
        rest = forward(net, N, t + 3) if t + 3 <= net.depth else P.loss_cost(net, N)
        return N * (s[t] + 2 * s[t + 2]) + 8 * ARRAY_CALL + rest
    return forward(net, N, t + 1)


def gradient_check(net: NetworkSpec, h: Hypothesis) -> float:
    """``numeric.gradcheck.gradient_check``: POINTS check points; at each, the local
    evaluator (a forward and a full pass, then its formulas over the fan-out) and two
    losses per compared component (at most MAX_COMPONENTS a group and unit; the larger
    steps tried where the first difference disagrees are not counted: they are for
    saturated or wrong gradients); then the NumPy differences."""
    s, N, l = net.layers, net.samples, h.layer
    cap = gradcheck.MAX_COMPONENTS
    into = (min(s[l - 1], cap) + 1) * _moved_unit(net, l - 1)
    out = min(s[l + 1], cap) * _moved_unit(net, l) if l < net.depth else 0.0
    fan_out = s[l + 1] if l < net.depth else 1
    # the local formulas of both units: a term per next-layer unit (NumPy calls on the
    # samples), then summed over the samples for every component of the groups
    evaluate = (forward(net, N) + full_pass(net, N)
                + 2 * (fan_out * (3 * ARRAY_CALL + 10 * N) + 4 * N * (s[l - 1] + 1 + fan_out)))
    per_point = evaluate + 2 * 2 * (into + out) + forward(net, N)
    return (check_points(net, points.TRIES, gradcheck.POINTS)
            + gradcheck.POINTS * (per_point + full_pass(net, N)))


def training_run(net: NetworkSpec, h: Hypothesis, steps: int, optimizer: str) -> float:
    """``numeric.training.simulate``: the search for an informative start (STARTS draws
    and passes, unless every group is assumed), then ``steps`` + 1 passes, gap
    measurements and optimiser steps, and the final dead-unit and gradient checks."""
    N, groups = net.samples, len(net.unit_groups(h.layer))
    draw = P.draw(net)
    search = any(_group_can_differ(net, h, g) for g in net.unit_groups(h.layer))
    starts = training.STARTS * (draw + full_pass(net, N)) if search else draw
    gap = groups * 2 * 4 * ARRAY_CALL
    per_step = full_pass(net, N) + gap + step(net, optimizer)
    return (starts + P.COPY * parameters(net) + (steps + 1) * per_step
            + forward(net, N) + full_pass(net, N))


def hypothesis(net: NetworkSpec, h: Hypothesis, steps: int, optimizer: str) -> float:
    """Everything numeric one hypothesis costs: its witnesses, gradient check, training."""
    return (witness_search(net, h) + gradient_check(net, h)
            + training_run(net, h, steps, optimizer))
