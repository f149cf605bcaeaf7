"""The bridge from PyTorch: a model as a spec, its units judged, and back.

``import symderive`` does not import torch; these functions import it when called
(``pip install 'symderive[torch]'``).

- :func:`from_torch`: a model, a batch and a loss as a :class:`~symderive.Spec`;
- :func:`inspect`: the derivation of that spec, opening with a judgement in the
  module's own names (:class:`~symderive.bridge.inspection.Inspection`);
- :func:`state_dict`: parameters of a witness or trajectory step as a ``state_dict``
  that ``model.load_state_dict`` accepts.
"""
from __future__ import annotations

from typing import Any


def require_torch() -> Any:
    """The torch module, or an ImportError saying how to install it."""
    try:
        import torch
    except ImportError:
        raise ImportError("symderive's PyTorch bridge needs torch: "
                          "pip install 'symderive[torch]'") from None
    return torch


def from_torch(model: Any, inputs: Any, targets: Any = None, loss: Any = "mse",
               **options: Any) -> Any:
    """See :func:`symderive.bridge.convert.from_torch`."""
    require_torch()
    from .convert import from_torch as convert

    return convert(model, inputs, targets, loss, **options)


def inspect(model: Any, inputs: Any, targets: Any = None, loss: Any = "mse",
            **options: Any) -> Any:
    """See :func:`symderive.bridge.inspection.inspect`."""
    require_torch()
    from .inspection import inspect as run

    return run(model, inputs, targets, loss, **options)


def state_dict(model: Any, parameters: Any, inputs: Any) -> dict[str, Any]:
    """See :func:`symderive.bridge.state.state_dict`."""
    require_torch()
    from .state import state_dict as back

    return back(model, parameters, inputs)


__all__ = ["from_torch", "inspect", "require_torch", "state_dict"]
