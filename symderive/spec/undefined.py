"""The undefined functions of generic mode: σ, σ', ℓ(ŷ, y) and ∂ℓ/∂ŷ.

``activation = "any"`` makes the hidden activation the undefined function σ
(:class:`act`, with σ' = :class:`dact`); ``loss = "any"`` makes the loss
Σ_m ℓ(ŷ_m, y_m) with ℓ undefined.  They live here, beside the table of named
functions, because the spec reader needs them and every later stage uses them
(the local derivation writes σ and σ' for every activation).
"""
from __future__ import annotations

import sympy as sp
from sympy.core.function import ArgumentIndexError

from .functions import ACTIVATIONS, YHAT, Activation, Loss, Y, Z


class act(sp.Function):
    """The hidden activation σ, undefined: proofs with it hold for every σ."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return dact(self.args[0])  # so that the chain rule writes σ', not a Derivative

    def _latex(self, printer, exp=None):
        s = rf"\sigma\left({printer._print(self.args[0])}\right)"
        return s if exp is None else rf"{s}^{{{exp}}}"


class dact(sp.Function):
    """σ', the derivative of the hidden activation, undefined."""

    def _latex(self, printer, exp=None):
        s = rf"\sigma'\left({printer._print(self.args[0])}\right)"
        return s if exp is None else rf"{s}^{{{exp}}}"


#: The spec value that asks for an undefined function.
ANY = "any"
#: What the undefined functions become wherever numbers are needed.
INSTANTIATION = {"activation": "tanh", "loss": "mse"}


class loss_fn(sp.Function):
    """ℓ(ŷ, y), the per-output loss, undefined: proofs with it hold for every loss."""

    nargs = 2

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        if argindex == 1:
            return dloss(*self.args)
        raise ArgumentIndexError(self, argindex)

    def _latex(self, printer, exp=None):
        s = rf"\ell\left({printer._print(self.args[0])}, {printer._print(self.args[1])}\right)"
        return s if exp is None else rf"{s}^{{{exp}}}"


class dloss(sp.Function):
    """∂ℓ/∂ŷ (ŷ, y), the derivative of the undefined loss in its first argument."""

    nargs = 2

    def _latex(self, printer, exp=None):
        s = (rf"\partial_{{\hat{{y}}}}\ell\left({printer._print(self.args[0])}, "
             rf"{printer._print(self.args[1])}\right)")
        return s if exp is None else rf"{s}^{{{exp}}}"


def _any_activation() -> Activation:
    tanh = ACTIVATIONS[INSTANTIATION["activation"]]
    return Activation(ANY, act(Z), tanh.np_f, tanh.np_df, smooth=True)


#: The undefined activation σ; its NumPy twin is the instantiation (tanh).
ANY_ACTIVATION = _any_activation()
#: The undefined loss Σ_m ℓ(ŷ_m, y_m); ``functions.Loss`` evaluates it numerically as MSE.
ANY_LOSS = Loss(ANY, loss_fn(YHAT, Y))
