"""From hypotheses to claims: each group's difference proved zero, refuted, or undecided.

For every hypothesis and every parameter group of its two units the
difference D = ∂L/∂θ_i − ∂L/∂θ_j (under the hypothesis) is settled by, in
order:

0. one step of the witness search (one NumPy forward + backward pass, the same
   point for every group of the hypothesis): a broken group is nearly always
   refuted here, before any symbolic work.  With every group tied or zeroed
   the two units are identical and no point can refute: no step is taken;
1. the local derivation with σ undefined (zero for every activation);
2. the local derivation with the network's activation;
3. the rest of the seeded witness search: a concrete point satisfying the
   hypothesis where D ≠ 0;
4. for small networks, differentiating the whole loss and simplifying.

Only 1, 2 and 4 can make a status ``equal``; only 0 and 3 make it
``different`` (the same witness either way: 0 is the search's first step).
The readable form of a non-zero D is built only when a report asks for it
(:attr:`GroupResult.residual`).  The verdict ``preserved`` further needs the
swap symmetry of the loss.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial
from typing import Callable

import numpy as np
import sympy as sp
# SymPy imports sympy.tensor (and with it sympy.combinatorics) when it builds its first
# sum; every derivation builds sums, so the engine loads them with its own imports and a
# first derive in a process costs what a later one does (docs/speed-layers.md).
import sympy.tensor.tensor  # noqa: E402,F401

from ..spec import Hypothesis, NetworkSpec
from . import generic
from . import local
from .gradients import direct_gradient, whole_loss_affordable, whole_loss_skip_note
from .local import LocalModel, concrete, is_identically_zero
from .network import Network
from .residual import display_residual
from .witness import (Start, Witness, identical_units, next_witness, random_targets,
                      witness_search)

EQUAL, DIFFERENT, UNDECIDED = "equal", "different", "undecided"
PRESERVED, BROKEN = "preserved", "broken"
#: Whole-loss differentiation is attempted only below this many parameter-samples.
FULL_LIMIT = 120


Display = Callable[[], "tuple[sp.Expr, str | None]"]


@dataclass(frozen=True)
class GroupResult:
    """The settled difference of one parameter group.

    ``residual`` (the difference in local notation, 0 when equal) and ``index``
    ("k" or "m" when the residual is written for a generic component) are
    computed on first use from ``display``: a verdict does not need them, and
    factoring a difference costs more than refuting it."""

    group: str
    status: str
    witness: Witness | None
    method: str                # how the status was established
    display: Display | None = field(default=None, compare=False, repr=False)
    #: why the status is not decided when a step was skipped (its estimated cost)
    note: str | None = None

    @cached_property
    def _shown(self) -> tuple[sp.Expr, str | None]:
        return self.display() if self.display is not None else (sp.S.Zero, None)

    @property
    def residual(self) -> sp.Expr:
        return self._shown[0]

    @property
    def index(self) -> str | None:
        return self._shown[1]


@dataclass(frozen=True)
class HypothesisResult:
    hypothesis: Hypothesis
    groups: tuple[GroupResult, ...]
    verdict: str
    covered: bool              # every group of the two units is tied or zeroed
    swap_invariant: bool       # the swap of units i, j fixes the loss (checked symbolically)
    swap_method: str
    assumptions: tuple[str, ...] = ()   # generic mode: what the proof assumed, in words


def _local_difference(model: LocalModel, group: str, n=1) -> sp.Expr:
    """The per-sample core of a group's difference; D = 0 iff this is 0 for all values."""
    if group == "outgoing":
        return model.activation_difference(n)
    return model.error_difference(n)


def settle_group(spec: NetworkSpec, hyp: Hypothesis, group: str, seed: int,
                 start: Start | None = None) -> GroupResult:
    """Decide one group's status (see the module docstring for the order); the
    search's first point is ``start``'s when given (shared by the hypothesis's groups)."""
    if constant_loss(spec):
        return GroupResult(group, EQUAL, None, CONSTANT_LOSS)
    model = LocalModel(spec, hyp)
    display = partial(display_residual, model, group)
    # identical units: no point can be a witness, so no pass is spent looking
    search = (iter(()) if identical_units(spec, hyp)
              else witness_search(spec, hyp, group, seed, start))
    witness = next(search, None)
    if witness is not None:
        return GroupResult(group, DIFFERENT, witness, "witness", display)
    core = _local_difference(model, group)
    if is_identically_zero(core):
        return GroupResult(group, EQUAL, None, "local, any activation")
    if is_identically_zero(concrete(core, spec)):
        return GroupResult(group, EQUAL, None, "local, this activation")
    witness = next_witness(search)
    if witness is not None:
        return GroupResult(group, DIFFERENT, witness, "witness", display)
    return whole_loss_status(spec, hyp, group, display)


#: The method of an undecided group whose whole-loss check was skipped for its cost.
WHOLE_LOSS_SKIPPED = "whole loss skipped"


def whole_loss_status(spec: NetworkSpec, hyp: Hypothesis, group: str,
                      display: Display | None) -> GroupResult:
    """The last step of a group nothing else decided: the whole-loss zero proof on a small
    network, unless its estimated cost is over the limit; then the group stays undecided
    and says so (a skipped check decides nothing, so no other status changes)."""
    note = (whole_loss_skip_note(spec) if whole_loss_affordable(spec, FULL_LIMIT) else None)
    if note is not None:
        return GroupResult(group, UNDECIDED, None, WHOLE_LOSS_SKIPPED, display, note)
    if _full_is_zero(spec, hyp, group):
        return GroupResult(group, EQUAL, None, "whole loss")
    return GroupResult(group, UNDECIDED, None, "none", display)


#: The method of a group proved equal because the loss does not depend on the outputs.
CONSTANT_LOSS = "constant loss"


