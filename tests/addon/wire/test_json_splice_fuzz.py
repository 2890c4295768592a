"""Property-based fuzzing of json_splice.splice (hypothesis, bounded and derandomized).

Random JSON documents, written by a serializer of our own that records where every string
literal and every container's closing bracket sits, with random whitespace, escapes
(`\\/`, `\\uXXXX`, surrogate pairs, upper/lower hex), number spellings and duplicate keys.
Random Replacement / Append / AddMember edits must give a document that parses to the original
with exactly those edits applied, and whose bytes outside the replaced literals and the
inserted members are the input's, verbatim. The byte check walks the result against the
serializer's own record, so it does not lean on json_splice's span finder.
"""

from __future__ import annotations

import copy
import json
import random
import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, event, given, settings
from hypothesis import strategies as st

from addon.wire.json_splice import AddMember, Append, Edit, Path, Replacement, SpliceError, splice

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # reproducible in CI: the same examples every run
    database=None,  # no .hypothesis/ directory in the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a failure is reported as found, not shrunk for minutes
)

_WS = " \t\n\r"

# The generators leave out inputs that hit the bugs the xfail tests at the end pin down; once
# those are fixed (the xfails then XPASS and fail, being strict), drop this and the xfails.
SKIP_KNOWN_BUGS = True


# --- documents: a tree that may hold duplicate keys, and its json.loads value ------------------


@dataclass(frozen=True)
class Obj:
    """A JSON object as written: members in order, duplicate keys allowed (the last one wins)."""

    members: tuple[tuple[str, Any], ...]


def _value(node: Any) -> Any:
    """What json.loads makes of a node."""
    if isinstance(node, Obj):
        out: dict[str, Any] = {}
        for key, child in node.members:
            out[key] = _value(child)
        return out
    if isinstance(node, list):
        return [_value(child) for child in node]
    return node


def _written_paths(node: Any, path: Path = ()) -> list[tuple[Path, Any]]:
    """Every (path, node) as written, shadowed duplicates included."""
    out = [(path, node)]
    if isinstance(node, Obj):
        for key, child in node.members:
            out += _written_paths(child, path + (key,))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            out += _written_paths(child, path + (index,))
    return out


def _live_paths(value: Any, path: Path = ()) -> list[tuple[Path, Any]]:
    """Every (path, value) of a decoded document, the root included."""
    out = [(path, value)]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _live_paths(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _live_paths(child, path + (index,))
    return out


# Strings that exercise every escape: quotes, backslashes, controls, '/', non-ASCII, astral
# characters (a surrogate pair under \u escapes), JS line separators, and lone surrogates (only
# in the original document, where they must be written escaped).
_chars = st.one_of(
    st.characters(exclude_categories=["Cs"]),  # replacements must travel as UTF-8
    st.sampled_from('"\\/\b\f\n\r\t\x00\x1f\x7fé中😀\u2028\u2029'),
)
texts = st.text(_chars, max_size=12)
lone_surrogates = st.characters(categories=["Cs"])
original_texts = st.one_of(texts, st.tuples(texts, lone_surrogates, texts).map("".join))
keys = st.one_of(st.sampled_from(["a", "b", "k", "é", "/", ""]), texts)  # small pool: duplicates happen
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    original_texts,
)


def _containers(children: st.SearchStrategy[Any], min_size: int = 0) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, min_size=min_size, max_size=5),
        st.lists(st.tuples(keys, children), min_size=min_size, max_size=5).map(lambda m: Obj(tuple(m))),
    )


nodes = st.recursive(scalars, _containers, max_leaves=20)
documents = st.one_of(_containers(nodes, min_size=1), nodes)  # mostly a container at the top, as bodies are


# --- the serializer: random spellings, with a record of where things are ----------------------


@dataclass
class Written:
    doc: str
    strings: dict[Path, tuple[int, int]]  # [start, end) of each string literal, quotes included
    closers: dict[Path, tuple[int, bool]]  # index of each container's closing bracket, and whether it has no members


