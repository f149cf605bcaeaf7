"""The unit costs behind symderive/cost/passes.py, measured on this machine (one BLAS thread).

    python benchmarks/bench_guard_costs.py

The resource guards count work in multiply-add equivalents at cost.passes.RATE a second
(the numeric limit, 1e11, is about 30 s).  Each line measures one primitive the
numeric stages repeat and prints it in nanoseconds and in multiply-add equivalents,
next to the constant symderive/cost/passes.py uses for it: a constant well below the measurement
means the guards under-estimate that primitive.  Nothing is asserted.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symderive.cost import passes as cost  # noqa: E402
from symderive.engine import mlp, witness  # noqa: E402
from symderive.numeric import points  # noqa: E402
from symderive.numeric.optimizers import make  # noqa: E402
from symderive.spec import parse_spec  # noqa: E402


def per_call(f, repeat: int = 5, least: float = 0.2) -> float:
    """Seconds per call of ``f`` (best of ``repeat`` batches of at least ``least`` s)."""
    n, best = 1, float("inf")
    while True:
        t = time.perf_counter()
        for _ in range(n):
            f()
        dt = time.perf_counter() - t
        if dt >= least:
            break
        n *= 2
    best = dt / n
    for _ in range(repeat - 1):
        t = time.perf_counter()
        for _ in range(n):
            f()
        best = min(best, (time.perf_counter() - t) / n)
    return best


def network(layers, activation='"tanh"', samples=1, loss='"mse"', extra=""):
    text = (f"[network]\nlayers = {list(layers)}\nactivation = {activation}\n"
            f"samples = {samples}\nloss = {loss}\n{extra}"
            '[[hypothesis]]\nlayer = 1\nunits = [1, 2]\ntie = ["incoming"]\n')
    spec = parse_spec(text, "calibrate.toml")
    return spec, spec.network, spec.hypotheses[0]


def show(what: str, seconds: float, per: float, constant: float | None) -> None:
    madds = seconds / per * cost.RATE
    mine = "" if constant is None else f"   cost.py: {constant:,.0f}"
    print(f"{what:58s} {seconds / per * 1e9:12.1f} ns {madds:14,.0f} madd-eq{mine}")


LATEX = {
    "leaky cases": r"\begin{cases} z & z > 0 \\ 0.01 z & \text{otherwise}\end{cases}",
    "4-piece cases": (r"\begin{cases} z & z > 1 \\ z^{3} & z > 0 \\ 0.5 z & z > -1 \\ "
                      r"e^{z} - 1.5 & \text{otherwise}\end{cases}"),
    "mish": r"z \tanh(\ln(1+e^{z}))",
    "gelu (erf)": r"\frac{z}{2}\left(1+\operatorname{erf}\left(\frac{z}{\sqrt{2}}\right)\right)",
    "softsign": r"\frac{z}{1+|z|}",
}


def main() -> None:
    rng = np.random.default_rng(0)
    with mlp.single_threaded_blas():
        print("-- matrix products (per multiply-add)")
        _, net, _ = network([512, 1024, 1024, 64], samples=64)
        p = points.initial_params(net, network([512, 1024, 1024, 64])[2], rng)
        X, Y = rng.normal(size=(64, 512)), rng.normal(size=(64, 64))
        t = per_call(lambda: mlp.loss_and_gradient(net, p, X, Y))
        show("full pass, 64 samples, per multiply-add", t, mlp.pass_work(net), 1)

        print("-- per parameter (memory-bound)")
        _, net, hyp = network([1, 2000, 2000, 1])
        p = points.initial_params(net, hyp, rng)
        X, Y = rng.normal(size=(1, 1)), rng.normal(size=(1, 1))
        P = sum(w.size + b.size for w, b in zip(p.W, p.b))
        t = per_call(lambda: mlp.loss_and_gradient(net, p, X, Y))
        show("full pass, 1 sample, per parameter", t, P, cost.PASS_PER_PARAMETER + 3)
        t = per_call(lambda: mlp.forward(net, p, X))
        show("forward, 1 sample, per parameter", t, P, cost.FORWARD_PER_PARAMETER + 1)
        t = per_call(lambda: points.initial_params(net, hyp, rng))
        show("random draw (points.initial_params), per parameter", t, P, cost.DRAW)
        t = per_call(lambda: witness.generated_parameters(net, 1))
        show("witness draw (generated_parameters), per parameter", t, P, cost.WITNESS_DRAW)
        t = per_call(lambda: p.copy())
        show("copy, per parameter", t, P, cost.COPY)
        g = p.copy()
        for name in ("sgd", "momentum", "adam"):
            opt = make(name, 1e-9)
            t = per_call(lambda: opt.step(p.W + p.b, g.W + g.b))
            show(f"{name} step, per parameter", t, P, cost.OPTIMIZER[name])

        print("-- per element (f and f' of an activation, 2**20 elements)")
        z = rng.normal(size=2 ** 20)
        for name, act in [("tanh", '"tanh"'), ("sigmoid", '"sigmoid"'), ("relu", '"relu"'),
                          ("softplus", '"softplus"')] + [
                (k, f"{{ latex = '{v}' }}") for k, v in LATEX.items()]:
            spec, net, _ = network([2, 3, 1], act)
            f = net.activation
            t = per_call(lambda: (f.np_f(z), f.np_df(z)), repeat=3)
            ef, edf, _, _ = cost.activation_costs(net.activation)
            show(f"{name}: f and f' per element", t, z.size, ef + edf)

        print("-- fixed costs per call (tiny arrays: Python and NumPy dispatch)")
        for name, act in [("tanh", '"tanh"'), ("relu", '"relu"'), ("sigmoid", '"sigmoid"')] + [
                (k, f"{{ latex = '{v}' }}") for k, v in LATEX.items()]:
            for depth in (2, 21):
                spec, net, hyp = network([2] + [3] * (depth - 1) + [1], act)
                p = points.initial_params(net, hyp, rng)
                X, Y = rng.normal(size=(1, 2)), rng.normal(size=(1, 1))
                t = per_call(lambda: mlp.loss_and_gradient(net, p, X, Y))
                _, _, cf, cdf = cost.activation_costs(net.activation)
                show(f"{name}: full pass, {depth} layers, per layer", t, depth,
                     cost.PASS_LAYER + (cf + cdf) * cost.ARRAY_CALL)
        for name in ("sgd", "momentum", "adam"):
            spec, net, hyp = network([2] + [3] * 20 + [1])
            p = points.initial_params(net, hyp, rng)
            opt = make(name, 1e-9)
            t = per_call(lambda: opt.step(p.W + p.b, p.W + p.b))
            show(f"{name} step, 21 layers, per array", t, 42,
                 cost.OPTIMIZER_CALLS[name] * cost.ARRAY_CALL)


if __name__ == "__main__":
    main()
