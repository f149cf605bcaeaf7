"""A PyTorch module as the chain of calls it makes, read with ``torch.fx``.

The bridge handles networks that are one chain of modules and functions, with
residual sums ``x + f(x)`` on the side: each call reads the value the previous call
made (a sum also reads one earlier value).  ``torch.fx`` traces ``nn.Sequential``
and any module whose ``forward`` it can follow; every call becomes a :class:`Call`
naming the module's path in the model (``encoder.2``) so that an error can say
where the model leaves what symderive can state.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

from ..errors import SpecError

#: Errors from the bridge name this source.
SOURCE = "<torch>"


def refuse(where: str, message: str) -> SpecError:
    """The SpecError for something in the model (``where`` is its path or call name)."""
    return SpecError(message, source=SOURCE, field=where)


@dataclass(frozen=True)
class Call:
    """One live call of the traced graph.

    ``op`` is ``"module"``, ``"function"`` or ``"method"``; ``target`` the module (for
    ``"module"``), the function, or the method's name; ``where`` the module's path or
    the call's name in ``forward``; ``inputs`` the names of the earlier values it reads
    (the traced node names), ``args`` the other positional arguments, ``kwargs`` the
    keyword ones."""

    name: str
    op: str
    target: Any
    where: str
    inputs: tuple[str, ...]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def trace(model: Any) -> tuple[str, list[Call], str]:
    """(the input's node name, the live calls in order, the output's node name)."""
    import torch.fx as fx

    try:
        graph = fx.symbolic_trace(model).graph
    except Exception as exc:  # noqa: BLE001 - fx raises many kinds; all mean "cannot trace"
        raise refuse(type(model).__name__,
                     f"torch.fx cannot trace this model ({type(exc).__name__}: "
                     f"{str(exc).splitlines()[0] if str(exc) else 'no message'}); the bridge "
                     "reads nn.Sequential and modules whose forward torch.fx can trace") from None
    nodes = list(graph.nodes)
    placeholders = [n for n in nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise refuse(type(model).__name__, f"forward takes {len(placeholders)} inputs; the "
                     "bridge reads models of one input tensor")
    output = next(n for n in nodes if n.op == "output")
    live = _live(output)
    modules = dict(model.named_modules())
    calls = [_call(n, modules) for n in nodes
             if n in live and n.op not in ("placeholder", "output")]
    result = output.args[0]
    if not hasattr(result, "name"):
        raise refuse("output", "forward must return one tensor")
    return placeholders[0].name, calls, result.name


def _live(output: Any) -> set:
    """The nodes the output depends on (a traced value nobody reads is left out)."""
    seen, todo = set(), [output]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo += list(n.all_input_nodes)
    return seen


def _call(node: Any, modules: dict[str, Any]) -> Call:
    inputs = tuple(a.name for a in node.all_input_nodes)   # attn(x, x, x) reads x once
    args = tuple(a for a in node.args if not hasattr(a, "op"))
    if node.op == "call_module":
        return Call(node.name, "module", modules[node.target], node.target, inputs, args,
                    dict(node.kwargs))
    if node.op == "get_attr":
        return Call(node.name, "get_attr", node.target, node.target, inputs)
    if node.op == "call_function" and node.target is operator.getitem:
        return Call(node.name, "getitem", None, node.name, inputs, (node.args[1],))
    op = "function" if node.op == "call_function" else "method"
    return Call(node.name, op, node.target, node.name, inputs, args, dict(node.kwargs))


def function_name(target: Any) -> str:
    """``torch.relu``, ``operator.add``: how a reader would write the call."""
    module = getattr(target, "__module__", None) or "torch"
    name = getattr(target, "__name__", repr(target))
    if module.startswith("torch.nn.functional"):
        module = "F"
    elif module.startswith("torch") or module == "builtins" or module == "_operator":
        module = "operator" if module == "_operator" else "torch"
    return f"{module}.{name}"


__all__ = ["Call", "SOURCE", "function_name", "refuse", "trace"]
