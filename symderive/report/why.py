"""Why a frozen parameter's gradient is 0: the factor that actually vanishes.

The gradient of W^{(l)}_{uk} is Σ_n δ^{(l)}_{n,u} a^{(l-1)}_{n,k}, of b^{(l)}_u Σ_n δ^{(l)}_{n,u};
the frozen analysis (:mod:`symderive.engine.frozen`) proves, sample by sample, that one
of the two factors is 0.  This module names that factor, read off the analysis itself,
never from a template:

- ``input``: an input coordinate that is 0 in every sample of the data;
- ``activation``: a hidden unit's pre-activation pinned at c with σ(c) = 0;
- ``slope``: a hidden unit's delta with the factor σ'(c) = 0 at its pinned c;
- ``outgoing``: a hidden unit's delta Σ_v W^{(l+1)}_{vu} δ_v whose every term has a
  factor 0: the weight frozen at 0, or the delta of unit v, itself 0;
- ``output``: an output pinned where the loss is stationary on the data.

Each :class:`Factor` carries the units and values it is about, so a test can evaluate
it numerically (tests/test_start_answers.py does, on random starting points).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The named activations whose name is how a reader writes them.
_NAMED = ("tanh", "relu", "sigmoid", "identity", "softplus", "gelu", "elu", "silu",
          "leaky_relu", "softsign")


@dataclass(frozen=True)
class Factor:
    """One vanishing factor: ``kind`` (module doc), the 1-based ``units`` of ``layer`` it
    is about, the pinned pre-activation ``value`` per sample (activation, slope), the
    rows of W^{(layer+1)} frozen at 0 (``zero_weights``) and the units of layer + 1 whose
    delta is 0 (``still_next``) for ``outgoing``."""

    kind: str
    layer: int
    units: tuple[int, ...]
    value: tuple = ()
    zero_weights: tuple[int, ...] = ()
    still_next: tuple[int, ...] = ()

    def key(self) -> tuple:
        return (self.kind, self.layer, self.value, self.zero_weights, self.still_next)


def function_name(network) -> str:
    """How the hidden activation is written: its name, or σ for a formula."""
    f = network.activation
    return f.name if f.name in _NAMED and f.latex_source is None else "σ"


def _slope_zero(network, c) -> bool:
    if network.activation.name == "any":
        return False
    v = network.activation.derivative(c)
    return v.is_zero is True


def delta_factors(result, l: int, u: int, n: int) -> list[Factor]:
    """Why δ^{(l)}_{n,u} = 0 (``frozen.still[l][n, u]`` holds); 0-based u and n;
    ``result``: a :class:`~symderive.numeric.startpoint.StartResult`."""
    network, frozen = result.start.network, result.frozen
    L = len(frozen.weights) - 1
    if l == L:
        return [Factor("output", l, (u + 1,))]
    c = frozen.constant[l][u]
    out = []
    if c is not None and _slope_zero(network, c[n]):
        out.append(Factor("slope", l, (u + 1,), (c[n],)))
    zero_w = tuple(int(v) + 1 for v in np.flatnonzero(pinned_zero(result, l + 1)[:, u]))
    rest = [v for v in range(network.layers[l + 1]) if v + 1 not in zero_w]
    if all(frozen.still[l + 1][n, v] for v in rest):
        out.append(Factor("outgoing", l, (u + 1,), (), zero_w, tuple(v + 1 for v in rest)))
    return out


def pinned_zero(result, l: int) -> np.ndarray:
    """W^{(l)} entries frozen at exactly 0 (frozen, and 0 at the start)."""
    zero = result.start.W[l].zero_mask()
    mask = result.frozen.weights[l]
    return np.zeros_like(mask) if zero is None else (mask & zero)


def activation_factors(result, l: int, k: int) -> Factor | None:
    """Why a^{(l)}_k = 0 on every sample (``frozen.silent[l][:, k]`` holds); 0-based k."""
    if l == 0:
        return Factor("input", 0, (k + 1,))
    c = result.frozen.constant[l][k]
    return Factor("activation", l, (k + 1,), tuple(c)) if c is not None else None


def tensor_factors(result, name: str) -> list[Factor]:
    """The vanishing factors behind every frozen entry of tensor ``name``, merged by kind."""
    frozen = result.frozen
    l = int(name[1:])
    mask = frozen.entries(name)
    found: list[Factor] = []
    rows = range(frozen.still[l].shape[0])
    if name[0] == "b":
        for u in np.flatnonzero(mask[:, 0]):
            for n in rows:
                found += delta_factors(result, l, int(u), n)[:1]
    else:
        for u, k in zip(*np.nonzero(mask)):
            for n in rows:
                if frozen.silent[l - 1][n, k]:
                    f = activation_factors(result, l - 1, int(k))
                    found += [f] if f is not None else []
                else:
                    found += delta_factors(result, l, int(u), n)[:1]
    return merge(found)


def merge(factors: list[Factor]) -> list[Factor]:
    """One factor per kind, layer and value, with the units of all of them."""
    out: dict[tuple, Factor] = {}
    for f in factors:
        old = out.get(f.key())
        units = tuple(sorted(set(f.units) | set(old.units if old else ())))
        out[f.key()] = Factor(f.kind, f.layer, units, f.value, f.zero_weights, f.still_next)
    return list(out.values())


# ------------------------------------------------------------------ words


def _units(units: tuple[int, ...], layer: int, network=None) -> str:
    if network is not None and len(units) == network.layers[layer] > 1:
        return f"every unit of layer {layer}"
    shown = ", ".join(map(str, units[:8])) + (", ..." if len(units) > 8 else "")
    return f"unit{'s' if len(units) > 1 else ''} {shown} of layer {layer}"


def _value(value: tuple) -> str:
    values = sorted(set(value), key=str)
    return str(values[0]) if len(values) == 1 else "its pinned value"


def words(network, f: Factor) -> str:
    """The factor in words, with the value that makes it 0."""
    fn = function_name(network)
    if f.kind == "input":
        which = ", ".join(map(str, f.units))
        return f"input coordinate{'s' if len(f.units) > 1 else ''} {which} is 0 in every sample"
    if f.kind == "output":
        return (f"output {', '.join(map(str, f.units))} is pinned where the loss is already "
                "stationary on every sample of the data")
    if f.kind == "activation":
        c = _value(f.value)
        return f"the activation of {_units(f.units, f.layer, network)} is {fn}({c}) = 0"
    if f.kind == "slope":
        c = _value(f.value)
        return f"the delta of {_units(f.units, f.layer, network)} has the factor {fn}'({c}) = 0"
    parts = []
    if f.zero_weights:
        parts.append(f"every weight W{f.layer + 1} out of them is frozen at 0" if not
                     f.still_next else
                     f"the weights W{f.layer + 1} into units "
                     f"{', '.join(map(str, f.zero_weights))} are frozen at 0")
    if f.still_next:
        parts.append(f"units {', '.join(map(str, f.still_next))} of layer {f.layer + 1} "
                     "have delta 0")
    return f"the delta of {_units(f.units, f.layer, network)} is 0: " + " and ".join(parts)


def tensor_why(result, name: str) -> str:
    """The table's cell: every factor that vanishes for tensor ``name``, or '-'."""
    factors = tensor_factors(result, name)
    network = result.start.network
    return "; ".join(words(network, f) for f in factors) if factors else "-"


__all__ = ["Factor", "tensor_factors", "tensor_why", "words", "function_name",
           "delta_factors", "activation_factors", "pinned_zero"]
