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
    is about, the 1-based ``samples`` where it vanishes (() for every sample, and for
    ``stationary``), the pinned pre-activation ``value`` per sample (activation, slope),
    the rows of W^{(layer+1)} frozen at 0 (``zero_weights``) and the units of layer + 1
    whose delta is 0 (``still_next``) for ``outgoing``."""

    kind: str
    layer: int
    units: tuple[int, ...]
    value: tuple = ()
    zero_weights: tuple[int, ...] = ()
    still_next: tuple[int, ...] = ()
    samples: tuple[int, ...] = ()

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
    """Why δ^{(l)}_{n,u} = 0, or [] when the analysis did not prove it; 0-based u and n;
    ``result``: a :class:`~symderive.numeric.startpoint.StartResult`."""
    network, frozen = result.start.network, result.frozen
    if not frozen.still[l][n, u]:
        return []
    if l == len(frozen.weights) - 1:
        return [Factor("output", l, (u + 1,), samples=(n + 1,))]
    c = frozen.constant[l][u]
    out = []
    if c is not None and _slope_zero(network, c[n]):
        out.append(Factor("slope", l, (u + 1,), (c[n],), samples=(n + 1,)))
    zero_w = tuple(int(v) + 1 for v in np.flatnonzero(_pinned_zero_column(result, l + 1, u)))
    rest = [v for v in range(network.layers[l + 1]) if v + 1 not in zero_w]
    if all(frozen.still[l + 1][n, v] for v in rest):
        out.append(Factor("outgoing", l, (u + 1,), (), zero_w, tuple(v + 1 for v in rest),
                          samples=(n + 1,)))
    return out


def pinned_zero(result, l: int) -> np.ndarray:
    """W^{(l)} entries frozen at exactly 0 (frozen, and 0 at the start)."""
    zero = result.start.W[l].zero_mask()
    mask = result.frozen.weights[l]
    return np.zeros_like(mask) if zero is None else (mask & zero)


def _pinned_zero_column(result, l: int, u: int) -> np.ndarray:
    """Column u of :func:`pinned_zero` (the weights out of unit u of layer l − 1)."""
    t = result.start.W[l]
    if t.is_random:
        return np.zeros(result.start.network.layers[l], dtype=bool)
    return result.frozen.weights[l][:, u] & (t.ints[:, u] == 0)


def activation_factor(result, l: int, k: int, n: int) -> Factor | None:
    """Why a^{(l)}_{n,k} = 0 (None when the analysis did not prove it); 0-based k, n."""
    frozen = result.frozen
    if not frozen.silent[l][n, k]:
        return None
    if l == 0:
        return Factor("input", 0, (k + 1,), samples=(n + 1,))
    c = frozen.constant[l][k]
    return Factor("activation", l, (k + 1,), (c[n],), samples=(n + 1,)) if c is not None \
        else None


def _per_unit(result, l: int, units, rows) -> dict[int, list | None]:
    """For each 0-based unit of layer l: its delta's factor per sample, or None when in
    some sample the analysis did not prove its delta 0."""
    out: dict[int, list | None] = {}
    for u in units:
        per = [delta_factors(result, l, int(u), n)[:1] for n in rows]
        out[int(u)] = [f for p in per for f in p] if all(per) else None
    return out


def _per_input(result, l: int, cols, rows) -> dict[int, list | None]:
    """For each 0-based unit of layer l − 1: its activation's factor per sample, or None."""
    out: dict[int, list | None] = {}
    for k in cols:
        per = [activation_factor(result, l - 1, int(k), n) for n in rows]
        out[int(k)] = per if all(f is not None for f in per) else None
    return out


def tensor_factors(result, name: str) -> list[Factor]:
    """The vanishing factors behind every frozen entry of tensor ``name``, merged by kind.

    For an entry: the delta's factor when it is 0 in every sample, else the
    activation's when that is, else sample by sample; the whole sum's (``stationary``)
    when neither vanishes in some sample.  Worked out per unit, then per entry only
    where the two differ, so that a wide layer costs its units, not its entries."""
    frozen, l = result.frozen, int(name[1:])
    mask = frozen.entries(name)
    rows = range(frozen.still[l].shape[0])
    units = np.flatnonzero(mask.any(axis=1))
    deltas = _per_unit(result, l, units, rows)
    found: list[Factor] = [f for u in units if deltas[int(u)] for f in deltas[int(u)]]
    if name[0] == "b":
        rest = [(int(u), None) for u in units if deltas[int(u)] is None]
    else:
        open_rows = np.array([deltas.get(u, 0) is None for u in range(mask.shape[0])])
        left = mask & open_rows[:, None]
        cols = np.flatnonzero(left.any(axis=0))
        acts = _per_input(result, l, cols, rows)
        found += [f for k in cols if acts[int(k)] for f in acts[int(k)]]
        closed = np.array([acts.get(k) is not None for k in range(mask.shape[1])])
        rest = [(int(u), int(k)) for u, k in zip(*np.nonzero(left & ~closed[None, :]))]
    for u, k in rest:
        found += _entry_by_sample(result, l, u, k, rows)
    return merge(found, len(rows))


