"""The cost model of ``[[layer]]`` networks (symderive/cost/layers.py) against the time
really taken: calibration of each kind's constants, and a hunt for the slowest spec
the guards allow.

    python benchmarks/bench_kind_costs.py              # estimate / measured per shape
    python benchmarks/bench_kind_costs.py --fit        # fit the kinds' constants
    python benchmarks/bench_kind_costs.py --climb 600  # hill-climb, 600 s of runs

1. **Passes**: one NumPy forward + backward pass (BLAS on one thread, as the numeric
   check runs it) on a family of shapes per kind, small (the interpreter's overhead
   dominates) to large (the multiply-adds do); printed with the model's estimate
   (:func:`symderive.cost.layers.pass_seconds`) and their ratio.  ``--fit`` solves for
   each kind's ``seconds_per_mac`` and ``seconds_per_loop`` and the stack's
   ``PASS_SECONDS`` (non-negative least squares on the relative error).
2. **Climb**: derivations of whole specs (verdicts and the numeric check, in this
   process, CPU time), starting from one spec per kind, each step changing one
   shape knob (channels, kernel, length, tokens, heads, head size, LSTM units and
   steps, samples, hypotheses) up or down; a change is kept when the guards still
   allow the spec and it took longer.  Prints every step with
   :func:`~symderive.cost.layers.stack_seconds` and the measured CPU, and at the end the
   slowest allowed spec found.  Formula depth, kink degree and ``[init]`` nesting are
   climbed by ``benchmarks/bench_escapes.py``; the whole command line, cold (starting
   points, transformers, report formats), by ``benchmarks/bench_kind_climb.py``.

Timings are also shown relative to a baseline pass measured in the same process (a
dense [256, 512, 512, 10] network, 16 samples), so that a loaded machine shows as a
larger baseline.  Nothing is asserted here; ``tests/test_kind_costs.py`` checks the
ratios on a few shapes, in the CI tier.
"""
from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from symderive import Spec  # noqa: E402
from symderive.engine.layers import layer_kind  # noqa: E402
from symderive.engine.layers.stack import Stack  # noqa: E402
from symderive.engine.mlp import single_threaded_blas  # noqa: E402


def dense(units, **keys):
    return {"kind": "dense", "units": units, **keys}


def conv(channels, kernel=3, **keys):
    return {"kind": "conv", "channels": channels, "kernel": kernel, **keys}


POOL, FLATTEN = {"kind": "pool"}, {"kind": "flatten"}


def norm(over="features", **keys):
    return {"kind": "norm", "over": over, **keys}


def attention(heads, **keys):
    return {"kind": "attention", "heads": heads, **keys}


def lstm(units, **keys):
    return {"kind": "lstm", "units": units, **keys}


#: name -> (input, layers, samples): small to large per kind.
SHAPES = {
    "dense tiny": ([4], [dense(4), dense(2)], 2),
    "dense mid": ([64], [dense(64), dense(64), dense(10)], 8),
    "dense deep": ([32], [dense(32)] * 6 + [dense(2)], 4),
    "dense large": ([256], [dense(512), dense(512), dense(10)], 16),
    "conv tiny": ([2, 5], [conv(2, padding=1), POOL, dense(1)], 3),
    "conv 1-D": ([8, 64], [conv(16, 5), POOL, dense(1)], 8),
    "conv mid": ([4, 16, 16], [conv(8), POOL, dense(2)], 4),
    "conv large": ([3, 32, 32], [conv(16), conv(32), POOL, dense(10)], 8),
    "flatten": ([2, 6, 6], [conv(4), FLATTEN, dense(2)], 4),
    "pool max": ([4, 16, 16], [conv(8), {"kind": "pool", "mode": "max"}, dense(2)], 4),
    "norm tiny": ([4], [dense(4), norm(), dense(2)], 2),
    "norm batch": ([128], [dense(512), norm("batch"), dense(2)], 64),
    "norm conv": ([4, 8, 8], [conv(4), norm("batch"), POOL, dense(1)], 4),
    "skip tiny": ([4], [dense(4), dense(4, skip=1), dense(2)], 2),
    "skip mid": ([64], [dense(64), dense(64, skip=1), dense(64, skip=2), dense(10)], 16),
    "residual cnn": ([2, 5], [conv(2, padding=1), conv(2, padding=1, skip=1), POOL,
                              dense(1)], 3),
    "attention tiny": ([2, 4], [attention(2), POOL, dense(1)], 2),
    "attention mid": ([16, 64], [attention(4, causal=True), POOL, dense(2)], 4),
    "transformer": ([16, 64], [attention(4, causal=True), dense(64), norm(), POOL, dense(2)], 4),
    "lstm tiny": ([3, 2], [lstm(2), dense(1)], 2),
    "lstm mid": ([16, 8], [lstm(32), dense(1)], 4),
    "lstm long": ([64, 4], [lstm(4), dense(1)], 2),
    "lstm wide": ([8, 16], [lstm(64), dense(1)], 16),
}
BASELINE = "dense large"


