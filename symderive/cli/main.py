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

from .. import __version__
from ..errors import SpecError, SymderiveError, one_line, translated
from ..sources import STDIN_NAME, bundled_key, bundled_specs, read_source, read_stdin
from ..render.preamble import HEADING_LEVELS, PAPERS

#: The spec argument that means "read the spec from standard input".
STDIN = "-"

#: format -> module in symderive.render with a render(Derivation) -> str function.
TEXT_FORMATS = {"json": "json", "latex": "latex", "markdown": "markdown", "beamer": "beamer"}
#: format -> module in symderive.render with a render(Derivation) -> bytes function.
BINARY_FORMATS = {"pdf": "pdf"}
#: the format an output file's suffix asks for when --format is not given.
SUFFIXES = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".tex": "latex",
            ".pdf": "pdf"}
DEFAULT_FORMAT = "markdown"


def read_spec(name: str, *, force: bool = True, typeset: str | None = None):
    """Load and validate the spec named on the command line (a path, a bundled name,
    or ``-`` for standard input); unless ``force``, refuse one over the resource
    limits of :mod:`symderive.guards` (exit 2, before any work), counting pdflatex's
    time when ``typeset`` is "pdf" or "beamer" (slides compiled to a PDF), and writing
    the report when it is "json"."""
    from ..spec import load_spec

    if name == STDIN:
        from ..guards import is_terminal

        if is_terminal(sys.stdin):                    # someone at a keyboard: say so
            print("symderive: reading the spec from standard input (end it with Ctrl-D)",
                  file=sys.stderr)
        source, data = STDIN_NAME, read_stdin()
    else:
        source, data = read_source(name)
    spec = load_spec(source, data)
    if not force:
        from ..guards import check_resources

        check_resources(spec, data, typeset)
    return spec


def _input_files(name: str) -> tuple[Path, ...]:
    """The file a spec argument reads (none for standard input), which no report may replace."""
    if name == STDIN:
        return ()
    if Path(name).is_file():
        return (Path(name),)
    bundled = bundled_specs().get(bundled_key(name))
    return (Path(str(bundled)),) if isinstance(bundled, Path) else ()


#: Formats that --fragment applies to, and those --paper applies to.
FRAGMENT_FORMATS = ("latex", "beamer")
PAPER_FORMATS = ("latex", "pdf", "beamer")
#: Formats with a brief and a full detail (--detail).
DETAIL_FORMATS = ("markdown", "latex", "pdf", "beamer")
#: Formats whose default detail is brief (a Q&A answer; slides: a talk).
BRIEF_FORMATS = ("markdown", "beamer")


def _derive(args: argparse.Namespace) -> int:
    fmt = "latex" if args.fragment and not args.format else output_format(args.format,
                                                                           args.output)
    options = render_options(args, fmt)
    from . import batch

    if args.spec != STDIN and batch.is_batch(args.spec):
        return _derive_many(args, fmt, options)
    if fmt in BINARY_FORMATS and args.output in (None, "-"):
        raise SymderiveError(f"--format {fmt} writes a binary file: give -o FILE.{fmt}")
    return derive_one(args.spec, fmt, args.output, force=args.force, quiet=args.quiet,
                      options=options, follow_symlinks=args.follow_symlinks,
                      time_limit=_time_limit(args))


def _time_limit(args: argparse.Namespace) -> float | None:
    """--time-limit if given; else the default budget, or none with --force."""
    from .limits import DEFAULT_TIME_LIMIT

    if args.time_limit is not None:
        return args.time_limit or None
    return None if args.force else DEFAULT_TIME_LIMIT


def render_options(args: argparse.Namespace, fmt: str) -> dict:
    """The renderer's keyword arguments from the flags, refusing flags the format ignores."""
    if args.fragment and fmt not in FRAGMENT_FORMATS:
        raise SymderiveError("--fragment applies to --format latex only (and beamer)")
    host = {"heading_level": args.heading_level, "theorem_env": args.theorem_env}
    for flag, value in host.items():
        if value is not None and not args.fragment:
            raise SymderiveError(f"--{flag.replace('_', '-')} applies to --fragment only (a "
                                 "fragment follows its host document)")
    if args.paper is not None and (fmt not in PAPER_FORMATS or args.fragment):
        raise SymderiveError("--paper applies to whole documents: --format latex, pdf or "
                             "beamer, without --fragment")
    options = {k: v for k, v in host.items() if v is not None}
    _check_host(options, fmt, args.output if args.fragment else None)
    options |= {"fragment": True} if args.fragment else {}
    options |= {"paper": args.paper} if args.paper is not None else {}
    if args.math is not None and fmt != "markdown":
        raise SymderiveError(f"--math applies to --format markdown only, not {fmt}")
    if args.detail is not None and fmt not in DETAIL_FORMATS:
        raise SymderiveError(f"--detail applies to --format markdown, latex, pdf and beamer, "
                             f"not {fmt}")
    if fmt in DETAIL_FORMATS:
        options["detail"] = args.detail or ("brief" if fmt in BRIEF_FORMATS else "full")
    options |= {"math": args.math} if args.math is not None else {}
    return options


