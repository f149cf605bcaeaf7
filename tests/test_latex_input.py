"""Tests of symderive.spec.latex: ML formulas by value and derivative, refusals, guards."""
from __future__ import annotations

import builtins
import math
import sys
import time

import numpy as np
import pytest
import sympy

from symderive.spec import latex as li
from symderive.spec.latex import grammar
from symderive.spec.latex.worker import WorkerHandle
from symderive.errors import LatexInputError, ResourceLimitError, SymderiveError
from symderive.spec.latex import (ML_FUNCTIONS, activation_variable, loss_variables,
                                   parse_activation, parse_loss)

Z = activation_variable()
YHAT, Y = loss_variables()
SIGMOID = ML_FUNCTIONS["sigmoid"]       # the package's sigmoid head (or 1/(1+e^-u))

# Sample points avoid the kinks of the non-smooth functions below
# (0 and 6 for ReLU/ReLU6, +-1 for hard tanh, +-2.5 for hard sigmoid, ...).
Z_POINTS = [-2.3, -0.7, 0.4, 1.3, 2.9]
# (yhat, y): yhat in (0, 1) for BCE, y*yhat != 1 (hinge), |yhat - y| != 1 (Huber).
LOSS_POINTS = [(0.3, 0.0), (0.8, 1.0), (0.55, 1.0), (0.1, -0.5), (0.9, 0.0)]


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def dsig(z):
    return sig(z) * (1.0 - sig(z))


def softplus(z):
    return np.log1p(np.exp(z))


def gelu_tanh(z):
    c = math.sqrt(2 / math.pi)
    return 0.5 * z * (1 + np.tanh(c * (z + 0.044715 * z ** 3)))


def dgelu_tanh(z):
    c = math.sqrt(2 / math.pi)
    t = np.tanh(c * (z + 0.044715 * z ** 3))
    return 0.5 * (1 + t) + 0.5 * z * (1 - t ** 2) * c * (1 + 3 * 0.044715 * z ** 2)


def mish(z):
    return z * np.tanh(softplus(z))


def dmish(z):
    t = np.tanh(softplus(z))
    return t + z * (1 - t ** 2) * sig(z)


def elu(z, a=1.0):
    return z if z > 0 else a * (np.exp(z) - 1)


def delu(z, a=1.0):
    return 1.0 if z > 0 else a * np.exp(z)


def hard_sigmoid(z):
    return min(1.0, max(0.0, 0.2 * z + 0.5))


def dhard_sigmoid(z):
    return 0.2 if -2.5 < z < 2.5 else 0.0


def step(cond):
    return 1.0 if cond else 0.0


