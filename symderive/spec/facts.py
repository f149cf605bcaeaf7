"""The ``[[fact]]`` tables of a spec: derivations that are not a two-unit hypothesis.

Each fact is about the spec's ``[network]``; ``kind`` says which derivation:

- ``backprop_exact``: backpropagation's gradient equals direct differentiation
  of the whole loss, term by term, for every parameter;
- ``loss_gradient``: ∂ℓ/∂z of the output layer in closed form (softmax
  cross-entropy: softmax(z) − y; sigmoid + BCE: σ(z) − y; MSE: ŷ − y);
- ``zero_init``: all parameters zero: which gradients vanish, whether the
  network is stuck, and whether hidden units stay identical;
- ``unit_gradient``: the gradient of one unit whose groups ``zero`` are zero
  (``layer``, ``unit``): does it come back?
- ``dropout``: two units (``layer``, ``units``, ``tie``) with dropout masks
  m_i, m_j that are ``masks = "equal"`` or ``"different"``;
- ``optimizer``: one update of ``optimizer`` (sgd, momentum, adam), with
  ``weight_decay`` and ``learning_rates = "shared" | "per_unit"``, applied to
  two units whose parameters, gradients and optimizer state are tied;
- ``conservation``: every continuous symmetry of the loss (rescale, linear,
  translation) and the quantity it conserves, with its change per step;
- ``gap_stability``: two fully tied units (``layer``, ``units``): does a small
  gap between them grow or shrink under gradient descent?

Validation follows :mod:`symderive.spec`: every error names the field.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError
from .claims import CLAIM_KEYS, FACT_CLAIMS, Claim, parse_claim
from .fields import _groups, _int, _shown_text, _unknown, unit_pair
from .model import GROUPS, OPTIMIZERS, NetworkSpec, claim_keys

_COMMON = {"kind", "name"} | CLAIM_KEYS
#: kind -> the keys its table may have besides kind and name.
KINDS: dict[str, set[str]] = {
    "backprop_exact": set(),
    "loss_gradient": set(),
    "zero_init": set(),
    "unit_gradient": {"layer", "unit", "zero"},
    "dropout": {"layer", "units", "tie", "masks"},
    "optimizer": {"layer", "units", "optimizer", "weight_decay", "learning_rates"},
    "conservation": set(),
    "gap_stability": {"layer", "units"},
}
#: The kinds that make sense in a network without a hidden layer (the others are about hidden units).
NO_HIDDEN_LAYER: tuple[str, ...] = ("backprop_exact", "loss_gradient")
MASKS = ("equal", "different")
LEARNING_RATES = ("shared", "per_unit")
MAX_FACTS = 16


@dataclass(frozen=True)
class FactSpec:
    """One ``[[fact]]`` table, with defaults filled in (unused keys keep their defaults)."""

    kind: str
    name: str
    layer: int = 1
    units: tuple[int, int] = (1, 2)
    unit: int = 1
    tie: tuple[str, ...] = ()
    zero: tuple[str, ...] = ()
    masks: str = "equal"
    optimizer: str = "sgd"
    weight_decay: bool = False
    learning_rates: str = "shared"
    claim: Claim | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The fact's own keys (those its kind reads), as in the spec."""
        out: dict[str, Any] = {"kind": self.kind, "name": self.name}
        for key in sorted(KINDS[self.kind]):
            value = getattr(self, key)
            out[key] = list(value) if isinstance(value, tuple) else value
        return out

    def to_toml(self) -> dict[str, Any]:
        """The [[fact]] table as written (Spec.to_dict): its keys and its claim's."""
        return self.to_json() | claim_keys(self.claim)


def parse_facts(value: Any, network: NetworkSpec) -> tuple[FactSpec, ...]:
    if not isinstance(value, list) or not value:
        raise SpecError("must be one or more [[fact]] tables", field="fact")
    if len(value) > MAX_FACTS:
        raise SpecError(f"at most {MAX_FACTS} [[fact]] tables are allowed", field="fact")
    return tuple(_fact(f, k, network) for k, f in enumerate(value, start=1))


