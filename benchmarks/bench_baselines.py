"""symderive against the strongest baselines a careful user would write, in one run.

    python benchmarks/bench_baselines.py            # everything (several minutes)
    python benchmarks/bench_baselines.py --quick    # skip the biggest net's baselines
    python benchmarks/bench_baselines.py --only depth   # one part: baselines, depth or cli

Baselines, implemented here (not in symderive), settle the same three hypotheses
(full tie, incoming + bias, outgoing) of a tanh/MSE network:

- **D2**: the backprop graph built once in SymPy, hash-consed (z, a, δ per layer
  and sample are shared nodes, made unevaluated by ``Add._from_args``), ties applied
  with a memoised ``xreplace`` (one cache per hypothesis), and each group component's
  difference decided by structural equality, then a float probe (a memoised float
  evaluation of the graph at a random point), and ``expand`` only when both say
  nothing (SymPy's ``cse`` + ``lambdify`` as the probe is far slower: ``cse`` of
  5 components took 2.6 s at [8,32,32,8], where the memoised probe takes 3 ms);
- **Dse**: the same graph in symengine (``pip install symengine`` or ``pip install
  .[bench]``), built with its native constructors, in two forms, and the faster one
  on each net is reported: *native*, where the tie and the float probe are each one
  C++ ``xreplace`` over all components of the three groups (the probe's maps every
  symbol to a float, and symengine evaluates as it rebuilds); and *memo*, D2's Python
  traversals over symengine's objects.  Native wins on the small nets; memo on the
  biggest, where symengine's visitor, which rebuilds every node and caches them in an
  ordered map, costs more than Python's dict.  ``Lambdify(..., cse=True)`` as the
  probe is slower than either (its ``cse`` alone took 0.36 s at [16,64,64,16] B=4,
  the LLVM backend 15 s to compile); without ``cse`` it expands the shared graph
  into a tree and did not finish in 5 minutes;
- **N**: one NumPy forward + backward pass (the cost floor of any witness).

symderive is timed as ``derive(spec, numeric=False)`` (the symbolic work only).
All methods run interleaved, best of ``--repeat``, in CPU seconds of the
process (the machine is shared), with SymPy's cache and symderive's caches
cleared before every run, so nobody profits from a previous one.  The table gives seconds and ratios (baseline ÷ symderive, and
symderive ÷ N).  Then: the import floor (``python -c "import sympy"``) against
cold CLI runs, the depth sweep (3 → 20 weight layers) and width 1024 cold.
Nothing is asserted: the numbers are for reading.
"""
from __future__ import annotations

import argparse
import gc
import math
import operator
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HYPOTHESES = (("all tied", ("incoming", "bias", "outgoing")),
              ("incoming and bias", ("incoming", "bias")),
              ("outgoing", ("outgoing",)))
GROUPS = ("incoming", "bias", "outgoing")
NETS = (([8, 32, 32, 8], 1), ([16, 64, 64, 16], 4), ([64, 256, 256, 64], 16))


def spec_text(layers: list[int], samples: int, layer: int = 2) -> str:
    """The benchmark spec: three hypotheses on units 1, 2 of hidden layer ``layer``."""
    out = f"[network]\nlayers = {layers}\nsamples = {samples}\n"
    for name, tie in HYPOTHESES:
        out += (f'\n[[hypothesis]]\nname = "{name}"\nlayer = {layer}\nunits = [1, 2]\n'
                f"tie = {list(tie)}\n".replace("'", '"'))
    return out


# ------------------------------------------------------------------ D2 and Dse


