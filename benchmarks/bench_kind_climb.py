"""The guards' hunt on the whole command line: a hill-climb over ``[[layer]]`` specs, each
step a cold ``symderive derive SPEC --format F`` under the default time limit.

    python benchmarks/bench_kind_climb.py 900              # 900 s of runs, every family
    python benchmarks/bench_kind_climb.py 300 lstm_init    # one family

``bench_kind_costs.py --climb`` times derivations in its own process (SymPy's cache
and the swap's lemmas warm after the first spec); here every step is a fresh process,
as a user runs it: reading, deriving and rendering (JSON, Markdown or LaTeX, a knob),
CPU of the child.  Besides the kinds' families of ``bench_kind_costs.py`` (convolution,
residual CNN with batch norm, attention, LSTM) it climbs a transformer block with
hypotheses on its heads and on its residual stream, and starting points: ``[init]``
(zeros, or random tensors) with ``[data]`` on convolution, attention and LSTM networks.

A step is kept when the guards allow it and it took longer.  Each line prints the
estimate (:func:`symderive.cost.layers.stack_seconds`), the CPU and the exit status;
``ESCAPE`` marks an allowed spec that failed (the time limit) or took more than three
times its estimate and more than :data:`FEW_SECONDS` beyond the start-up.  Nothing is
asserted here: an escape becomes a regression test that counts the work.
"""
from __future__ import annotations

import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_kind_costs import _state_text, attention, dense, lstm, norm, spec_text  # noqa: E402

#: A cold run's start-up (Python, SymPy, NumPy imported), not in the estimate.
START_UP = 1.5
#: Over three times the estimate, and this many seconds beyond the start-up: an escape.
FEW_SECONDS = 3.0
FORMATS = ("json", "markdown", "latex")


def _transformer(s: dict) -> str:
    width = s["heads"] * s["units"]
    layers = [dense(width), attention(s["heads"], causal=True, skip=1), norm(),
              dense(width), {"kind": "flatten"}, dense(1)]
    text = spec_text([s["tokens"], 2], layers, s["samples"])
    hyps = [(2, ["query", "key", "value"]), (2, ["query", "key", "value", "output"]),
            (1, ["incoming", "bias"]), (1, ["incoming", "bias", "gain", "shift", "outgoing"]),
            (2, ["query"]), (2, ["value"])]
    return _with_hypotheses(text, hyps[:s["hypotheses"]])


def _with_hypotheses(text: str, hyps: list[tuple[int, list[str]]]) -> str:
    head = text.split("[[hypothesis]]")[0]
    return head + "".join(f"[[hypothesis]]\nlayer = {layer}\nunits = [1, 2]\n"
                          f"tie = {json.dumps(tie)}\n" for layer, tie in hyps)


def _data(input_: list[int], samples: int) -> str:
    """A ``[data]`` table: exact quarters, the same for the same shape."""
    def nested(shape, offset):
        if len(shape) == 1:
            return [((offset + 7 * k) % 11 - 5) / 4 for k in range(shape[0])]
        return [nested(shape[1:], offset + 13 * k) for k in range(shape[0])]
    inputs = [nested(input_, 5 * n) for n in range(samples)]
    targets = [[((3 * n) % 5 - 2) / 2] for n in range(samples)]
    return f"[data]\ninputs = {json.dumps(inputs)}\ntargets = {json.dumps(targets)}\n"


def _start(family: str, s: dict) -> str:
    """A kind's family with ``[init]`` (every tensor zero, or the kind's named ones zero and
    the rest random, knob ``random``) and ``[data]``."""
    base = family.split("_")[0]
    text = _state_text(base, s)
    zeros = {"conv": ["W1", "b1", "W3", "b3"], "lstm": ["W1", "U1", "b1", "W2", "b2"],
             "attention": ["Q1", "K1", "bq1", "bk1"]}[base]
    rest = {"conv": [], "lstm": [], "attention": ["V1", "bv1", "O1", "bo1", "W3", "b3"]}[base]
    lines = ["[init]"] + [f'{t} = "zero"' for t in zeros[:len(zeros) - s.get("random", 0)]]
    lines += [f'{t} = "random"' for t in zeros[len(zeros) - s.get("random", 0):] + rest]
    spec_part, hyp_part = text.split("[[hypothesis]]", 1)
    input_ = json.loads(spec_part.split("input = ")[1].split("\n")[0])
    return (spec_part + "\n".join(lines) + "\n" + _data(input_, s["samples"])
            + "[[hypothesis]]" + hyp_part)