def _entry_by_sample(result, l: int, u: int, k: int | None, rows) -> list[Factor]:
    """Sample by sample, the delta's or the activation's factor; the whole sum's when
    neither vanishes in some sample (a stationary start)."""
    found = []
    for n in rows:
        f = activation_factor(result, l - 1, k, n) if k is not None else None
        per = [f] if f is not None else delta_factors(result, l, u, n)[:1]
        if not per:
            return [Factor("stationary", l, (u + 1,))] if result.frozen.stationary else []
        found += per
    return found


def merge(factors: list[Factor], rows: int) -> list[Factor]:
    """One factor per kind, layer and value, with the units and samples of all of them
    (samples () when it holds in every one of the ``rows``)."""
    out: dict[tuple, Factor] = {}
    for f in factors:
        old = out.get(f.key())
        units = tuple(sorted(set(f.units) | set(old.units if old else ())))
        samples = tuple(sorted(set(f.samples) | set(old.samples if old else ())))
        out[f.key()] = Factor(f.kind, f.layer, units, f.value, f.zero_weights, f.still_next,
                              samples)
    return [f if len(f.samples) < rows else Factor(f.kind, f.layer, f.units, f.value,
                                                   f.zero_weights, f.still_next)
            for f in out.values()]


# ------------------------------------------------------------------ words


def _units(units: tuple[int, ...], layer: int, network=None) -> str:
    if network is not None and len(units) == network.layers[layer] > 1:
        return f"every unit of layer {layer}"
    shown = ", ".join(map(str, units[:8])) + (", ..." if len(units) > 8 else "")
    return f"unit{'s' if len(units) > 1 else ''} {shown} of layer {layer}"


def _value(value: tuple) -> str:
    return str(value[0]) if value else "c"


def _where(f: Factor) -> str:
    """' in every sample' or ' in samples 1, 3' (the factor's rows of the data)."""
    if not f.samples:
        return " in every sample"
    return f" in sample{'s' if len(f.samples) > 1 else ''} {', '.join(map(str, f.samples))}"


def _list(units: tuple[int, ...]) -> str:
    return ", ".join(map(str, units))


def words(network, f: Factor) -> str:
    """The factor in words, with the value that makes it 0, and where."""
    fn = function_name(network)
    if f.kind == "stationary":
        return ("the gradient summed over the samples of the data is exactly 0 at the start "
                "(computed exactly), so the start is a fixed point")
    if f.kind == "input":
        s = "s" if len(f.units) > 1 else ""
        return f"input coordinate{s} {_list(f.units)} {'are' if s else 'is'} 0{_where(f)}"
    if f.kind == "output":
        return (f"output {_list(f.units)} is pinned where the loss is already stationary"
                f"{_where(f)} of the data")
    who = _units(f.units, f.layer, network)
    if f.kind == "activation":
        return f"the activation of {who} is {fn}({_value(f.value)}) = 0{_where(f)}"
    if f.kind == "slope":
        return f"the delta of {who} has the factor {fn}'({_value(f.value)}) = 0{_where(f)}"
    parts = []
    if f.zero_weights:
        into = (f"every weight out of them (W{f.layer + 1})" if not f.still_next else
                f"their weights into units {_list(f.zero_weights)} of layer {f.layer + 1}")
        parts.append(f"{into} {'is' if not f.still_next else 'are'} frozen at 0")
    if f.still_next:
        parts.append(f"units {_list(f.still_next)} of layer {f.layer + 1} have delta 0")
    return f"the delta of {who} is 0{_where(f)}: " + " and ".join(parts)


def tensor_why(result, name: str) -> str:
    """The table's cell: every factor that vanishes for tensor ``name``, or '-'."""
    factors = tensor_factors(result, name)
    network = result.start.network
    return "; ".join(words(network, f) for f in factors) if factors else "-"


__all__ = ["Factor", "tensor_factors", "tensor_why", "words", "function_name",
           "delta_factors", "activation_factor", "pinned_zero"]
