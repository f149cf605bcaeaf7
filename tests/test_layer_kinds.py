"""Layer kinds: each kind a room, checked against independent computations.

- no module outside a kind's two rooms and the two registries names the kind;
- every kind's symbolic forward (SymPy), its NumPy pass, finite differences and
  torch.nn agree on random small shapes (1-D and 2-D, channels 1-4, kernels 1-3,
  strides 1-2, padding 0-1, with and without norm and skip);
- a stack of dense layers is the ``layers = [...]`` network (same gradients);
- witnesses reproduce in torch (no code of the kinds involved);
- the swap of two units leaves the loss unchanged.
"""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from conftest import ROOT
from layer_reference import random_spec, torch_gradient
from symderive.engine import mlp
from symderive.engine.layers import KINDS
from symderive.engine.layers.settle import settle_stack
from symderive.engine.layers.stack import Stack
from symderive.engine.layers.units import Units
from symderive.engine.network import target
from symderive.spec import Spec

PACKAGE = ROOT / "symderive"
REGISTRIES = {PACKAGE / "spec/layers/__init__.py"}
#: The PyTorch bridge writes a spec's layer tables from torch modules, so it names kinds
#: as a spec does: its converters (bridge/kinds.py) are a registry keyed by module type.
TRANSLATORS = set((PACKAGE / "bridge").glob("*.py"))


def kind_mentions(source: str, kind: str) -> list[int]:
    """Lines where ``source`` names ``kind``: a string equal to it (or quoting it), an
    import of its module from a ``layers`` package, or ``layers.<kind>``.  (A variable
    that happens to be called ``pool``, as a process pool, is no mention.)"""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value == kind or f'"{kind}"' in node.value or f"'{kind}'" in node.value:
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and "layers" in (node.module or "").split("."):
            lines += [node.lineno for a in node.names if a.name == kind]
        elif isinstance(node, ast.Import):
            lines += [node.lineno for a in node.names if a.name.endswith(f"layers.{kind}")]
        elif isinstance(node, ast.Attribute) and node.attr == kind \
                and ast.unparse(node.value).endswith("layers"):
            lines.append(node.lineno)
    return lines


def test_the_checker_sees_a_dispatch_on_a_kind_name():
    assert kind_mentions('if layer.kind == "conv":\n    pass\n', "conv") == [1]
    assert kind_mentions("from .layers import conv\n", "conv") == [1]
    assert kind_mentions("x = layers.conv.KIND\n", "conv") == [1]
    assert kind_mentions('"""A convolution."""\n', "conv") == []
    assert kind_mentions("with Pool() as pool:\n    pool.map(f, xs)\n", "pool") == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_module_outside_its_rooms_names_a_kind(kind):
    rooms = {PACKAGE / f"spec/layers/{kind}.py", PACKAGE / f"engine/layers/{kind}.py"}
    assert all(p.exists() for p in rooms)
    found = {str(p.relative_to(ROOT)): kind_mentions(p.read_text(), kind)
             for p in PACKAGE.rglob("*.py") if p not in rooms | REGISTRIES | TRANSLATORS}
    assert {k: v for k, v in found.items() if v} == {}


# ---- the passes ---------------------------------------------------------------------
def _point(stack: Stack, seed: int):
    rng = np.random.default_rng(seed)
    theta = {k: rng.uniform(-1, 1, size=s) for k, s in stack.shapes.items()}
    theta = {k: (v + 1.5 if k.startswith("g") else v) for k, v in theta.items()}
    X = rng.normal(size=(stack.spec.samples, *stack.spec.input))
    Y = rng.normal(size=(stack.spec.samples, stack.spec.layers[-1]))
    return theta, X, Y


def _symbolic_gradient(stack: Stack, theta, X, Y) -> dict[str, np.ndarray]:
    """∂L/∂θ from the kinds' SymPy forward: the whole loss differentiated, then evaluated."""
    loss = stack.loss()
    xs = stack.inputs()
    values = {}
    for k, arr in stack.theta.items():
        values.update({arr[i]: theta[k][i] for i in np.ndindex(*arr.shape)})
    values.update({xs[i]: X[i] for i in np.ndindex(*xs.shape)})
    values.update({target(n + 1, m + 1): Y[n, m] for n in range(Y.shape[0])
                   for m in range(Y.shape[1])})
    order = list(values)
    entries = [(k, i) for k, arr in stack.theta.items() for i in np.ndindex(*arr.shape)]
    derivatives = [loss.diff(stack.theta[k][i]) for k, i in entries]
    f = sp.lambdify(order, derivatives, "math", cse=True)   # generated symbols only
    out = {k: np.zeros(arr.shape) for k, arr in stack.theta.items()}
    for (k, i), v in zip(entries, f(*[values[s] for s in order])):
        out[k][i] = v
    return out


def _finite_differences(stack: Stack, theta, X, Y, h=1e-6) -> dict[str, np.ndarray]:
    out = {}
    for k, v in theta.items():
        out[k] = np.zeros(v.shape)
        for i in np.ndindex(*v.shape):
            plus, minus = {n: a.copy() for n, a in theta.items()}, {n: a.copy() for n, a in theta.items()}
            plus[k][i] += h
            minus[k][i] -= h
            out[k][i] = (stack.np_gradient(plus, X, Y)[0] - stack.np_gradient(minus, X, Y)[0]) / (2 * h)
    return out


CASES = [(seed, norm, skip) for seed in range(6) for norm, skip in
         [(False, False), (True, False), (False, True), (True, True)] if seed % 2 or norm or skip]


@pytest.mark.parametrize("seed,norm,skip", CASES)
def test_numpy_pass_agrees_with_torch_and_finite_differences(seed, norm, skip):
    assert_passes_agree(random_spec(np.random.default_rng(seed), norm, skip), seed)


def assert_passes_agree(spec: Spec, seed: int) -> None:
    """The kinds' NumPy gradient against torch.nn and finite differences at a point."""
    stack = Stack(spec.network)
    theta, X, Y = _point(stack, seed)
    _, grads, _ = stack.np_gradient(theta, X, Y)
    reference = torch_gradient(spec, theta, X, Y)
    fd = _finite_differences(stack, theta, X, Y)
    assert set(grads) == set(reference) == set(stack.shapes)
    for k in grads:
        assert np.allclose(grads[k], reference[k], rtol=1e-9, atol=1e-10), k
        assert np.allclose(grads[k], fd[k], rtol=1e-5, atol=1e-6), k


@pytest.mark.parametrize("seed,norm,skip,two_d", [(0, False, False, True), (1, True, False, False),
                                                  (2, False, True, False), (3, True, True, False)])
def test_symbolic_forward_agrees_with_the_numpy_pass(seed, norm, skip, two_d):
    """Every kind's SymPy forward, differentiated as a whole loss, against its NumPy pass
    (2-D without norm: a 2-D norm's whole loss is too large to differentiate here)."""
    assert_symbolic_agrees(random_spec(np.random.default_rng(100 + seed), norm, skip,
                                       tiny=True, two_d=two_d), seed)


def assert_symbolic_agrees(spec: Spec, seed: int) -> None:
    """The whole SymPy loss's gradient against the kinds' NumPy gradient at a point."""
    stack = Stack(spec.network)
    theta, X, Y = _point(stack, seed)
    _, grads, _ = stack.np_gradient(theta, X, Y)
    symbolic = _symbolic_gradient(stack, theta, X, Y)
    for k in grads:
        assert np.allclose(grads[k], symbolic[k], rtol=1e-8, atol=1e-10), k
