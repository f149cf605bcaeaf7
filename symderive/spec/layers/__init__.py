"""``input`` and ``[[layer]]`` tables: a network given layer by layer (CONTRACT.md,
"Additions (2026-12, second)").

:data:`KINDS` is the registry: a kind's name and the module of this package that
reads its table (a :class:`~.base.SpecKind`).  Only the registry and the kind's
own modules (here and in :mod:`symderive.engine.layers`) name a kind.
"""
from __future__ import annotations

import importlib
from functools import lru_cache

from .base import LayerSpec, Shape, SpecKind

#: Every layer kind, by the name its table gives in ``kind``, and its module's name, here
#: and in :mod:`symderive.engine.layers` (the one registry of both rooms).
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
def spec_kind(name: str) -> SpecKind:
    """The spec side of kind ``name`` (a name of :data:`KINDS`, never the spec's text)."""
    return importlib.import_module(f"{__name__}.{KINDS[name]}").KIND


__all__ = ["KINDS", "LayerSpec", "Shape", "SpecKind", "spec_kind"]