# (latex, f, f')
ACTIVATIONS = {
    "sigmoid-frac": (r"\frac{1}{1+e^{-z}}", sig, dsig),
    "sigmoid-frac12-exp": (r"\frac1{1+\exp(-z)}", sig, dsig),
    "sigmoid-slash": (r"1/(1+e^{-z})", sig, dsig),
    "sigmoid-mathrm-e": (r"\frac{1}{1+\mathrm{e}^{-z}}", sig, dsig),
    "sigma": (r"\sigma(z)", sig, dsig),
    "sigma-left-right": (r"\sigma\left(z\right)", sig, dsig),
    "sigma-space": (r"\sigma (z)", sig, dsig),
    "sigmoid-operatorname": (r"\operatorname{sigmoid}(z)", sig, dsig),
    "sigma-affine": (r"\sigma(2z+1)", lambda z: sig(2 * z + 1), lambda z: 2 * dsig(2 * z + 1)),
    "sigma-neg": (r"\sigma(-z)", lambda z: sig(-z), lambda z: -dsig(-z)),
    "tanh-written-out": (r"\frac{e^{z}-e^{-z}}{e^{z}+e^{-z}}", np.tanh,
                         lambda z: 1 - np.tanh(z) ** 2),
    "tanh": (r"\tanh(z)", np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "tanh-via-sigma": (r"2\sigma(2z)-1", np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "softsign": (r"\frac{z}{1+|z|}", lambda z: z / (1 + abs(z)), lambda z: 1 / (1 + abs(z)) ** 2),
    "softsign-left-right": (r"\frac{z}{1+\left|z\right|}", lambda z: z / (1 + abs(z)),
                            lambda z: 1 / (1 + abs(z)) ** 2),
    "swish": (r"z\sigma(z)", lambda z: z * sig(z), lambda z: sig(z) + z * dsig(z)),
    "swish-frac": (r"\frac{z}{1+e^{-z}}", lambda z: z * sig(z), lambda z: sig(z) + z * dsig(z)),
    "gelu-sigmoid-approx": (r"z\cdot\sigma(1.702z)", lambda z: z * sig(1.702 * z),
                            lambda z: sig(1.702 * z) + 1.702 * z * dsig(1.702 * z)),
    "softplus-ln": (r"\ln(1+e^{z})", softplus, sig),
    "softplus-log": (r"\log(1+e^{z})", softplus, sig),
    "softplus-log-left-right": (r"\log\left(1+\exp\left(z\right)\right)", softplus, sig),
    "softplus-operatorname": (r"\operatorname{softplus}(z)", softplus, sig),
    "softplus-log2": (r"\log_2(1+2^{z})", lambda z: np.log2(1 + 2 ** z),
                      lambda z: 2 ** z / (1 + 2 ** z)),
    "gelu-tanh": (r"\frac{1}{2}z\left(1+\tanh\left(\sqrt{\frac{2}{\pi}}"
                  r"\left(z+0.044715z^{3}\right)\right)\right)", gelu_tanh, dgelu_tanh),
    "gelu-erf": (r"\frac{z}{2}\left(1+\operatorname{erf}\left(\frac{z}{\sqrt{2}}\right)\right)",
                 lambda z: 0.5 * z * (1 + math.erf(z / math.sqrt(2))),
                 lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))
                 + z * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)),
    "mish": (r"z\tanh(\ln(1+e^{z}))", mish, dmish),
    "mish-softplus": (r"z\tanh\left(\operatorname{softplus}(z)\right)", mish, dmish),
    "relu-max": (r"\max(0,z)", lambda z: max(0.0, z), lambda z: step(z > 0)),
    "relu-operatorname": (r"\operatorname{ReLU}(z)", lambda z: max(0.0, z), lambda z: step(z > 0)),
    "relu-mathrm": (r"\mathrm{relu}(z)", lambda z: max(0.0, z), lambda z: step(z > 0)),
    "relu-abs": (r"\frac{z+|z|}{2}", lambda z: max(0.0, z), lambda z: step(z > 0)),
    "relu6": (r"\min(\max(0,z),6)", lambda z: min(max(0.0, z), 6.0),
              lambda z: step(0 < z < 6)),
    "leaky-relu-max": (r"\max(0.01z, z)", lambda z: max(0.01 * z, z),
                       lambda z: 1.0 if z > 0 else 0.01),
    "leaky-relu-cases": (r"\begin{cases} z & z \geq 0 \\ 0.01z & \text{otherwise} \end{cases}",
                         lambda z: max(0.01 * z, z), lambda z: 1.0 if z > 0 else 0.01),
    "leaky-relu-cases-if": (r"\begin{cases} z, & \text{if } z \ge 0 \\ "
                            r"0.01\,z, & \text{if } z < 0 \end{cases}",
                            lambda z: max(0.01 * z, z), lambda z: 1.0 if z > 0 else 0.01),
    "hard-sigmoid": (r"\max(0,\min(1,0.2z+0.5))", hard_sigmoid, dhard_sigmoid),
    "hard-sigmoid-frac": (r"\min\left(\max\left(0, \frac{z+1}{2}\right), 1\right)",
                          lambda z: min(1.0, max(0.0, (z + 1) / 2)),
                          lambda z: step(-1 < z < 1) / 2),
    "hard-tanh": (r"\max(-1, \min(1, z))", lambda z: max(-1.0, min(1.0, z)),
                  lambda z: step(-1 < z < 1)),
    "elu-cases": (r"\begin{cases} z & z > 0 \\ e^{z}-1 & \text{otherwise} \end{cases}", elu, delu),
    "selu-cases": (r"1.0507\begin{cases} z & z>0 \\ 1.67326(e^z-1) & z \le 0\end{cases}",
                   lambda z: 1.0507 * elu(z, 1.67326), lambda z: 1.0507 * delu(z, 1.67326)),
    "abs": (r"|z|", abs, np.sign),
    "sqrt-smooth-abs": (r"\sqrt{1+z^2}", lambda z: math.sqrt(1 + z * z),
                        lambda z: z / math.sqrt(1 + z * z)),
    "bent-identity": (r"\frac{\sqrt{z^2+1}-1}{2}+z", lambda z: (math.sqrt(z * z + 1) - 1) / 2 + z,
                      lambda z: z / (2 * math.sqrt(z * z + 1)) + 1),
    "gaussian": (r"\mathrm{e}^{-z^2}", lambda z: math.exp(-z * z),
                 lambda z: -2 * z * math.exp(-z * z)),
    "isru": (r"\frac{z}{\sqrt{1+z^{2}}}", lambda z: z / math.sqrt(1 + z * z),
             lambda z: (1 + z * z) ** -1.5),
    "arctan": (r"\arctan(z)", np.arctan, lambda z: 1 / (1 + z * z)),
    "snake": (r"z+\sin^{2}(z)", lambda z: z + math.sin(z) ** 2,
              lambda z: 1 + 2 * math.sin(z) * math.cos(z)),
    "dollars-dfrac": (r"$\dfrac{1}{1+e^{-z}}$", sig, dsig),
    "unicode-minus": ("\\frac{1}{1+e^{\u2212z}}", sig, dsig),
    "shifted-softplus": (r"\ln\left(\frac{1+e^{z}}{2}\right)", lambda z: softplus(z) - math.log(2),
                         sig),
    "product-parens": (r"z(1+z)", lambda z: z * (1 + z), lambda z: 1 + 2 * z),
    "sign-times-abs": (r"\operatorname{sign}(z)|z|", lambda z: z, lambda z: 1.0),
}


