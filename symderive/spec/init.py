"""The ``[init]`` and ``[data]`` tables: a starting point of training, and concrete data.

Numbers are kept exact: a TOML float is read as the decimal it was written as
(``0.1`` is 1/10, not the nearest binary double), so that the classes of units
(equal sums of weights) are decided without rounding, and a trajectory can be
computed in rationals to match a hand computation.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

from ..errors import SpecError
from .claims import CLAIM_KEYS, INIT_CLAIMS, parse_claim
from .fields import _table, _type_name
from .model import DataSpec, InitSpec, Matrix, NetworkSpec, TensorInit

WORDS = ("zero", "random")


def tensor_names(network: NetworkSpec) -> tuple[str, ...]:
    """W1, b1, W2, b2, ... in the order of the network's parameters."""
    out: list[str] = []
    for l in range(1, network.depth + 1):
        out += [f"W{l}", f"b{l}"] if network.bias else [f"W{l}"]
    return tuple(out)


def tensor_shape(network: NetworkSpec, name: str) -> tuple[int, int]:
    """(rows, columns) of a tensor; a bias is a column."""
    l = int(name[1:])
    rows = network.layers[l]
    return (rows, network.layers[l - 1]) if name[0] == "W" else (rows, 1)


def parse_init(value: Any, network: NetworkSpec) -> InitSpec:
    """The ``[init]`` table: every tensor of the network, the unnamed ones random."""
    table = _table(value, "init")
    names = tensor_names(network)
    for key in table:
        if key not in names and key not in CLAIM_KEYS:
            raise SpecError(_unknown_tensor(key, network), field=f"init.{key}")
    claim = parse_claim(table, "init", INIT_CLAIMS)
    return InitSpec(tuple(_tensor(name, table.get(name, "random"), network) for name in names),
                    claim)


def _unknown_tensor(key: str, network: NetworkSpec) -> str:
    names = ", ".join(tensor_names(network))
    if key[:1] == "b" and key[1:].isdigit() and not network.bias:
        return f"names a bias, but the network has bias = false; the tensors are {names}"
    return (f"unknown tensor; this network's tensors are {names} (and claim, claimed_by: "
            "the claim about the starting point)")


def _tensor(name: str, value: Any, network: NetworkSpec) -> TensorInit:
    where = f"init.{name}"
    rows, cols = tensor_shape(network, name)
    if isinstance(value, str) and _EXACT_STRING.fullmatch(value):
        return TensorInit(name, "number", _filled(_exact(value, where, "must be a number"),
                                                   rows, cols))
    if isinstance(value, str):
        if value not in WORDS:
            raise SpecError(f'must be "zero", "random", a number or {_shape_words(name, rows, cols)}'
                            f", not {value!r}", field=where)
        if value == "random":
            return TensorInit(name, "random")
        return TensorInit(name, "zero", _filled(Fraction(0), rows, cols))
    if isinstance(value, list):
        return TensorInit(name, "matrix", _matrix(name, value, rows, cols, where))
    number = _exact(value, where, f'must be "zero", "random", a number or '
                    f"{_shape_words(name, rows, cols)}")
    return TensorInit(name, "number", _filled(number, rows, cols))


def _shape_words(name: str, rows: int, cols: int) -> str:
    if name[0] == "b":
        return f"a list of {rows} number{'s' if rows > 1 else ''}"
    return f"a matrix of {rows} row{'s' if rows > 1 else ''} of {cols} number{'s' if cols > 1 else ''}"


def _filled(v: Fraction, rows: int, cols: int) -> Matrix:
    return tuple(tuple(v for _ in range(cols)) for _ in range(rows))


def _matrix(name: str, value: list, rows: int, cols: int, where: str) -> Matrix:
    """A weight matrix (list of rows) or a bias (list of numbers, stored as a column)."""
    if name[0] == "b":
        if len(value) != rows:
            raise SpecError(f"must be {_shape_words(name, rows, cols)}, one per unit of layer "
                            f"{name[1:]}; got {len(value)}", field=where)
        return tuple((_exact(v, where, f"must be {_shape_words(name, rows, cols)}"),)
                     for v in value)
    return _rows(value, rows, cols, where, f"must have {rows} row{'s' if rows > 1 else ''} of "
                 f"{cols} number{'s' if cols > 1 else ''} (units of layer {name[1:]} by units "
                 f"of layer {int(name[1:]) - 1})")


