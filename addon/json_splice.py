"""Rewrite string values inside a JSON document without re-serialising it.

Prompt caches are keyed on bytes: re-serialising a body (key order, number formats,
escapes, whitespace) would change bytes the provider has cached. So we locate the exact
source span of each string value we rewrite and splice new JSON string literals into the
original text; every other character stays as it was.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

Path = tuple[str | int, ...]

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_scanstring = json.decoder.scanstring  # C implementation where available


class SpliceError(ValueError):
    """The document does not have a string at a requested path."""


@dataclass(frozen=True)
class Replacement:
    """Replace the string value at `path` with `text`."""

    path: Path
    text: str


def find_string_spans(doc: str, paths: list[Path]) -> dict[Path, tuple[int, int]]:
    """Return the [start, end) source span (quotes included) of the string at each path.

    Only containers on the way to a wanted path are walked in Python; every other subtree is
    skipped with the C decoder, so large bodies cost little beyond one pass of C code.
    """
    wanted = set(paths)
    prefixes: set[Path] = set()
    for p in wanted:
        for i in range(len(p)):
            prefixes.add(p[:i])
    spans: dict[Path, tuple[int, int]] = {}
    pos = _WS.match(doc, 0).end()
    end = _walk(doc, pos, (), wanted, prefixes, spans)
    if _WS.match(doc, end).end() != len(doc):
        raise SpliceError("trailing data after JSON document")
    missing = wanted - spans.keys()
    if missing:
        raise SpliceError(f"no string value at {sorted(map(str, missing))[:3]}")
    return spans


def _walk(
    doc: str,
    pos: int,
    path: Path,
    wanted: set[Path],
    prefixes: set[Path],
    spans: dict[Path, tuple[int, int]],
) -> int:
    """Walk the value starting at `pos` (no leading whitespace); return its end."""
    if path in wanted:
        if doc.startswith('"', pos):
            _, end = _scanstring(doc, pos + 1, True)
            spans[path] = (pos, end)
            return end
        raise SpliceError(f"value at {path} is not a string")
    if path not in prefixes:
        return _DECODER.raw_decode(doc, pos)[1]
    ch = doc[pos : pos + 1]
    if ch == "{":
        pos = _WS.match(doc, pos + 1).end()
        if doc.startswith("}", pos):
            return pos + 1
        seen: set[str] = set()
        while True:
            if not doc.startswith('"', pos):
                raise SpliceError(f"expected a key at offset {pos}")
            key, pos = _scanstring(doc, pos + 1, True)
            pos = _WS.match(doc, pos).end()
            if not doc.startswith(":", pos):
                raise SpliceError(f"expected ':' at offset {pos}")
            pos = _WS.match(doc, pos + 1).end()
            if key in seen:  # a duplicate key: like json.loads, only the last one counts
                child = path + (key,)
                for stale in [p for p in spans if p[: len(child)] == child]:
                    del spans[stale]
            seen.add(key)
            pos = _walk(doc, pos, path + (key,), wanted, prefixes, spans)
            pos = _WS.match(doc, pos).end()
            if doc.startswith(",", pos):
                pos = _WS.match(doc, pos + 1).end()
                continue
            if doc.startswith("}", pos):
                return pos + 1
            raise SpliceError(f"expected ',' or '}}' at offset {pos}")
    if ch == "[":
        pos = _WS.match(doc, pos + 1).end()
        if doc.startswith("]", pos):
            return pos + 1
        index = 0
        while True:
            pos = _walk(doc, pos, path + (index,), wanted, prefixes, spans)
            index += 1
            pos = _WS.match(doc, pos).end()
            if doc.startswith(",", pos):
                pos = _WS.match(doc, pos + 1).end()
                continue
            if doc.startswith("]", pos):
                return pos + 1
            raise SpliceError(f"expected ',' or ']' at offset {pos}")
    return _DECODER.raw_decode(doc, pos)[1]


def encode_string(text: str) -> str:
    """A JSON string literal for `text`; raises for text that cannot travel as UTF-8."""
    literal = json.dumps(text, ensure_ascii=False)
    literal.encode("utf-8")  # lone surrogates cannot be sent: fail here, not upstream
    return literal


def splice(doc: str, replacements: list[Replacement]) -> str:
    """Return `doc` with each replacement's string value swapped in, nothing else changed."""
    if not replacements:
        return doc
    if len({r.path for r in replacements}) != len(replacements):
        raise SpliceError("two replacements for the same path")
    spans = find_string_spans(doc, [r.path for r in replacements])
    edits = sorted(((spans[r.path], encode_string(r.text)) for r in replacements), key=lambda e: e[0][0])
    out: list[str] = []
    cursor = 0
    for (start, end), literal in edits:
        out.append(doc[cursor:start])
        out.append(literal)
        cursor = end
    out.append(doc[cursor:])
    return "".join(out)
