"""The report printer: exact LaTeX for the notation the notes need."""
from __future__ import annotations

import pytest
import sympy as sp

from symderive.spec.functions import Z, relu, sigmoid
from symderive.engine.local import act, dact
from symderive.engine.network import activation_value, bias, delta, output_value, preactivation, target
from symderive.engine.network import weight
from symderive.notation import (Dots, GradOf, IndexRange, LossOf, Step, Swap, index_sum, matrix,
                                minus, number, outact, partial, tex, vector)

L = sp.Symbol("L")
W111, W112 = weight(2, 1, 1), weight(2, 1, 2)
RESIDUAL = (activation_value(0, 1, "k") * (W111 - W112) * (output_value(1, 1) - target(1, 1))
            * dact(preactivation(1, 1, 1)))


@pytest.mark.parametrize("expr,latex", [
    (partial(L, weight(1, 2, 1)), r"\frac{\partial L}{\partial W^{(1)}_{21}}"),
    (partial(sp.Symbol("ell"), preactivation(2, 1, "m")),
     r"\frac{\partial \ell}{\partial z^{(2)}_{m}}"),
    (dact(preactivation(1, 1, 1)), r"\sigma'(z^{(1)}_{1})"),
    (act(Z), r"\sigma(z)"),
    (outact(Z), r"\varphi(z)"),
    (sigmoid(Z), r"\operatorname{sigmoid}(z)"),   # σ is the hidden activation
    (relu(Z), r"\operatorname{ReLU}(z)"),
    (sp.Heaviside(Z, 0), r"H(z)"),
    (output_value(1, 1), r"\hat{y}_{1}"),
    (delta(2, 1, "m"), r"\delta^{(2)}_{m}"),
    (weight(1, "i", "k"), r"W^{(1)}_{ik}"),
    (bias(2, 3), r"b^{(2)}_{3}"),
    (sp.Symbol("W1"), r"W^{(1)}"),
    # a difference is written minuend first, whatever SymPy's term order
    (output_value(1, 1) - target(1, 1), r"\hat{y}_{1} - y_{1}"),
    (minus(partial(L, weight(1, 1, "k")), partial(L, weight(1, 2, "k"))),
     r"\frac{\partial L}{\partial W^{(1)}_{1k}} - \frac{\partial L}{\partial W^{(1)}_{2k}}"),
    # factors: weight differences, σ', errors, inputs; sums last
    (RESIDUAL, r"\left(W^{(2)}_{11} - W^{(2)}_{12}\right) \sigma'(z^{(1)}_{1}) "
               r"\left(\hat{y}_{1} - y_{1}\right) x_{k}"),
    (-RESIDUAL, r"- \left(W^{(2)}_{11} - W^{(2)}_{12}\right) \sigma'(z^{(1)}_{1}) "
                r"\left(\hat{y}_{1} - y_{1}\right) x_{k}"),
    (dact(preactivation(1, 1, "i")) * index_sum(
        lambda m: weight(2, m, "i") * delta(2, 1, m), "m", 3),
     r"\sigma'(z^{(1)}_{i}) \sum_{m=1}^{3} W^{(2)}_{mi} \delta^{(2)}_{m}"),
    (index_sum(lambda k: weight(1, "i", k) * activation_value(0, 1, k), "k", 2) + bias(1, "i"),
     r"\sum_{k=1}^{2} W^{(1)}_{ik} x_{k} + b^{(1)}_{i}"),
    (index_sum(lambda m: weight(2, m, 1), "m", 1), r"W^{(2)}_{11}"),
    (sp.Rational(1, 2) * (output_value(1, 1) - target(1, 1)) ** 2,
     r"\frac{1}{2} \left(\hat{y}_{1} - y_{1}\right)^{2}"),
    (sp.tanh(Z), r"\tanh {z}"),
    (sp.Eq(LossOf(Swap(sp.Symbol("theta"))), LossOf(sp.Symbol("theta"))),
     r"L\left(P \theta\right) = L\left(\theta\right)"),
    (sp.Eq(GradOf(Swap(Step(0))), Swap(GradOf(Step(0))), evaluate=False),
     r"\nabla L\left(P \theta_{t}\right) = P \nabla L\left(\theta_{t}\right)"),
    (Swap(Step(0) - sp.Symbol("eta") * GradOf(Step(0))),
     r"P \left(\theta_{t} - \eta \nabla L\left(\theta_{t}\right)\right)"),
    (Step(1), r"\theta_{t+1}"),
    (IndexRange(sp.Symbol("k"), 2), "k = 1, 2"),
    (IndexRange(sp.Symbol("k"), 64), r"k = 1, \dots, 64"),
    (vector([1.25, -0.5, 3, 0.1234567, 1e-12, 5, 6, 7]),
     r"\left(\begin{matrix}1.25 & -0.5 & 3 & 0.1235 & 1.0 \cdot 10^{-12} & \dots & 7"
     r"\end{matrix}\right)"),
    (matrix([[1, 2.5], [-0.75, 4]]), r"\left(\begin{matrix}1 & 2.5\\-0.75 & 4\end{matrix}\right)"),
    (Dots(), r"\dots"),
    (sp.Pow(10, -9, evaluate=False), "10^{-9}"),
])
def test_printer(expr, latex):
    assert tex(expr) == latex


def test_sample_index_is_shown_only_with_several_samples():
    z = preactivation(1, "n", 2)
    assert tex(z, samples=1) == r"z^{(1)}_{2}"
    assert tex(z, samples=3) == r"z^{(1)[n]}_{2}"


def test_nested_sums_are_written_one_sigma_per_index():
    n, m = sp.symbols("n m", integer=True, positive=True)
    expr = sp.Sum(sp.Sum(target("n", "m"), (m, 1, 4)), (n, 1, 2))
    assert tex(expr, samples=2) == r"\sum_{n=1}^{2} \sum_{m=1}^{4} y^{[n]}_{m}"


def test_unevaluated_difference_shows_both_terms():
    a = dact(preactivation(1, 1, 1)) * weight(2, 1, 1)
    assert tex(minus(a, a)) == (r"\sigma'(z^{(1)}_{1}) W^{(2)}_{11} - "
                                r"\sigma'(z^{(1)}_{1}) W^{(2)}_{11}")


@pytest.mark.parametrize("value,shown", [(1.0, "1"), (-0.75, "-0.75"), (12.25, "12.25"),
                                         (-2.9311608248944054, "-2.931"), (0.0, "0")])
def test_numbers(value, shown):
    assert tex(number(value)) == shown