class Backend:
    """The few constructors the baseline needs, from SymPy or symengine."""

    def __init__(self, name: str):
        mod = __import__(name)
        self.name, self.mod = name, mod
        self.Symbol, self.tanh, self.Add, self.Mul = mod.Symbol, mod.tanh, mod.Add, mod.Mul
        self.one, self.half = mod.Integer(1), mod.Rational(1, 2)
        self.expand = mod.expand

    def add(self, terms: list):
        """A sum node.  SymPy's is unflattened and made by ``Add._from_args``: the node
        ``Add(*terms, evaluate=False)`` returns, without its argument checks, constructor
        post-processors and cache look-up (half the build), and commutative (every
        symbol is).  symengine's is its native
        constructor: one C++ call that flattens (a Python fold of ``+`` is quadratic)."""
        if self.name == "sympy":
            return self.Add._from_args(terms, True)
        return self.Add(*terms)

    def mul(self, *factors):
        if self.name == "sympy":
            return self.Mul._from_args(factors, True)
        return self.Mul(*factors)

    def act(self, u):
        """tanh(u); SymPy's unevaluated (its eval asks costly questions of a big sum)."""
        if self.name == "sympy":
            return self.tanh(u, evaluate=False)
        return self.tanh(u)

    def square(self, u):
        if self.name == "sympy":
            return self.mod.Pow(u, 2, evaluate=False)
        return u ** 2

    def sub(self, u, v):
        """u − v as a node (no flattening of u into a new sum)."""
        return self.add([u, self.mul(self.mod.Integer(-1), v)])

    def rebuild(self, expr, args: tuple):
        """``expr``'s node with new arguments (unevaluated in SymPy, as built)."""
        if self.name == "sympy":
            if expr.is_Add or expr.is_Mul:
                return expr.func._from_args(args, True)
            if not expr.is_Atom:
                return expr.func(*args, evaluate=False)
        return expr.func(*args)


class Graph:
    """The backprop graph of a tanh/MSE network, built once, hash-consed."""

    def __init__(self, S: Backend, layers: list[int], samples: int):
        self.S, self.layers, self.samples = S, layers, samples
        sym = S.Symbol
        L = len(layers) - 1
        self.W = [None] + [[[sym(f"W{l}_{r}_{c}") for c in range(1, layers[l - 1] + 1)]
                            for r in range(1, layers[l] + 1)] for l in range(1, L + 1)]
        self.b = [None] + [[sym(f"b{l}_{r}") for r in range(1, layers[l] + 1)]
                           for l in range(1, L + 1)]
        self.a, self.delta = [], []
        for n in range(1, samples + 1):
            a, z = [[sym(f"x_{n}_{k}") for k in range(1, layers[0] + 1)]], [None]
            for l in range(1, L + 1):
                zl = [S.add([S.mul(w, v) for w, v in zip(row, a[-1])] + [bias])
                      for row, bias in zip(self.W[l], self.b[l])]
                z.append(zl)
                a.append(zl if l == L else [S.act(u) for u in zl])
            d = [None] * (L + 1)
            d[L] = [S.sub(yh, sym(f"y_{n}_{m}")) for m, yh in enumerate(a[L], start=1)]
            for l in range(L - 1, 0, -1):
                d[l] = [S.mul(S.sub(S.one, S.square(a[l][u])),
                              S.add([S.mul(self.W[l + 1][m][u], d[l + 1][m])
                                     for m in range(layers[l + 1])]))
                        for u in range(layers[l])]
            self.a.append(a)
            self.delta.append(d)

    def gradient(self, layer: int, unit: int, group: str) -> list:
        """dL/d(group of unit) per component, summed over samples (0-based unit)."""
        S, n = self.S, range(self.samples)
        if group == "incoming":
            return [S.add([S.mul(self.delta[s][layer][unit], self.a[s][layer - 1][k])
                           for s in n])
                    for k in range(self.layers[layer - 1])]
        if group == "bias":
            return [S.add([self.delta[s][layer][unit] for s in n])]
        return [S.add([S.mul(self.delta[s][layer + 1][m], self.a[s][layer][unit])
                       for s in n])
                for m in range(self.layers[layer + 1])]

    def group(self, layer: int, unit: int, group: str) -> list:
        if group == "incoming":
            return self.W[layer][unit]
        if group == "bias":
            return [self.b[layer][unit]]
        return [row[unit] for row in self.W[layer + 1]]


