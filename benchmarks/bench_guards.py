"""Hunt for specs the resource guards allow but that take long: the guards' blind spots.

    python benchmarks/bench_guards.py                 # families + search, ~30 min
    python benchmarks/bench_guards.py --budget 600    # seconds of cold runs in all
    python benchmarks/bench_guards.py --families-only --formats json

Every spec here is *adversarial and allowed*: it is built along one axis that costs
(width, depth, samples, steps, hypotheses, facts ...) and then pushed, by a binary
search on that axis, to the largest value the guards still allow, so it sits just
under a limit.  Each is then derived by a cold ``python -m symderive derive SPEC
--format F -o OUT --time-limit 0`` and timed (wall and CPU); a run past
``--cutoff`` seconds (60) is stopped: that is a finding.

1. **Families**: one hand-made seed per axis the brief lists (Piecewise and other
   LaTeX activations, every loss, [init]/[data] with trajectories, [[fact]] tables,
   large learning rates, output-layer hypotheses, bias off, generic mode, every
   format), each climbed to its limit.
2. **Search**: random specs, climbed to a limit on a random axis, then a hill-climb
   that mutates the slowest ones (another activation, loss, format, axis ...) and
   keeps what got slower.

The table gives, for the worst allowed specs, the guard's estimate as a fraction of
each limit (the largest first) and the time.  Nothing is asserted: the numbers are
for reading; tests/test_guards_cost.py holds the findings as regression tests.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from symderive import guards  # noqa: E402
from symderive.errors import SymderiveError  # noqa: E402
from symderive.spec import parse_spec  # noqa: E402

# ------------------------------------------------------------------ the catalogue

LATEX_ACTIVATIONS = {
    "leaky": r"\begin{cases} z & z > 0 \\ 0.01 z & \text{otherwise}\end{cases}",
    "elu": r"\begin{cases} z & z > 0 \\ e^{z} - 1 & \text{otherwise}\end{cases}",
    "pieces4": (r"\begin{cases} z & z > 1 \\ z^{3} & z > 0 \\ 0.5 z & z > -1 \\ "
                r"e^{z} - 1.5 & \text{otherwise}\end{cases}"),
    "softsign": r"\frac{z}{1+|z|}",
    "mish": r"z \tanh(\ln(1+e^{z}))",
    "gelu": r"\frac{z}{2}\left(1+\operatorname{erf}\left(\frac{z}{\sqrt{2}}\right)\right)",
    "swish": r"z \sigma(z)",
    "hardtanh": r"\max(-1, \min(1, z))",
    "relu6": r"\min(\max(0, z), 6)",
    "abs3": r"|z| + |z - 1| + |z + 1|",
    "softplus_tex": r"\ln(1+e^{z})",
}
NAMED_ACTIVATIONS = ("identity", "sigmoid", "tanh", "relu", "softplus")
LATEX_LOSSES = {
    "huber": (r"\begin{cases} \frac{1}{2}(\hat{y}-y)^{2} & |\hat{y}-y| < 1 \\ "
              r"|\hat{y}-y| - \frac{1}{2} & \text{otherwise}\end{cases}"),
    "logcosh": r"\ln(\cosh(\hat{y}-y))",
    "bce_tex": r"-y\log(\hat{y})-(1-y)\log(1-\hat{y})",
}
#: loss -> the output activation it needs (None: any)
LOSS_OUTPUT = {"mse": None, "bce": "sigmoid", "softmax_ce": "identity", "any": None,
               "huber": None, "logcosh": None, "bce_tex": {"latex": r"\sigma(z)"}}
FACT_KINDS = ("backprop_exact", "loss_gradient", "zero_init", "unit_gradient", "dropout",
              "optimizer")
FORMATS = ("json", "markdown", "latex", "pdf", "beamer")
GROUPS = ("incoming", "bias", "outgoing")
AXES = ("steps", "samples", "width", "depth", "hypotheses", "facts")


# ------------------------------------------------------------------ configurations


@dataclass
class Config:
    """One spec, as the axes the search moves along."""

    name: str
    hidden: list[int]
    inputs: int = 4
    outputs: int = 2
    activation: str = "tanh"           # a named one, "any", or a key of LATEX_ACTIVATIONS
    loss: str = "mse"
    bias: bool = True
    samples: int = 1
    hypotheses: list[dict] = field(default_factory=list)
    facts: list[dict] = field(default_factory=list)
    steps: int | None = None           # [check] steps (None: the default)
    learning_rate: float | None = None
    optimizer: str | None = None
    init: str | None = None            # None, "mixed" (classes, frozen), "numbers" (+ [data])
    fmt: str = "json"
    axis: str = "width"                # the axis the climb pushes

    def text(self) -> str:
        layers = [self.inputs, *self.hidden, self.outputs]
        lines = ["[network]", f"layers = {layers}",
                 f"activation = {_activation(self.activation)}",
                 f"bias = {str(self.bias).lower()}", f"samples = {self.samples}"]
        out = LOSS_OUTPUT[self.loss]
        if out is not None:
            lines.append(f"output_activation = {_value(out)}")
        loss = ({"latex": LATEX_LOSSES[self.loss]} if self.loss in LATEX_LOSSES else self.loss)
        lines.append(f"loss = {_value(loss)}")
        for h in self.hypotheses:
            lines += ["", "[[hypothesis]]"] + [f"{k} = {_value(v)}" for k, v in h.items()]
        for f in self.facts:
            lines += ["", "[[fact]]"] + [f"{k} = {_value(v)}" for k, v in f.items()]
        lines += self._init(layers)
        check = {"steps": self.steps, "learning_rate": self.learning_rate,
                 "optimizer": self.optimizer}
        if any(v is not None for v in check.values()):
            lines += ["", "[check]"] + [f"{k} = {_value(v)}" for k, v in check.items()
                                        if v is not None]
        return "\n".join(lines) + "\n"

    def _init(self, layers: list[int]) -> list[str]:
        if self.init is None:
            return []
        lines = ["", "[init]"]
        for l in range(1, len(layers)):
            if self.init == "numbers":
                lines.append(f"W{l} = {0.5 if l % 2 else 0.25}")
                if self.bias:
                    lines.append(f"b{l} = 0.1")
            else:
                lines.append(f"W{l} = {_value('zero' if l == 1 else 'random' if l % 2 else 0.5)}")
                if self.bias:
                    lines.append(f'b{l} = "zero"')
        if self.init == "numbers":
            rows = [[round(((n * 7 + k * 3) % 11) / 10 - 0.5, 1) for k in range(layers[0])]
                    for n in range(self.samples)]
            targets = [[round(((n + m) % 5) / 5, 1) for m in range(layers[-1])]
                       for n in range(self.samples)]
            lines += ["", "[data]", f"inputs = {rows}", f"targets = {targets}"]
        return lines


def _activation(key: str) -> str:
    return _value({"latex": LATEX_ACTIVATIONS[key]} if key in LATEX_ACTIVATIONS else key)


def _value(v) -> str:
    """A TOML value (LaTeX in a literal string, where a backslash is a backslash)."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return f"'{v}'" if "\\" in v else json.dumps(v)
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    return "[" + ", ".join(_value(x) for x in v) + "]"


