"""Generic mode: an undefined activation σ and an undefined per-output loss ℓ(ŷ, y).

``activation = "any"`` makes the hidden activation the undefined function σ
of :mod:`symderive.local` (with σ' its derivative); ``loss = "any"`` makes the
loss Σ_m ℓ(ŷ_m, y_m) with ℓ undefined (and ∂ℓ/∂ŷ its derivative).  A proof
with them holds for every differentiable σ and ℓ.  The local derivation
already treats the rest of the network as opaque: the input to layer l is
a^{(l-1)}, an arbitrary vector function of the input and earlier parameters,
and everything after layer l+1 enters through δ^{(l+1)}, so
z^{(l+1)}_m = V_{mi} a_i + V_{mj} a_j + r_m with r_m free of units i, j.

Here a group's difference is also checked *term by term with generic
indices* (one term of Σ_m, for an unnamed m): when that term is identically
zero, so is the sum for every width of every layer.

Numbers need concrete functions: witnesses and the numeric cross-check
instantiate σ := tanh and ℓ := ½(ŷ − y)² (:data:`INSTANTIATION`), and the
JSON witness says so.
"""
from __future__ import annotations

from dataclasses import replace

import sympy as sp

from ..spec import Hypothesis, NetworkSpec, Spec
from ..spec.functions import ACTIVATIONS, Loss
from ..spec.undefined import ANY, ANY_ACTIVATION, ANY_LOSS, INSTANTIATION, act, dact, dloss, loss_fn
from .local import LocalModel, is_identically_zero


def is_generic(network: NetworkSpec) -> bool:
    """Does the network have an undefined activation or loss?"""
    return network.activation.name == ANY or network.loss.name == ANY


def instantiation(network: NetworkSpec) -> dict[str, str] | None:
    """Which concrete functions stood in for the undefined ones (None when none did)."""
    out = {}
    if network.activation.name == ANY:
        out["activation"] = INSTANTIATION["activation"]
    if network.loss.name == ANY:
        out["loss"] = INSTANTIATION["loss"]
    return out or None


def instantiated_network(network: NetworkSpec) -> NetworkSpec:
    """The network with σ := tanh and ℓ := MSE where they were undefined."""
    if network.activation.name == ANY:
        network = replace(network, activation=ACTIVATIONS[INSTANTIATION["activation"]])
    if network.loss.name == ANY:
        network = replace(network, loss=Loss(INSTANTIATION["loss"]))
    return network


def instantiated(spec: Spec) -> Spec:
    """The spec with its network instantiated (for the numeric cross-check)."""
    if not is_generic(spec.network):
        return spec
    return replace(spec, network=instantiated_network(spec.network))


# ------------------------------------------------------------------ width-free proofs


def generic_term(model: LocalModel, group: str) -> sp.Expr:
    """One term of a group's difference, for generic sample n and next-layer unit m.

    incoming / bias: σ'(z_i) V_{mi} δ_m − σ'(z_j) V_{mj} δ_m (the factor a_k or 1
    is common to both units); outgoing: σ(z_i) − σ(z_j) (times δ_m).
    """
    n, m = "n", "m"
    if group == "outgoing":
        return act(model.z(n, 0)) - act(model.z(n, 1))
    d = model.next_delta(n, m)
    return (dact(model.z(n, 0)) * model.V(m, 0) - dact(model.z(n, 1)) * model.V(m, 1)) * d


def width_free(network: NetworkSpec, hyp: Hypothesis, group: str) -> bool:
    """Is the group's difference zero term by term, hence for every width and sample count?"""
    return is_identically_zero(generic_term(LocalModel(network, hyp), group))


def assumptions(network: NetworkSpec, hyp: Hypothesis, equal_groups: tuple[str, ...]
                ) -> tuple[str, ...]:
    """What a generic-mode result assumes, in words (empty for a concrete network)."""
    if not is_generic(network):
        return ()
    l = hyp.layer
    out = []
    if network.activation.name == ANY:
        out.append("σ is an arbitrary differentiable activation (an undefined function) and "
                   "σ' its derivative")
    if network.loss.name == ANY:
        out.append("the loss is Σ_n Σ_m ℓ(ŷ_{n,m}, y_{n,m}) with ℓ an arbitrary differentiable "
                   "function of prediction and target (an output activation can be absorbed "
                   "into ℓ)")
    out.append(f"the input a^({l - 1}) of layer {l} is an arbitrary vector function of the "
               "network's input and the earlier layers' parameters")
    out.append(f"layer {l + 1} sees units i, j only through z^({l + 1})_m = V_mi a_i + "
               f"V_mj a_j + r_m, with r_m independent of units i and j's parameters; the loss "
               f"is an arbitrary differentiable function of z^({l + 1}) (δ^({l + 1}) opaque)")
    free = [g for g in equal_groups if width_free(network, hyp, g)]
    if free:
        out.append(f"the equalities ({', '.join(free)}) hold term by term in generic indices "
                   "k, m, n: for every width of every layer, any number of samples and any "
                   "data, so also for every minibatch of stochastic gradient descent")
    inst = instantiation(network)
    if inst:
        out.append("witnesses and the numeric cross-check instantiate "
                   + " and ".join(f"the {k} as {v}" for k, v in inst.items()))
    return tuple(out)


__all__ = ["ANY", "ANY_ACTIVATION", "ANY_LOSS", "INSTANTIATION", "loss_fn", "dloss",
           "is_generic", "instantiation", "instantiated", "instantiated_network",
           "generic_term", "width_free", "assumptions"]