def memo_xreplace(S: Backend, expr, tie: dict, cache: dict):
    """xreplace with a cache shared over the hypothesis: a shared node is visited once."""
    hit = cache.get(expr)
    if hit is not None:
        return hit
    args = expr.args
    if not args:
        out = tie.get(expr, expr)
    else:
        new = tuple([memo_xreplace(S, a, tie, cache) for a in args])
        # SymPy: the memo returns the graph's own node when nothing changed; symengine
        # hands out a new Python wrapper for each argument, so compare in C++ there.
        same = (not any(map(operator.is_not, new, args)) if S.name == "sympy"
                else new == args)
        out = expr if same else S.rebuild(expr, new)
    cache[expr] = out
    return out


def memo_float(expr, point: dict, cache: dict) -> float:
    """The float value of a graph node at ``point``, each shared node computed once."""
    hit = cache.get(expr)
    if hit is not None:
        return hit
    args = expr.args
    if not args:
        out = point[expr] if expr.is_Symbol else float(expr)
    else:
        vals = [memo_float(a, point, cache) for a in args]
        kind = type(expr).__name__
        if kind == "Add":
            out = math.fsum(vals)
        elif kind == "Mul":
            out = math.prod(vals)
        elif kind == "Pow":
            out = vals[0] ** vals[1]
        elif kind == "tanh":
            out = math.tanh(vals[0])
        else:
            raise TypeError(kind)
    cache[expr] = out
    return out


def native_xreplace(S: Backend, exprs: list, mapping: dict) -> tuple:
    """symengine's C++ ``xreplace`` of all ``exprs`` in one call.  Its visitor caches
    the nodes it has visited, but only within a call: one call per component would
    walk the shared graph again for each (57 ms a component at [16,64,64,16] B=4), so
    the components are the arguments of one container node, an undefined function."""
    return S.mod.Function("F")(*exprs).xreplace(mapping).args


def settle_baseline(graph: Graph, layer: int, tied: tuple[str, ...], seed: int,
                    native: bool = False) -> dict:
    """Each group's status for units 1, 2 of ``layer`` under the tie, D2's way: the
    tie applied to every component, then structural equality, then a float probe at a
    random point, then ``expand`` (a component whose probe shows no gap).

    ``native`` (symengine only): the tie and the float probe are each one native
    ``xreplace`` over all components of the three groups, the probe's with every symbol
    mapped to a float (symengine evaluates numbers as it rebuilds).  Otherwise both are
    the Python-memoised traversals ``memo_xreplace`` and ``memo_float``."""
    S = graph.S
    tie = {}
    for g in tied:
        tie.update(zip(graph.group(layer, 1, g), graph.group(layer, 0, g)))
    grads = [(graph.gradient(layer, 0, g), graph.gradient(layer, 1, g)) for g in GROUPS]
    flat = [c for gi, gj in grads for c in gi + gj]
    if native:
        flat = native_xreplace(S, flat, tie)
    else:
        cache = {}
        flat = [memo_xreplace(S, c, tie, cache) for c in flat]
    pairs, k = [], 0
    for gi, _ in grads:
        n = len(gi)
        pairs.append(list(zip(flat[k:k + n], flat[k + n:k + 2 * n])))
        k += 2 * n
    unequal = [(ti, tj) for group in pairs for ti, tj in group if ti != tj]
    gaps = {}
    if unequal:
        rng = random.Random(seed)
        point = {s: rng.uniform(-1, 1) for s in _all_symbols(graph)}
        if native:
            numbers = {s: S.mod.RealDouble(v) for s, v in point.items()}
            values = [float(v) for v in
                      native_xreplace(S, [t for pair in unequal for t in pair], numbers)]
            gaps = {pair: abs(values[2 * i] - values[2 * i + 1])
                    for i, pair in enumerate(unequal)}
        else:
            floats = {}
            gaps = {pair: abs(memo_float(pair[0], point, floats) -
                              memo_float(pair[1], point, floats)) for pair in unequal}
    out = {}
    for group, comps in zip(GROUPS, pairs):
        status = "equal"
        for ti, tj in comps:
            gap = gaps.get((ti, tj))
            if gap is None:        # structurally equal
                continue
            if gap > 1e-9:
                status = "different"
                break
            if S.expand(ti - tj) != 0:
                status = "undecided"
        out[group] = status
    return out