def _fact(f: Any, k: int, network: NetworkSpec) -> FactSpec:
    where = f"fact[{k}]"
    if not isinstance(f, dict):
        raise SpecError("must be a table", field=where)
    kind = f.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:   # kind = [] must not raise TypeError
        raise SpecError(f"is required: one of {', '.join(KINDS)}", field=f"{where}.kind")
    if network.depth == 1 and kind not in NO_HIDDEN_LAYER:
        raise SpecError(f"{kind!r} needs a hidden layer, but network.layers = "
                        f"{list(network.layers)} has no hidden layer; kinds for such a network: "
                        f"{', '.join(NO_HIDDEN_LAYER)}", field=f"{where}.kind")
    _unknown(f, _COMMON | KINDS[kind], where)
    name = _shown_text(f.get("name", kind.replace("_", " ")), f"{where}.name", 500,
                       "fact's name")
    keys: dict[str, Any] = {}
    if network.stack and "units" in KINDS[kind]:
        keys.update(_stack_pair(f, where, network))
    elif KINDS[kind] & {"layer"}:
        keys["layer"] = _layer(f, where, network)
    if "unit" in KINDS[kind]:
        keys["unit"] = _int(f.get("unit", 1), f"{where}.unit", 1, network.layers[keys["layer"]])
        keys["zero"] = _groups(f.get("zero", []), f"{where}.zero", network)
    if "units" in KINDS[kind] and not network.stack:
        keys["units"] = unit_pair(f.get("units", [1, 2]), f"{where}.units", keys["layer"],
                                  network)
    if "tie" in KINDS[kind] and not network.stack:
        keys["tie"] = _groups(f.get("tie", list(network.groups())), f"{where}.tie", network)
    if "masks" in KINDS[kind]:
        keys["masks"] = _choice(f.get("masks", "equal"), MASKS, f"{where}.masks")
    if kind == "optimizer":
        keys["optimizer"] = _choice(f.get("optimizer", "sgd"), OPTIMIZERS, f"{where}.optimizer")
        keys["weight_decay"] = _bool(f.get("weight_decay", False), f"{where}.weight_decay")
        keys["learning_rates"] = _choice(f.get("learning_rates", "shared"), LEARNING_RATES,
                                         f"{where}.learning_rates")
    keys["claim"] = parse_claim(f, where, FACT_CLAIMS[kind])
    return FactSpec(kind, name, **keys)


def _stack_pair(f: dict, where: str, network: NetworkSpec) -> dict[str, Any]:
    """``layer``, ``units`` (and ``tie``: every group of the layer's units by default) of
    a fact on two units of a ``[[layer]]`` network, validated as a hypothesis's."""
    from .layers.groups import stack_hypothesis

    table = {"layer": f.get("layer", 1), "units": f.get("units", [1, 2])}
    layer = stack_hypothesis(table, where, network.stack)[0]
    if layer == len(network.stack):
        raise SpecError(f"layer {layer} is the output layer; a {f['kind']} fact is about the "
                        "units of an earlier layer", field=f"{where}.layer")
    if "tie" in KINDS[f["kind"]]:
        table["tie"] = f.get("tie", list(network.stack[layer - 1].groups))
    layer, units, tie, _ = stack_hypothesis(table, where, network.stack)
    return {"layer": layer, "units": units} | ({"tie": tie} if "tie" in table else {})


def _layer(f: dict, where: str, network: NetworkSpec) -> int:
    hidden = len(network.layers) - 2
    return _int(f.get("layer", 1), f"{where}.layer", 1, hidden)


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise SpecError(f"must be one of {', '.join(allowed)}, got {value!r}", field=where)
    return value


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise SpecError("must be true or false", field=where)
    return value


__all__ = ["FactSpec", "KINDS", "parse_facts", "GROUPS"]