def _rows(value: Any, rows: int, cols: int, where: str, shape: str) -> Matrix:
    """Exactly ``rows`` lists of ``cols`` finite numbers, else a SpecError saying ``shape``."""
    if not isinstance(value, list) or len(value) != rows or not all(
            isinstance(r, list) and len(r) == cols for r in value):
        raise SpecError(shape, field=where)
    return tuple(tuple(_exact(v, where, shape) for v in r) for r in value)


def _exact(value: Any, where: str, what: str) -> Fraction:
    """A finite number as an exact rational: a TOML float as the decimal it was written
    as, a string as the exact decimal or fraction it spells (``"0.100000001490116119384765625"``,
    ``"13421773/134217728"``), for values a float literal cannot carry exactly."""
    if isinstance(value, str):
        value = _exact_string(value, where, what)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{what}, not {_type_name(value)}", field=where)
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"{what}; {value} is not a finite number", field=where)
    if abs(value) > 1e6:
        raise SpecError(f"{what}; {value} is too large (at most 1e6 in absolute value)",
                        field=where)
    return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)


#: An exact number written as a string: a decimal without exponent, or p/q.
_EXACT_STRING = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+|[0-9]+/[0-9]+)")
#: The longest such string (a float64's exact decimal has at most 767 significant digits).
MAX_EXACT_CHARS = 1100


def _exact_string(text: str, where: str, what: str) -> Fraction:
    """The rational a string spells (read by a regular expression, never evaluated)."""
    if len(text) > MAX_EXACT_CHARS or not _EXACT_STRING.fullmatch(text):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise SpecError(f'{what}, not a string {shown!r} (a number may be written as an '
                        f'exact string such as "0.125" or "1/3")', field=where)
    if "/" in text and int(text.split("/")[1]) == 0:
        raise SpecError(f"{what}; {text!r} divides by zero", field=where)
    return Fraction(text)   # the pattern admits only digits, one point or one slash


_DATA_KEYS = {"inputs", "targets"}


def data_table(value: Any) -> tuple[dict[str, Any], list]:
    """The ``[data]`` table's keys checked, and its list of inputs (one per sample, at
    most MAX_SAMPLES); a network given by ``[[layer]]`` tables reads the rest itself."""
    table = _table(value, "data")
    for key in table:
        if key not in _DATA_KEYS:
            raise SpecError("unknown key; allowed keys are inputs, targets", field=f"data.{key}")
    for key in ("inputs", "targets"):
        if key not in table:
            raise SpecError("is required: one row per sample", field=f"data.{key}")
    n = table["inputs"]
    if not isinstance(n, list) or not n:
        raise SpecError("must be a non-empty list of rows, one per sample", field="data.inputs")
    from .model import MAX_SAMPLES

    if len(n) > MAX_SAMPLES:
        raise SpecError(f"has {len(n)} rows; at most {MAX_SAMPLES} samples", field="data.inputs")
    return table, n


def parse_data(value: Any, network: NetworkSpec) -> DataSpec:
    """The ``[data]`` table: inputs and targets, one row per sample, of the network's sizes."""
    table, n = data_table(value)
    d_in, d_out = network.layers[0], network.layers[-1]
    inputs = _rows(n, len(n), d_in, "data.inputs",
                   f"must be rows of {d_in} number{'s' if d_in > 1 else ''} (the input size), "
                   "one per sample")
    targets = _rows(table["targets"], len(n), d_out, "data.targets",
                    f"must be {len(n)} row{'s' if len(n) > 1 else ''} (one per sample, as in "
                    f"data.inputs) of {d_out} number{'s' if d_out > 1 else ''} (the output size)")
    return DataSpec(inputs, targets)


__all__ = ["parse_init", "parse_data", "tensor_names", "tensor_shape"]