def _all_symbols(graph: Graph) -> list:
    S, out = graph.S, []
    for l in range(1, len(graph.layers)):
        out += [w for row in graph.W[l] for w in row] + graph.b[l]
    for n in range(1, graph.samples + 1):
        out += [S.Symbol(f"x_{n}_{k}") for k in range(1, graph.layers[0] + 1)]
        out += [S.Symbol(f"y_{n}_{m}") for m in range(1, graph.layers[-1] + 1)]
    return out


def baseline(backend: str, layers: list[int], samples: int, native: bool = False) -> dict:
    """D2 (``sympy``) or Dse (``symengine``, memoised in Python or ``native``): build
    the graph once, settle three hypotheses."""
    graph = Graph(Backend(backend), layers, samples)
    return {name: settle_baseline(graph, 2, tie, k, native)
            for k, (name, tie) in enumerate(HYPOTHESES)}


# ------------------------------------------------------------------ N and symderive


def numpy_pass(layers: list[int], samples: int, rng=np.random.default_rng(0)) -> float:
    """One forward + backward pass of the tanh/MSE network; returns the loss."""
    W = [rng.normal(0, 1 / math.sqrt(m), (n, m)) for m, n in zip(layers, layers[1:])]
    b = [rng.normal(0, 1, n) for n in layers[1:]]
    X, Y = rng.normal(size=(samples, layers[0])), rng.normal(size=(samples, layers[-1]))
    start = time.perf_counter()
    acts = [X]
    for l, (w, v) in enumerate(zip(W, b)):
        z = acts[-1] @ w.T + v
        acts.append(z if l == len(W) - 1 else np.tanh(z))
    d = acts[-1] - Y
    grads = []
    for l in range(len(W) - 1, -1, -1):
        grads.append((d.T @ acts[l], d.sum(axis=0)))
        if l:
            d = (d @ W[l]) * (1 - acts[l] ** 2)
    return time.perf_counter() - start


def single_threaded_blas():
    from symderive.engine.mlp import single_threaded_blas as limit

    return limit()


def symderive_run(text: str) -> dict:
    from symderive.api import derive
    from symderive.spec import parse_spec

    d = derive(parse_spec(text), numeric=False)
    return {r.hypothesis.name: {g.group: g.status for g in r.groups} for r in d.results}


def clear_caches() -> None:
    """SymPy's cache and every functools cache in symderive: each run starts cold."""
    from sympy.core.cache import clear_cache

    clear_cache()
    for name, module in list(sys.modules.items()):
        if name.startswith("symderive"):
            for value in vars(module).values():
                if hasattr(value, "cache_clear"):
                    value.cache_clear()
    gc.collect()


def timed(fn, *args) -> tuple[float, object]:
    """CPU seconds of this process (not wall: 8 people share 2 cores, and a descheduled
    millisecond is not ours), with every cache cleared first."""
    clear_caches()
    start = time.process_time()
    out = fn(*args)
    return time.process_time() - start, out


def compare(layers: list[int], samples: int, repeat: int, baselines: bool) -> dict:
    """Best-of-``repeat`` seconds of each method, interleaved, and a consistency check.
    Dse is the faster of its two forms on this net (``Dse native``, ``Dse memo``)."""
    text = spec_text(layers, samples)
    runs = {"symderive": lambda: symderive_run(text)}
    if baselines:
        runs["D2"] = lambda: baseline("sympy", layers, samples)
        runs["Dse native"] = lambda: baseline("symengine", layers, samples, native=True)
        runs["Dse memo"] = lambda: baseline("symengine", layers, samples)
    best = dict.fromkeys(("symderive", "D2", "Dse native", "Dse memo"), math.inf)
    statuses = {}
    for _ in range(repeat):
        for name, run in runs.items():
            seconds, statuses[name] = timed(run)
            best[name] = min(best[name], seconds)
    best["Dse"] = min(best["Dse native"], best["Dse memo"])
    with single_threaded_blas():   # as symderive runs its passes
        best["N"] = min(numpy_pass(layers, samples) for _ in range(20))
    agree = all(s == statuses["symderive"] for s in statuses.values())
    return best | {"agree": agree}


