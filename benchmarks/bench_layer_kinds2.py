"""Attention and LSTM layers: three hypotheses decided, as ratios against one NumPy
forward + backward pass of the same network, run in this process.

    python benchmarks/bench_layer_kinds2.py

1. A transformer block: tokens 16, features 64, 4 heads, causal, 4 samples: an
   embedding (dense, per token), causal self-attention added to it (``skip``), layer
   norm, a per-token dense layer, read by a dense layer through flatten.  Measured
   when the spec is accepted (a skip or a norm on an attention layer needs attention's
   output features in a residual stream); otherwise the line says why, and
2. the attention block accepted without them (attention, flatten, dense: the same
   heads, hypotheses and sequence) stands in for it.  It is measured in every case.
3. An LSTM: 32 units, 16 steps, 4 samples, read by a dense layer.

For each: ``cold``, a fresh interpreter (import, read, decide; verdicts only, no
numeric cross-check); ``first``, the first derive in this process; ``again``, a
second one with what is kept per spec dropped (the kinds' local models, the groups
and swaps of pairs of units, the swap lemmas: every proof and search redone, only
imports and SymPy's own cache warm; best of :data:`AGAIN`); and ``again`` over one NumPy forward + backward
pass (best of 20, one BLAS thread as the witness search), for the three hypotheses
and per hypothesis.  Times are CPU seconds of the process (the machine is shared: wall
time there is mostly waiting); the cold run's wall time follows in brackets.  Nothing
here is asserted.
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
from symderive.engine.layers import attention_local, lstm_local  # noqa: E402
from symderive.engine.layers.stack import Stack  # noqa: E402
from symderive.engine.layers.swap import clear_lemmas  # noqa: E402
from symderive.engine.layers.units import clear_layouts  # noqa: E402
from symderive.engine.mlp import single_threaded_blas  # noqa: E402
from symderive.errors import SpecError  # noqa: E402
from symderive.spec import Spec  # noqa: E402

#: ``again`` is the best of this many derives (the machine is shared)
AGAIN = 5

HEADS = """
[[hypothesis]]
layer = {layer}
units = [1, 2]
tie = ["query", "key", "value"]

[[hypothesis]]
layer = {layer}
units = [1, 2]
tie = ["query", "key", "value", "output"]

[[hypothesis]]
layer = {layer}
units = [3, 4]
zero = ["query", "key"]
tie = ["value"]
"""

SEQUENCE = """
[network]
input = [16, 64]
samples = 4
"""

PER_TOKEN = """
[[layer]]
kind = "dense"
units = 64
activation = "tanh"
"""

HEADS_LAYER = """
[[layer]]
kind = "attention"
heads = 4
causal = true
"""

READOUT = """
[[layer]]
kind = "flatten"

[[layer]]
kind = "dense"
units = 1
"""

#: embedding, attention added to it, layer norm, a per-token dense layer, the readout
BLOCK = SEQUENCE + PER_TOKEN + HEADS_LAYER + "skip = 1\n" + """
[[layer]]
kind = "norm"
over = "features"
""" + PER_TOKEN + READOUT + HEADS.format(layer=2)

ATTENTION = SEQUENCE + HEADS_LAYER + READOUT + HEADS.format(layer=1)

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
t, w = time.process_time(), time.perf_counter()
from symderive.api import derive
from symderive.spec import Spec
d = derive(Spec.from_toml(open(sys.argv[1]).read(), "bench"), numeric=False)
print(time.process_time() - t, time.perf_counter() - w, *[r.verdict for r in d.results])
"""


def cold(text: str) -> tuple[float, float, str]:
    """CPU and wall seconds from a fresh interpreter's first import to the verdicts,
    and the verdicts."""
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(text)
    out = subprocess.run([sys.executable, "-c", COLD, f.name], capture_output=True,
                         text=True, cwd=ROOT, timeout=600)
    Path(f.name).unlink()
    words = out.stdout.split()
    return (float(words[0]), float(words[1]), " ".join(words[2:])) if words else \
        (float("nan"), float("nan"), out.stderr.strip()[-200:])


def timed(spec: Spec) -> tuple[float, str]:
    t = time.process_time()
    verdicts = " ".join(r.verdict for r in derive(spec, numeric=False).results)
    return time.process_time() - t, verdicts


def drop_local_models() -> None:
    """Forget what is kept per spec (a new spec's state): the kinds' local models per
    hypothesis, the groups and swaps per pair of units, the swap lemmas per layer."""
    attention_local.models.cache_clear()
    lstm_local.local_model.cache_clear()
    clear_layouts()
    clear_lemmas()


def pass_time(spec: Spec) -> float:
    """Best of 20 NumPy forward + backward passes of the spec's network."""
    stack = Stack(spec.network)
    rng = np.random.default_rng(0)
    theta = {k: rng.normal(0, 0.3, s) for k, s in stack.shapes.items()}
    X = rng.normal(size=(spec.network.samples, *spec.network.input))
    Y = rng.normal(size=(spec.network.samples, 1))
    best = float("inf")
    with single_threaded_blas():
        for _ in range(20):
            t = time.process_time()
            stack.np_gradient(theta, X, Y)
            best = min(best, time.process_time() - t)
    return best


def measure(name: str, text: str) -> None:
    try:
        spec = Spec.from_toml(text, name)
    except SpecError as e:
        print(f"{name}: not accepted yet ({e}); the attention block stands in for it")
        return
    cpu, wall, cold_verdicts = cold(text)
    first, verdicts = timed(spec)
    again = float("inf")
    for _ in range(AGAIN):
        drop_local_models()
        again = min(again, timed(spec)[0])
    one, n = pass_time(spec), len(spec.hypotheses)
    print(f"{name}: cold {cpu:.2f} s [{wall:.2f} s] ({cold_verdicts}), first {first:.3f} s "
          f"({verdicts}), again {again * 1e3:.0f} ms, one NumPy pass {one * 1e3:.2f} ms, "
          f"again / pass = {again / one:.0f}x ({again / one / n:.0f}x per hypothesis)")


def main() -> None:
    with open("/proc/loadavg") as f:
        print("load average at the start:", " ".join(f.read().split()[:3]))
    for name, text in (("transformer block", BLOCK), ("attention block", ATTENTION),
                       ("lstm", LSTM)):
        measure(name, text)


if __name__ == "__main__":
    main()