@lru_cache(maxsize=32)
def constant_loss(spec: NetworkSpec) -> bool:
    """Is the per-sample loss constant as a function of the output pre-activations?

    Then every gradient is identically 0 (softmax_ce with one output unit: the
    softmax of a single logit is 1 and −y ln 1 = 0), whatever the network's size,
    which the whole-loss comparison would only reach on small networks."""
    return not _loss_moves(spec) and proved_constant_loss(spec)


def proved_constant_loss(spec: NetworkSpec) -> bool:
    """:func:`constant_loss` by the symbolic proof alone: every ∂ℓ/∂z^{(L)}_m is 0."""
    width = spec.layers[-1]
    holders = [sp.Dummy(f"zL{m}", real=True) for m in range(width)]
    targets = [sp.Dummy(f"y{m}", real=True) for m in range(width)]
    f = spec.output_activation
    ell = spec.loss.per_sample([f(h) for h in holders], targets)
    # a property of the loss, checked once per network (not a group's proof)
    terms = sp.Add.make_args(ell)   # ∂/∂h of the terms that contain h only (MSE: one)
    return all(local.is_identically_zero(sp.Add(*[t.diff(h) for t in terms if t.has(h)]))
               for h in holders)


def _loss_moves(spec: NetworkSpec) -> bool:
    """Cheap evidence that the loss is not constant: its NumPy gradient with respect to
    the output pre-activations is clearly non-zero at a seeded point.  It only ever
    spares the symbolic check (which costs O(width²) for softmax_ce); a loss is called
    constant by that proof alone."""
    net = generic.instantiated_network(spec)
    rng = np.random.default_rng(20261201)
    z = rng.uniform(-0.5, 0.5, size=(spec.samples, spec.layers[-1]))
    f = net.output_activation
    with np.errstate(all="ignore"):
        _, dyhat = net.loss.np_value_and_grad(f.np_f(z), random_targets(net, rng))
        gradient = np.asarray(dyhat * f.np_df(z), dtype=float)
    return bool(np.all(np.isfinite(gradient)) and np.max(np.abs(gradient)) > 1e-6)


def _full_is_zero(spec: NetworkSpec, hyp: Hypothesis, group: str) -> bool:
    if not whole_loss_affordable(spec, FULL_LIMIT):
        return False
    net = Network(spec)
    i, j = hyp.units
    gi, gj = net.group(hyp.layer, i, group), net.group(hyp.layer, j, group)
    tie = tie_substitution(net, hyp)
    grads = direct_gradient(net, gi + gj)
    half = len(gi)
    return all(is_identically_zero((a - b).xreplace(tie))
               for a, b in zip(grads[:half], grads[half:]))


def tie_substitution(net: Network, hyp: Hypothesis) -> dict[sp.Symbol, sp.Expr]:
    """The map that imposes a hypothesis on the whole network's parameters."""
    i, j = hyp.units
    out: dict[sp.Symbol, sp.Expr] = {}
    for group in hyp.tie:
        out.update(zip(net.group(hyp.layer, j, group), net.group(hyp.layer, i, group)))
    for group in hyp.zero:
        for unit in (i, j):
            out.update({s: sp.S.Zero for s in net.group(hyp.layer, unit, group)})
    return out


# ------------------------------------------------------------------ verdicts


def settle_hypothesis(spec: NetworkSpec, hyp: Hypothesis, seed: int) -> HypothesisResult:
    """Every group's status, the swap check, and the verdict (CONTRACT.md)."""
    start = Start(spec, hyp, seed)     # one first point (one pass) for every group
    groups = tuple(settle_group(spec, hyp, g, seed + 7919 * k, start)
                   for k, g in enumerate(spec.groups()))
    assumed = set(hyp.tie) | set(hyp.zero)
    covered = all(g in assumed for g in spec.groups())
    swap_ok, swap_method = swap_check(spec, hyp)
    if any(r.status == DIFFERENT for r in groups if r.group in assumed):
        verdict = BROKEN
    elif constant_loss(spec):   # every gradient is 0: nothing moves, so every tie holds
        verdict, swap_method = PRESERVED, CONSTANT_LOSS
    elif covered and swap_ok and all(r.status == EQUAL for r in groups):
        verdict = PRESERVED
    else:
        verdict = UNDECIDED
    equal = tuple(r.group for r in groups if r.status == EQUAL)
    return HypothesisResult(hyp, groups, verdict, covered, swap_ok, swap_method,
                            generic.assumptions(spec, hyp, equal))


def swap_check(spec: NetworkSpec, hyp: Hypothesis) -> tuple[bool, str]:
    """Verify that exchanging units i and j maps the loss to itself.

    On small networks the whole loss is compared with its swapped self; on any
    network the local form z^{(l+1)} = Σ_u W^{(l+1)}_{mu} σ(z_u) + ... is.
    """
    local = LocalModel(spec, hyp).swap_invariant()
    if not local or not whole_loss_affordable(spec, FULL_LIMIT):
        return local, "local"
    net = Network(spec)
    i, j = hyp.units
    swap: dict[sp.Symbol, sp.Symbol] = {}
    for group in spec.groups():
        for a, b in zip(net.group(hyp.layer, i, group), net.group(hyp.layer, j, group)):
            swap.update({a: b, b: a})
    loss = net.loss
    whole = loss.xreplace(swap) == loss or sp.expand(loss.xreplace(swap) - loss) == 0
    return local and whole, "whole loss"


__all__ = ["EQUAL", "DIFFERENT", "UNDECIDED", "PRESERVED", "BROKEN", "GroupResult",
           "HypothesisResult", "settle_group", "settle_hypothesis", "tie_substitution",
           "display_residual"]
