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
from typing import Any

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


@dataclass(frozen=True)
class Append:
    """Append the JSON `literal` as the last element of the array at `path`."""

    path: Path
    literal: str


@dataclass(frozen=True)
class AddMember:
    """Add the member `key: literal` as the last member of the object at `path`."""

    path: Path
    key: str
    literal: str


@dataclass(frozen=True)
class ReplaceElement:
    """Replace the array element at `path` with the JSON `literals`, in order (one at least):
    one part becoming several (a video becoming its frames). Indices after it shift in the
    output; every path of a splice names the document as it came in."""

    path: Path
    literals: tuple[str, ...]


Edit = Replacement | Append | AddMember | ReplaceElement


def find_string_spans(doc: str, paths: list[Path]) -> dict[Path, tuple[int, int]]:
    """Return the [start, end) source span (quotes included) of the string at each path.

    Only containers on the way to a wanted path are walked in Python; every other subtree is
    skipped with the C decoder, so large bodies cost little beyond one pass of C code.
    """
    return find_spans(doc, paths, [])


def find_spans(doc: str, string_paths: list[Path], value_paths: list[Path]) -> dict[Path, tuple[int, int]]:
    """Spans of the strings at `string_paths` and of the values (any type) at `value_paths`."""
    wanted = {p: True for p in value_paths}
    wanted.update({p: False for p in string_paths})
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
    wanted: dict[Path, bool],
    prefixes: set[Path],
    spans: dict[Path, tuple[int, int]],
) -> int:
    """Walk the value starting at `pos` (no leading whitespace); return its end."""
    if wanted.get(path):  # any value: its whole span (walked into when edits lie inside it)
        end = _walk_value(doc, pos, path, wanted, prefixes, spans) if path in prefixes else _DECODER.raw_decode(doc, pos)[1]
        spans[path] = (pos, end)
        return end
    return _walk_value(doc, pos, path, wanted, prefixes, spans)


def _walk_value(
    doc: str,
    pos: int,
    path: Path,
    wanted: dict[Path, bool],
    prefixes: set[Path],
    spans: dict[Path, tuple[int, int]],
) -> int:
    if wanted.get(path) is False:  # a string to replace
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


def value_at(document: Any, path: Path) -> Any:
    """The value at a path of a parsed document; raises (KeyError, IndexError, TypeError)
    where the path leads nowhere."""
    for step in path:
        document = document[step]
    return document


def encode_string(text: str) -> str:
    """A JSON string literal for `text`; raises for text that cannot travel as UTF-8."""
    literal = json.dumps(text, ensure_ascii=False)
    literal.encode("utf-8")  # lone surrogates cannot be sent: fail here, not upstream
    return literal


def splice(doc: str, edits: list[Edit]) -> str:
    """Return `doc` with the edits applied and nothing else changed: string values swapped,
    array elements and object members appended before the closing bracket, an array element's
    span replaced by its new elements."""
    if not edits:
        return doc
    replacements = [e for e in edits if isinstance(e, Replacement)]
    elements = [e for e in edits if isinstance(e, ReplaceElement)]
    containers = [e for e in edits if isinstance(e, Append | AddMember)]
    if len({r.path for r in replacements}) != len(replacements):
        raise SpliceError("two replacements for the same path")
    grouped: dict[Path, list[Append | AddMember]] = {}
    for edit in containers:  # several insertions into one container go in, in order
        grouped.setdefault(edit.path, []).append(edit)
    if len({e.path for e in elements}) != len(elements) or any(not e.literals or not e.path or not isinstance(e.path[-1], int) for e in elements):
        raise SpliceError("an element replacement needs one array index, once, and at least one literal")
    spans = find_spans(doc, [r.path for r in replacements], list(grouped) + [e.path for e in elements])
    changes: list[tuple[int, int, str]] = [(*spans[r.path], encode_string(r.text)) for r in replacements]
    changes += [(*spans[e.path], ",".join(e.literals)) for e in elements]
    for path, group in grouped.items():
        start, end = spans[path]
        kinds = {type(edit) for edit in group}
        opener, closer = ("[", "]") if kinds == {Append} else ("{", "}")
        if len(kinds) > 1 or doc[start] != opener or doc[end - 1] != closer:
            raise SpliceError(f"value at {path} is not {'an array' if opener == '[' else 'an object'}")
        empty = not doc[start + 1 : end - 1].strip()
        elements = ",".join(e.literal if isinstance(e, Append) else f"{encode_string(e.key)}:{e.literal}" for e in group)
        changes.append((end - 1, end - 1, elements if empty else "," + elements))
    changes.sort(key=lambda c: (c[0], c[1]))
    out: list[str] = []
    cursor = 0
    for start, end, literal in changes:
        if start < cursor:
            raise SpliceError("overlapping edits")
        out.append(doc[cursor:start])
        out.append(literal)
        cursor = end
    out.append(doc[cursor:])
    return "".join(out)
