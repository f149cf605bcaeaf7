"""Reports: a document tree built from a derivation (no markup; see :mod:`symderive.render`).

``build_report(derive(spec))`` gives a :class:`Document`; in a notebook the
:class:`~symderive.api.Derivation` displays itself through the renderers.
"""
from __future__ import annotations

from .model import *  # noqa: F401,F403 - the node classes are this package's interface
from .model import __all__ as _nodes

__all__ = ["build_report", *_nodes]


def __getattr__(name: str):
    """``build_report``, imported when first asked for: the JSON report needs only the
    opening (:mod:`.answer`), not the builder and every section module behind it."""
    if name == "build_report":
        from .builder import build_report

        return build_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
