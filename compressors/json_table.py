"""Arrays of similar objects as a lossless table: the keys once, one JSON row per item.

    table items: 3 items as rows of (id, login, plan.name)
    constant in all 3 items: {type: "User", site_admin: false}
    [1,"alice","pro"]
    [2,"bob","free"]
    {"id":3,"login":"carol"}

The header names the columns (a nested object that has the same keys in every item becomes
dotted columns such as `plan.name`; a key that is not a plain name is written as a JSON
string); a column with one value in every item moves to the `constant` line; each row is a
JSON array of the other columns' values, so strings, numbers, null and booleans stay exact;
an item with other keys is written whole as a JSON object. An array of arrays of such objects
(`N lists of M items in all`) writes one list of rows per line; an object whose values are
such objects (`N entries as rows of ([key], ...)`) starts each row with the entry's key.
`decode` reads the form back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from compressors.json_values import dumps, is_simple_name, name_text, value_key

MIN_SHARE = 0.5  # the commonest key set must cover at least this share of the items
MAX_FLATTEN = 2  # nested objects flatten into dotted columns this many levels deep
MIN_CONSTANT_ROWS = 3  # with fewer rows a "constant" line costs more than it saves
MIN_ENTRIES = 3  # an object needs this many same-shaped values to become a keyed table
KEY_COLUMN = "[key]"


@dataclass(frozen=True)
class Column:
    """One column: the key path inside each item and the values over the rows."""

    path: tuple[str, ...]
    values: list[Any]

    @property
    def name(self) -> str:
        return ".".join(self.path) if len(self.path) > 1 else name_text(self.path[0])


@dataclass(frozen=True)
class Table:
    """An array laid out as rows: `lines[i]` says how item i is written."""

    count: int  # items (or lists of items, when grouped)
    rows: int  # rows over all items
    grouped: bool
    columns: tuple[Column, ...]  # the varying columns, in header order
    constants: tuple[Column, ...]  # columns with one value in every row
    spans: tuple[tuple[int, int] | None, ...]  # per line: its rows [a, b), None for an object line
    items: list[Any]
    keys: tuple[str, ...] | None = None  # entry keys, for an object of similar objects

    def header(self, path: str) -> str:
        """The table's first line."""
        prefix = f"table {path}: " if path else ""
        names = ", ".join([KEY_COLUMN] * (self.keys is not None) + [column.name for column in self.columns])
        if self.keys is not None:
            return f"{prefix}{self.count:,} entries as rows of ({names})"
        if self.grouped:
            return f"{prefix}{self.count:,} lists of {self.rows:,} items in all, as rows of ({names})"
        return f"{prefix}{self.count:,} items as rows of ({names})"

    def constant_line(self, render=dumps) -> str | None:
        """The line of constant columns, if any."""
        if not self.constants:
            return None
        pairs = ", ".join(f"{column.name}: {render(column.values[0])}" for column in self.constants)
        return f"constant in all {self.rows:,} items: {{{pairs}}}"

    def row(self, index: int) -> list[Any]:
        """The varying values of row `index`, in header order."""
        return [column.values[index] for column in self.columns]

    def line_text(self, line: int, render=dumps) -> str:
        """How item `line` is written: a row, a list of rows, or the whole object."""
        span = self.spans[line]
        if self.keys is not None:
            key = self.keys[line]
            return render({key: self.items[line]}) if span is None else render([key, *self.row(span[0])])
        if span is None:
            return render(self.items[line])
        if self.grouped:
            return "[" + ",".join(render(self.row(r)) for r in range(*span)) + "]"
        return render(self.row(span[0]))

    def lines(self, path: str) -> list[str]:
        """The whole table, lossless."""
        out = [self.header(path)]
        if (constant := self.constant_line()) is not None:
            out.append(constant)
        if self.grouped or self.keys is not None:
            out.extend(self.line_text(i) for i in range(self.count))
        else:
            columns = [column.values for column in self.columns]
            row_texts = [dumps(list(row)) for row in zip(*columns)] if columns else []
            for i, span in enumerate(self.spans):
                out.append(dumps(self.items[i]) if span is None else row_texts[span[0]] if columns else "[]")
        return out


def find_table(value: Any) -> Table | None:
    """The table form of an array of similar objects (or of lists of them), None otherwise."""
    if type(value) is not list or len(value) < 2:
        return None
    kind = type(value[0])
    if kind is dict:
        return _object_table(value)
    if kind is list:
        return _grouped_table(value)
    return None


def find_keyed_table(value: Any) -> Table | None:
    """The table form of an object whose values are similar objects (a lock file's packages)."""
    if type(value) is not dict or len(value) < MIN_ENTRIES:
        return None
    table = _object_table(list(value.values()), MIN_ENTRIES)
    if table is None:
        return None
    return Table(table.count, table.rows, False, table.columns, table.constants, table.spans, table.items, tuple(value))


def _object_table(items: list[Any], least: int = 2) -> Table | None:
    shapes: dict[tuple[str, ...], int] = {}
    for item in items:
        if type(item) is not dict:
            return None
        shape = tuple(item)
        shapes[shape] = shapes.get(shape, 0) + 1
    schema, count = max(shapes.items(), key=lambda pair: pair[1])  # first commonest on ties
    if not schema or count < least or count < MIN_SHARE * len(items):
        return None
    spans: list[tuple[int, int] | None] = []
    rows: list[dict] = []
    for item in items:
        if tuple(item) == schema:
            spans.append((len(rows), len(rows) + 1))
            rows.append(item)
        else:
            spans.append(None)
    return _build(items, rows, schema, spans, grouped=False)


