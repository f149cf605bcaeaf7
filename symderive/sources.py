"""Where a spec comes from: a file, a bundled derivation, or standard input.

The bundled derivations are the ``*.toml`` files of the repository's top-level
``derivations/`` folder.  Wheels and sdists ship them as the package data of
``symderive.derivations`` (pyproject.toml maps that package to the folder), found
with :mod:`importlib.resources` however symderive is installed.  Run from a source
checkout (an editable install, or PYTHONPATH), the folder itself is used, so a
derivation added there is listed at once.

Besides :mod:`symderive.cli`, this is the one module that reads files: the Python
API (``symderive.load("q.toml")``) needs it too.  It stands outside
:mod:`symderive.spec` and imports nothing heavy, so that ``symderive list`` and
``symderive --version`` answer without loading SymPy.
"""
from __future__ import annotations

import importlib.resources
import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .errors import SpecError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

#: A spec is a short TOML file; anything bigger is refused unread.
MAX_SPEC_BYTES = 1_000_000
#: The package whose data are the bundled derivations.
BUNDLED_PACKAGE = "symderive.derivations"
#: The name errors give to a spec read from standard input.
STDIN_NAME = "<stdin>"

_CHECKOUT = Path(__file__).resolve().parents[1]
#: The subfolder of the bundled derivations whose networks are given layer by layer.
LAYERS_FOLDER = "layers"


def bundled_folder() -> Traversable | None:
    """The folder of the bundled derivations: the checkout's ``derivations/`` when
    symderive runs from a source checkout, else the installed package data."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "derivations").is_dir():
        return _CHECKOUT / "derivations"
    try:
        return importlib.resources.files(BUNDLED_PACKAGE)
    except ModuleNotFoundError:       # installed without its data: nothing bundled
        return None


def bundled_specs() -> dict[str, Traversable]:
    """Bundled derivations by name (file stem with '-' for '_'), sorted by name: the
    folder's and its ``layers/`` subfolder's."""
    folder = bundled_folder()
    if folder is None:
        return {}
    files = [f for f in folder.iterdir() if f.name.endswith(".toml") and f.is_file()]
    layers = folder / LAYERS_FOLDER       # networks given layer by layer ([[layer]] tables)
    if layers.is_dir():
        files += [f for f in layers.iterdir() if f.name.endswith(".toml") and f.is_file()]
    return {f.name.removesuffix(".toml").replace("_", "-"): f
            for f in sorted(files, key=lambda f: f.name)}


def bundled_key(name: str) -> str:
    """The bundled name ``name`` stands for (``weight_symmetry.toml`` -> ``weight-symmetry``)."""
    return name.replace("_", "-").removesuffix(".toml")


def read_source(name: str) -> tuple[str, bytes]:
    """(the name errors give, the bytes) of spec ``name``: a path if a file is there,
    else a bundled derivation (named by its file name, e.g. ``weight_symmetry.toml``)."""
    path = Path(name)
    if path.is_file():
        try:
            with path.open("rb") as f:
                return str(path), _read(f, str(path))
        except OSError as exc:
            raise SpecError(f"cannot be read: {exc.strerror}", source=str(path)) from None
    bundled = bundled_specs()
    key = bundled_key(name)
    if key in bundled and not path.exists():
        resource = bundled[key]
        with resource.open("rb") as f:
            return resource.name, _read(f, resource.name)
    if path.exists():
        raise SpecError("is not a regular file", source=name)
    known = ", ".join(bundled) or "none"
    raise SpecError(f"no such file, nor a bundled derivation (bundled: {known})", source=name)


def read_stdin(stream: BinaryIO | None = None) -> bytes:
    """The bytes of a spec piped to standard input (``symderive derive -``)."""
    if stream is None:
        if sys.stdin is None:         # pythonw, or a daemon with no standard input
            raise SpecError("there is no standard input: pipe a spec into it",
                            source=STDIN_NAME)
        # A text stream without bytes underneath (a test's StringIO) gives str.
        stream = getattr(sys.stdin, "buffer", sys.stdin)
    data = _read(stream, STDIN_NAME)
    return data.encode("utf-8") if isinstance(data, str) else data


def _read(stream: BinaryIO, source: str) -> bytes | str:
    """At most :data:`MAX_SPEC_BYTES` bytes of ``stream``; more is an error."""
    try:
        data = stream.read(MAX_SPEC_BYTES + 1) or b""
    except OSError as exc:
        raise SpecError(f"cannot be read: {exc.strerror}", source=source) from None
    except ValueError:                                # "I/O operation on closed file"
        raise SpecError("cannot be read: it is closed", source=source) from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"is larger than {MAX_SPEC_BYTES} bytes: not a derivation spec",
                        source=source)
    return data