def _check_host(options: dict, fmt: str, fragment_output: str | None) -> None:
    """Refuse a fragment's bad options before deriving anything (which may take long)."""
    from ..render.preamble import HostOptions, check_for_beamer

    host = HostOptions(**options)
    if fmt == "beamer":
        check_for_beamer(host)
    if fmt == "beamer" and (fragment_output or "").lower().endswith(".pdf"):
        raise SymderiveError("--fragment writes frames to \\input, not a PDF: give -o FILE.tex")



def derive_one(spec_name: str, fmt: str, output: str | None, *, force: bool = False,
               quiet: bool = False, options: dict | None = None, follow_symlinks: bool = False,
               time_limit: float | None = None) -> int:
    """Derive one spec and write its report; the exit status (0 or 1).  ``options`` are
    the renderer's keyword arguments (:func:`render_options`).

    The output is checked before any work (never the spec itself, no symlink unless
    ``follow_symlinks``, a writable folder) and replaced only by a complete report.
    Slides written to a ``.pdf`` file are compiled (``--format beamer -o talk.pdf``)."""
    from ..api import derive
    from ..guards import Progress
    from .. import files as out
    from .limits import time_budget

    options = options or {}
    target = out.check_target(output, _input_files(spec_name), follow_symlinks=follow_symlinks)
    compiled = fmt == "pdf" or (fmt == "beamer" and (output or "").lower().endswith(".pdf"))
    progress = Progress(enabled=not quiet)
    progress.enabled = progress.enabled or (force and not quiet)  # a forced run may be long
    with time_budget(time_limit):     # reading too: a formula's kinks are solved there
        spec = read_spec(spec_name, force=force,
                         typeset=fmt if compiled or fmt == "json" else None)
        derivation = derive(spec, progress=progress)
        progress(f"writing {fmt}")
        module = importlib.import_module(
            f"symderive.render.{(TEXT_FORMATS | BINARY_FORMATS)[fmt]}")
        render = module.render
        if fmt == "beamer" and output and output.lower().endswith(".pdf"):
            render = module.render_pdf
        report = render(derivation, **options)
    out.write(report, target, output or "<stdout>")
    _warn_length(fmt, report, options.get("detail"))
    return _numeric_status(derivation)


def _warn_length(fmt: str, text, detail: str | None) -> None:
    """A full Markdown report too long for a Q&A answer: say so (it is still written)."""
    if fmt != "markdown" or detail != "full":
        return
    from ..render.markdown import LIMIT

    if len(text) > LIMIT:
        print(f"symderive: warning: this Markdown report is {len(text):,} characters, over "
              f"Stack Exchange's limit of {LIMIT:,} for an answer; --detail brief gives one "
              "that fits", file=sys.stderr)



def _derive_many(args: argparse.Namespace, fmt: str, options: dict) -> int:
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
    worker = functools.partial(_batch_worker, fmt=fmt, options=options, force=args.force,
                               time_limit=_time_limit(args))
    outcomes = batch.run(specs, outputs, worker, args.jobs or batch.default_jobs())
    for o in outcomes:
        if o.status:
            print(f"symderive: {o.message}", file=sys.stderr)
    return max(o.status for o in outcomes)


def _batch_worker(spec_name: str, output: str, fmt: str, options: dict,
                  force: bool = False, time_limit: float | None = None) -> tuple[int, str]:
    """One spec of a batch, in a worker process: (status, message)."""
    import io

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), no_library_warnings():
            status = derive_one(spec_name, fmt, output, force=force, quiet=True,
                                options=options, time_limit=time_limit)
        return status, one_line(err.getvalue().strip().removeprefix("symderive: "))
    except SymderiveError as exc:
        return 2, one_line(str(exc))
    except Exception as exc:            # a bug, met by this spec only: the others go on
        return 2, one_line(f"{spec_name}: internal error ({type(exc).__name__}: {exc}); "
                           "please report it with the spec")


def _numeric_status(derivation) -> int:
    """Exit status 1, with one loud line on stderr, when the numbers contradict a proof.

    Called after the report is written: the report shows the contradiction too."""
    from ..numeric import contradictions

    found = contradictions(derivation.results, derivation.numeric)
    found += [p for f in getattr(derivation, "facts", ()) if getattr(f, "numeric", None)
              for p in f.numeric.problems]
    found += [f"the starting point: {p}" for p in getattr(derivation, "problems", [])]
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


