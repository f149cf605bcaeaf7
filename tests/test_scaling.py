"""What keeps symderive fast and its reports readable for large networks (no timings here)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from symderive.api import derive
from symderive.render.json import report_dict
from symderive.spec import parse_spec
from symderive.engine.symmetry import FULL_LIMIT

WIDE = """
[network]
layers = [32, 128, 128, 32]
samples = 8
[[hypothesis]]
layer = 2
units = [1, 2]
tie = ["incoming", "bias"]
[[hypothesis]]
layer = 2
units = [3, 4]
tie = ["incoming", "bias", "outgoing"]
[check]
steps = 5
"""


@pytest.mark.parametrize("argv", [["--help"], ["list"]])
def test_help_and_list_do_not_import_the_latex_parser(argv: list[str]) -> None:
    code = ("import sys\nfrom symderive.cli import main\n"
            "try:\n    main(%r)\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('latex2sympy2_extended', 'latex2sympy2', 'antlr4')))" % argv)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()[-1]
    assert out == "[]"


def test_wide_network_uses_the_local_derivation_and_stays_readable() -> None:
    spec = parse_spec(WIDE)
    d = derive(spec)
    report = report_dict(d)
    broken, preserved = report["hypotheses"]
    assert broken["verdict"] == "broken" and preserved["verdict"] == "preserved"
    assert preserved["proof"]["swap_checked_on"] == "local"  # too big for the whole loss
    for group in broken["groups"].values():
        # index notation: the residual does not grow with the width
        assert len(group["difference_latex"]) < 400
    assert r"\sum_{m=1}^{32}" in broken["groups"]["incoming"]["difference_latex"]
    assert len(json.dumps(report)) < 4_000_000


def test_the_whole_loss_is_never_built_for_wide_networks(monkeypatch) -> None:
    from symderive.engine import network

    def refuse(self):  # noqa: ANN001
        raise AssertionError("whole loss built for a wide network")

    monkeypatch.setattr(network.Network, "loss", property(refuse))
    spec = parse_spec(WIDE)
    assert spec.network.layers[1] * spec.network.layers[2] * spec.network.samples > FULL_LIMIT
    d = derive(spec, numeric=False)
    assert [r.verdict for r in d.results] == ["broken", "preserved"]
