"""Units of the output layer: why two equal output units still get different updates.

For units i, j of the output layer L backpropagation starts, per sample n, at

    δ^{(L)}_{n,u} = ∂ℓ_n/∂z^{(L)}_{n,u},
    ∂L/∂W^{(L)}_{uk} = Σ_n δ^{(L)}_{n,u} a^{(L-1)}_{n,k},   ∂L/∂b^{(L)}_u = Σ_n δ^{(L)}_{n,u},

and an output unit has no outgoing weights.  δ^{(L)} is written in the unit's own
pre-activation z, output ŷ = f(z) (softmax p for ``softmax_ce``) and target y:
ŷ − y for MSE, σ(z) − y for sigmoid + BCE, p Σ_m y_m − y for softmax
cross-entropy.  Everything before layer L enters through a^{(L-1)} alone, as
in :mod:`.local`, so a zero difference is proved for every network before it.

Tying the incoming weights and the bias makes z_i = z_j, hence ŷ_i = ŷ_j, but
the targets stay y_i and y_j: the difference is (y_j − y_i)·(...) and the units
separate whenever the two outputs' targets differ.  The swap argument of hidden
units fails here: exchanging two output units fixes the loss only if the
targets are exchanged too, i.e. only on data with y_{n,i} = y_{n,j} for every
sample.  With concrete targets (``targets``, one row per sample) that hold that
equality, the targets are identified and the same local derivation proves the
units stay identical on that data.
"""
from __future__ import annotations

import functools

from dataclasses import dataclass
from typing import Sequence

import sympy as sp

from ..spec import Hypothesis, NetworkSpec
from ..spec.undefined import ANY
from . import generic
from .local import is_identically_zero
from .network import (Network, activation_value, output_value, per_output_delta, preactivation,
                      softmax_value, target)
from .residual import _sum, readable, tidy
from .symmetry import (BROKEN, DIFFERENT, EQUAL, FULL_LIMIT, PRESERVED, UNDECIDED, GroupResult,
                       HypothesisResult, settle_hypothesis, whole_loss_status)
from .witness import find_witness

Sample = int | str
#: The method of a status proved by the output layer's local derivation.
LOCAL_OUTPUT = "local, output layer"
#: How a preserved verdict was proved without the swap: both units frozen at 0.
FROZEN = "frozen at zero"


def is_output(network: NetworkSpec, hyp: Hypothesis) -> bool:
    """Is the hypothesis about two units of the output layer?"""
    return hyp.layer == network.depth


def same_targets(targets: Sequence[Sequence[float]] | None, units: tuple[int, int]) -> bool:
    """Do concrete targets (one row per sample) give the two outputs equal targets in
    every sample?  False when there are no concrete targets: then the targets are free."""
    if not targets:
        return False
    i, j = units
    return all(row[i - 1] == row[j - 1] for row in targets)


