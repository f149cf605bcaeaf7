"""symderive: prove or refute, with a concrete witness, that two units' gradients of a
neural network agree under a symmetry assumption, and write the derivation up.

The Python API (the names load on first use, so ``import symderive`` is quick and
SymPy is imported only when a spec is read or derived)::

    import symderive

    d = symderive.derive("weight-symmetry")    # a bundled derivation, a path, or a Spec
    print(d)                                   # title and each hypothesis's verdict
    d.to_json(); d.to_markdown(); d.to_latex(); d.to_pdf("report.pdf")

    spec = symderive.Spec.from_toml(open("question.toml").read())
    spec = symderive.Spec.from_dict({
        "network": {"layers": [2, 3, 1], "activation": "tanh"},
        "hypothesis": [{"layer": 1, "units": [1, 2], "tie": ["incoming", "bias"]}],
    })
    symderive.derive(spec).results[0].verdict  # 'broken'

Names:

- ``derive(spec)``: a :class:`Derivation` (``.results``, ``.facts``, ``.numeric``,
  and ``.to_json()``, ``.to_markdown()``, ``.to_latex()``, ``.to_pdf(path)``);
- ``load(spec)``: the validated :class:`Spec` of a path or bundled name;
- ``Spec``: a derivation request (``Spec.from_toml``, ``Spec.from_dict``);
- ``SpecError``: what bad input raises; its message names the file, line and field;
- ``bundled()``: the names of the bundled derivations;
- ``from_torch(model, inputs, targets, loss)``: a PyTorch model as a Spec, and
  ``inspect(...)``: its units judged (needs torch: ``pip install 'symderive[torch]'``);
- ``__version__``.

The command line (``symderive derive``, ``symderive list``) does the same from a shell.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import SpecError, SymderiveError

__version__ = "0.1.0"

#: public name -> the module that defines it (imported on first access).
_LAZY = {
    "derive": "symderive.api",
    "load": "symderive.api",
    "Derivation": "symderive.api",
    "Spec": "symderive.spec.request",
    "from_torch": "symderive.bridge",
    "inspect": "symderive.bridge",
}

__all__ = ["derive", "load", "bundled", "Spec", "SpecError", "SymderiveError", "Derivation",
           "from_torch", "inspect", "__version__"]

if TYPE_CHECKING:
    from .api import Derivation, derive, load
    from .bridge import from_torch, inspect
    from .spec.request import Spec


def bundled() -> list[str]:
    """The names of the bundled derivations, for :func:`derive` (``symderive list``)."""
    from .sources import bundled_specs

    return list(bundled_specs())


def __getattr__(name: str) -> Any:
    """PEP 562: import the API's heavy modules (SymPy) only when a name is used."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name == "bridge":      # symderive.bridge.state_dict without importing it first
        return importlib.import_module("symderive.bridge")
    raise AttributeError(f"module 'symderive' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names (the lazy ones included) and the module's dunders."""
    return sorted(set(__all__) | {n for n in globals() if n.startswith("__")})
