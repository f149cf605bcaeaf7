"""Attention and LSTM layers: three hypotheses decided, as ratios against one NumPy
forward + backward pass of the same network, run in this process.

    python benchmarks/bench_layer_kinds2.py

1. An attention block: tokens 16, features 64, 4 heads, causal, 4 samples, read by a
   dense layer through flatten.  (Residual connections and norms join layers whose
   units are entries of their output; a head is not one, so the block is stated
   without them.)
2. An LSTM: 32 units, 16 steps, 4 samples, read by a dense layer.

For each: the cold time (a fresh interpreter: import, read, decide; verdicts only,
no numeric cross-check), the warm time in this process, and the warm time over one
NumPy forward + backward pass (best of 20).  Nothing here is asserted.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symderive.api import derive  # noqa: E402
from symderive.engine.layers.stack import Stack  # noqa: E402
from symderive.spec import Spec  # noqa: E402

ATTENTION = """
[network]
input = [16, 64]
samples = 4

[[layer]]
kind = "attention"
heads = 4
causal = true

[[layer]]
kind = "flatten"

[[layer]]
kind = "dense"
units = 1

[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["query", "key", "value"]

[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["query", "key", "value", "output"]

[[hypothesis]]
layer = 1
units = [3, 4]
zero = ["query", "key"]
tie = ["value"]
"""

LSTM = """
[network]
input = [16, 8]
samples = 4

[[layer]]
kind = "lstm"
units = 32

[[layer]]
kind = "dense"
units = 1

[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["incoming", "recurrent", "bias"]

[[hypothesis]]
layer = 1
units = [1, 2]
tie = ["incoming", "recurrent", "bias", "recurrent_outgoing", "outgoing"]

[[hypothesis]]
layer = 1
units = [5, 9]
tie = ["incoming", "bias", "outgoing"]
"""

COLD = """
import sys, time
t = time.perf_counter()
from symderive.api import derive
from symderive.spec import Spec
d = derive(Spec.from_toml(open(sys.argv[1]).read(), "bench"), numeric=False)
print(time.perf_counter() - t, *[r.verdict for r in d.results])
"""


def pass_time(spec: Spec) -> float:
    stack = Stack(spec.network)
    rng = np.random.default_rng(0)
    theta = {k: rng.normal(0, 0.3, s) for k, s in stack.shapes.items()}
    X = rng.normal(size=(spec.network.samples, *spec.network.input))
    Y = rng.normal(size=(spec.network.samples, 1))
    best = float("inf")
    for _ in range(20):
        t = time.perf_counter()
        stack.np_gradient(theta, X, Y)
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    for name, text in (("attention block", ATTENTION), ("lstm", LSTM)):
        with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
            f.write(text)
        out = subprocess.run([sys.executable, "-c", COLD, f.name], capture_output=True,
                             text=True, cwd=ROOT, timeout=600)
        cold = out.stdout.split() or ["nan", out.stderr.strip()[-200:]]
        spec = Spec.from_toml(text, name)
        t = time.perf_counter()
        verdicts = [r.verdict for r in derive(spec, numeric=False).results]
        warm = time.perf_counter() - t
        one = pass_time(spec)
        print(f"{name}: cold {float(cold[0]):.2f} s ({' '.join(cold[1:])}), warm {warm:.3f} s "
              f"({' '.join(verdicts)}), one NumPy pass {one * 1e3:.2f} ms, "
              f"warm / pass = {warm / one:.0f}x")


if __name__ == "__main__":
    main()