@dataclass(frozen=True)
class OutputModel:
    """The neighbourhood of units i, j of the output layer: their z, ŷ, y and δ."""

    network: NetworkSpec
    hypothesis: Hypothesis
    #: concrete data makes y_{n,i} = y_{n,j} in every sample (see :func:`same_targets`)
    tied_targets: bool = False

    @property
    def layer(self) -> int:
        return self.network.depth

    @property
    def fan_in(self) -> int:
        return self.network.layers[self.layer - 1]

    @property
    def width(self) -> int:
        return self.network.layers[self.layer]

    def _zeroed(self, group: str) -> bool:
        return group in self.hypothesis.zero or (group == "bias" and not self.network.bias)

    def _assumed(self, group: str) -> bool:
        return group in self.hypothesis.tie or self._zeroed(group)

    def pinned(self) -> bool:
        """Incoming weights and bias zeroed: z = 0 for both units."""
        return self._zeroed("incoming") and self._zeroed("bias")

    def same_z(self) -> bool:
        """Does the hypothesis make z_{n,i} = z_{n,j} for every input?"""
        return self._assumed("incoming") and self._assumed("bias")

    def unit(self, which: int) -> int:
        return self.hypothesis.units[which]

    def substitution(self, n: Sample) -> dict[sp.Symbol, sp.Expr]:
        """The hypothesis (and tied targets) imposed on one sample's local symbols."""
        L, (i, j) = self.layer, self.hypothesis.units
        out: dict[sp.Symbol, sp.Expr] = {}
        if self.pinned():
            f = self.network.output_activation
            for u in (i, j):
                out[preactivation(L, n, u)] = sp.S.Zero
                out[output_value(n, u)] = f(sp.S.Zero)
        if self.same_z():
            out.setdefault(preactivation(L, n, j), preactivation(L, n, i))
            out.setdefault(output_value(n, j), output_value(n, i))
            out[softmax_value(n, j)] = softmax_value(n, i)
        if self.tied_targets:
            out[target(n, j)] = target(n, i)
        return out

    def raw_delta(self, n: Sample, which: int, total: sp.Expr | None = None) -> sp.Expr:
        """δ^{(L)}_{n,u} for u = units[which], before the hypothesis; ``total`` stands for
        Σ_m y_{n,m} in softmax cross-entropy's δ (default: :meth:`target_total`)."""
        u, spec = self.unit(which), self.network
        if spec.loss.name == "softmax_ce":
            fp = spec.output_activation.derivative(preactivation(self.layer, n, u))
            total = self.target_total(n) if total is None else total
            return (softmax_value(n, u) * total - target(n, u)) * fp
        return per_output_delta(spec, n, u)

    def target_total(self, n: Sample) -> sp.Expr:
        """Σ_m y_{n,m} (1 for one-hot targets): softmax cross-entropy's δ has it.  Written
        out for at most 3 outputs, else with Σ."""
        if self.width <= 3:
            return sp.Add(*[target(n, m) for m in range(1, self.width + 1)])
        m = sp.Symbol("m", integer=True, positive=True)
        return sp.Sum(sp.Symbol(f"y_{n}_m", real=True), (m, 1, self.width))

    def delta(self, n: Sample, which: int) -> sp.Expr:
        """δ^{(L)}_{n,u} after the hypothesis."""
        return self.raw_delta(n, which).xreplace(self.substitution(n))

    def error_difference(self, n: Sample) -> sp.Expr:
        """δ^{(L)}_{n,i} − δ^{(L)}_{n,j}: the incoming and bias differences are built on it."""
        return self.delta(n, 0) - self.delta(n, 1)

    def frozen(self) -> bool:
        """Are both units pinned at z = 0 with δ = 0 there (f'(0) = 0, as ReLU's H(0) = 0)?

        Then every gradient of their incoming weights and bias is 0 while those are 0,
        so by induction they stay 0 at every step of any optimizer whose state starts
        at 0: the two units stay identical, whatever the targets."""
        return self.pinned() and all(is_identically_zero(self.delta(n, w))
                                     for n in (1, "n") for w in (0, 1))

    def input(self, n: Sample, k: int | str) -> sp.Symbol:
        return activation_value(self.layer - 1, n, k)

    def pair_loss(self) -> tuple[sp.Expr, dict[sp.Symbol, sp.Symbol]]:
        """The terms of one sample's loss that involve units i, j, and the swap z_i ↔ z_j.

        Every loss here is symmetric in the outputs other than through the pairing
        of output m with target m (softmax's log-sum-exp is symmetric), so these
        terms decide whether the swap fixes the loss."""
        L, n, (i, j) = self.layer, 1, self.hypothesis.units
        f = self.network.output_activation
        zi, zj = preactivation(L, n, i), preactivation(L, n, j)
        ys = [target(n, i), target(n, j)]
        if self.tied_targets:
            ys = [ys[0], ys[0]]
        loss = self.network.loss.per_sample([f(zi), f(zj)], ys)
        return loss, {zi: zj, zj: zi}

    def swap_invariant(self) -> bool:
        """Does exchanging the two units (their z) leave the loss unchanged, targets fixed?"""
        loss, swap = self.pair_loss()
        return is_identically_zero(loss.xreplace(swap) - loss)


