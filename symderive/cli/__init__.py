"""The command line: argv, files, exit codes (the only place that touches them).

:mod:`.main` parses arguments and runs one derivation; :mod:`.batch` runs many
in worker processes.
"""
from __future__ import annotations

from .main import main

__all__ = ["main"]