def _list(args: argparse.Namespace) -> int:
    specs = bundled_specs()
    width = max((len(name) for name in specs), default=0)
    for name, path in specs.items():
        print(f"{name:{width}s}  {_describe(path)}")
    return 0


def _describe(path) -> str:
    """The spec's title (first line only), read without validating the spec."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "(unreadable)"
    return str(data.get("description") or data.get("title") or "").splitlines()[0:1][0] \
        if (data.get("description") or data.get("title")) else ""


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (0 <= value < 10**7):
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text!r}")
    return value


@contextlib.contextmanager
def no_library_warnings() -> Iterator[None]:
    """No NumPy or SymPy warning reaches stderr: numbers that overflow or go complex are
    handled (or refused) by symderive and reported in its own words, and a stray
    ``RuntimeWarning`` line would only alarm a reader of a correct report."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag or value is one line on stderr and exit 2 (as every other
    bad input), not the usage block."""

    def error(self, message: str):
        command = self.prog.removeprefix("symderive").strip()
        helps = f"symderive {command} --help" if command else "symderive --help"
        self.exit(2, f"symderive: {one_line(message)} ({helps} lists the flags)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="symderive",
        description="Prove or refute gradient symmetries of hidden units, symbolically.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("derive", help="derive a spec and write a report")
    d.add_argument("spec", help="a spec file, the name of a bundled derivation, - for "
                   "standard input, or a directory or glob of specs (then -o names a "
                   "directory)")
    d.add_argument("--jobs", "-j", type=int, default=0, metavar="N",
                   help="with several specs: derive N at a time (default: the cores)")
    d.add_argument("--format", choices=sorted(TEXT_FORMATS | BINARY_FORMATS),
                   help="report format (default: from the -o suffix, else markdown)")
    d.add_argument("-o", "--output", help="write here instead of standard output")
    d.add_argument("--fragment", action="store_true",
                   help="LaTeX: a piece to \\input into existing notes, no preamble; beamer: "
                   "the frames alone, to \\input between a presentation's frames")
    d.add_argument("--heading-level", choices=HEADING_LEVELS, metavar="LEVEL",
                   help="with --fragment: the heading the fragment starts with (chapter, "
                   "section, subsection or subsubsection; default section)")
    d.add_argument("--theorem-env", metavar="NAME",
                   help="with --fragment: use the host's theorem environment NAME (the "
                   "fragment then defines none)")
    d.add_argument("--paper", choices=sorted(PAPERS), help="LaTeX and PDF: the paper size "
                   "(default letter); beamer: a handout, two slides per page of this paper")
    d.add_argument("--detail", choices=("brief", "full"),
                   help="brief: an answer for a Q&A site (default for markdown), for beamer a "
                   "talk (the default); full: every step of the derivation (default for latex "
                   "and pdf; beamer: the talk, then the derivation as appendix frames)")
    d.add_argument("--math", choices=("mathjax", "unicode"),
                   help="markdown only: math for MathJax (default) or as Unicode text in code "
                   "blocks, for sites without MathJax")
    d.add_argument("--force", action="store_true",
                   help="derive even a spec over the resource limits (it may take very long)")
    d.add_argument("--follow-symlinks", action="store_true",
                   help="if -o is a symbolic link, replace the file it points to "
                   "(by default such an output is refused)")
    d.add_argument("--time-limit", type=_seconds, default=None, metavar="SECONDS",
                   help="stop a derivation that runs longer (default 120, none with "
                   "--force; 0: no limit)")
    d.add_argument("-q", "--quiet", action="store_true",
                   help="no progress lines on stderr (they appear only on a terminal)")
    d.set_defaults(func=_derive)
    ls = sub.add_parser("list", help="list the bundled derivations")
    ls.set_defaults(func=_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .. import files as output
    from . import limits

    args = build_parser().parse_args(argv)
    limits.install_handlers()
    if argv is None:                     # a real command-line run, not a call from Python
        limits.limit_memory()
        limits.single_threaded_blas()
    try:
        with no_library_warnings():
            status = args.func(args)
        if sys.stdout is not None:
            sys.stdout.flush()       # what print() buffered: a full stdout fails here, below
        return status
    except SymderiveError as exc:
        print(f"symderive: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except (MemoryError, OverflowError, RecursionError) as exc:
        # Python's limits, met past the resource guards (--force) outside the API
        # (which says the same, symderive.errors.translated)
        print(f"symderive: {translated(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("symderive: interrupted", file=sys.stderr)
        return 130
    except limits.Terminated as exc:
        print("symderive: terminated", file=sys.stderr)
        return int(exc.code)
    except BrokenPipeError:
        # The reader went away (`symderive list | head`): not an error of ours.
        output.silence_stdout()
        return 0
    except OSError as exc:
        # Standard output full or gone while print() wrote or the final flush ran
        # (`symderive list > /dev/full`).
        output.silence_stdout()
        print(f"symderive: cannot write: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