# ------------------------------------------------------------------ settling


def display_residual(model: OutputModel, group: str, core: sp.Expr) -> tuple[sp.Expr, str | None]:
    """The difference of one component: a^{(L-1)}_{n,k} (δ_i − δ_j), or δ_i − δ_j, summed
    over samples with Σ_n when there are several."""
    n = 1 if model.network.samples == 1 else "n"
    per_sample = model.error_difference(n) if n == "n" else core
    # untied pre-activations: δ_i − δ_j as two terms reads better than their expansion
    expr = _factored(per_sample) if model.same_z() else per_sample
    c: int | str | None = None
    if group == "incoming":
        c = "k" if model.fan_in > 1 else 1
        expr = model.input(n, c) * expr
    if model.network.samples > 1:
        expr = _sum(expr, "n", model.network.samples)
    return readable(expr), (c if isinstance(c, str) else None)


def _factored(core: sp.Expr) -> sp.Expr:
    """(y_j − y_i)(1 − ŷ_i²) rather than ŷ_i²(y_i − y_j) − y_i + y_j: a product shows what
    must vanish for the difference to vanish; else the shorter form."""
    grouped, whole = tidy(core), sp.factor(core)
    if len([f for f in sp.Mul.make_args(whole) if not f.is_Number]) > 1:
        return whole
    return whole if sp.count_ops(whole) < sp.count_ops(grouped) else grouped


def settle_output_group(model: OutputModel, group: str, seed: int) -> GroupResult:
    """One group's status: local proof of 0, else a NumPy witness, else the whole loss."""
    spec, hyp = model.network, model.hypothesis
    core = model.error_difference(1)
    if is_identically_zero(core):
        return GroupResult(group, EQUAL, None, LOCAL_OUTPUT)
    display = functools.partial(display_residual, model, group, core)   # built when shown
    witness = None if model.tied_targets else find_witness(spec, hyp, group, seed)
    if witness is not None:
        return GroupResult(group, DIFFERENT, witness, "witness", display)
    if not model.tied_targets:
        return whole_loss_status(spec, hyp, group, display)
    return GroupResult(group, UNDECIDED, None, "none", display)


def settle_output_hypothesis(spec: NetworkSpec, hyp: Hypothesis, seed: int,
                             targets: Sequence[Sequence[float]] | None = None
                             ) -> HypothesisResult:
    """Every group's status, the swap check and the verdict of an output-layer hypothesis.

    The verdict rule is the hidden units' (CONTRACT.md): broken when an assumed
    group's difference is not identically zero; preserved when every group is
    assumed, every difference is proved 0 and the swap fixes the loss -- or when
    both units are frozen at 0 (:meth:`OutputModel.frozen`), which needs no swap."""
    model = OutputModel(spec, hyp, same_targets(targets, hyp.units))
    groups = tuple(settle_output_group(model, g, seed + 7919 * k)
                   for k, g in enumerate(spec.unit_groups(hyp.layer)))
    assumed = set(hyp.tie) | set(hyp.zero)
    covered = all(g in assumed for g in spec.unit_groups(hyp.layer))
    swap_ok, swap_method = _swap_check(model)
    frozen = not swap_ok and model.frozen()
    if frozen:
        swap_method = FROZEN
    if any(r.status == DIFFERENT for r in groups if r.group in assumed):
        verdict = BROKEN
    elif covered and (swap_ok or frozen) and all(r.status == EQUAL for r in groups):
        verdict = PRESERVED
    else:
        verdict = UNDECIDED
    return HypothesisResult(hyp, groups, verdict, covered, swap_ok, swap_method,
                            assumptions(model))


