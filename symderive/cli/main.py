"""Command line: argv, files and exit codes live here and nowhere else.

Exit status: 0 success; 1 the numeric cross-check contradicts a proof;
2 bad input (one line on stderr naming the file, the line and the field).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import sys
import warnings
from pathlib import Path
from typing import Iterator

from ..errors import SpecError, SymderiveError, one_line

BUNDLED = Path(__file__).resolve().parents[2] / "derivations"
#: A spec is a short TOML file; anything bigger is refused unread.
MAX_SPEC_BYTES = 1_000_000

#: format -> module in symderive.render with a render(Derivation) -> str function.
TEXT_FORMATS = {"json": "json", "latex": "latex", "markdown": "markdown"}
#: format -> module in symderive.render with a render(Derivation) -> bytes function.
BINARY_FORMATS = {"pdf": "pdf"}
#: the format an output file's suffix asks for when --format is not given.
SUFFIXES = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".tex": "latex",
            ".pdf": "pdf"}
DEFAULT_FORMAT = "markdown"


def bundled_specs() -> dict[str, Path]:
    """Bundled derivations by name (file stem with '-' for '_')."""
    if not BUNDLED.is_dir():
        return {}
    return {p.stem.replace("_", "-"): p for p in sorted(BUNDLED.glob("*.toml"))}


def resolve_spec(name: str) -> Path:
    """A spec path from a path or the name of a bundled derivation."""
    path = Path(name)
    if path.is_file():
        return path
    bundled = bundled_specs()
    key = name.replace("_", "-").removesuffix(".toml")
    if key in bundled and not path.exists():
        return bundled[key]
    if path.exists():
        raise SpecError("is not a regular file", source=name)
    known = ", ".join(bundled) or "none"
    raise SpecError(f"no such file, nor a bundled derivation (bundled: {known})", source=name)


def read_spec(name: str, *, force: bool = True):
    """Load and validate the spec named on the command line; unless ``force``, refuse
    one over the resource limits of :mod:`symderive.guards` (exit 2, before any work)."""
    from ..spec import load_spec

    path = resolve_spec(name)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"cannot be read: {exc.strerror}", source=str(path)) from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(f"is larger than {MAX_SPEC_BYTES} bytes: not a derivation spec",
                        source=str(path))
    spec = load_spec(str(path) if path.parent != BUNDLED else path.name, data)
    if not force:
        from ..guards import check_resources

        check_resources(spec, data)
    return spec


def _derive(args: argparse.Namespace) -> int:
    fmt = "latex" if args.fragment and not args.format else output_format(args.format,
                                                                           args.output)
    if args.fragment and fmt != "latex":
        raise SymderiveError("--fragment applies to --format latex only")
    from . import batch

    if batch.is_batch(args.spec):
        return _derive_many(args, fmt)
    if fmt in BINARY_FORMATS and args.output in (None, "-"):
        raise SymderiveError(f"--format {fmt} writes a binary file: give -o FILE.{fmt}")
    return derive_one(args.spec, fmt, args.output, args.fragment, force=args.force,
                      quiet=args.quiet)


def derive_one(spec_name: str, fmt: str, output: str | None, fragment: bool = False, *,
               force: bool = False, quiet: bool = False) -> int:
    """Derive one spec and write its report; the exit status (0 or 1)."""
    from ..api import derive
    from ..guards import Progress

    spec = read_spec(spec_name, force=force)
    progress = Progress(enabled=not quiet)
    derivation = derive(spec, progress=progress)
    progress(f"writing {fmt}")
    module = importlib.import_module(f"symderive.render.{(TEXT_FORMATS | BINARY_FORMATS)[fmt]}")
    options = {"fragment": True} if fragment else {}
    _write(module.render(derivation, **options), output)
    return _numeric_status(derivation)


def _derive_many(args: argparse.Namespace, fmt: str) -> int:
    """DIR|GLOB: every spec to OUTDIR/<stem>.<ext>, --jobs at a time."""
    from . import batch

    specs = batch.expand(args.spec)
    if not args.output or args.output == "-":
        raise SpecError(f"names {len(specs)} spec file(s) (a directory or a pattern): "
                        "give -o OUTDIR, a directory for the reports", source=args.spec)
    try:
        Path(args.output).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpecError(f"cannot be made a directory for the reports: {exc.strerror}",
                        source=args.output) from None
    outputs = batch.output_paths(specs, args.output, fmt)
    worker = functools.partial(_batch_worker, fmt=fmt, fragment=args.fragment,
                               force=args.force)
    outcomes = batch.run(specs, outputs, worker, args.jobs or batch.default_jobs())
    for o in outcomes:
        if o.status:
            print(f"symderive: {o.message}", file=sys.stderr)
    return max(o.status for o in outcomes)


def _batch_worker(spec_name: str, output: str, fmt: str, fragment: bool,
                  force: bool = False) -> tuple[int, str]:
    """One spec of a batch, in a worker process: (status, message)."""
    import io

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), no_library_warnings():
            status = derive_one(spec_name, fmt, output, fragment, force=force, quiet=True)
        return status, one_line(err.getvalue().strip().removeprefix("symderive: "))
    except SymderiveError as exc:
        return 2, one_line(str(exc))


def _numeric_status(derivation) -> int:
    """Exit status 1, with one loud line on stderr, when the numbers contradict a proof.

    Called after the report is written: the report shows the contradiction too."""
    from ..numeric import contradictions

    found = contradictions(derivation.results, derivation.numeric)
    found += [p for f in getattr(derivation, "facts", ()) if getattr(f, "numeric", None)
              for p in f.numeric.problems]
    if not found:
        return 0
    print("symderive: numeric cross-check contradicts the symbolic result: "
          + one_line(" | ".join(found)), file=sys.stderr)
    return 1


def output_format(asked: str | None, output: str | None) -> str:
    """--format if given, else what the output file's suffix says, else Markdown."""
    if asked:
        return asked
    return SUFFIXES.get(Path(output).suffix.lower(), DEFAULT_FORMAT) if output else DEFAULT_FORMAT