class Writer:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ensure_ascii = rng.random() < 0.5
        self.escape_share = rng.choice([0.0, 0.0, 0.1, 0.5])  # how often a plain character is \u-escaped
        self.slash_share = rng.choice([0.0, 0.5, 1.0])  # how often '/' is written '\/'
        self.upper_hex = rng.random() < 0.5
        self.ws_share = rng.choice([0.0, 0.3, 1.0])  # how often a gap gets whitespace
        self.parts: list[str] = []
        self.length = 0
        self.strings: dict[Path, tuple[int, int]] = {}
        self.closers: dict[Path, tuple[int, bool]] = {}

    def emit(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text)

    def ws(self) -> None:
        if self.rng.random() < self.ws_share:
            self.emit("".join(self.rng.choice(_WS) for _ in range(self.rng.randint(1, 4))))

    def u_escape(self, code: int) -> str:
        digits = f"{code:04X}" if self.upper_hex else f"{code:04x}"
        return "\\u" + digits

    def literal(self, text: str) -> str:
        out = ['"']
        short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
        for ch in text:
            code = ord(ch)
            if ch == "/":
                out.append("\\/" if self.rng.random() < self.slash_share else "/")
            elif ch in short and self.rng.random() >= self.escape_share:
                out.append(short[ch])
            elif 0xD800 <= code <= 0xDFFF or code < 0x20 or ch in short:
                out.append(self.u_escape(code))  # lone surrogates and controls: always escaped
            elif code > 0xFFFF:  # astral: a surrogate pair of escapes, or the character itself
                if self.ensure_ascii or self.rng.random() < self.escape_share:
                    code -= 0x10000
                    out.append(self.u_escape(0xD800 + (code >> 10)) + self.u_escape(0xDC00 + (code & 0x3FF)))
                else:
                    out.append(ch)
            elif (code > 0x7F and self.ensure_ascii) or self.rng.random() < self.escape_share:
                out.append(self.u_escape(code))
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)

    def number(self, value: int | float) -> str:
        if isinstance(value, float):
            return self.rng.choice([repr(value), "%.17e" % value, "%.17E" % value])
        if value == 0:
            return self.rng.choice(["0", "-0"])
        return str(value)

    def write(self, node: Any, path: Path) -> None:
        if isinstance(node, Obj):
            self.emit("{")
            self.ws()
            for n, (key, child) in enumerate(node.members):
                if n:
                    self.emit(",")
                    self.ws()
                self.emit(self.literal(key))
                self.ws()
                self.emit(":")
                self.ws()
                self.write(child, path + (key,))
                self.ws()
            self.closers[path] = (self.length, not node.members)
            self.emit("}")
        elif isinstance(node, list):
            self.emit("[")
            self.ws()
            for n, child in enumerate(node):
                if n:
                    self.emit(",")
                    self.ws()
                self.write(child, path + (n,))
                self.ws()
            self.closers[path] = (self.length, not node)
            self.emit("]")
        elif isinstance(node, str):
            start = self.length
            self.emit(self.literal(node))
            self.strings[path] = (start, self.length)  # a later duplicate key overwrites: last wins
        elif node is None or isinstance(node, bool):
            self.emit(json.dumps(node))
        else:
            self.emit(self.number(node))


def write(node: Any, rng: random.Random) -> Written:
    w = Writer(rng)
    w.ws()
    w.write(node, ())
    w.ws()
    return Written("".join(w.parts), w.strings, w.closers)


def test_the_writer_writes_json() -> None:
    rng = random.Random(7)
    node = Obj((("a", "x/\"y\"\n😀\ud800"), ("b", [1.5, 0, -(10**20), None, True]), ("a", Obj(()))))
    for _ in range(50):
        written = write(node, rng)
        assert json.loads(written.doc) == {"a": {}, "b": [1.5, 0, -(10**20), None, True]}
        start, end = written.strings[("a",)]
        assert json.loads(written.doc[start:end]) == "x/\"y\"\n😀\ud800"


# --- edits and what they should do -------------------------------------------------------------


inserted_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), texts),
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(texts, children, max_size=3)),
    max_leaves=6,
)


def _set(document: Any, path: Path, value: Any) -> Any:
    if not path:
        return value
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return document


def _get(document: Any, path: Path) -> Any:
    for step in path:
        document = document[step]
    return document