def table(repeat: int, quick: bool) -> None:
    print("| net, 3 hypotheses | symderive symbolic | D2 | D2 ÷ symderive | Dse | "
          "Dse ÷ symderive | Dse native / memo | N (one NumPy pass) | symderive ÷ N |")
    print("|---|---|---|---|---|---|---|---|---|")
    for layers, samples in NETS:
        big = layers[1] >= 256
        r = compare(layers, samples, 1 if big else repeat, baselines=not (quick and big))
        sd = r["symderive"]
        cells = [f"{layers} B={samples}", f"{sd * 1e3:.1f} ms"]
        for key in ("D2", "Dse"):
            cells += ([f"{r[key]:.3f} s", f"{r[key] / sd:.0f}×"] if r[key] < math.inf
                      else ["skipped", "–"])
        cells.append(f"{r['Dse native']:.3f} s / {r['Dse memo']:.3f} s"
                     if r["Dse"] < math.inf else "–")
        cells += [f"{r['N'] * 1e3:.3f} ms", f"{sd / r['N']:.0f}×"]
        print("| " + " | ".join(cells) + " |" + ("" if r["agree"] else "  STATUSES DIFFER"),
              flush=True)
    print(f"\n(load average {os.getloadavg()[0]:.1f} at the end of the table)")


