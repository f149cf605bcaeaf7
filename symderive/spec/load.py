"""Read a spec's text: bytes -> text -> TOML tables, and the line of any field.

Every problem is a :class:`~symderive.errors.SpecError` naming the file (and the
line where known).  Turning the tables into a :class:`~symderive.spec.request.Spec`
is :mod:`.request`'s job; this module knows nothing of the data model.
"""
from __future__ import annotations

import re
import sys
import tomllib
from typing import Any

from ..errors import SpecError
from .validate import _BACKSLASH_HINT


def read_toml(text: str, source: str = "<spec>") -> dict[str, Any]:
    """The TOML tables of spec ``text`` (from ``source``); an empty text is an error."""
    if not _has_content(text):
        raise SpecError("the spec is empty: it needs a [network] table and at least one "
                        "[[hypothesis]] table", source=source)
    _check_structure(text, source)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        hint = _BACKSLASH_HINT if "Unescaped '\\'" in str(exc) else ""
        raise SpecError(f"invalid TOML: {exc}{hint}", source=source,
                        line=_toml_line(exc)) from None
    except ValueError:
        # Python's limit on int(str) (4300 digits), met inside tomllib: no spec number
        # comes near it, and the report would refuse it anyway.
        raise SpecError(f"a number has more than {sys.get_int_max_str_digits()} digits, "
                        "too many to read; numbers in a spec have a few digits at most",
                        source=source,
                        line=_long_number_line(text)) from None
    except RecursionError:
        # tomllib reads nested arrays and inline tables recursively.
        raise SpecError("invalid TOML: arrays or inline tables are nested too deeply",
                        source=source) from None


_LONG_NUMBER = re.compile(r"[0-9_]{1000,}")


def _long_number_line(text: str) -> int | None:
    """The line of the first number of over a thousand digits in ``text``."""
    m = _LONG_NUMBER.search(text)
    return text.count("\n", 0, m.start()) + 1 if m else None


def decode(source: str, data: bytes | str) -> str:
    """The text of a spec file's bytes; invalid UTF-8 is a :class:`SpecError`."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")  # tolerate the BOM some editors write
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError(f"not valid UTF-8 text: byte 0x{data[exc.start]:02x} at offset "
                        f"{exc.start}; save the spec as UTF-8", source=source,
                        line=line) from None


#: Limits on the TOML's shape, checked before the parser builds anything (tomllib
#: needs minutes and gigabytes for 50,000 dotted key parts).
MAX_KEY_PARTS = 8
MAX_TABLE_HEADERS = 200
_TRIPLE = re.compile(r'"""|\'\'\'')
_KEY_PART = re.compile(r'\s*(?:"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)\s*')


def _check_structure(text: str, source: str) -> None:
    """Refuse dotted keys and table headers in numbers no spec has, cheaply (one pass
    over the lines, multi-line strings skipped)."""
    headers = 0
    in_string: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_string is not None:
            if line.count(in_string) % 2 == 1:
                in_string = None
            continue
        found = _TRIPLE.findall(line)
        if len(found) % 2 == 1:
            in_string = found[-1]
        stripped = line.lstrip()
        if stripped.startswith("["):
            headers += 1
            if headers > MAX_TABLE_HEADERS:
                raise SpecError(f"more than {MAX_TABLE_HEADERS} table headers: not a "
                                "derivation spec", source=source, line=number)
            key = stripped.strip("[ \t").split("]", 1)[0]
        elif "=" in stripped and not stripped.startswith("#"):
            key = stripped.split("=", 1)[0]
        else:
            continue
        if _dotted_parts(key) > MAX_KEY_PARTS:
            raise SpecError(f"a key with more than {MAX_KEY_PARTS} dotted parts: not a "
                            "derivation spec", source=source, line=number)


def _dotted_parts(key: str) -> int:
    """The number of parts of a (possibly quoted) dotted TOML key."""
    parts, pos = 0, 0
    while pos <= len(key):
        m = _KEY_PART.match(key, pos)
        if not m or m.end() == pos:
            break
        parts += 1
        pos = m.end()
        if pos < len(key) and key[pos] == ".":
            pos += 1
        else:
            break
    return parts


def locate(error: SpecError, text: str) -> SpecError:
    """``error``, found after parsing spec ``text`` (e.g. by :mod:`symderive.guards`),
    with the line of its field."""
    return error.located(error.source or "<spec>", _find_line(text, error.field))


def _has_content(text: str) -> bool:
    return any(line.strip() and not line.strip().startswith("#") for line in text.splitlines())


def _toml_line(exc: tomllib.TOMLDecodeError) -> int | None:
    m = re.search(r"at line (\d+)", str(exc))
    return int(m.group(1)) if m else None


_HEADER = re.compile(r"^\s*(\[\[?)([^\]]*)\]")


def _find_line(text: str, dotted: str | None) -> int | None:
    """Best-effort line of the key named by ``dotted`` (``hypothesis[2].units``).

    When the key itself is not in the file (a required key is missing) this is
    the line of its table: the ``[network]`` or k-th ``[[hypothesis]]`` header.
    """
    m = re.fullmatch(r"([^.\[]+)(?:\[(\d+)\])?(?:\.([^.]+))?.*", dotted or "", re.S)
    if not m:
        return None
    table, index, key = m.group(1), int(m.group(2)) if m.group(2) else None, m.group(3)
    lines = text.splitlines()
    found = _key_line(lines, table, index, key) if key is not None else None
    return found if found is not None else _table_line(lines, table, index)


def _key_pattern(*names: str) -> re.Pattern[str]:
    """A line assigning the (dotted) key ``names``, bare or quoted."""
    parts = [rf"(?:{re.escape(n)}|\"{re.escape(n)}\"|'{re.escape(n)}')" for n in names]
    return re.compile(r"^\s*" + r"\s*\.\s*".join(parts) + r"\s*[=.]")


def _header(line: str) -> tuple[bool, list[str]] | None:
    """(is an array table, path) of a table header line, else None."""
    h = _HEADER.match(line)
    if not h:
        return None
    return h.group(1) == "[[", [p.strip().strip("\"'") for p in h.group(2).split(".")]


def _key_line(lines: list[str], table: str, index: int | None, key: str) -> int | None:
    inside, dotted = _key_pattern(key), _key_pattern(table, key)
    section: list[str] | None = None
    count = 0
    for number, line in enumerate(lines, start=1):
        header = _header(line)
        if header:
            section = header[1]
            count += header[0] and section == [table]
            if section[:2] == [table, key] and index in (None, count):
                return number
        elif section is None and index is None and dotted.match(line):
            return number
        elif section == [table] and index in (None, count) and inside.match(line):
            return number
    return None


def _table_line(lines: list[str], table: str, index: int | None) -> int | None:
    top, count, assign = True, 0, _key_pattern(table)
    for number, line in enumerate(lines, start=1):
        header = _header(line)
        if header:
            top = False
            if header[1] == [table]:
                count += header[0]
                if index in (None, count):
                    return number
        elif top and assign.match(line):
            return number
    return None