def expected_after(value: Any, edits: list[Edit]) -> Any:
    """The decoded document after the edits, as json.loads will see it: replacements first, then
    insertions deepest container first (an AddMember that repeats a key overrides the member,
    edits inside it included), in the order given within one container."""
    out = copy.deepcopy(value)
    for edit in edits:
        if isinstance(edit, Replacement):
            out = _set(out, edit.path, edit.text)
    insertions = [e for e in edits if not isinstance(e, Replacement)]
    for edit in sorted(insertions, key=lambda e: -len(e.path)):  # sorted() is stable
        container = _get(out, edit.path)
        if isinstance(edit, Append):
            container.append(json.loads(edit.literal))
        else:
            container[edit.key] = json.loads(edit.literal)
    return out


_WS_AT = re.compile(r"[ \t\n\r]*")


def check_bytes(written: Written, result: str, edits: list[Edit]) -> None:
    """Walk `result` against the input: every byte outside the replaced literals and the inserted
    members is the input's, each replaced literal decodes to its new text, and each container
    edited gets exactly its new elements or members before its closing bracket."""
    doc = written.doc
    events: list[tuple[int, int, Any]] = []  # (start, end) in doc, edit(s)
    for edit in edits:
        if isinstance(edit, Replacement):
            start, end = written.strings[edit.path]
            events.append((start, end, edit))
    grouped: dict[Path, list[Edit]] = {}
    for edit in edits:
        if not isinstance(edit, Replacement):
            grouped.setdefault(edit.path, []).append(edit)
    for path, group in grouped.items():
        close, _ = written.closers[path]
        events.append((close, close, group))
    events.sort(key=lambda e: (e[0], e[1]))
    decoder = json.JSONDecoder()
    pos_doc = pos_out = 0
    for start, end, what in events:
        gap = doc[pos_doc:start]
        assert result[pos_out : pos_out + len(gap)] == gap, (doc, result, pos_doc, pos_out)
        pos_out += len(gap)
        if isinstance(what, Replacement):
            assert result[pos_out] == '"'
            text, pos_out = json.decoder.scanstring(result, pos_out + 1, True)
            assert text == what.text
        else:
            _, empty = written.closers[what[0].path]
            for n, edit in enumerate(what):
                if n or not empty:
                    pos_out = _WS_AT.match(result, pos_out).end()
                    assert result[pos_out] == ",", (doc, result, pos_out)
                    pos_out = _WS_AT.match(result, pos_out + 1).end()
                if isinstance(edit, AddMember):
                    assert result[pos_out] == '"'
                    key, pos_out = json.decoder.scanstring(result, pos_out + 1, True)
                    assert key == edit.key
                    pos_out = _WS_AT.match(result, pos_out).end()
                    assert result[pos_out] == ":"
                    pos_out = _WS_AT.match(result, pos_out + 1).end()
                value, pos_out = decoder.raw_decode(result, pos_out)
                assert value == json.loads(edit.literal)
            pos_out = _WS_AT.match(result, pos_out).end()
        pos_doc = end
    assert result[pos_out:] == doc[pos_doc:], (doc, result)


@st.composite
def spliced_cases(draw: st.DrawFn) -> tuple[Written, Any, list[Edit]]:
    node = draw(documents)
    rng = draw(st.randoms(use_true_random=False))
    written = write(node, rng)
    value = _value(node)
    live = _live_paths(value)
    strings = [p for p, v in live if isinstance(v, str)]
    if SKIP_KNOWN_BUGS:  # test_a_string_after_a_non_string_duplicate_can_be_replaced
        shadowed_non_strings = {p for p, n in _written_paths(node) if not isinstance(n, str)}
        strings = [p for p in strings if p not in shadowed_non_strings]
    containers = [(p, v) for p, v in live if isinstance(v, (list, dict))]
    edits: list[Edit] = []
    for path in draw(st.lists(st.sampled_from(strings), unique=True, min_size=1, max_size=5)) if strings else []:
        edits.append(Replacement(path, draw(texts)))
    chosen = st.lists(st.sampled_from(containers), unique_by=lambda c: c[0], min_size=0 if edits else 1, max_size=3)
    for path, container in draw(chosen) if containers else []:
        for _ in range(draw(st.integers(1, 2))):
            literal = json.dumps(draw(inserted_values), ensure_ascii=draw(st.booleans()))
            if isinstance(container, list):
                edits.append(Append(path, literal))
            else:
                edits.append(AddMember(path, draw(st.one_of(st.sampled_from(sorted(container) or ["a"]), texts)), literal))
    event(f"edits: {len(edits)}")
    event("duplicate keys" if len(_written_paths(node)) != len(live) else "no duplicate keys")
    return written, value, draw(st.permutations(edits))