def mse_grad(yh, y):
    return (yh - y), -(yh - y)


# (latex, f(yh, y), (df/dyhat, df/dy))
LOSSES = {
    "bce-log": (r"-y\log(\hat{y})-(1-y)\log(1-\hat{y})",
                lambda yh, y: -y * np.log(yh) - (1 - y) * np.log(1 - yh),
                lambda yh, y: (-y / yh + (1 - y) / (1 - yh), -np.log(yh) + np.log(1 - yh))),
    "bce-ln-brackets": (r"-\left[y\ln\hat{y}+(1-y)\ln(1-\hat{y})\right]",
                        lambda yh, y: -y * np.log(yh) - (1 - y) * np.log(1 - yh),
                        lambda yh, y: (-y / yh + (1 - y) / (1 - yh),
                                       -np.log(yh) + np.log(1 - yh))),
    "bce-sigmoid-logits": (r"-y\log(\sigma(\hat{y}))-(1-y)\log(1-\sigma(\hat{y}))",
                           lambda yh, y: -y * np.log(sig(yh)) - (1 - y) * np.log(1 - sig(yh)),
                           lambda yh, y: (sig(yh) - y, -np.log(sig(yh)) + np.log(1 - sig(yh)))),
    "bce-softplus-logits": (r"\operatorname{softplus}(\hat{y})-y\hat{y}",
                            lambda yh, y: softplus(yh) - y * yh,
                            lambda yh, y: (sig(yh) - y, -yh)),
    "log-cosh": (r"\log(\cosh(\hat{y}-y))", lambda yh, y: np.log(np.cosh(yh - y)),
                 lambda yh, y: (np.tanh(yh - y), -np.tanh(yh - y))),
    "quartic": (r"(\hat{y}-y)^{4}", lambda yh, y: (yh - y) ** 4,
                lambda yh, y: (4 * (yh - y) ** 3, -4 * (yh - y) ** 3)),
    "hinge": (r"\max(0, 1-y\hat{y})", lambda yh, y: max(0.0, 1 - y * yh),
              lambda yh, y: (-y * step(y * yh < 1), -yh * step(y * yh < 1))),
    "squared-hinge": (r"\max(0,1-y\hat{y})^2", lambda yh, y: max(0.0, 1 - y * yh) ** 2,
                      lambda yh, y: (-2 * y * max(0.0, 1 - y * yh),
                                     -2 * yh * max(0.0, 1 - y * yh))),
    "squared-error-frac12": (r"\frac12(\hat{y}-y)^2", lambda yh, y: 0.5 * (yh - y) ** 2, mse_grad),
    "squared-error-hat-nobrace": (r"\frac{1}{2}\left(y-\hat y\right)^{2}",
                                  lambda yh, y: 0.5 * (yh - y) ** 2, mse_grad),
    "mse": (r"(\hat{y}-y)^2", lambda yh, y: (yh - y) ** 2,
            lambda yh, y: (2 * (yh - y), -2 * (yh - y))),
    "absolute": (r"|\hat{y}-y|", lambda yh, y: abs(yh - y),
                 lambda yh, y: (np.sign(yh - y), -np.sign(yh - y))),
    "huber": (r"\begin{cases} \frac{1}{2}(\hat{y}-y)^2 & |\hat{y}-y| \leq 1 \\ "
              r"|\hat{y}-y|-\frac{1}{2} & \text{otherwise} \end{cases}",
              lambda yh, y: 0.5 * (yh - y) ** 2 if abs(yh - y) <= 1 else abs(yh - y) - 0.5,
              lambda yh, y: ((yh - y) if abs(yh - y) <= 1 else np.sign(yh - y),
                             -(yh - y) if abs(yh - y) <= 1 else -np.sign(yh - y))),
    "pseudo-huber": (r"\sqrt{1+(\hat{y}-y)^2}-1", lambda yh, y: math.sqrt(1 + (yh - y) ** 2) - 1,
                     lambda yh, y: ((yh - y) / math.sqrt(1 + (yh - y) ** 2),
                                    -(yh - y) / math.sqrt(1 + (yh - y) ** 2))),
    "logistic": (r"\log(1+e^{-y\hat{y}})", lambda yh, y: np.log1p(np.exp(-y * yh)),
                 lambda yh, y: (-y * sig(-y * yh), -yh * sig(-y * yh))),
    "exponential": (r"e^{-y\hat{y}}", lambda yh, y: np.exp(-y * yh),
                    lambda yh, y: (-y * np.exp(-y * yh), -yh * np.exp(-y * yh))),
    "poisson": (r"\hat{y}-y\log(\hat{y})", lambda yh, y: yh - y * np.log(yh),
                lambda yh, y: (1 - y / yh, -np.log(yh))),
    "squared-log-error": (r"\left(\log(1+\hat{y})-\log(1+y)\right)^2",
                          lambda yh, y: (np.log1p(yh) - np.log1p(y)) ** 2,
                          lambda yh, y: (2 * (np.log1p(yh) - np.log1p(y)) / (1 + yh),
                                         -2 * (np.log1p(yh) - np.log1p(y)) / (1 + y))),
}