def _hypothesis(layers: list[int], rng: random.Random, bias: bool, layer: int | None = None,
                tie: list[str] | None = None) -> dict:
    depth = len(layers) - 1
    choices = [l for l in range(1, depth + 1) if layers[l] >= 2]
    layer = layer if layer is not None else rng.choice(choices)
    groups = [g for g in GROUPS if (g != "bias" or bias) and (g != "outgoing" or layer < depth)]
    if tie is None:
        tie = [g for g in groups if rng.random() < 0.6]
        zero = [g for g in groups if g not in tie and rng.random() < 0.2]
    else:
        tie, zero = [g for g in tie if g in groups], []
    i, j = rng.sample(range(1, layers[layer] + 1), 2)
    return {"layer": layer, "units": [i, j], "tie": tie, "zero": zero}


def _fact(kind: str, rng: random.Random) -> dict:
    fact = {"kind": kind}
    if kind in ("unit_gradient",):
        fact.update(layer=1, unit=1, zero=["incoming"])
    if kind == "dropout":
        fact.update(layer=1, units=[1, 2], masks=rng.choice(["equal", "different"]))
    if kind == "optimizer":
        fact.update(layer=1, units=[1, 2], optimizer=rng.choice(["sgd", "momentum", "adam"]),
                    learning_rates=rng.choice(["shared", "per_unit"]))
    return fact