def spec_text(input_, layers, samples, hypotheses=None, activation="tanh") -> str:
    """A spec's TOML: the layers, and by default one hypothesis on layer 1's first group."""
    lines = ["[network]", f"input = {json.dumps(input_)}",
             f"activation = {json.dumps(activation)}", f"samples = {samples}"]
    for layer in layers:
        lines += ["[[layer]]"] + [f"{k} = {json.dumps(v)}" for k, v in layer.items()
                                  if not (k == "skip" and v == 0)]
    first = "query" if layers[0]["kind"] == "attention" else "incoming"
    for tie in hypotheses or [[first]]:
        lines += ["[[hypothesis]]", "layer = 1", "units = [1, 2]", f"tie = {json.dumps(tie)}"]
    return "\n".join(lines) + "\n"


def make(name: str) -> Spec:
    return Spec.from_toml(spec_text(*SHAPES[name]))


def measure_pass(spec: Spec, seconds: float = 0.3) -> float:
    """Seconds of one forward + backward pass (the best of repeated runs)."""
    stack = Stack(spec.network)
    rng = np.random.default_rng(0)
    theta = {k: rng.normal(size=s) / 4 for k, s in stack.shapes.items()}
    X = rng.normal(size=(spec.network.samples, *spec.network.input))
    Y = np.zeros_like(stack.np_forward(theta, X)[0])
    best = float("inf")
    with single_threaded_blas():
        stack.np_gradient(theta, X, Y)
        end = time.perf_counter() + seconds
        while time.perf_counter() < end or best == float("inf"):
            start = time.perf_counter()
            stack.np_gradient(theta, X, Y)
            best = min(best, time.perf_counter() - start)
    return best


def features(spec: Spec, kinds: list[str]) -> list[float]:
    """The model's terms of one pass: per kind (multiply-adds, loop iterations), then 1."""
    row = [0.0] * (2 * len(kinds)) + [1.0]
    for layer in spec.network.stack:
        kind = layer_kind(layer.kind)
        k = kinds.index(layer.kind)
        row[2 * k] += 3.0 * kind.flops(layer) * spec.network.samples
        row[2 * k + 1] += kind.pass_loops(layer)
    return row


def passes(fit: bool) -> None:
    from symderive.cost.layers import pass_seconds

    measured = {name: measure_pass(make(name)) for name in SHAPES}
    base = measured[BASELINE]
    print(json.dumps({"baseline_pass_seconds": base}))
    for name, took in measured.items():
        guess = pass_seconds(make(name))
        print(f"{name:16s} measured {took * 1e3:9.3f} ms ({took / base:6.3f} x baseline)  "
              f"estimate {guess * 1e3:9.3f} ms  estimate/measured {guess / took:5.2f}")
    if fit:
        _fit(measured)


def _fit(measured: dict[str, float]) -> None:
    from scipy.optimize import nnls

    kinds = sorted({layer["kind"] for _, layers, _ in SHAPES.values() for layer in layers})
    rows = np.array([features(make(n), kinds) for n in measured])
    took = np.array(list(measured.values()))
    solution, _ = nnls(rows / took[:, None], np.ones(len(took)))
    for k, kind in enumerate(kinds):
        print(f"{kind:10s} seconds_per_mac = {solution[2 * k]:.3g}   "
              f"seconds_per_loop = {solution[2 * k + 1]:.3g}")
    print(f"PASS_SECONDS = {solution[-1]:.3g}")
    ratios = rows @ solution / took
    print(f"fitted estimate/measured: {ratios.min():.2f} .. {ratios.max():.2f}")