def value(expr: sympy.Expr, subs: dict) -> float:
    """Numeric value of a parsed expression (only our generated symbols are substituted)."""
    return float(sympy.N(expr.subs({k: sympy.Float(v) for k, v in subs.items()})))


@pytest.mark.parametrize("latex, f, df", ACTIVATIONS.values(), ids=ACTIVATIONS.keys())
def test_activation_value_and_derivative(latex, f, df):
    expr = parse_activation(latex)
    assert expr.free_symbols <= {Z}
    derivative = sympy.diff(expr, Z)
    for z in Z_POINTS:
        assert value(expr, {Z: z}) == pytest.approx(float(f(z)), rel=1e-9, abs=1e-12)
        assert value(derivative, {Z: z}) == pytest.approx(float(df(z)), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("latex, f, grad", LOSSES.values(), ids=LOSSES.keys())
def test_loss_value_and_derivatives(latex, f, grad):
    expr = parse_loss(latex)
    assert expr.free_symbols <= {YHAT, Y}
    d_yhat, d_y = sympy.diff(expr, YHAT), sympy.diff(expr, Y)
    for yh, y in LOSS_POINTS:
        point = {YHAT: yh, Y: y}
        want_yhat, want_y = grad(yh, y)
        assert value(expr, point) == pytest.approx(float(f(yh, y)), rel=1e-9, abs=1e-12)
        assert value(d_yhat, point) == pytest.approx(float(want_yhat), rel=1e-9, abs=1e-12)
        assert value(d_y, point) == pytest.approx(float(want_y), rel=1e-9, abs=1e-12)


def test_tables_are_large_enough():
    assert len(ACTIVATIONS) + len(LOSSES) >= 40
    assert len(REJECTED) >= 20


# ------------------------------------------------------------------ conventions
def test_generated_symbols_are_fixed_real_objects():
    assert activation_variable() is activation_variable()
    assert loss_variables() == loss_variables()
    assert Z.is_real and YHAT.is_real and Y.is_real
    assert parse_activation("z") == Z
    assert parse_loss(r"\hat{y} - y") == YHAT - Y
    assert parse_loss(r"\hat y") == YHAT


def test_abs_differentiates_to_sign():
    assert sympy.diff(parse_activation("|z|"), Z) == sympy.sign(Z)


@pytest.mark.parametrize("latex, expected", [
    (r"\log(z)", sympy.log(Z)),
    (r"\log z", sympy.log(Z)),
    (r"\ln z", sympy.log(Z)),
    (r"\ln(z)", sympy.log(Z)),
    (r"\log_2 z", sympy.log(Z) / sympy.log(2)),
    (r"\log_{10}(z)", sympy.log(Z) / sympy.log(10)),
    (r"\log_{e} z", sympy.log(Z)),
])
def test_log_is_natural(latex, expected):
    assert sympy.simplify(parse_activation(latex) - expected) == 0


@pytest.mark.parametrize("latex", [r"\sigma(z)", r"\sigma\left(z\right)", r"\sigma (z)",
                                   r"\sigma\bigl(z\bigr)", r"\operatorname{sigmoid}(z)",
                                   r"\mathrm{sigmoid}(z)", r"\text{Sigmoid}(z)", "\u03c3(z)"])
def test_sigma_spellings_are_the_same_function(latex):
    assert parse_activation(latex) == SIGMOID(Z)


def test_sigmoid_head_is_the_logistic_function():
    written_out = parse_activation(r"\frac{1}{1+e^{-z}}")
    assert written_out == 1 / (1 + sympy.exp(-Z))
    assert sympy.simplify(SIGMOID(Z).rewrite(sympy.exp) - written_out) == 0


@pytest.mark.parametrize("argument, inner", [("2z+1", 2 * Z + 1), ("-z", -Z), ("2z", 2 * Z),
                                             (r"\sigma(z)", SIGMOID(Z))])
def test_sigma_applies_to_any_argument(argument, inner):
    assert parse_activation(rf"\sigma({argument})") == SIGMOID(inner)


def test_swish_is_z_times_sigma():
    assert parse_activation(r"z\sigma(z)") == Z * SIGMOID(Z)


def test_sigma_of_affine_map_names_the_unknown_symbol():
    with pytest.raises(LatexInputError, match="unknown symbol W"):
        parse_activation(r"\sigma(Wx+b)")


@pytest.mark.parametrize("name", ["softplus", "ReLU", "relu", "sigmoid", "erf", "sign"])
@pytest.mark.parametrize("command", ["operatorname", "mathrm", "text"])
def test_named_functions(command, name):
    assert parse_activation(rf"\{command}{{{name}}}(z)") == ML_FUNCTIONS[name.lower()](Z)


def test_max_min_nest_and_mathrm_e():
    assert parse_activation(r"\min(\max(0,z),6)") == sympy.Min(sympy.Max(0, Z), 6)
    assert parse_activation(r"\mathrm{e}^{z}") == sympy.exp(Z)
    assert parse_activation(r"\exp(z) + \sqrt{z}") == sympy.exp(Z) + sympy.sqrt(Z)


def test_juxtaposed_numbers_are_products_not_mixed_fractions():
    # latex2sympy2_extended 1.11 ignores interpret_as_mixed_fractions=False.
    assert parse_activation(r"2\frac{1}{2}z") == Z
    assert parse_activation(r"2(3)z") == 6 * Z


@pytest.mark.parametrize("latex, expected", [
    (r"e^{\log_2 z}", Z ** (1 / sympy.log(2))),            # the library collapsed this to z
    (r"\sqrt{\frac12}", sympy.sqrt(2) / 2),
    (r"z^{3}(z)", Z ** 4),                                  # not a function z cubed
    (r"\pi(2)", 2 * sympy.pi),
    (r"\sin^2(z)", sympy.sin(Z) ** 2),
    (r"\log^{2}(z)", sympy.log(Z) ** 2),
    (r"\log_e z", sympy.log(Z)),
    (r"\frac1z + \frac{z}2", 1 / Z + Z / 2),
    (r"|z|(1+z)", sympy.Abs(Z) * (1 + Z)),
    (r"||z|-1|", sympy.Abs(sympy.Abs(Z) - 1)),
    (r"z/\ln(2)", Z / sympy.log(2)),
    (r"\max(0, -1)", sympy.Integer(0)),
    (r"z^{2}.", Z ** 2),                                    # sentence punctuation
])
def test_edge_cases(latex, expected):
    assert parse_activation(latex) == expected


def test_cases_become_piecewise():
    expr = parse_activation(r"\begin{cases} z & z > 0 \\ e^{z}-1 & \text{otherwise} \end{cases}")
    assert expr == sympy.Piecewise((Z, Z > 0), (sympy.exp(Z) - 1, True))
    complete = parse_activation(r"\begin{cases} z & z\geq 0 \\ 0 & z<0 \end{cases}")
    assert isinstance(complete, sympy.Piecewise)


def test_result_is_readable_and_exact():
    expr = parse_activation(r"\frac{1}{1+e^{-z}}")
    assert sympy.latex(expr) == r"\frac{1}{1 + e^{- z}}"
    assert parse_activation("0.044715z") == sympy.Rational(8943, 200000) * Z
    info = li.describe(expr)
    assert info["expr"] == sympy.latex(expr) and "d/dz" in info


# ------------------------------------------------------------------ refusals
REJECTED = {
    "affine-in-sigma": ("activation", r"\sigma(Wx+b)", "unknown symbol W"),
    "transpose-T": ("activation", r"W^Tz", "transposes"),
    "transpose-top": ("activation", r"z^{\top}", "transposes"),
    "prime": ("activation", r"\sigma'(z)", "primes"),
    "equation": ("activation", r"f(z) = z", "'='"),
    "in": ("activation", r"z \in \mathbb{R}", "set membership"),
    "factorial": ("activation", r"z!", "factorial"),
    "binom": ("activation", r"\binom{z}{2}", "binomial"),
    "det": ("activation", r"\det(z)", "determinants"),
    "unknown-operatorname": ("activation", r"\operatorname{foo}(z)",
                             r"unknown function \operatorname{foo}"),
    "trailing-input": ("activation", r"x+1) * 5", "unbalanced"),
    "cases-incomplete": ("activation", r"\begin{cases} z & z>0 \end{cases}", "cover every input"),
    "cases-otherwise-first": ("activation",
                              r"\begin{cases} z & \text{otherwise} \\ 0 & z<0 \end{cases}",
                              "must be the last"),
    "cases-no-ampersand": ("activation", r"\begin{cases} z \\ 0 \end{cases}", "value & condition"),
    "matrix": ("activation", r"\begin{pmatrix} z \end{pmatrix}", "environment"),
    "hat-in-activation": ("activation", r"\hat{y}", r"unknown symbol \hat{y}"),
    "y-in-activation": ("activation", r"y^2", "unknown symbol y"),
    "z-in-loss": ("loss", r"(\hat{y}-z)^2", "unknown symbol z"),
    "greek-parameter": ("activation", r"\max(\alpha z, z)", r"unknown symbol \alpha"),
    "scientific": ("activation", r"1e-3z", "scientific notation"),
    "slash-product": ("activation", r"1/2z", "ambiguous"),
    "multi-digit-exponent": ("activation", r"z^12", "write ^{12}"),
    "ambiguous-bars": ("activation", r"|z|z|z|", "ambiguous '|'"),
    "division-by-zero": ("activation", r"\frac{z}{0}", "undefined"),
    "complex": ("activation", r"\sqrt{-1}z", "not real-valued"),
    "bare-function-name": ("activation", r"relu(z)", "without a backslash"),
    "subscript": ("loss", r"(\hat{y}_i - y_i)^2", "subscripts"),
    "max-one-arg": ("activation", r"\max(z)", "at least 2 arguments"),
    "sigma-without-parens": ("activation", r"\sigma z", "parentheses"),
    "derivative": ("activation", r"\frac{d}{dz}z^2", "derivatives"),
    "comparison": ("activation", r"z > 0", "comparisons are only allowed"),
    "comma": ("activation", r"z, z", "unexpected ','"),
    "sum": ("loss", r"\sum_{i} (\hat{y}-y)^2", "sums"),
    "integral": ("activation", r"\int z\,dz", "integrals"),
    "mathbf": ("activation", r"\mathbf{z}", r"unsupported LaTeX command \mathbf"),
    "bad-character": ("activation", r"z; z", "unsupported character"),
    "space-between-numbers": ("activation", r"2 3z", "separated only by a space"),
    "double-superscript": ("activation", r"10^{999999}^{999999}", "double superscript"),
    "imaginary-unit": ("activation", r"Iz", "unknown symbol I"),
    "infinity": ("activation", r"\frac{1}{\infty}", "infinity"),
    "empty": ("loss", "   ", "empty"),
    "text-outside-cases": ("activation", r"z \text{ otherwise}", "only allowed in a cases"),
}


@pytest.mark.parametrize("kind, latex, message", REJECTED.values(), ids=REJECTED.keys())
def test_rejected(kind, latex, message):
    parse = parse_activation if kind == "activation" else parse_loss
    with pytest.raises(LatexInputError) as info:
        parse(latex)
    assert message in str(info.value)


RESOURCE_HOGS = {
    "power-tower": (r"2^{2^{2^{2^{2^{2}}}}}", "more than 300 digits"),
    "power-of-power": (r"{10^{999999}}^{999999}", "more than 300 digits"),
    "huge-exponent-of-z": (r"z^{9^{9^{9}}}", "more than 300 digits"),
    "huge-exp": (r"e^{10^{5}}z", "more than 300 digits"),
    "too-long": ("z+" * 250 + "z", "too long"),
    "deep-braces": ("{" * 9 + "z" + "}" * 9, "nested more than 8"),
    "deep-bars": ("|" * 9 + "z" + "|" * 9, "nested more than 8"),
    "long-literal": (r"1234567z", "7 digits"),
}


@pytest.mark.parametrize("latex, message", RESOURCE_HOGS.values(), ids=RESOURCE_HOGS.keys())
def test_resource_guards_refuse_quickly(latex, message):
    li.warm_up()
    parse_activation("z")                     # the worker is up; time only the refusal
    start = time.monotonic()
    with pytest.raises(ResourceLimitError, match=message):
        parse_activation(latex)
    assert time.monotonic() - start < 3.0


def test_every_refusal_is_a_symderive_value_error():
    for kind, latex, _ in REJECTED.values():
        with pytest.raises(SymderiveError) as info:
            (parse_activation if kind == "activation" else parse_loss)(latex)
        assert isinstance(info.value, ValueError)


# ------------------------------------------------------------------ the worker
def test_time_limit_kills_a_busy_worker(monkeypatch):
    parse_activation("z")
    monkeypatch.setattr(li, "TIME_LIMIT_SECONDS", 1e-4)
    with pytest.raises(ResourceLimitError, match="took longer than"):
        parse_activation(r"\frac{1}{2}z\left(1+\tanh\left(\sqrt{\frac{2}{\pi}}z\right)\right)")
    monkeypatch.undo()
    assert parse_activation(r"\sigma(z)") == SIGMOID(Z)          # from a fresh worker


_FAKE_READY = ("import os, sys, time; from multiprocessing.connection import Connection; "
               "c = Connection(os.dup(1), readable=False); c.send(('ready', None)); ")


def test_handle_times_out_on_a_hung_worker():
    handle = WorkerHandle([sys.executable, "-c", _FAKE_READY + "time.sleep(60)"])
    start = time.monotonic()
    with pytest.raises(ResourceLimitError, match="took longer than 0.5 s"):
        handle.request(("activation", "z"), time_limit=0.5, memory_limit=1 << 30,
                       startup_timeout=30)
    assert time.monotonic() - start < 10
    assert handle._proc is None
    handle.stop()


def test_handle_reports_a_dead_worker():
    handle = WorkerHandle([sys.executable, "-c", _FAKE_READY + "sys.stdin.buffer.read(1)"])
    with pytest.raises(ResourceLimitError, match="died"):
        handle.request(("activation", "z"), time_limit=30, memory_limit=1 << 30,
                       startup_timeout=30)
    handle.stop()


def test_first_parse_with_fresh_worker_is_fast():
    li.shutdown_worker()
    start = time.monotonic()
    assert parse_activation(r"\frac{z}{1+|z|}") == Z / (1 + sympy.Abs(Z))
    first = time.monotonic() - start
    start = time.monotonic()
    parse_loss(r"-y\log(\hat{y})-(1-y)\log(1-\hat{y})")
    later = time.monotonic() - start
    print(f"first parse {first:.2f} s (includes worker start), later parse {later:.3f} s")
    assert first < 6.0 and later < 2.0      # typically ~0.4-0.9 s and ~0.03 s


def test_parsing_never_evaluates_text(monkeypatch):
    """In-process run with eval and parse_expr disabled: nothing is sympified from a string."""
    import latex2sympy2_extended.latex2sympy2 as l2s
    import sympy.parsing.sympy_parser as sympy_parser

    def forbidden(*args, **kwargs):
        raise AssertionError(f"string evaluated: {args[:1]!r}")

    monkeypatch.setattr(sympy_parser, "parse_expr", forbidden)
    monkeypatch.setattr(l2s, "parse_expr", forbidden)
    monkeypatch.setattr(builtins, "eval", forbidden)
    for name in ("gelu-tanh", "selu-cases", "leaky-relu-cases-if", "hard-sigmoid",
                 "softplus-log2"):
        grammar.parse_untrusted("activation", ACTIVATIONS[name][0])
    for name in ("bce-log", "huber"):
        grammar.parse_untrusted("loss", LOSSES[name][0])
