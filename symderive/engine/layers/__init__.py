"""Layer kinds: each kind of layer a room of the engine (see :mod:`.base`).

The registry is :data:`symderive.spec.layers.KINDS`: a kind's name and the name of
its module, the same on both sides (here, imported when a spec has a layer of that
kind).  The stack (:mod:`.stack`), the hypotheses'
groups and permutations (:mod:`.units`) and the verdicts (:mod:`.settle`) go through
:func:`layer_kind` and never name a kind; ``tests/test_layer_kinds.py`` checks that
no module outside a kind's rooms (here and in :mod:`symderive.spec.layers`) does.
"""
from __future__ import annotations

import importlib
from functools import lru_cache

from ...spec.layers import KINDS
from .base import NO_UNIT, Entry, LayerKind, symbols


@lru_cache(maxsize=None)
def layer_kind(name: str) -> LayerKind:
    """The engine side of kind ``name`` (validated by the spec: a name of :data:`KINDS`)."""
    return importlib.import_module(f"{__name__}.{KINDS[name]}").KIND


__all__ = ["KINDS", "NO_UNIT", "Entry", "LayerKind", "layer_kind", "symbols"]
