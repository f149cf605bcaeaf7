"""The data model of a derivation request: frozen dataclasses, nothing parsed here.

Every stage after :mod:`symderive.spec` sees these classes only; TOML never leaves
the ``spec`` package.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .functions import Activation, Loss

GROUPS: tuple[str, ...] = ("incoming", "bias", "outgoing")
OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "adam")
MAX_LAYER_WIDTH = 4096
MAX_SAMPLES = 1024


@dataclass(frozen=True)
class NetworkSpec:
    """The network of a derivation, with defaults filled in."""

    layers: tuple[int, ...]
    activation: Activation
    output_activation: Activation
    bias: bool = True
    loss: Loss = field(default_factory=lambda: Loss("mse"))
    samples: int = 1

    @property
    def depth(self) -> int:
        """Number of weight layers (hidden layers + 1)."""
        return len(self.layers) - 1

    def groups(self) -> tuple[str, ...]:
        """The parameter groups a hidden unit has in this network."""
        return GROUPS if self.bias else ("incoming", "outgoing")

    def to_json(self) -> dict[str, Any]:
        return {
            "layers": list(self.layers),
            "activation": _function_json(self.activation),
            "output_activation": _function_json(self.output_activation),
            "bias": self.bias,
            "loss": self.loss.name if self.loss.latex_source is None
            else {"latex": self.loss.latex_source},
            "samples": self.samples,
        }


def _function_json(act: Activation) -> Any:
    return act.name if act.latex_source is None else {"latex": act.latex_source}


@dataclass(frozen=True)
class Hypothesis:
    """One symmetry assumption about two units of a hidden layer (1-based)."""

    name: str
    layer: int
    units: tuple[int, int]
    tie: tuple[str, ...] = ()
    zero: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "layer": self.layer, "units": list(self.units),
                "tie": list(self.tie), "zero": list(self.zero)}


@dataclass(frozen=True)
class CheckSpec:
    """Settings of the numeric cross-check."""

    seed: int = 0
    steps: int = 200
    learning_rate: float = 0.05
    optimizer: str = "sgd"
    #: the spec gave ``steps``: run exactly that many (else a wide network may run fewer,
    #: within symderive.numeric.TRAINING_BUDGET)
    steps_given: bool = False


@dataclass(frozen=True)
class Spec:
    """A whole derivation request."""

    title: str
    question: str | None
    network: NetworkSpec
    hypotheses: tuple[Hypothesis, ...]
    check: CheckSpec = CheckSpec()
    source: str = "<spec>"
    description: str | None = None   # one line for `symderive list`
    facts: tuple = ()                # [[fact]] tables: symderive.facts.spec.FactSpec