def families() -> list[Config]:
    """One seed per costly axis (climbed to a limit before timing)."""
    r = random.Random(0)
    tied = lambda layers, **kw: [_hypothesis(layers, r, True, 1, list(GROUPS), **kw)]
    out = [
        Config("steps x 64 hypotheses, tiny net", [3], 2, 1, steps=1000, axis="steps",
               hypotheses=[_hypothesis([2, 3, 1], r, True, 1, ["incoming"])] * 64),
        Config("steps, deep tiny net", [3] * 40, 2, 1, steps=1000, axis="steps",
               hypotheses=tied([2] + [3] * 40 + [1])),
        Config("relu wide (kink redraws)", [512, 512], 64, 10, activation="relu",
               samples=64, hypotheses=tied([64, 512, 512, 10]), axis="width"),
        Config("leaky cases, samples", [256, 256], 32, 8, activation="leaky", samples=16,
               hypotheses=tied([32, 256, 256, 8]), axis="samples"),
        Config("pieces4 cases, width", [128], 16, 4, activation="pieces4", samples=8,
               hypotheses=tied([16, 128, 4]), axis="width"),
        Config("gelu (erf), width", [256, 256], 32, 8, activation="gelu", samples=32,
               hypotheses=tied([32, 256, 256, 8]), axis="width"),
        Config("mish, 64 hypotheses", [64, 64], 8, 4, activation="mish", samples=4,
               hypotheses=[_hypothesis([8, 64, 64, 4], r, True) for _ in range(8)],
               axis="hypotheses"),
        Config("abs3 deep", [32] * 8, 8, 2, activation="abs3", samples=8,
               hypotheses=tied([8] + [32] * 8 + [2]), axis="depth"),
        Config("huber loss, sigmoid", [128, 128], 16, 16, activation="sigmoid", loss="huber",
               samples=32, hypotheses=tied([16, 128, 128, 16]), axis="width"),
        Config("bce, softplus", [256], 32, 8, activation="softplus", loss="bce", samples=64,
               hypotheses=tied([32, 256, 8]), axis="samples"),
        Config("softmax_ce, output-layer hypotheses", [256], 64, 64, loss="softmax_ce",
               samples=16, axis="hypotheses",
               hypotheses=[_hypothesis([64, 256, 64], r, True, 2, ["incoming", "bias"])] * 4),
        Config("generic any, width", [512, 512], 32, 8, activation="any", loss="any",
               samples=16, hypotheses=tied([32, 512, 512, 8]), axis="width"),
        Config("bias off, lr 10, steps", [64, 64], 8, 4, bias=False, samples=8, steps=1000,
               learning_rate=10.0, axis="steps",
               hypotheses=[_hypothesis([8, 64, 64, 4], r, False, 1, list(GROUPS))]),
        Config("adam lr 2, hypotheses", [32, 32], 8, 4, samples=8, steps=2000,
               learning_rate=2.0, optimizer="adam", axis="hypotheses",
               hypotheses=[_hypothesis([8, 32, 32, 4], r, True) for _ in range(4)]),
        Config("zero_init fact, width", [256, 256], 64, 1, samples=64, axis="width",
               facts=[_fact("zero_init", r)]),
        Config("16 facts, width", [128, 128], 32, 4, samples=16, axis="width",
               facts=[_fact(k, r) for k in FACT_KINDS[2:]] * 4),
        Config("dropout facts, width", [256, 256], 32, 4, samples=16, axis="width",
               facts=[_fact("dropout", r)] * 4),
        Config("[init] mixed, width", [128, 128], 16, 2, samples=8, init="mixed",
               steps=60, axis="width"),
        Config("[init]+[data] trajectory, width", [64, 64], 4, 2, activation="relu",
               init="numbers", samples=4, steps=10, axis="width"),
        Config("[init]+[data] trajectory, deep", [16] * 8, 4, 2, activation="tanh",
               init="numbers", samples=4, steps=10, axis="depth"),
        Config("markdown, 64 hypotheses", [64, 64], 8, 4, samples=4, fmt="markdown",
               hypotheses=[_hypothesis([8, 64, 64, 4], r, True) for _ in range(8)],
               axis="hypotheses"),
        Config("latex, 64 hypotheses", [64, 64], 8, 4, samples=4, fmt="latex",
               hypotheses=[_hypothesis([8, 64, 64, 4], r, True) for _ in range(8)],
               axis="hypotheses"),
        Config("pdf, hypotheses", [16, 16], 4, 2, samples=2, fmt="pdf", axis="hypotheses",
               hypotheses=[_hypothesis([4, 16, 16, 2], r, True) for _ in range(8)]),
        Config("beamer, hypotheses", [16, 16], 4, 2, samples=2, fmt="beamer",
               axis="hypotheses",
               hypotheses=[_hypothesis([4, 16, 16, 2], r, True) for _ in range(8)]),
    ]
    return out