STARTS = {
    "conv": {"samples": 2, "channels": 2, "kernel": 3, "length": 5, "hypotheses": 2},
    "residual": {"samples": 3, "channels": 2, "kernel": 3, "length": 5, "hypotheses": 1},
    "attention": {"samples": 2, "tokens": 3, "heads": 2, "units": 2, "hypotheses": 4},
    "lstm": {"samples": 2, "units": 2, "steps": 3, "hypotheses": 4},
    "transformer": {"samples": 2, "tokens": 3, "heads": 2, "units": 1, "hypotheses": 4},
    "conv_init": {"samples": 3, "channels": 2, "kernel": 3, "length": 8, "hypotheses": 2,
                  "random": 0},
    "attention_init": {"samples": 2, "tokens": 3, "heads": 2, "units": 1, "hypotheses": 2,
                       "random": 0},
    "lstm_init": {"samples": 2, "units": 3, "steps": 3, "hypotheses": 2, "random": 0},
}
#: Largest value of a knob (the climb's hypotheses are those the family lists).
CEILING = {"hypotheses": 6, "random": 4, "kernel": 9}


def text_of(family: str, state: dict) -> str:
    if family == "transformer":
        return _transformer(state)
    if family.endswith("_init"):
        return _start(family, state)
    return _state_text(family, state)


def turn(state: dict, rng: random.Random) -> dict:
    """One knob of ``state`` moved: doubled (mostly) or halved; a count stepped by one."""
    new = dict(state)
    knob = rng.choice([k for k in state if k != "format"] + ["format"])
    if knob == "format":
        new["format"] = rng.choice(FORMATS)
    elif knob in CEILING:
        new[knob] = min(CEILING[knob], max(1 if knob != "random" else 0,
                                           state[knob] + rng.choice((1, 1, -1))))
    else:
        new[knob] = max(1, int(state[knob] * rng.choice((2, 2, 0.5))))
    return new


def cold_run(text: str, fmt: str, timeout: float = 200.0) -> tuple[float, int, str]:
    """(child CPU seconds, exit status, last line of stderr) of a cold command-line run."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spec.toml"
        path.write_text(text)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            done = subprocess.run([sys.executable, "-m", "symderive", "derive", str(path),
                                   "--format", fmt, "-q", "-o", str(Path(tmp) / "out")],
                                  capture_output=True, text=True, cwd=ROOT, timeout=timeout)
            code, err = done.returncode, (done.stderr.strip().splitlines() or [""])[-1]
        except subprocess.TimeoutExpired:
            code, err = -1, f"killed after {timeout:.0f} s"
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, code, err


def climb(budget: float, families: list[str], seed: int) -> None:
    from symderive import Spec, guards
    from symderive.cost.layers import stack_seconds
    from symderive.errors import SymderiveError

    rng, worst = random.Random(seed), []
    for n, family in enumerate(families):
        end = time.monotonic() + budget / len(families)
        state, best = dict(STARTS[family], format="json"), None
        while time.monotonic() < end:
            candidate = state if best is None else turn(state, rng)
            text = text_of(family, candidate)
            try:
                spec = Spec.from_toml(text)
            except SymderiveError as e:
                print(f"{family:14s} {json.dumps(candidate)} invalid: {e}", flush=True)
                if best is None:
                    break
                continue
            fmt = candidate["format"]
            if guards.refusals(spec, fmt):
                print(f"{family:14s} {json.dumps(candidate)} refused", flush=True)
                continue
            guess = stack_seconds(spec)
            took, code, err = cold_run(text, fmt)
            escape = code != 0 or (took > 3 * guess and took > START_UP + FEW_SECONDS)
            print(f"{family:14s} {json.dumps(candidate)} estimate {guess:6.2f} s, "
                  f"{took:6.2f} s CPU, exit {code}" + ("  ESCAPE " + err if escape else ""),
                  flush=True)
            if escape:
                worst.append((family, candidate, guess, took, code))
            if best is None or took > best:
                state, best = candidate, took
        print(f"{family:14s} slowest allowed: {json.dumps(state)}, {best or 0:.2f} s CPU",
              flush=True)
    print(f"escapes: {json.dumps(worst)}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    budget = float(sys.argv[1]) if len(sys.argv) > 1 else 600.0
    climb(budget, sys.argv[2:] or list(STARTS), seed=0)
