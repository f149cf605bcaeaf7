"""The spec's layers as the bridge reads them from a module, one call at a time.

A :class:`Builder` holds the ``[[layer]]`` tables made so far (the contract's syntax),
their tensors as exact rationals in the contract's layout (PyTorch's), where each
tensor came from in the module's ``state_dict`` (for the way back), and the shape
of one sample of the value the chain has reached.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .graph import refuse


def exact(tensor: Any) -> np.ndarray:
    """A torch tensor's entries as an object array of the exact rationals they are
    (float16, bfloat16, float32 and float64 are all exact in float64)."""
    values = tensor.detach().cpu().double().numpy()
    flat = [Fraction(v) for v in values.ravel().tolist()]
    return np.array(flat + [None], dtype=object)[:-1].reshape(values.shape)


@dataclass(frozen=True)
class Write:
    """How a contract tensor goes back into the state_dict: ``key`` gets tensor
    ``name`` (``rows``: into those rows only; ``zero``: zeros, when ``name`` is given)."""

    key: str
    name: str
    rows: tuple[int, int] | None = None
    zero: bool = False


@dataclass
class Layer:
    """One ``[[layer]]`` table and what the bridge knows of it."""

    entry: dict[str, Any]
    where: str                     # the module's path (or the call's name)
    what: str                      # "Linear", "Conv2d", ... for messages
    shape: tuple[int, ...] = ()    # one sample's output shape (contract axes)
    activated: bool = False        # an activation was read after it
    units: int = 0                 # units (channels, heads, LSTM units); 0 without


@dataclass
class Builder:
    """The layers read so far; ``shape`` is one sample's shape at the chain's head,
    as torch has it (``squeezed``: after a pooling, the contract's [C] is torch's
    [C, 1, ...] until a flatten)."""

    shape: tuple[int, ...]
    layers: list[Layer] = field(default_factory=list)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    writes: list[Write] = field(default_factory=list)
    squeezed: bool = False
    input_shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        self.input_shape = self.input_shape or self.shape

    @property
    def number(self) -> int:
        """The number the next layer gets (1-based)."""
        return len(self.layers) + 1

    def add(self, where: str, what: str, entry: dict[str, Any], shape: tuple[int, ...],
            units: int = 0) -> int:
        """Append a layer; the chain's head then has ``shape``; returns its number."""
        self.ensure_plain(where, what)
        self.layers.append(Layer(entry, where, what, shape, units=units))
        self.shape = shape
        return len(self.layers)

    def tensor(self, name: str, values: np.ndarray, key: str,
               rows: tuple[int, int] | None = None) -> None:
        """Record contract tensor ``name`` (exact values) read from state_dict ``key``."""
        self.tensors[name] = values
        self.writes.append(Write(key, name, rows))

    def zero(self, key: str, name: str) -> None:
        """Writing ``name`` back zeroes state_dict ``key`` (a part folded into it)."""
        self.writes.append(Write(key, name, zero=True))

    def ensure_plain(self, where: str, what: str) -> None:
        """A layer reads a pooled value only after a Flatten (torch keeps [C, 1, 1])."""
        if self.squeezed:
            raise refuse(where, f"{what} after adaptive pooling needs a Flatten in between")

    def expect(self, where: str, what: str, ok: bool, wanted: str) -> None:
        """Refuse ``what`` at ``where`` unless the head's shape is ``ok`` (``wanted``)."""
        if not ok:
            shape = list(self.shape)
            raise refuse(where, f"{what} expects {wanted}, but one sample here has shape {shape}")

    def activate(self, where: str, name: str, activation: Any) -> None:
        """Apply an activation to the last layer (dense, conv or norm, once)."""
        if not self.layers:
            raise refuse(where, f"{name} before any layer with parameters is not supported")
        last = self.layers[-1]
        if last.entry["kind"] not in ("dense", "conv", "norm"):
            raise refuse(where, f"{name} after {last.what} ({last.where}) is not supported: "
                         "an activation follows a Linear, convolution or normalisation")
        if last.activated:
            raise refuse(where, f"{name} after another activation of {last.where} is not "
                         "supported (one activation per layer)")
        if "skip" in last.entry:
            raise refuse(where, f"{name} after a residual sum is not supported: the sum "
                         "adds the activated outputs")
        last.entry["activation"] = activation
        last.activated = True


__all__ = ["Builder", "Layer", "Write", "exact"]
