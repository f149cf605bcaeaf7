"""``[init]`` and ``[data]`` of a network given by ``[[layer]]`` tables.

Tensors are named as the kinds name them (``W1``, ``Q2``, ``g3``: each kind's
:meth:`~.base.SpecKind.tensors`), entries in PyTorch's layout, values ``"zero"``,
``"random"``, a number (every entry) or nested lists of the tensor's shape.  Numbers are
exact rationals read as :mod:`symderive.spec.init` reads them (a TOML float as the decimal
it was written as, a string ``"1/3"`` by a regular expression, never evaluated).
``[data]`` inputs are nested per sample, ``[samples, *input]``; targets ``[samples,
outputs]``.  A tensor is kept as a matrix (first axis by the rest, a 1-D tensor as a
column) so that what reads a dense start reads it too, with its shape beside it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ...errors import SpecError
from ..claims import CLAIM_KEYS, INIT_CLAIMS, parse_claim
from ..fields import _table
from ..init import WORDS, _EXACT_STRING, _exact, _rows, data_table
from ..model import DataSpec, InitSpec, Matrix, NetworkSpec, TensorInit, toml_number
from . import spec_kind


def stack_tensors(network: NetworkSpec) -> dict[str, tuple[int, ...]]:
    """Every tensor of the stack, name -> PyTorch shape, layer by layer."""
    out: dict[str, tuple[int, ...]] = {}
    for layer in network.stack:
        out.update(spec_kind(layer.kind).tensors(layer))
    return out


@dataclass(frozen=True)
class StackTensor(TensorInit):
    """A tensor of a stack's ``[init]``: ``values`` as rows (first axis by the rest)."""

    shape: tuple[int, ...] = ()

    def array(self) -> np.ndarray | None:
        """The exact entries (Fractions) in the tensor's shape; None when random."""
        if self.values is None:
            return None
        out = np.empty(math.prod(self.shape), dtype=object)
        out[:] = [v for row in self.values for v in row]
        return out.reshape(self.shape)

    def to_json(self) -> Any:
        if self.values is None or self.kind in ("zero", "number"):
            return super().to_json()
        return _nested(self.array())


def _nested(values: Any) -> Any:
    """An object array of Fractions as nested lists of TOML numbers."""
    if not isinstance(values, np.ndarray):
        return toml_number(values)
    return [_nested(v) for v in values]


@dataclass(frozen=True)
class StackData(DataSpec):
    """``[data]`` of a stack: ``inputs`` one flat row per sample, ``shape`` one sample's."""

    shape: tuple[int, ...] = ()

    def input_array(self) -> np.ndarray:
        """The inputs (Fractions) as [samples, *input]."""
        out = np.empty((len(self.inputs), math.prod(self.shape)), dtype=object)
        out[:] = [list(r) for r in self.inputs]
        return out.reshape((len(self.inputs), *self.shape))

    def to_json(self) -> dict[str, Any]:
        return {"inputs": _nested(self.input_array()),
                "targets": [[toml_number(v) for v in r] for r in self.targets]}

    to_toml = to_json


def parse_stack_init(value: Any, network: NetworkSpec) -> InitSpec:
    """The ``[init]`` table of a stack: every tensor, the unnamed ones random."""
    table = _table(value, "init")
    shapes = stack_tensors(network)
    for key in table:
        if key not in shapes and key not in CLAIM_KEYS:
            names = ", ".join(shapes) or "none"
            raise SpecError(f"unknown tensor; this network's tensors are {names} (and claim, "
                            "claimed_by: the claim about the starting point)", field=f"init.{key}")
    claim = parse_claim(table, "init", INIT_CLAIMS)
    return InitSpec(tuple(_tensor(name, shape, table.get(name, "random"))
                          for name, shape in shapes.items()), claim)


def _shape_words(shape: tuple[int, ...]) -> str:
    return "nested lists of shape [" + ", ".join(map(str, shape)) + "] (PyTorch's layout)"


def _tensor(name: str, shape: tuple[int, ...], value: Any) -> StackTensor:
    where = f"init.{name}"
    rows, cols = shape[0], math.prod(shape[1:])
    allowed = f'must be "zero", "random", a number or {_shape_words(shape)}'
    if isinstance(value, str) and not _EXACT_STRING.fullmatch(value):
        if value not in WORDS:
            raise SpecError(f"{allowed}, not {value!r}", field=where)
        if value == "random":
            return StackTensor(name, "random", None, shape)
        return StackTensor(name, "zero", _filled(Fraction(0), rows, cols), shape)
    if isinstance(value, list):
        flat = _flat(value, shape, where)
        values = tuple(tuple(flat[r * cols:(r + 1) * cols]) for r in range(rows))
        return StackTensor(name, "matrix", values, shape)
    return StackTensor(name, "number", _filled(_exact(value, where, allowed), rows, cols), shape)


def _filled(v: Fraction, rows: int, cols: int) -> Matrix:
    return tuple(tuple(v for _ in range(cols)) for _ in range(rows))


def _flat(value: Any, shape: tuple[int, ...], where: str,
          full: tuple[int, ...] | None = None) -> list[Fraction]:
    """The entries of nested lists of exactly ``shape``, in order, as exact rationals
    (``full``: the whole shape, for the message, when ``shape`` is a part of it)."""
    full = shape if full is None else full
    if not shape:
        return [_exact(value, where, f"must hold numbers, {_shape_words(full)}")]
    if not isinstance(value, list) or len(value) != shape[0]:
        got = f"a list of {len(value)}" if isinstance(value, list) else "a number"
        raise SpecError(f"must be {_shape_words(full)}; {got} where a list of {shape[0]} "
                        "is expected", field=where)
    return [v for item in value for v in _flat(item, shape[1:], where, full)]


def parse_stack_data(value: Any, network: NetworkSpec) -> StackData:
    """The ``[data]`` table of a stack: inputs [samples, *input], targets [samples, K]."""
    table, n = data_table(value)
    shape = tuple(network.input)
    flat = _flat(n, (len(n), *shape), "data.inputs")
    size = math.prod(shape)
    inputs = tuple(tuple(flat[s * size:(s + 1) * size]) for s in range(len(n)))
    d_out = network.layers[-1]
    targets = _rows(table["targets"], len(n), d_out, "data.targets",
                    f"must be {len(n)} row{'s' if len(n) > 1 else ''} (one per sample, as in "
                    f"data.inputs) of {d_out} number{'s' if d_out > 1 else ''} (the output size)")
    return StackData(inputs, targets, shape)


__all__ = ["StackTensor", "StackData", "parse_stack_init", "parse_stack_data", "stack_tensors"]
