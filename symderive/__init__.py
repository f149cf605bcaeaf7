"""symderive: prove or refute gradient symmetries of neural networks with SymPy."""
from __future__ import annotations

__version__ = "0.1.0"