def _grouped_table(items: list[Any]) -> Table | None:
    schema: tuple[str, ...] | None = None
    rows: list[dict] = []
    spans: list[tuple[int, int] | None] = []
    for group in items:
        if type(group) is not list:
            return None
        start = len(rows)
        for item in group:
            if type(item) is not dict or (schema is not None and tuple(item) != schema):
                return None
            schema = schema or tuple(item)
            rows.append(item)
        spans.append((start, len(rows)))
    if not schema or len(rows) < 2:
        return None
    return _build(items, rows, schema, spans, grouped=True)


def _build(items, rows, schema, spans, grouped) -> Table:
    columns: list[Column] = []
    for key in schema:
        _flatten((key,), [row[key] for row in rows], columns)
    varying, constants = [], []
    for column in columns:
        constant = len(rows) >= MIN_CONSTANT_ROWS and is_constant(column.values)
        (constants if constant else varying).append(column)
    return Table(len(items), len(rows), grouped, tuple(varying), tuple(constants), tuple(spans), items)


def is_constant(values: list[Any]) -> bool:
    """Whether every value is the same JSON value (1, 1.0 and true differ)."""
    first = values[0]
    if values.count(first) != len(values):  # fast, but 1 == 1.0 == True, so types follow
        return False
    kind = type(first)
    if kind is dict or kind is list:
        key = value_key(first)
        return all(value_key(v) == key for v in values)
    return all(type(v) is kind for v in values)


def _flatten(path: tuple[str, ...], values: list[Any], out: list[Column]) -> None:
    """Split a column of same-shaped objects into one column per key (dotted names)."""
    first = values[0]
    if len(path) <= MAX_FLATTEN and type(first) is dict and first and all(map(is_simple_name, path)):
        shape = tuple(first)
        if all(map(is_simple_name, shape)) and all(type(v) is dict and tuple(v) == shape for v in values):
            for key in shape:
                _flatten((*path, key), [v[key] for v in values], out)
            return
    out.append(Column(path, values))


# --- reading the form back ---------------------------------------------------------------

_HEADER = re.compile(
    r"^(?:table (?P<path>.+?): )?(?P<count>[\d,]+) "
    r"(?:items|(?P<entries>entries)|lists of (?P<rows>[\d,]+) items in all,) as rows of \((?P<names>.*)\)$"
)
_NAME = re.compile(r'"(?:[^"\\]|\\.)*"|\[key\]|[^,\s:{}]+')
_CONSTANT = re.compile(r"^constant in all [\d,]+ items: \{(?P<pairs>.*)\}$")
PLACEHOLDER = "<table {}>"


def _parse_name(text: str, pos: int) -> tuple[tuple[str, ...], int]:
    match = _NAME.match(text, pos)
    if match is None:
        raise ValueError(f"no column name at {text[pos:pos + 20]!r}")
    token = match.group(0)
    path = (json.loads(token),) if token.startswith('"') else tuple(token.split("."))
    return path, match.end()


def _parse_names(text: str) -> list[tuple[str, ...]]:
    names, pos = [], 0
    while pos < len(text):
        path, pos = _parse_name(text, pos)
        names.append(path)
        pos += 2 if text.startswith(", ", pos) else 0
    return names


def _parse_constants(text: str) -> list[tuple[tuple[str, ...], Any]]:
    decoder, pairs, pos = json.JSONDecoder(), [], 0
    while pos < len(text):
        path, pos = _parse_name(text, pos)
        value, pos = decoder.raw_decode(text, pos + 2)  # after ": "
        pairs.append((path, value))
        pos += 2 if text.startswith(", ", pos) else 0
    return pairs


def _set(target: dict, path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def _decode_table(header: re.Match, lines: list[str]) -> list[Any] | dict[str, Any]:
    names = _parse_names(header.group("names"))
    keyed = header.group("entries") is not None
    if keyed:
        names = names[1:]  # the [key] column
    constants: list[tuple[tuple[str, ...], Any]] = []
    if lines and (match := _CONSTANT.match(lines[0])):
        constants = _parse_constants(match.group("pairs"))
        lines = lines[1:]

    def build(row: list[Any]) -> dict:
        item: dict = {}
        for path, value in [*zip(names, row, strict=True), *constants]:
            _set(item, path, value)
        return item

    items: list[Any] = []
    for line in lines:
        value = json.loads(line)
        if header.group("rows"):
            items.append([build(row) for row in value])
        elif keyed:
            items.append(next(iter(value.items())) if line.startswith("{") else (value[0], build(value[1:])))
        else:
            items.append(value if line.startswith("{") else build(value))
    if len(items) != int(header.group("count").replace(",", "")):
        raise ValueError("row count differs from the header")
    return dict(items) if keyed else items


def decode(text: str) -> Any:
    """Rebuild the JSON value from a lossless compressed text (tables expanded).

    Key order inside rebuilt objects may differ from the input; JSON objects are unordered."""
    lines = text.split("\n")
    skeleton: Any = None
    if not _HEADER.match(lines[0]):
        skeleton = json.loads(lines[0])
        lines = lines[1:]
    tables: dict[str, Any] = {}
    starts = [i for i, line in enumerate(lines) if _HEADER.match(line)]
    for n, start in enumerate(starts):
        header = _HEADER.match(lines[start])
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        tables[header.group("path") or ""] = _decode_table(header, lines[start + 1 : end])
    if skeleton is None:
        return tables[""]
    return _fill(skeleton, tables)


def _fill(value: Any, tables: dict[str, Any]) -> Any:
    if type(value) is str and value.startswith("<table ") and value[7:-1] in tables:
        return tables[value[7:-1]]
    if type(value) is dict:
        return {k: _fill(v, tables) for k, v in value.items()}
    if type(value) is list:
        return [_fill(v, tables) for v in value]
    return value
