"""The parts of a derivation request: frozen dataclasses, nothing parsed here.

The whole request, :class:`~symderive.spec.request.Spec`, lives in :mod:`.request`
beside its constructors (``from_toml``, ``from_dict``), which need the validator
that builds these parts.  Every stage after :mod:`symderive.spec` sees these classes
only; TOML never leaves the ``spec`` package.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .functions import Activation, Loss

if TYPE_CHECKING:  # the type only: claims validates with fields, which imports this module
    from .claims import Claim
    from .layers import LayerSpec

GROUPS: tuple[str, ...] = ("incoming", "bias", "outgoing")
OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "adam")
MAX_LAYER_WIDTH = 4096
MAX_SAMPLES = 1024
#: [[hypothesis]] tables in one spec at most (a question has a handful).
MAX_HYPOTHESES = 64


@dataclass(frozen=True)
class NetworkSpec:
    """The network of a derivation, with defaults filled in."""

    layers: tuple[int, ...]
    activation: Activation
    output_activation: Activation
    bias: bool = True
    loss: Loss = field(default_factory=lambda: Loss("mse"))
    samples: int = 1
    #: a network given by ``[[layer]]`` tables: one sample's input shape and the layers
    #: (``layers`` then holds the entries per sample of the input and of each layer's
    #: output); both empty for the ``layers = [...]`` shorthand
    input: tuple[int, ...] = ()
    stack: tuple[LayerSpec, ...] = ()

    @property
    def depth(self) -> int:
        """Number of weight layers (hidden layers + 1)."""
        return len(self.layers) - 1

    def groups(self) -> tuple[str, ...]:
        """The parameter groups a hidden unit has in this network."""
        return GROUPS if self.bias else ("incoming", "outgoing")

    def unit_groups(self, layer: int) -> tuple[str, ...]:
        """The parameter groups a unit of ``layer`` has: an output unit (layer ``depth``)
        feeds the loss, not another layer, so it has no outgoing weights."""
        if self.stack:
            return self.stack[layer - 1].groups
        groups = self.groups()
        return tuple(g for g in groups if g != "outgoing") if layer == self.depth else groups

    def to_toml(self) -> dict[str, Any]:
        """The [network] table as written (Spec.to_dict); a stack's [[layer]] tables go
        to the top level (:meth:`layer_tables`)."""
        head = {"input": self.input} if self.stack else {"layers": self.layers}
        return head | {"activation": self.activation, "output_activation": self.output_activation,
                       "bias": self.bias, "loss": self.loss, "samples": self.samples}

    def layer_tables(self) -> list[dict[str, Any]]:
        """The [[layer]] tables as written, defaults filled in (empty for ``layers``)."""
        return [s.to_toml() for s in self.stack]

    def to_json(self) -> dict[str, Any]:
        if self.stack:
            return {"input": list(self.input), "layer": [s.to_json() for s in self.stack],
                    "loss": self.loss.name if self.loss.latex_source is None
                    else {"latex": self.loss.latex_source}, "samples": self.samples}
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
    """One symmetry assumption about two units of a layer (1-based): a hidden layer,
    or the output layer (``layer == depth``), whose units have no outgoing group."""

    name: str
    layer: int
    units: tuple[int, int]
    tie: tuple[str, ...] = ()
    zero: tuple[str, ...] = ()
    #: what someone asserts about it (not part of the mathematics: no effect on equality)
    claim: Claim | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "layer": self.layer, "units": list(self.units),
                "tie": list(self.tie), "zero": list(self.zero)}

    def to_toml(self) -> dict[str, Any]:
        """The [[hypothesis]] table as written (Spec.to_dict): the claim's two keys too."""
        raw = {"name": self.name, "layer": self.layer, "units": self.units, "tie": self.tie,
               "zero": self.zero}                 # as built: validation judges them
        return raw | claim_keys(self.claim)


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

    def to_toml(self) -> dict[str, Any]:
        """The [check] table as written (Spec.to_dict): ``steps`` only when it was given."""
        out = {"seed": self.seed, "learning_rate": self.learning_rate,
               "optimizer": self.optimizer}
        return out | ({"steps": self.steps} if self.steps_given else {})


def claim_keys(claim: Claim | None) -> dict[str, Any]:
    """``claim`` and ``claimed_by`` as a table writes them (none without a claim)."""
    if claim is None:
        return {}
    return {"claim": claim.verdict} | ({"claimed_by": claim.by} if claim.by else {})

#: An exact matrix: rows of rationals (a bias is a one-column matrix).
Matrix = tuple[tuple[Fraction, ...], ...]


@dataclass(frozen=True)
class TensorInit:
    """How one tensor (W_l or b_l) starts: ``kind`` is how the spec gave it ("zero",
    "random", "number" or "matrix"); ``values`` its exact entries (None when random).

    A bias is stored as a column, one row per unit, so that every tensor is a matrix."""

    name: str
    kind: str
    values: Matrix | None = None

    @property
    def is_random(self) -> bool:
        return self.values is None

    def to_json(self) -> Any:
        """As the spec could give it: a word, a number, or the rows."""
        if self.values is None:
            return "random"
        if self.kind == "zero":
            return "zero"
        if self.kind == "number":
            return toml_number(self.values[0][0])
        rows = [[toml_number(v) for v in row] for row in self.values]
        return [r[0] for r in rows] if self.name.startswith("b") else rows


def toml_number(v: Fraction) -> int | float | str:
    """An exact value as TOML can write it: an integer, a float whose shortest decimal is
    the value itself, else the exact decimal (or fraction) as a string."""
    if v.denominator == 1:
        return int(v)
    if Fraction(repr(float(v))) == v:
        return float(v)
    return exact_decimal(v)


def exact_decimal(v: Fraction) -> str:
    """``v`` as an exact decimal string when its denominator is 2^a·5^b (every binary
    float is), else as ``"p/q"``."""
    q, twos, fives = v.denominator, 0, 0
    while q % 2 == 0:
        q, twos = q // 2, twos + 1
    while q % 5 == 0:
        q, fives = q // 5, fives + 1
    if q != 1:
        return f"{v.numerator}/{v.denominator}"
    digits = max(twos, fives)
    scaled = abs(v.numerator) * 10 ** digits // v.denominator
    whole, frac = divmod(scaled, 10 ** digits)
    return f"{'-' if v < 0 else ''}{whole}.{frac:0{digits}d}".rstrip("0")


@dataclass(frozen=True)
class InitSpec:
    """The starting point: every tensor W1, b1, ..., WL, bL (the unnamed ones random)."""

    tensors: tuple[TensorInit, ...]

    def tensor(self, name: str) -> TensorInit:
        return next(t for t in self.tensors if t.name == name)

    @property
    def concrete(self) -> bool:
        """Is every tensor given by numbers (nothing random)?"""
        return all(not t.is_random for t in self.tensors)

    def to_json(self) -> dict[str, Any]:
        return {t.name: t.to_json() for t in self.tensors}

    to_toml = to_json    # the [init] table as written (Spec.to_dict)


@dataclass(frozen=True)
class DataSpec:
    """Concrete training data, exact: one row per sample."""

    inputs: Matrix
    targets: Matrix

    def to_json(self) -> dict[str, Any]:
        return {"inputs": [[toml_number(v) for v in r] for r in self.inputs],
                "targets": [[toml_number(v) for v in r] for r in self.targets]}

    to_toml = to_json    # the [data] table as written (Spec.to_dict)
