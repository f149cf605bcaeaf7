"""Command line: argv, files and exit codes live here and nowhere else.

Exit status: 0 success; 1 the numeric cross-check contradicts a proof;
2 bad input (one line on stderr naming the file, the line and the field).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from .errors import SpecError, SymderiveError

BUNDLED = Path(__file__).resolve().parent.parent / "derivations"

#: format -> module in symderive.render with a render(Derivation) -> str function.
TEXT_FORMATS = {"json": "json"}


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


def read_spec(name: str):
    """Load and validate the spec named on the command line."""
    from .spec import load_spec

    path = resolve_spec(name)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot be read: {exc.strerror}", source=str(path)) from None
    return load_spec(str(path) if path.parent != BUNDLED else path.name, data)


def _derive(args: argparse.Namespace) -> int:
    from .api import derive

    spec = read_spec(args.spec)
    derivation = derive(spec)
    module = importlib.import_module(f".render.{TEXT_FORMATS[args.format]}", __package__)
    text = module.render(derivation)
    _write(text, args.output)
    return 0


def _write(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot write output: {exc.strerror}", source=output) from None


def _list(args: argparse.Namespace) -> int:
    for name, path in bundled_specs().items():
        print(f"{name:28s} {_describe(path)}")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="symderive",
        description="Prove or refute gradient symmetries of hidden units, symbolically.")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("derive", help="derive a spec and write a report")
    d.add_argument("spec", help="a spec file, or the name of a bundled derivation")
    d.add_argument("--format", choices=sorted(TEXT_FORMATS), default="json")
    d.add_argument("-o", "--output", help="write here instead of standard output")
    d.set_defaults(func=_derive)
    ls = sub.add_parser("list", help="list the bundled derivations")
    ls.set_defaults(func=_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except SymderiveError as exc:
        print(f"symderive: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symderive: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