def _write(data: str | bytes, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(data)
        return
    try:
        if isinstance(data, bytes):
            Path(output).write_bytes(data)
        else:
            Path(output).write_text(data, encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot write output: {exc.strerror}", source=output) from None


def _list(args: argparse.Namespace) -> int:
    specs = bundled_specs()
    width = max((len(name) for name in specs), default=0)
    for name, path in specs.items():
        print(f"{name:{width}s}  {_describe(path)}")
    return 0


def _describe(path: Path) -> str:
    """The spec's title (first line only), read without validating the spec."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "(unreadable)"
    return str(data.get("description") or data.get("title") or "").splitlines()[0:1][0] \
        if (data.get("description") or data.get("title")) else ""


@contextlib.contextmanager
def no_library_warnings() -> Iterator[None]:
    """No NumPy or SymPy warning reaches stderr: numbers that overflow or go complex are
    handled (or refused) by symderive and reported in its own words, and a stray
    ``RuntimeWarning`` line would only alarm a reader of a correct report."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symderive",
        description="Prove or refute gradient symmetries of hidden units, symbolically.")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("derive", help="derive a spec and write a report")
    d.add_argument("spec", help="a spec file, the name of a bundled derivation, "
                   "or a directory or glob of specs (then -o names a directory)")
    d.add_argument("--jobs", "-j", type=int, default=0, metavar="N",
                   help="with several specs: derive N at a time (default: the cores)")
    d.add_argument("--format", choices=sorted(TEXT_FORMATS | BINARY_FORMATS),
                   help="report format (default: from the -o suffix, else markdown)")
    d.add_argument("-o", "--output", help="write here instead of standard output")
    d.add_argument("--fragment", action="store_true",
                   help="LaTeX only: a piece to \\input into existing notes, no preamble")
    d.add_argument("--force", action="store_true",
                   help="derive even a spec over the resource limits (it may take very long)")
    d.add_argument("-q", "--quiet", action="store_true",
                   help="no progress lines on stderr (they appear only on a terminal)")
    d.set_defaults(func=_derive)
    ls = sub.add_parser("list", help="list the bundled derivations")
    ls.set_defaults(func=_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with no_library_warnings():
            return args.func(args)
    except SymderiveError as exc:
        print(f"symderive: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except RecursionError:
        # Python's compiler and printers recurse on very deep expressions; only
        # reachable past the resource guard (--force).
        print("symderive: an expression is too deep for Python to handle; use a smaller "
              "network or generic mode (activation = \"any\")", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symderive: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`symderive list | head`): not an error of ours.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
