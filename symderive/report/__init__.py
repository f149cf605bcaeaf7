"""Reports: a document tree built from a derivation (no markup; see :mod:`symderive.render`).

``build_report(derive(spec))`` gives a :class:`Document`; in a notebook the
:class:`~symderive.api.Derivation` displays itself through the renderers.
"""
from __future__ import annotations

from .builder import build_report
from .model import *  # noqa: F401,F403 - the node classes are this package's interface
from .model import __all__ as _nodes

__all__ = ["build_report", *_nodes]