def random_config(rng: random.Random, k: int) -> Config:
    depth = rng.choice([1, 1, 2, 2, 3, 5, 10])
    width = rng.choice([4, 16, 64, 256, 1024])
    hidden = [width] * depth
    loss = rng.choice(list(LOSS_OUTPUT))
    inputs, outputs = rng.choice([2, 8, 64]), rng.choice([1, 2, 8, 64])
    if loss == "softmax_ce" and outputs < 2:
        outputs = 2
    activation = rng.choice(NAMED_ACTIVATIONS + ("any",) + tuple(LATEX_ACTIVATIONS))
    bias = rng.random() < 0.8
    layers = [inputs, *hidden, outputs]
    cfg = Config(f"random {k}", hidden, inputs, outputs, activation, loss, bias,
                 samples=rng.choice([1, 4, 16, 64]),
                 steps=rng.choice([None, None, 50, 1000, 20000]),
                 learning_rate=rng.choice([None, 0.5, 2.0, 10.0]),
                 optimizer=rng.choice([None, "momentum", "adam"]),
                 fmt=rng.choice(FORMATS), axis=rng.choice(AXES))
    cfg.hypotheses = [_hypothesis(layers, rng, bias) for _ in range(rng.choice([1, 3, 8]))]
    if rng.random() < 0.3 and activation != "identity":
        cfg.facts = [_fact(rng.choice(FACT_KINDS), rng) for _ in range(rng.choice([1, 4]))]
    if rng.random() < 0.2:
        cfg.init = rng.choice(["mixed", "numbers"])
    if cfg.axis == "steps" and cfg.steps is None:
        cfg.steps = 1000
    return cfg


def scaled(cfg: Config, k: int) -> Config:
    """``cfg`` pushed to ``k`` along its axis."""
    c = copy.deepcopy(cfg)
    if c.axis == "steps":
        c.steps = k
    elif c.axis == "samples":
        c.samples = k
    elif c.axis == "width":
        c.hidden = [k] * len(c.hidden)
    elif c.axis == "depth":
        c.hidden = [c.hidden[0]] * k
    elif c.axis == "hypotheses":
        c.hypotheses = [c.hypotheses[n % len(cfg.hypotheses)] for n in range(k)]
    elif c.axis == "facts":
        c.facts = [c.facts[n % len(cfg.facts)] for n in range(k)]
    return c


#: The range of each axis (what validation accepts).
BOUNDS = {"steps": (1, 100_000), "samples": (1, 1024), "width": (2, 4096),
          "depth": (1, 99), "hypotheses": (1, 64), "facts": (1, 16)}


def current(cfg: Config) -> int:
    return {"steps": cfg.steps or 200, "samples": cfg.samples,
            "width": max(cfg.hidden, default=2), "depth": len(cfg.hidden),
            "hypotheses": len(cfg.hypotheses), "facts": len(cfg.facts)}[cfg.axis]


# ------------------------------------------------------------------ the guards