def _swap_check(model: OutputModel) -> tuple[bool, str]:
    """The local check, and on small networks the whole loss with rows i, j of W^{(L)}
    and b^{(L)} exchanged (targets fixed, or identified when the data ties them)."""
    local = model.swap_invariant()
    spec, hyp = model.network, model.hypothesis
    net = Network(spec)
    if net.parameter_count() * spec.samples > FULL_LIMIT or spec.loss.name == ANY:
        return local, "local"
    i, j = hyp.units
    swap: dict[sp.Symbol, sp.Expr] = {}
    for group in spec.unit_groups(hyp.layer):
        for a, b in zip(net.group(hyp.layer, i, group), net.group(hyp.layer, j, group)):
            swap.update({a: b, b: a})
    loss = net.loss
    if model.tied_targets:
        loss = loss.xreplace({target(n, j): target(n, i) for n in range(1, spec.samples + 1)})
    whole = is_identically_zero(loss.xreplace(swap) - loss)
    return local and whole, "whole loss"


def assumptions(model: OutputModel) -> tuple[str, ...]:
    """What the result assumed, in words: generic mode's undefined loss, tied targets."""
    spec = model.network
    out = []
    if spec.loss.name == ANY:
        out.append("the loss is Σ_n Σ_m ℓ(ŷ_{n,m}, y_{n,m}) with ℓ an arbitrary differentiable "
                   "function of prediction and target")
    if generic.is_generic(spec):
        out.append(f"the input a^({model.layer - 1}) of the output layer is an arbitrary "
                   "vector function of the network's input and the earlier layers' parameters "
                   "(the hidden activation does not enter the output units' deltas)")
        inst = generic.instantiation(spec)
        if inst:
            out.append("witnesses and the numeric cross-check instantiate "
                       + " and ".join(f"the {k} as {v}" for k, v in inst.items()))
    if model.tied_targets:
        i, j = model.hypothesis.units
        out.append(f"the given data has y_(n,{i}) = y_(n,{j}) in every sample n")
    return tuple(out)


def spec_targets(spec) -> Sequence[Sequence[float]] | None:
    """A spec's concrete targets (its ``[data]`` table, one row per sample), or None: they
    decide whether two output units' targets agree in every sample."""
    return getattr(getattr(spec, "data", None), "targets", None)


def summary(spec: NetworkSpec, result: HypothesisResult,
            targets: Sequence[Sequence[float]] | None = None) -> dict:
    """The JSON ``output_layer`` entry: why the two output units separate, in words, and
    whether concrete data tied their targets."""
    i, j = result.hypothesis.units
    model = OutputModel(spec, result.hypothesis, same_targets(targets, (i, j)))
    same = model.same_z()
    why = (f"the hypothesis makes the predictions of outputs {i} and {j} equal, but each is "
           "compared with its own target: the output deltas differ by a multiple of "
           f"y_{j} - y_{i}" if same else
           "the hypothesis leaves the two units' pre-activations different, so their "
           "predictions and deltas differ")
    when = f"y_(n,{i}) = y_(n,{j}) for every sample n" if same else None
    if result.verdict == PRESERVED and result.swap_method == FROZEN:
        when = "always: both units stay at 0, where their gradients vanish"
        why = "both units' pre-activations are 0, where the output activation's slope is 0"
    elif result.verdict == PRESERVED and not model.tied_targets:
        when = "always: the loss does not depend on which target each output is compared with"
        why = "exchanging the two outputs leaves the loss unchanged"
    # 'when', not 'iff': differing targets separate the units on generic data, but
    # particular data (a zero input, a saturated output) can still give equal updates
    return {"same_prediction": same, "targets_tied_by_data": model.tied_targets,
            "identical_forever_when": when, "why": why}


def settle(spec: NetworkSpec, hyp: Hypothesis, seed: int,
           targets: Sequence[Sequence[float]] | None = None) -> HypothesisResult:
    """Settle a hypothesis about hidden or output units (the orchestrator's entry point)."""
    if is_output(spec, hyp):
        return settle_output_hypothesis(spec, hyp, seed, targets)
    return settle_hypothesis(spec, hyp, seed)


__all__ = ["OutputModel", "LOCAL_OUTPUT", "FROZEN", "is_output", "same_targets", "settle",
           "settle_output_group", "settle_output_hypothesis", "display_residual", "summary",
           "spec_targets"]
