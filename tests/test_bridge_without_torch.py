"""Without torch: ``import symderive`` and the rest work; the bridge says how to get it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: A child process in which ``import torch`` fails, as on a machine without it.
BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked for this test")
sys.meta_path.insert(0, Block())
"""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + code], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_symderive_works_without_torch():
    out = _run("""
import symderive
d = symderive.derive("weight-symmetry", numeric=False)
print([r.verdict for r in d.results])
print(len(d.to_markdown()) > 100, "torch" in sys.modules)
""")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["['broken', 'broken', 'preserved', 'preserved', 'broken']",
                                       "True False"]


def test_the_bridge_names_the_extra_without_torch():
    out = _run("""
import symderive
for f in (symderive.from_torch, symderive.inspect):
    try:
        f(None, None)
    except ImportError as exc:
        print(exc)
""")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "symderive's PyTorch bridge needs torch: pip install 'symderive[torch]'"] * 2