@FUZZ
@given(spliced_cases())
def test_random_edits_change_only_their_targets(case: tuple[Written, Any, list[Edit]]) -> None:
    written, value, edits = case
    assert json.loads(written.doc) == value  # the generator is sound
    result = splice(written.doc, edits)
    if not edits:
        assert result is written.doc
        return
    assert json.loads(result) == expected_after(value, edits)
    check_bytes(written, result, edits)
    result.encode("utf-8")  # lone surrogates of the input are escaped: the result travels as UTF-8
    # Splicing the same replacements into the result changes nothing more.
    replacements = [e for e in edits if isinstance(e, Replacement)]
    if replacements and len(replacements) == len(edits):
        assert splice(result, replacements) == result


@st.composite
def bad_targets(draw: st.DrawFn) -> tuple[str, Any, Edit]:
    node = draw(documents)
    written = write(node, draw(st.randoms(use_true_random=False)))
    value = _value(node)
    live = _live_paths(value)
    kind = draw(st.sampled_from(["not a string", "missing", "append to non-list", "member of non-object", "shadowed"]))
    shadowed = [p for p, n in _written_paths(node) if isinstance(n, str) and p not in dict(live)]
    if kind == "shadowed" and not shadowed:
        kind = "missing"
    event(f"bad target: {kind}")
    if kind == "shadowed":  # a string only under a duplicate key that json.loads drops
        edit: Edit = Replacement(draw(st.sampled_from(shadowed)), "x")
    elif kind == "not a string":
        candidates = [p for p, v in live if not isinstance(v, str)]
        edit = Replacement(draw(st.sampled_from(candidates)) if candidates else ("nope",), "x")
    elif kind == "missing":
        base = draw(st.sampled_from([p for p, _ in live]))
        edit = Replacement(base + (draw(st.one_of(st.integers(0, 6), keys)),), "x")
        try:
            if isinstance(_get(value, edit.path), str):
                edit = Replacement(base + ("\x00missing",), "x")
        except (KeyError, IndexError, TypeError):
            pass
    elif kind == "append to non-list":
        candidates = [p for p, v in live if not isinstance(v, list)]
        edit = Append(draw(st.sampled_from(candidates)) if candidates else ("nope",), "1")
    else:
        candidates = [p for p, v in live if not isinstance(v, dict)]
        edit = AddMember(draw(st.sampled_from(candidates)) if candidates else ("nope",), "k", "1")
    return written.doc, value, edit


@FUZZ
@given(bad_targets())
def test_edits_at_the_wrong_kind_of_value_raise_splice_error(case: tuple[str, Any, Edit]) -> None:
    doc, value, edit = case
    try:
        target = _get(value, edit.path)
    except (KeyError, IndexError, TypeError):
        target = None  # nothing there
    else:
        # a duplicate key can hide the generated wrong-kind value behind a later string (json
        # keeps the last): then the edit is not at the wrong kind of value, so not this property's
        assume(not (isinstance(edit, Replacement) and isinstance(target, str)))
    try:
        result = splice(doc, [edit])
    except SpliceError:
        return
    raise AssertionError(f"splice accepted {edit!r} on {doc!r}: {result!r}")


# --- bugs found by the fuzzing, pinned as minimal examples -------------------------------------


@pytest.mark.xfail(
    strict=True,
    raises=SpliceError,
    reason="BUG addon/wire/json_splice.py:112 (_walk_value): a duplicate key whose earlier value is not a "
    "string raises 'value at (...) is not a string' although json.loads keeps the later, string value",
)
def test_a_string_after_a_non_string_duplicate_can_be_replaced() -> None:
    doc = '{"a":null,"a":""}'
    assert json.loads(doc) == {"a": ""}
    assert splice(doc, [Replacement(("a",), "x")]) == '{"a":null,"a":"x"}'
