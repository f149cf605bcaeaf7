"""Issue 23: the guards' estimate against the time really taken, on three axes the
earlier hunt (bench_guards.py) did not climb, and on the specs they refused falsely.

    python benchmarks/bench_escapes.py                  # climb every axis, ~10 min
    python benchmarks/bench_escapes.py --axes kink --cutoff 30
    python benchmarks/bench_escapes.py --false-refusals

Axes (each a family of specs with one integer knob):

- ``nesting``: tanh nested n deep in a LaTeX activation (the guards allow 5);
- ``kink``: n terms |z^{12} - k z + 1|, each a kink of degree 12 (read-time solving);
- ``init``: an [init] starting point given as numbers on a tanh network n layers deep
  (the frozen analysis nests exact values a level per layer).

For each axis a hill-climb raises the knob while the guards allow the spec and the
cold run (``python -m symderive derive SPEC --format json --time-limit 0``, CPU time
of the child) stays under ``--cutoff``; every step prints the knob, the estimate in
seconds (symbolic work / 16 700 + numeric work / RATE) and the CPU seconds measured,
and their ratio.  Timings are also given relative to a baseline run of the bundled
weight_symmetry spec in the same process, so that a loaded machine shows as a
larger baseline rather than as slower specs.  Nothing is asserted: the findings become
regression tests (tests/test_time_budget.py).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import spec_toml  # noqa: E402
from symderive import guards  # noqa: E402
from symderive.cost import passes  # noqa: E402
from symderive.cost.facts import TERMS_PER_SECOND  # noqa: E402
from symderive.errors import SymderiveError  # noqa: E402
from symderive.spec import Spec  # noqa: E402

HYPOTHESIS = [{"layer": 1, "units": [1, 2], "tie": ["incoming", "bias"]}]


def _latex(formula: str) -> str:
    text = spec_toml(layers=(2, 3, 1), hypotheses=HYPOTHESIS)
    return text.replace('activation = "tanh"', f"activation = {{ latex = '{formula}' }}", 1)


def nesting(n: int) -> str:
    formula = "z"
    for _ in range(n):
        formula = rf"\tanh({formula})"
    return _latex(formula)


def kink(n: int) -> str:
    return _latex("+".join(f"|z^{{12}}-{k}z+1|" for k in range(1, n + 1)))


def init(n: int) -> str:
    layers = (2,) + (2,) * n + (1,)
    tensors = "".join(f"W{l} = 0.5\nb{l} = 0.1\n" for l in range(1, len(layers)))
    return spec_toml(layers=layers, hypotheses=HYPOTHESIS,
                     extra=f"[init]\n{tensors}\n[data]\ninputs = [[0.8, 0.4]]\n"
                           "targets = [[1.0]]\n")


AXES = {"nesting": nesting, "kink": kink, "init": init}
#: The specs the guards refused though they took seconds (tests/test_time_budget.py).
FALSE_REFUSALS = {
    "softmax [16, 32, 1000]": spec_toml(layers=(16, 32, 1000), loss="softmax_ce",
                                        hypotheses=HYPOTHESIS),
    "120 layers of width 4": spec_toml(layers=(4,) * 121, hypotheses=HYPOTHESIS),
    "[8, 2048, 2048, 4]": spec_toml(layers=(8, 2048, 2048, 4), hypotheses=HYPOTHESIS),
}


def estimate(text: str) -> float | None:
    """The guards' estimate in seconds, or None when they refuse the spec."""
    try:
        spec = Spec.from_toml(text)
    except SymderiveError:
        return None
    if guards.refusals(spec, "json"):
        return None
    e = guards.estimates(spec, "json")
    return e["symbolic"][0] / TERMS_PER_SECOND + e["numeric"][0] / passes.RATE


def cold_run(text: str, cutoff: float) -> float | None:
    """CPU seconds of a cold derivation (None past ``cutoff`` wall seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "s.toml"
        spec.write_text(text)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            subprocess.run([sys.executable, "-m", "symderive", "derive", str(spec), "--format",
                            "json", "-o", str(Path(tmp) / "r.json"), "--time-limit", "0",
                            "--force", "-q"], cwd=ROOT, capture_output=True, timeout=cutoff)
        except subprocess.TimeoutExpired:
            return None
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def climb(axis: str, cutoff: float, baseline: float) -> None:
    """Raise the knob while the guards allow the spec and it runs under ``cutoff``."""
    make, n = AXES[axis], 1
    while n <= 64:
        text = make(n)
        guess = estimate(text)
        if guess is None:
            print(f"{axis:8s} n={n:3d}  refused by the guards")
            return
        took = cold_run(text, cutoff)
        shown = "past the cutoff: an escape" if took is None else (
            f"{took:6.2f} s CPU ({took / baseline:5.1f} x baseline), estimate "
            f"{guess:6.2f} s, measured/estimate {took / max(guess, 1e-3):5.1f}")
        print(f"{axis:8s} n={n:3d}  {shown}", flush=True)
        if took is None:
            return
        n = n + 1 if took > cutoff / 4 else 2 * n


def false_refusals(cutoff: float, baseline: float) -> None:
    for name, text in FALSE_REFUSALS.items():
        guess = estimate(text)
        took = cold_run(text, cutoff)
        print(f"{name:24s} estimate {'refused' if guess is None else f'{guess:6.2f} s'}, "
              f"measured {'past the cutoff' if took is None else f'{took:6.2f} s CPU'} "
              f"(baseline {baseline:.2f} s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--axes", nargs="*", default=sorted(AXES), choices=sorted(AXES))
    parser.add_argument("--cutoff", type=float, default=60.0)
    parser.add_argument("--false-refusals", action="store_true")
    args = parser.parse_args()
    baseline = cold_run((ROOT / "derivations" / "weight_symmetry.toml").read_text(), 300)
    print(json.dumps({"baseline_cpu_seconds": baseline}))
    if args.false_refusals:
        false_refusals(args.cutoff, baseline)
        return
    for axis in args.axes:
        climb(axis, args.cutoff, baseline)


if __name__ == "__main__":
    main()
