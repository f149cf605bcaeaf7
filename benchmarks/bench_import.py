"""Start-up cost of ``import symderive`` and of the light CLI commands, as ratios.

    python benchmarks/bench_import.py [--runs N]

Each command runs in a fresh interpreter (``python -c ...``), N times; the
median wall time is printed with its ratio to the interpreter doing nothing and
to ``import sympy`` (what ``import symderive`` would cost if it loaded SymPy).
For the breakdown per module: ``python -X importtime -c "import symderive"``.
Nothing here is asserted: the numbers are for reading.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

COMMANDS = {
    "python (nothing)": "pass",
    "import sympy": "import sympy",
    "import symderive": "import symderive",
    "symderive.Spec (loads SymPy)": "import symderive; symderive.Spec",
    "symderive --version": "from symderive.cli import main\ntry: main(['--version'])\n"
                           "except SystemExit: pass",
    "symderive list": "from symderive.cli import main; main(['list'])",
}


def median_seconds(code: str, runs: int) -> float:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    seconds = {name: median_seconds(code, runs) for name, code in COMMANDS.items()}
    bare, sympy = seconds["python (nothing)"], seconds["import sympy"]
    print(f"{'command':32s} {'median s':>9s} {'/ python':>9s} {'/ sympy':>8s}")
    for name, s in seconds.items():
        print(f"{name:32s} {s:9.3f} {s / bare:9.2f} {s / sympy:8.2f}")


if __name__ == "__main__":
    main()
