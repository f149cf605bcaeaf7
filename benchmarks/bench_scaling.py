"""How symderive's cost scales, as ratios against baselines run in this process.

    python benchmarks/bench_scaling.py            # everything (a few minutes)
    python benchmarks/bench_scaling.py --quick    # skip the slow SymPy baseline

1. [16,64,64,16], 4 samples, three hypotheses in layer 2: symderive's JSON
   derivation against the obvious SymPy method (backprop deltas of the whole
   network as SymPy expressions, substitute the tie, expand the difference),
   which is given a time budget; when it runs out, the ratio is a lower bound.
2. Time against width, depth and samples (in-process, JSON, numeric check
   included), as ratios to the smallest configuration of each sweep.
3. Cold CLI runs (start-up included) and peak memory, from a subprocess.
Nothing here is asserted: the numbers are for reading.
"""
from __future__ import annotations

import argparse
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sympy as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symderive.api import derive  # noqa: E402
from symderive.engine.gradients import backprop_gradient  # noqa: E402
from symderive.engine.network import Network  # noqa: E402
from symderive.render.json import render  # noqa: E402
from symderive.spec import parse_spec  # noqa: E402
from symderive.engine.symmetry import tie_substitution  # noqa: E402

HYPOTHESES = """
[[hypothesis]]
name = "all tied"
layer = {layer}
units = [1, 2]
tie = ["incoming", "bias", "outgoing"]

[[hypothesis]]
name = "incoming and bias"
layer = {layer}
units = [1, 2]
tie = ["incoming", "bias"]

[[hypothesis]]
name = "outgoing"
layer = {layer}
units = [1, 2]
tie = ["outgoing"]
"""


def spec_text(layers: list[int], samples: int, layer: int = 2) -> str:
    return (f"[network]\nlayers = {layers}\nsamples = {samples}\n"
            + HYPOTHESES.format(layer=min(layer, len(layers) - 2)))


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout


def baseline(text: str, budget: float) -> tuple[float, bool]:
    """The obvious SymPy method; returns (seconds, finished)."""
    spec = parse_spec(text)
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, budget)
    start = time.perf_counter()
    try:
        net = Network(spec.network)
        for hyp in spec.hypotheses:
            tie = tie_substitution(net, hyp)
            i, j = hyp.units
            for group in spec.network.groups():
                gi, gj = net.group(hyp.layer, i, group), net.group(hyp.layer, j, group)
                grads = backprop_gradient(net, gi + gj)
                half = len(gi)
                for a, b in zip(grads[:half], grads[half:]):
                    sp.expand((a - b).xreplace(tie)) == 0  # noqa: B015 - the work itself
        finished = True
    except Timeout:
        finished = False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return time.perf_counter() - start, finished


def ours(text: str, repeat: int = 3, numeric: bool = True) -> float:
    """Best of ``repeat`` in-process JSON derivations (numeric check included unless not)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        render(derive(parse_spec(text), numeric=numeric))
        best = min(best, time.perf_counter() - start)
    return best


def cold_cli(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``symderive ARGS`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "symderive", *args], check=True,
                   stdout=subprocess.DEVNULL, cwd=ROOT)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def goal1(budget: float) -> None:
    text = spec_text([16, 64, 64, 16], 4)
    t_ours = ours(text)
    t_base, finished = baseline(text, budget)
    bound = "" if finished else ">= "
    print(f"goal 1  [16,64,64,16] x4, 3 hypotheses: symderive {t_ours:.3f} s, "
          f"SymPy baseline {bound}{t_base:.1f} s  ->  speed-up {bound}{t_base / t_ours:.0f}x")


def sweep(name: str, configs: list[tuple[list[int], int]]) -> None:
    print(f"\n{name}")
    print(f"  {'layers':40s} {'samples':>7s} {'fan-in+out':>10s} {'symbolic':>9s} {'ratio':>6s}"
          f" {'+numeric':>9s} {'ratio':>6s}")
    first = first_all = None
    for layers, samples in configs:
        text = spec_text(layers, samples)
        t_sym = ours(text, repeat=2, numeric=False)
        t_all = ours(text, repeat=2)
        first, first_all = first or t_sym, first_all or t_all
        fan = layers[1] + layers[3]  # the hypotheses sit in hidden layer 2
        print(f"  {str(layers):40s} {samples:7d} {fan:10d} {t_sym:9.3f} {t_sym / first:6.2f}"
              f" {t_all:9.3f} {t_all / first_all:6.2f}")


def goal2_and_5() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.toml"
        path.write_text(spec_text([64, 256, 256, 64], 16))
        seconds, peak = cold_cli(["derive", str(path), "--format", "json", "-o",
                                  str(Path(tmp) / "out.json")])
    print(f"\ngoal 2/5  [64,256,256,64] x16, cold CLI, JSON: {seconds:.2f} s (target < 3 s), "
          f"peak RSS {peak:.0f} MB (target < 500 MB)")


def goal3() -> None:
    print("\ngoal 3  cold CLI (target < 2 s each)")
    with tempfile.TemporaryDirectory() as tmp:
        runs = [["--help"], ["list"]] + [
            ["derive", "weight-symmetry", "--format", fmt, "-o", str(Path(tmp) / f"w.{ext}")]
            for fmt, ext in (("json", "json"), ("markdown", "md"), ("latex", "tex"),
                             ("pdf", "pdf"))]
        for args in runs:
            seconds, _ = cold_cli(args)
            print(f"  symderive {' '.join(args[:4]):45s} {seconds:.2f} s")


def goal4() -> None:
    """Every bundled derivation, all three text formats, --jobs 1 against --jobs 2."""
    times = {}
    for jobs in (1, 2):
        total = 0.0
        for fmt in ("json", "markdown", "latex"):
            with tempfile.TemporaryDirectory() as tmp:
                seconds, _ = cold_cli(["derive", str(ROOT / "derivations"), "--format", fmt,
                                       "-o", tmp, "--jobs", str(jobs)])
            total += seconds
        times[jobs] = total
    print(f"\ngoal 4  all bundled derivations x 3 formats: --jobs 1 {times[1]:.2f} s, "
          f"--jobs 2 {times[2]:.2f} s  ->  speed-up {times[1] / times[2]:.2f}x on 2 cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the SymPy baseline")
    parser.add_argument("--budget", type=float, default=300.0,
                        help="seconds the baseline may take (default 300)")
    args = parser.parse_args()
    if not args.quick:
        goal1(args.budget)
    sweep("width (depth 3 weight layers, 4 samples)",
          [([16, w, w, 16], 4) for w in (16, 32, 64, 128, 256)])
    sweep("depth (width 64, 4 samples)",
          [([16] + [64] * d + [16], 4) for d in (2, 3, 4, 6, 8)])
    sweep("samples ([16,64,64,16])", [([16, 64, 64, 16], n) for n in (1, 4, 16, 64)])
    goal2_and_5()
    goal3()
    goal4()


if __name__ == "__main__":
    main()
