"""JSON tool output: lossless tables first, then lossy folding of predictable items.

1. An optional jmespath projection keeps only the fields asked for (a fold note says what
   went); where lossy forms are allowed, REST APIs' link fields go too (json_links).
2. Lossless: every array of similar objects becomes a table (json_table: keys once, one
   JSON row per item, constant fields on one line), the rest is minified. Numbers keep
   their source text.
3. Lossy, only when the lossless form is still large and saves too little: tables keep
   their first and last items and every outlier (json_lossy) and fold the rest with a
   count; long strings are shortened; large containers nested deeper than a few levels are
   summarised by their keys and size; long plain lists keep their ends and relevant items.
4. When nothing saves at least MIN_SAVING of the characters the text comes back unchanged;
   so does text that is not JSON (kind "json", lossless).

Output layout: the document as compact JSON, with each table replaced by the string
`"<table PATH>"` and written after it as `table PATH: N items as rows of (...)`; a document
that is itself an array of similar objects is just its table. A lossless output can be read
back with `json_table.decode`. Folds name the input's whole line range: a JSON fold stands
for items or characters, not for lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import jmespath

from compressors.json_links import without_api_links
from compressors.json_lossy import (
    HEAD_ITEMS,
    LONG_STRING,
    MAX_DEPTH,
    TAIL_ITEMS,
    Relevance,
    fold_detail,
    select_lines,
    shorten_string,
    shrink,
)
from compressors.json_table import PLACEHOLDER, Table, find_keyed_table, find_table
from compressors.json_values import RawNumber, Unparsed, dumps, is_simple_name, name_text, parse_json
from compressors.notes import fold_note
from compressors.types import Context, Fold, Result

KIND = "json"
MIN_SAVING = 0.2  # below this share of (estimated) tokens saved, the input is returned unchanged
LOSSY_MIN_CHARS = 4000  # a lossless form shorter than this is small enough to keep whole
LOSSLESS_ENOUGH = 0.8  # a lossless form that saves this share needs nothing lossy...
LOSSLESS_MAX_CHARS = 16000  # ...unless it is still longer than this
LOSSY_GAIN = 0.8  # the lossy form is used only when at most this share of the lossless one
LONG_LIST = 40  # plain (non-table) lists longer than this fold their middle when lossy
MAX_PROJECTION_NAMES = 8
SURE_TABLE = 50
# Tokens of JSON text ≈ 0.30 × chars + 0.66 × whitespace runs (o200k, fit on the corpus' API
# responses and their minified forms within ~4%): dropping the space after `,` and `:` saves
# a token each time, so minified JSON saves about twice as many tokens as characters. Past
# ESTIMATE_MAX_CHARS only characters are compared (big inputs are rarely near the threshold).
TOKENS_PER_CHAR, TOKENS_PER_SPACE_RUN = 0.30, 0.66
ESTIMATE_MAX_CHARS = 200_000
_SPACE_RUN = re.compile(r"\s+")


def compress_json(text: str, context: Context, projection: str | None = None, lossless_only: bool = False) -> Result:
    """Compress JSON text; `projection` is a jmespath expression applied first (lossy),
    `lossless_only` allows only the table form and minification."""
    unchanged = Result(text, KIND, True, ())
    try:
        document = parse_json(text)
        return _compress(text, document, context, projection, lossless_only) or unchanged
    except (Unparsed, RecursionError):  # not JSON, or nested too deep to walk
        return unchanged


def _compress(text: str, document: Any, context: Context, projection: str | None, lossless_only: bool) -> Result | None:
    """The compressed Result, or None when nothing saves enough."""
    lead: list[str] = []
    if projection and not lossless_only:
        projected = _project(document, projection)
        if projected is not None:
            document, note = projected
            lead.append(note)
    if not lossless_only:
        document, links = without_api_links(document)
        if links:
            names = ", ".join(name for name, _ in links.most_common(MAX_PROJECTION_NAMES))
            lead.append(fold_note(sum(links.values()), "API link field", f"{names}{', …' if len(links) > MAX_PROJECTION_NAMES else ''}"))
    cache: dict[int, tuple[Table, list[str]] | None] = {}  # the table form of each list, by id
    best = _render(document, True, None, cache)
    tables = not (best.placeholders & _placeholder_like(text, document))  # else ambiguous
    if not tables:
        best = _render(document, False, None, cache)
    if not lossless_only and _wants_lossy(len(best.text), len(text)):
        lossy = _render(document, tables, Relevance.from_query(context.query), cache)
        if len(lossy.text) <= LOSSY_GAIN * len(best.text):
            best = lossy
    output = "\n".join([*lead, best.text])
    if not _saves_enough(text.strip(), output):
        return None
    if text.endswith("\n"):
        output += "\n"
    notes = [*lead, *best.notes]
    last_line = text.rstrip("\n").count("\n") + 1
    return Result(output, KIND, not notes, tuple(Fold(1, last_line, note) for note in notes))


def _placeholder_like(text: str, document: Any) -> set[str]:
    """The input's strings that look like a table placeholder (`<table PATH>`)."""
    found: set[str] = set()
    if "<table " not in text and "\\u003ctable " not in text.lower():
        return found
    stack = [document]
    while stack:
        node = stack.pop()
        if type(node) is str and node.startswith("<table "):
            found.add(node)
        elif type(node) is dict:
            stack.extend(node.values())
        elif type(node) is list:
            stack.extend(node)
    return found


