"""The issue's CNN, [3, 32, 32] -> conv 16 k3 -> conv 32 k3 -> pool -> dense 10, 8 samples,
three hypotheses: timings as ratios against one NumPy forward + backward pass of that
network, measured in the same process.

    python benchmarks/bench_layers.py

Printed: the load average; one pass; the verdicts (``derive(numeric=False)``) cold,
from the start of a fresh interpreter to the verdicts, wall and CPU, split into the
imports with the spec and the first derive; a second derive in that process; the
swap's symbolic checks (the symbolic part); the first derive against the second.
Then the dense case of the issue ([16, 64, 64, 16], 4 samples): its first derive in a
fresh interpreter against a second one.  Each cold figure is the median of
:data:`RUNS` fresh interpreters, with byte code cached as after ``pip install`` (the
first run writes it).  Nothing is asserted.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_baselines import _environment  # noqa: E402  (byte code cached, as installed)

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

#: The dense case of the issue: [16, 64, 64, 16], 4 samples, three hypotheses on units 1
#: and 2 of hidden layer 2 (the full tie, incoming + bias, outgoing), as bench_baselines.
DENSE = """[network]
layers = [16, 64, 64, 16]
samples = 4
""" + "".join(f"[[hypothesis]]\nlayer = 2\nunits = [1, 2]\ntie = {tie}\n" for tie in (
    '["incoming", "bias", "outgoing"]', '["incoming", "bias"]', '["outgoing"]'))

#: A fresh interpreter: wall and CPU seconds of the imports and the spec (``start``), of
#: the first derive and of a second one; the CPU seconds of the process up to the
#: verdicts (start-up of the interpreter included), the clock then, and the verdicts.
COLD = """import resource, sys, time
def now():
    return time.perf_counter(), time.process_time()
t0 = now()
import symderive
s = symderive.Spec.from_toml(sys.stdin.read())
derive = symderive.derive      # the function in hand: importing the API is start-up
{preload}
t1 = now()
d = derive(s, numeric=False)
t2 = now()
r, decided = resource.getrusage(resource.RUSAGE_SELF), time.time()
derive(s, numeric=False)
t3 = now()
print(*[b[k] - a[k] for a, b in ((t0, t1), (t1, t2), (t2, t3)) for k in (0, 1)],
      r.ru_utime + r.ru_stime, decided, ' '.join(x.verdict for x in d.results))
"""
#: What a first derive does once per process, done before it instead: the modules it
#: imports (the API and the engine, numpy.random for the witnesses, SymPy's first sum,
#: which imports ``sympy.tensor``) and the BLAS look-up.  Timed as part of ``start``.
PRELOAD = """import numpy.random, sympy, symderive.api
sympy.Symbol('p') * sympy.Symbol('q') + sympy.Symbol('r')
from symderive.engine.mlp import single_threaded_blas
with single_threaded_blas():
    pass"""
#: Fresh processes per spec (the median of each figure is printed).
RUNS = 5


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


def _cold(text: str, preload: str = "") -> tuple[dict[str, float], str]:
    """The medians over :data:`RUNS` fresh interpreters, and the verdicts (the same in
    every run, or this raises); ``preload`` runs before the first derive's clock."""
    env = dict(_environment(), OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    runs, verdicts = [], set()
    for _ in range(RUNS + 1):      # the first run writes the byte code, as an install would
        launched = time.time()
        out = subprocess.run([sys.executable, "-c", COLD.format(preload=preload)], input=text,
                             capture_output=True, text=True, cwd=ROOT, env=env,
                             check=True).stdout.split(maxsplit=8)
        numbers = [float(v) for v in out[:7]] + [float(out[7]) - launched]
        runs.append(dict(zip(("start", "start cpu", "first", "first cpu", "second",
                              "second cpu", "process cpu", "process"), numbers)))
        verdicts.add(out[8].strip())
    runs = runs[1:]
    if len(verdicts) != 1:
        raise RuntimeError(f"verdicts differ between runs: {verdicts}")
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}, verdicts.pop()


def main() -> None:
    import symderive

    print(f"load average {os.getloadavg()[0]:.1f} (2 cores shared); medians of {RUNS} "
          "fresh interpreters")
    spec = symderive.Spec.from_toml(SPEC)
    one = _pass_seconds(spec)
    cold, verdicts = _cold(SPEC)
    swap = _swap_seconds(spec)
    decided = cold["process"]
    print(f"one NumPy forward+backward pass   {one * 1e3:8.1f} ms   1.00x")
    print(f"cold: process start to verdicts   {decided * 1e3:8.1f} ms wall, "
          f"{cold['process cpu'] * 1e3:.0f} ms CPU   ({verdicts})")
    print(f"  of which imports and the spec   {cold['start'] * 1e3:8.1f} ms wall, "
          f"{cold['start cpu'] * 1e3:.0f} ms CPU")
    print(f"  of which the first derive       {cold['first'] * 1e3:8.1f} ms wall, "
          f"{cold['first cpu'] * 1e3:.0f} ms CPU   {cold['first'] / one:5.2f}x")
    print(f"a second derive (same process)    {cold['second'] * 1e3:8.1f} ms wall, "
          f"{cold['second cpu'] * 1e3:.0f} ms CPU   {cold['second'] / one:5.2f}x")
    print(f"swap checks (the symbolic part)   {swap * 1e3:8.1f} ms   {swap / one:5.2f}x")
    print(f"first derive / second derive      {cold['first'] / cold['second']:5.2f}x wall, "
          f"{cold['first cpu'] / cold['second cpu']:.2f}x CPU")
    for name, preload in (("", ""), (", one-time imports first", PRELOAD)):
        dense, verdicts = _cold(DENSE, preload)
        print(f"dense [16,64,64,16] B=4{name}: first derive {dense['first'] * 1e3:.1f} ms, "
              f"second {dense['second'] * 1e3:.1f} ms: {dense['first'] / dense['second']:.2f}x "
              f"wall, {dense['first cpu'] / dense['second cpu']:.2f}x CPU   ({verdicts})")
    cold, _ = _cold(SPEC, PRELOAD)
    print(f"CNN, one-time imports first: first derive / second {cold['first'] / cold['second']:.2f}x "
          f"wall, {cold['first cpu'] / cold['second cpu']:.2f}x CPU")


if __name__ == "__main__":
    main()