# ------------------------------------------------------------------ the climb
#: The knobs a climb turns: (path into the shape, smallest, largest).
KNOBS = ("samples", "channels", "kernel", "length", "tokens", "heads", "units", "steps",
         "hypotheses")


def _turn(state: dict, rng: random.Random) -> dict:
    """One knob of ``state`` moved up (mostly) or down."""
    new = json.loads(json.dumps(state))
    knob = rng.choice([k for k in KNOBS if k in new])
    factor = rng.choice((2, 2, 2, 0.5)) if knob != "kernel" else rng.choice((1, 1, -1))
    value = new[knob]
    new[knob] = max(1, int(value * factor) if knob != "kernel" else value + factor)
    return new


STARTS = {
    "conv": {"samples": 2, "channels": 2, "kernel": 3, "length": 5, "hypotheses": 1},
    "residual": {"samples": 3, "channels": 2, "kernel": 3, "length": 5, "hypotheses": 1},
    "attention": {"samples": 2, "tokens": 2, "heads": 2, "units": 4, "hypotheses": 1},
    "lstm": {"samples": 2, "units": 2, "steps": 3, "hypotheses": 1},
}


def _state_text(family: str, s: dict) -> str:
    hyps = [["incoming"], ["incoming", "bias"], ["outgoing"], ["incoming", "bias", "outgoing"]]
    if family in ("conv", "residual"):
        layers = [conv(s["channels"], s["kernel"], padding=s["kernel"] // 2)]
        if family == "residual":
            layers += [conv(s["channels"], s["kernel"], padding=s["kernel"] // 2,
                            activation="identity"), norm("batch", skip=1)]
        text = spec_text([2, s["length"]], layers + [POOL, dense(1)], s["samples"],
                         hyps[:s["hypotheses"]])
    elif family == "attention":
        heads = s["heads"]
        text = spec_text([s["tokens"], heads * s["units"]],
                         [attention(heads), POOL, dense(1)], s["samples"],
                         [["query"], ["query", "key"], ["value"], ["query", "key", "value"]]
                         [:s["hypotheses"]])
    else:
        text = spec_text([s["steps"], 2], [lstm(s["units"]), dense(1)], s["samples"],
                         hyps[:s["hypotheses"]])
    return text


class _Stop(Exception):
    pass


def timed_derive(text: str, cutoff: float) -> float | None:
    """CPU seconds of derive(spec) with the numeric check, None past ``cutoff``."""
    from symderive import derive

    def stop(signum, frame):
        raise _Stop

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, cutoff)
    start = time.process_time()
    try:
        derive(Spec.from_toml(text))
        return time.process_time() - start
    except _Stop:
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def climb(budget: float, cutoff: float, seed: int) -> None:
    from symderive import guards
    from symderive.cost.layers import stack_seconds
    from symderive.errors import SymderiveError

    rng = random.Random(seed)
    end = time.monotonic() + budget
    worst = (0.0, "", "")
    for family, state in STARTS.items():
        best = None
        while time.monotonic() < end:
            candidate = state if best is None else _turn(state, rng)
            try:
                spec = Spec.from_toml(_state_text(family, candidate))
            except SymderiveError:
                if best is None:
                    raise
                continue
            if guards.refusals(spec):
                print(f"{family:9s} {json.dumps(candidate)} refused", flush=True)
                if best is not None and rng.random() < 0.3:
                    break
                continue
            guess = stack_seconds(spec)
            took = timed_derive(_state_text(family, candidate), cutoff)
            shown = "past the cutoff: an escape" if took is None else f"{took:7.2f} s CPU"
            print(f"{family:9s} {json.dumps(candidate)} estimate {guess:7.2f} s, {shown}"
                  + ("" if took is None else f", estimate/measured {guess / max(took, 1e-3):5.2f}"),
                  flush=True)
            took = cutoff if took is None else took
            if best is None or took > best:
                state, best = candidate, took
                if took > worst[0]:
                    worst = (took, family, json.dumps(candidate))
            if time.monotonic() > end - budget * (3 - list(STARTS).index(family)) / 4:
                break
    print(f"slowest allowed: {worst[1]} {worst[2]}, {worst[0]:.2f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true")
    parser.add_argument("--climb", type=float, metavar="SECONDS")
    parser.add_argument("--cutoff", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.climb:
        climb(args.climb, args.cutoff, args.seed)
    else:
        passes(args.fit)


if __name__ == "__main__":
    main()