def _saves_enough(original: str, output: str) -> bool:
    """Whether `output` is at least MIN_SAVING smaller than `original`, in estimated tokens."""
    if len(output) <= (1 - MIN_SAVING) * len(original):
        return True
    if len(original) > ESTIMATE_MAX_CHARS:
        return False
    return _tokens(output) <= (1 - MIN_SAVING) * _tokens(original)


def _tokens(text: str) -> float:
    return TOKENS_PER_CHAR * len(text) + TOKENS_PER_SPACE_RUN * len(_SPACE_RUN.findall(text))


def _wants_lossy(lossless: int, original: int) -> bool:
    """Whether a lossless rendering of `lossless` chars is still too long for `original`."""
    if lossless <= LOSSY_MIN_CHARS:
        return False
    return lossless > LOSSLESS_MAX_CHARS or lossless > (1 - LOSSLESS_ENOUGH) * original


# --- projection --------------------------------------------------------------------------


def _project(document: Any, expression: str) -> tuple[Any, str] | None:
    """The projected document and its fold note; None when the expression fails or yields null."""
    try:
        result = _as_raw(jmespath.search(expression, _as_float(document)))
    except Exception:  # noqa: BLE001 - any failure (syntax, type) leaves the normal path
        return None
    if result is None:
        return None
    dropped = sorted(_keys(document) - _keys(result))
    expression = expression.replace("[", "(").replace("]", ")")  # a fold note holds no brackets
    if dropped:
        names = ", ".join(dropped[:MAX_PROJECTION_NAMES]) + (", …" if len(dropped) > MAX_PROJECTION_NAMES else "")
        return result, fold_note(len(dropped), "field", f"projected {expression}; left out {names}")
    removed = max(0, len(dumps(document)) - len(dumps(result)))
    return result, fold_note(removed, "char", f"projected {expression}")


class _Float(float):
    """A RawNumber as jmespath sees it: a number that remembers its text."""

    text: str


def _as_float(value: Any) -> Any:
    """The document with RawNumbers as floats, so jmespath filters and sorts compare them."""
    kind = type(value)
    if kind is RawNumber:
        number = _Float(float(value))
        number.text = value.text
        return number
    if kind is dict:
        return {k: _as_float(v) for k, v in value.items()}
    if kind is list:
        return [_as_float(v) for v in value]
    return value


def _as_raw(value: Any) -> Any:
    """A projection result with remembered numbers back as RawNumbers (exact text)."""
    kind = type(value)
    if kind is _Float:
        return RawNumber(value.text)
    if kind is dict:
        return {k: _as_raw(v) for k, v in value.items()}
    if kind is list:
        return [_as_raw(v) for v in value]
    return value


def _keys(value: Any, sample: int = 200) -> set[str]:
    """Object keys anywhere in a value (the first `sample` items of each list)."""
    found: set[str] = set()
    stack = [value]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            found.update(node)
            stack.extend(node.values())
        elif type(node) is list:
            stack.extend(node[:sample])
    return found


# --- rendering ---------------------------------------------------------------------------


