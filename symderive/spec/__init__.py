"""Reading input: a TOML spec in, a validated :class:`Spec` out.

- :mod:`.model`: the frozen dataclasses of a spec's parts (network, hypothesis, check);
- :mod:`.request`: :class:`Spec`, the whole request, and its validating constructors;
- :mod:`.load`: bytes → text → TOML tables, and the line of a field for every error;
- :mod:`.validate`: the tables, field by field (every error names its field);
- :mod:`.facts`: the ``[[fact]]`` tables;
- :mod:`.init`: the ``[init]`` (starting point) and ``[data]`` tables;
- :mod:`.functions`: the table of named activations and losses (SymPy + NumPy twins);
- :mod:`.undefined`: σ, σ', ℓ of generic mode;
- :mod:`.latex`: activation and loss formulas written in LaTeX, parsed safely.

TOML never leaves this package.
"""
from __future__ import annotations

from .load import locate
from .model import (GROUPS, MAX_LAYER_WIDTH, MAX_SAMPLES, OPTIMIZERS, CheckSpec, DataSpec,
                    Hypothesis, InitSpec, NetworkSpec, TensorInit)
from .request import Spec, load_spec, parse_spec

__all__ = ["GROUPS", "OPTIMIZERS", "MAX_LAYER_WIDTH", "MAX_SAMPLES", "NetworkSpec",
           "Hypothesis", "CheckSpec", "Spec", "InitSpec", "TensorInit", "DataSpec", "parse_spec",
           "load_spec", "locate"]