def _environment() -> dict[str, str]:
    """The children's environment: byte-code cached (as after ``pip install``), in a
    directory of its own, even where PYTHONDONTWRITEBYTECODE is set."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(PYCACHE))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


PYCACHE = Path(tempfile.gettempdir()) / "symderive-bench-pycache"


def cold(args: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of ``python ARGS`` in a fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, cwd=ROOT, env=_environment(),
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cold_best(runs: dict[str, list[str]], repeat: int) -> dict[str, tuple[float, float]]:
    """Best wall and best CPU seconds of each command, interleaved, after a warm-up."""
    for args in runs.values():
        cold(args)
    best = {name: (math.inf, math.inf) for name in runs}
    for _ in range(repeat):
        for name, args in runs.items():
            wall, cpu = cold(args)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


#: What every symderive run imports before its own work, step by step: the interpreter,
#: SymPy (the floor the issue measures against), SymPy's first sum (``Add.flatten``
#: imports ``sympy.tensor``, and with it ``sympy.combinatorics``, on first use), NumPy
#: (the witnesses and the cross-check need it), and the modules a JSON run of the seed
#: loads.  The seed's run minus the last line is its own work.
FLOOR = "import sympy"
#: NumPy loaded as the command line loads it: every BLAS asked for one thread first.
ONE_THREAD = ("import os; from symderive.engine import BLAS_THREAD_VARIABLES as V; "
              "[os.environ.setdefault(v, '1') for v in V]; ")
IMPORT_STEPS = {
    "python -c pass": "pass",
    "import sympy (the floor)": FLOOR,
    "+ SymPy's first sum": FLOOR + "; sympy.Symbol('x') + sympy.Symbol('y')",
    "+ import numpy": ONE_THREAD + FLOOR + "; sympy.Symbol('x') + sympy.Symbol('y'); "
                      "import numpy",
    "+ the modules of a JSON run (no work)": (
        ONE_THREAD + FLOOR + "; sympy.Symbol('x') + sympy.Symbol('y'); import numpy; "
        "import symderive.cli.main, symderive.api, symderive.render.json, "
        "symderive.report.answer, symderive.numeric.gradcheck, symderive.numeric.training, "
        "symderive.facts.backprop"),
}


def cli_table(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wide = Path(tmp) / "wide.toml"
        wide.write_text(spec_text([64, 1024, 1024, 64], 16))
        derive_ = ["-m", "symderive", "derive"]
        runs = {name: ["-c", code] for name, code in IMPORT_STEPS.items()}
        runs |= {"symderive --help": ["-m", "symderive", "--help"],
                 "derive weight-symmetry --format json (the seed)": derive_ + [
                     "weight-symmetry", "--format", "json", "-o", f"{tmp}/w.json"]}
        best = cold_best(runs, repeat)
        best |= cold_best({"derive [64,1024,1024,64] B=16 --format json": derive_ + [
            str(wide), "--format", "json", "-o", f"{tmp}/wide.json"]}, 1)
        size = (Path(tmp) / "wide.json").stat().st_size
    floor = best["import sympy (the floor)"]
    print("\n| cold process | wall | ÷ floor | CPU (user+sys) | ÷ floor |")
    print("|---|---|---|---|---|")
    for name, (wall, cpu) in best.items():
        print(f"| {name} | {wall:.2f} s | {wall / floor[0]:.2f}× | {cpu:.2f} s | "
              f"{cpu / floor[1]:.2f}× |")
    imports = best["+ the modules of a JSON run (no work)"]
    seed = best["derive weight-symmetry --format json (the seed)"]
    print(f"\nThe seed: {seed[0] / floor[0]:.2f}× the floor (goal: at most 1.6×); of that, "
          f"{imports[0] / floor[0]:.2f}× is importing what every run needs and "
          f"{(seed[0] - imports[0]) / floor[0]:.2f}× is the run's own work "
          f"({(seed[0] - imports[0]) * 1e3:.0f} ms wall).")
    print(f"JSON of [64,1024,1024,64] B=16: {size / 1e6:.2f} MB")


class WitnessClock:
    """CPU seconds spent inside the witness search's steps (NumPy draws and passes),
    so that the depth sweep can show the symbolic remainder on its own."""

    def __init__(self):
        from symderive.engine import symmetry

        self.module, self.original, self.seconds = symmetry, symmetry.witness_search, 0.0

    def __enter__(self):
        def timed_search(*args):
            steps = self.original(*args)
            while True:
                start = time.process_time()
                try:
                    step = next(steps)
                except StopIteration:
                    return
                finally:
                    self.seconds += time.process_time() - start
                yield step

        self.module.witness_search = timed_search
        return self

    def __exit__(self, *exc):
        self.module.witness_search = self.original


def depth_sweep(repeat: int) -> None:
    """Seconds against depth, hypotheses in layer 2 (width 64, 4 samples): the whole
    derivation, the witness steps in it (three per hypothesis; the first point shared
    by the three groups), and the rest (the symbolic part); all from the best run."""
    print("\n| weight layers (width 64, B=4, hypotheses in layer 2) | symderive symbolic "
          "| ÷ 3 layers | witness steps | witness steps ÷ N | without witness steps "
          "| ÷ 3 layers | N (one NumPy pass) |")
    print("|---|---|---|---|---|---|---|---|")
    first = None
    for depth in (3, 5, 8, 12, 20):
        layers = [16] + [64] * depth      # the layers around layer 2 stay the same
        best = (math.inf, math.inf)
        for _ in range(repeat):
            with WitnessClock() as clock:
                t = timed(symderive_run, spec_text(layers, 4))[0]
            best = min(best, (t, clock.seconds))
        total, steps = best
        with single_threaded_blas():
            n = min(numpy_pass(layers, 4) for _ in range(20))
        first = first or (total, total - steps)
        print(f"| {depth} | {total * 1e3:.1f} ms | {total / first[0]:.2f}× | "
              f"{steps * 1e3:.1f} ms | {steps / n:.0f}× | {(total - steps) * 1e3:.1f} ms | "
              f"{(total - steps) / first[1]:.2f}× | {n * 1e3:.3f} ms |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="skip D2 and Dse on [64,256,256,64] (they take minutes)")
    parser.add_argument("--repeat", type=int, default=5, help="best of this many runs")
    parser.add_argument("--only", nargs="+", choices=("baselines", "depth", "cli"),
                        help="run only these parts (default: all three)")
    args = parser.parse_args()
    print(f"symderive {ROOT}, Python {sys.version.split()[0]}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    parts = {"baselines": lambda: table(args.repeat, args.quick),
             "depth": lambda: depth_sweep(args.repeat), "cli": lambda: cli_table(args.repeat)}
    for name in args.only or list(parts):
        parts[name]()


if __name__ == "__main__":
    main()