def estimates(text: str, fmt: str = "json") -> tuple[bool | None, dict[str, float], str]:
    """(allowed, {estimate: fraction of its limit}, the first refusal's field), or
    (None, {}, why) when the spec is invalid.  A PDF or slides compiled to PDF count
    pdflatex's time (as ``derive --format pdf`` or ``beamer -o x.pdf`` does), JSON
    its writing."""
    typeset = fmt if fmt in ("pdf", "beamer", "json") else None
    try:
        spec = parse_spec(text, "bench.toml")
        refusals = (guards.refusals(spec, typeset) if hasattr(guards, "estimates")
                    else guards.refusals(spec))
    except SymderiveError as exc:
        return None, {}, str(exc)[:120]
    except Exception as exc:            # the guards themselves failed: a finding too
        print(f"GUARD ERROR {type(exc).__name__}: {exc}\n{text}", flush=True)
        return None, {}, repr(exc)
    if hasattr(guards, "estimates"):
        fractions = {k: v / limit for k, (v, limit) in guards.estimates(spec, typeset).items()}
    else:   # the guards before this benchmark's findings
        fractions = {"numeric": guards.numeric_work(spec) / guards.MAX_NUMERIC_WORK,
                     "symbolic": guards.symbolic_work(spec) / guards.MAX_SYMBOLIC_WORK,
                     "json": guards.json_bytes(spec) / guards.MAX_JSON_BYTES,
                     "parameters": guards.parameters(spec) / guards.MAX_PARAMETERS}
    return not refusals, fractions, refusals[0].field if refusals else ""


def climb(cfg: Config) -> Config | None:
    """The largest value of ``cfg.axis`` the guards allow (binary search), or None."""
    lo, hi = BOUNDS[cfg.axis]
    lo = max(lo, min(current(cfg), hi))
    if cfg.axis in ("hypotheses", "facts") and not (cfg.hypotheses if cfg.axis ==
                                                    "hypotheses" else cfg.facts):
        return None
    allowed = lambda k: estimates(scaled(cfg, k).text(), cfg.fmt)[0]
    if not allowed(lo):
        lo = BOUNDS[cfg.axis][0]
        if not allowed(lo):
            return None
    if allowed(hi):
        return scaled(cfg, hi)
    while hi - lo > max(1, lo // 50):      # within 2 %
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if allowed(mid) else (lo, mid)
    return scaled(cfg, lo)


# ------------------------------------------------------------------ cold runs


@dataclass
class Timing:
    wall: float
    cpu: float
    status: str          # the exit status, or "stopped" past the cutoff
    size: int


def cold_run(text: str, fmt: str, cutoff: float, workdir: Path) -> Timing:
    """``python -m symderive derive`` in a fresh process (its own process group,
    stopped with everything it started past ``cutoff`` seconds)."""
    spec = workdir / "spec.toml"
    spec.write_text(text)
    out = workdir / ("report.pdf" if fmt in ("pdf", "beamer") else f"report.{fmt}")
    out.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "symderive", "derive", str(spec),
                             "--format", fmt, "-o", str(out), "--time-limit", "0", "--quiet"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=cutoff)
        status = str(proc.returncode)
        if proc.returncode == 2:
            status += ": " + err.decode(errors="replace").strip()[:100]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)     # our own child's group only
        proc.communicate()
        status = "stopped"
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    size = out.stat().st_size if out.exists() else 0
    return Timing(wall, cpu, status, size)


@dataclass
class Row:
    cfg: Config
    fractions: dict[str, float]
    timing: Timing

    def line(self) -> str:
        worst = sorted(self.fractions.items(), key=lambda kv: -kv[1])[:2]
        est = ", ".join(f"{k} {v:.2f}" for k, v in worst)
        t = self.timing
        return (f"| {self.cfg.name} ({self.cfg.axis}={current(self.cfg)}) | {self.cfg.fmt} "
                f"| {est} | {t.wall:.1f} | {t.cpu:.1f} | {t.status} | {t.size / 1e6:.1f} |")


HEADER = ("| spec (axis at its limit) | format | estimate / limit (largest two) | wall s "
          "| CPU s | exit | MB out |\n|---|---|---|---|---|---|---|")


