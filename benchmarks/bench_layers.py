"""The issue's CNN, [3, 32, 32] -> conv 16 k3 -> conv 32 k3 -> pool -> dense 10, 8 samples,
three hypotheses: timings as ratios against one NumPy forward + backward pass of that
network, measured in the same process.

    python benchmarks/bench_layers.py

Printed: one pass; the verdicts (``derive(numeric=False)``) cold in a fresh
interpreter and warm; the swap's symbolic checks (the symbolic part); the first
derive against a second one in one process.  Nothing is asserted.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SPEC = """[network]
input = [3, 32, 32]
activation = "relu"
loss = "softmax_ce"
samples = 8
[[layer]]
kind = "conv"
channels = 16
kernel = 3
[[layer]]
kind = "conv"
channels = 32
kernel = 3
[[layer]]
kind = "pool"
[[layer]]
kind = "dense"
units = 10
[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["incoming", "bias"]
[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["incoming", "bias", "outgoing"]
[[hypothesis]]
layer = 2
units = [3, 4]
tie = ["incoming", "bias"]
"""

COLD = """import time, sys
t = time.perf_counter()
import symderive
s = symderive.Spec.from_toml(sys.stdin.read())
d = symderive.derive(s, numeric=False)
first = time.perf_counter() - t
t = time.perf_counter()
symderive.derive(s, numeric=False)
print(first, time.perf_counter() - t, ' '.join(r.verdict for r in d.results))
"""


def _pass_seconds(spec) -> float:
    import numpy as np

    from symderive.engine.layers.stack import Stack
    from symderive.engine.mlp import single_threaded_blas

    stack = Stack(spec.network)
    rng = np.random.default_rng(0)
    theta = {k: rng.normal(size=s) / 10 for k, s in stack.shapes.items()}
    X = rng.normal(size=(8, 3, 32, 32))
    Y = np.eye(10)[rng.integers(0, 10, 8)]
    with single_threaded_blas():
        stack.np_gradient(theta, X, Y)
        start = time.perf_counter()
        for _ in range(5):
            stack.np_gradient(theta, X, Y)
    return (time.perf_counter() - start) / 5


def _swap_seconds(spec) -> float:
    from symderive.engine.layers.swap import swap_check
    from symderive.engine.layers.units import Units

    start = time.perf_counter()
    for h in spec.hypotheses:
        swap_check(spec.network, Units(spec.network, h))
    return time.perf_counter() - start


def main() -> None:
    import symderive

    spec = symderive.Spec.from_toml(SPEC)
    one = _pass_seconds(spec)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-c", COLD], input=SPEC, capture_output=True,
                         text=True, cwd=ROOT, env=env, check=True)
    cold, warm, verdicts = run.stdout.split(maxsplit=2)
    swap = _swap_seconds(spec)
    print(f"one NumPy forward+backward pass  {one * 1e3:8.1f} ms   1.00x")
    print(f"verdicts, cold (fresh process)   {float(cold) * 1e3:8.1f} ms   "
          f"{float(cold) / one:5.2f}x   ({verdicts.strip()})")
    print(f"verdicts, warm (same process)    {float(warm) * 1e3:8.1f} ms   {float(warm) / one:5.2f}x")
    print(f"swap checks (the symbolic part)  {swap * 1e3:8.1f} ms   {swap / one:5.2f}x")
    print(f"first derive / second derive     {float(cold) / float(warm):5.2f}x")


if __name__ == "__main__":
    main()
