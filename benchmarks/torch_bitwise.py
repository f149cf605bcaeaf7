"""Do two duplicated units stay bitwise identical when torch trains them on the CPU?

symderive proves in exact arithmetic that units with tied incoming weights, bias and
outgoing weights stay identical.  In floating point they stay *bitwise* identical
when the library computes both with the same operations on the same numbers.  This
script measures it: a network [d, width, width, m] with two hidden units of layer 1
duplicated (the second copy placed far from the first, in another block of the
matrix kernels), trained by SGD or Adam in float32 and float64, with 1 or 2 threads;
it prints the first step at which the two units' parameters or activations differ
bitwise (or "never"), per configuration.  Run: [THREADS=1,2] python benchmarks/torch_bitwise.py [float32] [float64]
(or ``details``: which operation first differs, and the gap over 5000 steps)
"""
from __future__ import annotations

import itertools
import os
import sys

import torch

STEPS = 200


def net2net(width: int, dtype: torch.dtype, seed: int, far: bool, d: int = 7, m: int = 3):
    """Units 0 and 1 (``far``: 0 and width-2) of the first hidden layer duplicated;
    their outgoing weights halved and shared (Net2Net's split: the same function)."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(d, width), torch.nn.Tanh(),
                                torch.nn.Linear(width, width), torch.nn.ReLU(),
                                torch.nn.Linear(width, m)).to(dtype)
    i, j = (0, width - 2) if far else (0, 1)
    with torch.no_grad():
        model[0].weight[j] = model[0].weight[i]
        model[0].bias[j] = model[0].bias[i]
        model[2].weight[:, i] *= 0.5
        model[2].weight[:, j] = model[2].weight[:, i]
    return model, (i, j)


def first_split(width, dtype, optimizer, threads, batch, far, seed=0):
    """(the first step at which units i and j differ bitwise or None, the largest
    relative difference of their incoming weights after STEPS steps)."""
    torch.set_num_threads(threads)
    model, (i, j) = net2net(width, dtype, seed, far)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, 7, generator=g, dtype=dtype)
    y = torch.randn(batch, 3, generator=g, dtype=dtype)
    opt = (torch.optim.SGD(model.parameters(), lr=0.05) if optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=1e-3))
    first = None
    for step in range(STEPS + 1):
        W1, b1, W2 = model[0].weight, model[0].bias, model[2].weight
        h = torch.tanh(model[0](x))
        same = (torch.equal(W1[i], W1[j]) and torch.equal(b1[i], b1[j])
                and torch.equal(W2[:, i], W2[:, j]) and torch.equal(h[:, i], h[:, j]))
        if not same and first is None:
            first = step
        if step == STEPS:
            gap = ((W1[i] - W1[j]).abs().max() / W1[i].abs().max()).item()
            return first, gap
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads available, "
          f"{STEPS} steps; first step with a bitwise difference (never = identical)")
    print("cells: first step / relative gap of the incoming weights at the end")
    print(f"| dtype | optimizer | threads | batch | pair | " +
          " | ".join(f"width {w}" for w in WIDTHS) + " |")
    dtypes = [getattr(torch, a) for a in sys.argv[1:]] or [torch.float32, torch.float64]
    for dtype, optimizer, threads, batch, far in itertools.product(
            dtypes, ("sgd", "adam"), THREADS, (1, 64), (False, True)):
        row = [first_split(w, dtype, optimizer, threads, batch, far) for w in WIDTHS]
        pair = "0, w-2" if far else "0, 1"
        print(f"| {str(dtype)[6:]} | {optimizer} | {threads} | {batch} | {pair} | " +
              " | ".join("never" if s is None else f"{s} / {g:.0e}" for s, g in row) + " |")
        sys.stdout.flush()


def first_difference(dtype, far, width=16, batch=64, steps=60):
    """Which quantity differs first between the two units: the forward product
    z1 = x W1ᵀ + b1, or the gradients of W1's rows, b1, W2's columns."""
    torch.set_num_threads(1)
    model, (i, j) = net2net(width, dtype, 0, far)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 7, generator=g, dtype=dtype)
    y = torch.randn(batch, 3, generator=g, dtype=dtype)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for step in range(steps):
        z1 = model[0](x)
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        W1, b1, W2 = model[0].weight, model[0].bias, model[2].weight
        same = {"z1": torch.equal(z1[:, i], z1[:, j]),
                "dW1 rows": torch.equal(W1.grad[i], W1.grad[j]),
                "db1": torch.equal(b1.grad[i], b1.grad[j]),
                "dW2 columns": torch.equal(W2.grad[:, i], W2.grad[:, j])}
        if not all(same.values()):
            return step, [k for k, v in same.items() if not v]
        opt.step()
    return None, []


def long_gap(dtype, optimizer, steps=5000, width=64):
    """The relative gap of the incoming weights at steps 10, 100, 1000, 5000."""
    torch.set_num_threads(1)
    model, (i, j) = net2net(width, dtype, 0, True)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 7, generator=g, dtype=dtype)
    y = torch.randn(64, 3, generator=g, dtype=dtype)
    opt = (torch.optim.SGD(model.parameters(), lr=0.05) if optimizer == "sgd"
           else torch.optim.Adam(model.parameters(), lr=1e-3))
    out = {}
    for step in range(1, steps + 1):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        if step in (10, 100, 1000, 5000):
            W1 = model[0].weight
            out[step] = ((W1[i] - W1[j]).abs().max() / W1[i].abs().max()).item()
    return out


def details() -> None:
    """``python benchmarks/torch_bitwise.py details``: where the tie breaks, and the
    gap over 5000 steps."""
    for dtype, far in ((torch.float32, False), (torch.float32, True), (torch.float64, True)):
        print(str(dtype)[6:], "far" if far else "adjacent", first_difference(dtype, far))
    for dtype, optimizer in ((torch.float32, "sgd"), (torch.float32, "adam"),
                             (torch.float64, "sgd")):
        gaps = long_gap(dtype, optimizer)
        print(str(dtype)[6:], optimizer, "; ".join(f"{k}: {v:.1e}" for k, v in gaps.items()))


WIDTHS = (4, 16, 64, 256, 1024)
#: Thread counts to try (environment THREADS="1,2"); see docs/pytorch.md.
THREADS = tuple(int(t) for t in os.environ.get("THREADS", "1,2").split(","))

if __name__ == "__main__":
    details() if sys.argv[1:] == ["details"] else main()