def measure(cfg: Config, args, workdir: Path, spent: list[float]) -> Row | None:
    pushed = climb(cfg)
    if pushed is None:
        return None
    if pushed.fmt in ("pdf", "beamer") and not shutil.which("pdflatex"):
        pushed.fmt = "latex"
    ok, fractions, _ = estimates(pushed.text(), pushed.fmt)
    if not ok:
        return None
    if args.dry:
        print(Row(pushed, fractions, Timing(0, 0, "dry", 0)).line(), flush=True)
        return None
    timing = cold_run(pushed.text(), pushed.fmt, args.cutoff, workdir)
    spent[0] += timing.wall
    if args.keep and timing.cpu > args.slow:       # keep the spec of a finding
        keep = Path(args.keep)
        keep.mkdir(parents=True, exist_ok=True)
        name = "".join(c if c.isalnum() else "_" for c in pushed.name)
        (keep / f"{name}_{pushed.axis}_{pushed.fmt}.toml").write_text(pushed.text())
    row = Row(pushed, fractions, timing)
    print(row.line(), flush=True)
    return row


def mutate(cfg: Config, rng: random.Random) -> Config:
    c = copy.deepcopy(cfg)
    c.name = cfg.name.split(" ~")[0] + " ~" + str(rng.randrange(1000))
    what = rng.choice(["activation", "loss", "fmt", "axis", "lr", "bias", "samples", "depth"])
    if what == "activation":
        c.activation = rng.choice(NAMED_ACTIVATIONS + ("any",) + tuple(LATEX_ACTIVATIONS))
    elif what == "loss":
        c.loss = rng.choice(list(LOSS_OUTPUT))
        if c.loss == "softmax_ce":
            c.outputs = max(2, c.outputs)
    elif what == "fmt":
        c.fmt = rng.choice(FORMATS)
    elif what == "axis":
        c.axis = rng.choice(AXES)
        if c.axis == "steps" and c.steps is None:
            c.steps = 1000
    elif what == "lr":
        c.learning_rate = rng.choice([0.5, 2.0, 10.0])
    elif what == "bias":
        c.bias = not c.bias
        for h in c.hypotheses:
            h["tie"] = [g for g in h["tie"] if g != "bias" or c.bias]
            h["zero"] = [g for g in h["zero"] if g != "bias" or c.bias]
    elif what == "samples":
        c.samples = rng.choice([1, 16, 256, 1024])
    elif what == "depth" and c.hidden:
        extra = rng.choice([1, 3])
        c.hidden = c.hidden + [c.hidden[-1]] * extra
        for h in c.hypotheses:   # an output-layer hypothesis stays on the output layer
            if h["layer"] == len(cfg.hidden) + 1:
                h["layer"] = len(c.hidden) + 1
    return c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, default=1800, help="seconds of cold runs in all")
    ap.add_argument("--cutoff", type=float, default=60, help="stop a run after this many s")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--families-only", action="store_true")
    ap.add_argument("--only", default="", help="run the families whose name has this text")
    ap.add_argument("--formats", default=",".join(FORMATS),
                    help="formats the search may use (families keep their own)")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--dry", action="store_true", help="climb and estimate, do not run")
    ap.add_argument("--keep", default="", help="write the specs slower than --slow here")
    ap.add_argument("--slow", type=float, default=30, help="CPU seconds that make a finding")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    formats = tuple(args.formats.split(","))
    rows: list[Row] = []
    spent = [0.0]
    print(f"guards: {guards.__file__}\n\n{HEADER}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for cfg in families():
            if args.only and args.only not in cfg.name:
                continue
            if spent[0] > args.budget:
                break
            if (row := measure(cfg, args, workdir, spent)) is not None:
                rows.append(row)
        k = 0
        while not args.families_only and spent[0] < args.budget:
            k += 1
            if rows and rng.random() < 0.6:   # hill-climb from one of the slowest
                parent = rng.choice(sorted(rows, key=lambda r: -r.timing.wall)[:5]).cfg
                cfg = mutate(parent, rng)
            else:
                cfg = random_config(rng, k)
            if cfg.fmt not in formats:
                cfg.fmt = formats[0]
            if (row := measure(cfg, args, workdir, spent)) is not None:
                rows.append(row)
    print(f"\nThe {args.top} slowest allowed specs (cold, cutoff {args.cutoff:g} s):\n")
    print(HEADER)
    for row in sorted(rows, key=lambda r: -r.timing.wall)[:args.top]:
        print(row.line())


if __name__ == "__main__":
    main()
