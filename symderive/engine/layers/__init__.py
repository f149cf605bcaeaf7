"""Layer kinds: each kind of layer a room of the engine (see :mod:`.base`).

:data:`KINDS` is the registry, a kind's name and its module here, imported when a
spec has a layer of that kind.  The stack (:mod:`.stack`), the hypotheses'
groups and permutations (:mod:`.units`) and the verdicts (:mod:`.settle`) go through
:func:`layer_kind` and never name a kind; ``tests/test_layer_kinds.py`` checks that
no module outside a kind's rooms (here and in :mod:`symderive.spec.layers`) does.
"""
from __future__ import annotations

import importlib
from functools import lru_cache

from .base import NO_UNIT, Entry, LayerKind, symbols

#: Every layer kind, by name, and the module of this package that holds it.
KINDS: dict[str, str] = {
    "dense": "dense",
    "conv": "conv",
    "pool": "pool",
    "flatten": "flatten",
    "norm": "norm",
    "attention": "attention",
    "lstm": "lstm",
}


@lru_cache(maxsize=None)
def layer_kind(name: str) -> LayerKind:
    """The engine side of kind ``name`` (validated by the spec: a name of :data:`KINDS`)."""
    return importlib.import_module(f"{__name__}.{KINDS[name]}").KIND


__all__ = ["KINDS", "NO_UNIT", "Entry", "LayerKind", "layer_kind", "symbols"]