@dataclass
class _Render:
    tables: bool
    relevance: Relevance | None  # None: lossless
    cache: dict[int, tuple[Table, list[str]] | None]
    sections: list[list[str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Rendered:
    """A rendering of a document and the fold notes it carries."""

    text: str
    notes: tuple[str, ...]
    placeholders: frozenset[str]


def _render(document: Any, tables: bool, relevance: Relevance | None, cache: dict) -> Rendered:
    state = _Render(tables, relevance, cache)
    skeleton = _walk(document, "", 0, state)
    if skeleton == PLACEHOLDER.format("") and len(state.sections) == 1:
        lines = state.sections[0]
    else:
        lines = [dumps(skeleton)] + [line for section in state.sections for line in section]
    placeholders = frozenset(PLACEHOLDER.format(path) for path in state.paths)
    return Rendered("\n".join(lines), tuple(state.notes), placeholders)


def _walk(value: Any, path: str, depth: int, state: _Render) -> Any:
    kind = type(value)
    if state.relevance is not None and depth > MAX_DEPTH and (kind is dict or kind is list):
        return shrink(value, depth, state.relevance, state.notes)
    if (kind is dict or kind is list) and state.tables and (lines := _table_lines(value, path, depth, state)):
        state.sections.append(lines)
        state.paths.append(path)
        return PLACEHOLDER.format(path)
    if kind is dict:
        return {key: _walk(item, _child(path, key), depth + 1, state) for key, item in value.items()}
    if kind is list:
        if state.relevance is not None and len(value) > LONG_LIST:
            return _fold_list(value, path, depth, state)
        return [_walk(item, f"{path}[{i}]", depth + 1, state) for i, item in enumerate(value)]
    if kind is str and state.relevance is not None and len(value) > LONG_STRING:
        return shorten_string(value, state.relevance, state.notes)
    return value


def _child(path: str, key: str) -> str:
    name = key if is_simple_name(key) else name_text(key)
    return f"{path}.{name}" if path else name


def _lossless_table(value: list | dict, path: str, cache: dict) -> tuple[Table, list[str]] | None:
    """The table form of a list (or object of objects) and its lines, when shorter than JSON."""
    if id(value) not in cache:
        table = find_table(value) if type(value) is list else find_keyed_table(value)
        lines = table.lines(path) if table is not None else []
        # Short arrays may not repay the header; past SURE_TABLE items, most of them share the
        # keys the table writes once, so it always does (and dumping the array would cost).
        if table is None or (len(value) <= SURE_TABLE and sum(len(line) + 1 for line in lines) >= len(dumps(value))):
            cache[id(value)] = None
        else:
            cache[id(value)] = (table, lines)
    return cache[id(value)]


def _table_lines(value: list | dict, path: str, depth: int, state: _Render) -> list[str] | None:
    """The lines of a list as a table (folded when lossy), None when it is not a table."""
    found = _lossless_table(value, path, state.cache)
    if found is None:
        return None
    table, lines = found
    if state.relevance is None:
        return lines
    body = lines[-table.count :]
    relevance, notes = state.relevance, state.notes

    def render(value: Any) -> str:
        return dumps(shrink(value, depth + 2, relevance, notes))

    keep = select_lines(table, body, relevance)
    out = [table.header(path)]
    if table.constants:
        out.append(table.constant_line(render))
    i = 0
    while i < table.count:
        j = i + 1
        while j < table.count and keep[j] == keep[i]:
            j += 1
        if keep[i] or j - i < 2:
            out.extend(table.line_text(k, render) if len(body[k]) > LONG_STRING else body[k] for k in range(i, j))
        else:
            note = fold_note(j - i, "item", fold_detail(table, i, j))
            notes.append(note)
            out.append(note)
        i = j
    return out


def _fold_list(value: list[Any], path: str, depth: int, state: _Render) -> list[Any]:
    """A long plain list in lossy mode: its ends and relevant items, the rest folded."""
    relevance = state.relevance
    assert relevance is not None
    n = len(value)
    keep = [i < HEAD_ITEMS or i >= n - TAIL_ITEMS or relevance.hit(dumps(item)) for i, item in enumerate(value)]
    out: list[Any] = []
    i = 0
    while i < n:
        j = i + 1
        while j < n and keep[j] == keep[i]:
            j += 1
        if keep[i] or j - i < 2:
            out.extend(_walk(value[k], f"{path}[{k}]", depth + 1, state) for k in range(i, j))
        else:
            note = fold_note(j - i, "item")
            state.notes.append(note)
            out.append(note)
        i = j
    return out
