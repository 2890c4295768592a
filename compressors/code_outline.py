"""Source code: keep the outline of a large file, fold function bodies.

A model reading a big source file mostly needs its shape: imports, type and class headers,
signatures with their decorators, the first line of each docstring, module-level constants.
Function bodies are folded into a note each (`[… 23 lines folded: body of parse_args]`), except
lines that use the request's words, raise/report errors or hold a string literal (a message, an
endpoint, a config key: what the model quotes or edits from next), which stay; the router puts line
numbers back on kept lines, so the gaps say exactly which lines a note stands for. A body is
kept whole when it is short, when its function or class is named in the request, and where the
parse has errors (fail safe).

Only whole-file reads of at least MIN_LINES lines are outlined. Smaller files, and ranges the
model picked (`sed -n`, Read's offset/limit, SWE-agent's window), are returned whole: an agent
must be able to Edit what it read, and a range it asked for is what it wants to see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Node

from compressors.code_languages import (
    LANGUAGES,
    LanguageSpec,
    language_of,
    parser_for,
    path_from_context,
    prepare_source,
)
from compressors.lines import Keep, Note, Selection
from compressors.notes import fold_note
from compressors.relevance import is_error_line, mentions, query_terms
from compressors.types import Context

MIN_LINES = 200  # shorter files are returned whole (corpus: 100 and 200 both kept every needle)
MIN_FOLD = 2  # a shorter run between kept lines of a body is kept too
SHORT_BODY = 6  # bodies of at most this many lines are kept: a note would save little
# Fold nothing unless at least this share of the characters goes. Claude Code training sessions:
# 0.2 -> 0.1 took source Reads from 27.2% to 31.5% fewer tokens at the same needles (Go files
# full of message literals save 10-20%); 0 lost a needle.
MIN_SAVING = 0.1

# SWE-agent's `open` numbers lines as `123:code`; a `sed`-filtered `nl -ba` keeps `   12\tcode`
# but with gaps, which the router does not strip. Parse the code under such prefixes.
_PREFIX = re.compile(r"^(\d+:| *\d+\t)")
# mini-swe-agent's truncated-output envelope (`<output_head>`…`<elided_chars>`…
# `<output_tail>`), which the router does not unwrap.
_ENVELOPE_LINE = re.compile(r"^(</?(returncode|warning|output|output_head|output_tail|elided_chars)>)+")
_OPENING_TAG = re.compile(r"<(output|output_head|output_tail)>\s*$")  # code follows it
# Tool arguments that ask for part of a file (Claude Code Read's offset/limit, view ranges).
_RANGE_ARGS = ("offset", "limit", "view_range", "line_range", "start_line", "end_line")
# SWE-agent shows a 100-line window the model moves itself.
_WINDOW_TOOLS = frozenset({"open", "goto", "scroll_up", "scroll_down"})
# A shell command that prints one whole file, and nothing else.
_WHOLE_FILE_COMMAND = re.compile(r"^\s*(cat|nl|bat|batcat|less|more)(\s+-[-\w=]+)*\s+[^\s|;&<>]+\s*$")
# Codex-style tools run `["bash", "-lc", "cat x.py"]`.
_SHELL_WRAPPER = re.compile(r"^\s*(ba|z)?sh\s+-\w*c\s+")
# Node types that define a type or a module; their name in the query keeps them whole.
_TYPE_DEFINITION = re.compile(r"class|struct|interface|impl|trait|enum|record|object|module|protocol")
_BARE_QUOTES = re.compile(r"^\s*[rRuUbBfF]{0,2}(\"\"\"|'''|\"|')\s*$")
# (name field, value field) pairs that bind an anonymous function to a name.
_BINDINGS = (("name", "value"), ("key", "value"), ("property", "value"), ("left", "right"))
_NAME_SPLIT = re.compile(r"[./:#\-]+")
# A quoted string of 3+ characters on one line. On Claude Code's sessions (training split) these
# lines held 12 of the 15 needles that whole-file source Reads lost when their bodies folded.
_STRING_LITERAL = re.compile(r"""(["'`])(?:(?!\1).){3,}\1""")
_IDENTIFIER_TYPES = ("identifier", "simple_identifier", "field_identifier", "property_identifier", "name", "constant")


def select_code(
    lines: list[str], context: Context, *, min_lines: int | None = None, short_body: int | None = None, keep_literals: bool = True
) -> Selection:
    """Keep a source file's outline and fold long function bodies not named in the query;
    a file under `min_lines` lines (default MIN_LINES), or one in no language we parse, is
    kept whole. `keep_literals`: body lines holding a string literal stay."""
    if not lines:
        return []
    whole: Selection = [Keep(0, len(lines))]
    if len(lines) < (MIN_LINES if min_lines is None else min_lines) or not is_whole_file_read(context):
        return whole
    code, barriers = _code_view(lines)
    text = "\n".join(code)
    path = path_from_context(context, lines)
    language = language_of(path, text)
    if language is None:
        return whole
    source = prepare_source(language, text.encode("utf-8", "surrogatepass"))
    tree = parser_for(language).parse(source)
    short = SHORT_BODY if short_body is None else short_body
    names = _name_terms(query_terms(context.query))
    outline = _Outline(code, source, LANGUAGES[language], names, short, barriers, keep_literals)
    outline.visit(tree.root_node)
    if not outline.folds:
        return whole
    selection = _selection(lines, outline.folds)
    return selection if _saving(lines, selection) >= MIN_SAVING else whole


def is_whole_file_read(context: Context) -> bool:
    """Whether the text is a whole file as read, not a part the model picked (a `sed -n`
    range, a Read with offset/limit, grep context): a part it asked for is what it wants."""
    if any(context.tool_args.get(name) not in (None, "", 0) for name in _RANGE_ARGS):
        return False
    if (context.tool_name or "").lower() in _WINDOW_TOOLS:
        return False
    command = _SHELL_WRAPPER.sub("", context.command).strip("'\"")
    return not command or _WHOLE_FILE_COMMAND.match(command) is not None


def _code_view(lines: list[str]) -> tuple[list[str], frozenset[int]]:
    """The lines as the parser should see them, row for row (line-number prefixes removed,
    envelope lines blanked), and the envelope rows, which no fold may cross: the text on
    either side of an `<elided_chars>` cut does not belong together. Only parsing uses this
    view; kept lines are the originals."""
    barriers = _envelope_rows(lines)
    numbered = sum(1 for line in lines if _PREFIX.match(line))
    strip = numbered >= 0.8 * sum(1 for line in lines if line.strip())
    view: list[str] = []
    for row, line in enumerate(lines):
        m = _PREFIX.match(line) if strip else None
        if row in barriers or (strip and not m):
            view.append("")
        else:
            view.append(line[m.end() :] if m else line)
    return view, barriers


def _envelope_rows(lines: list[str]) -> frozenset[int]:
    """Rows of mini-swe-agent's truncated-output envelope: `<returncode>` to `<output_head>`,
    `</output_head>` to `<output_tail>`, and the closing tags."""
    if not lines[0].startswith("<returncode>"):
        return frozenset()
    rows: set[int] = set()
    inside = True
    for row, line in enumerate(lines):
        tag = _ENVELOPE_LINE.match(line)
        if inside or tag:
            rows.add(row)
        if tag:
            inside = _OPENING_TAG.search(line) is None
    return frozenset(rows)


def _name_terms(terms: frozenset[str]) -> frozenset[str]:
    """Query terms and their dotted/path parts (`unittest.TestCase` also gives `testcase`):
    on the corpus, matching the parts kept 3 more of 115 needles in whole-file reads."""
    parts = {part for term in terms for part in _NAME_SPLIT.split(term) if len(part) >= 4}
    return terms | parts


@dataclass(frozen=True)
class _Fold:
    start: int  # first folded row
    end: int  # one past the last folded row
    name: str


@dataclass
class _Outline:
    """Walks a syntax tree and collects the function bodies to fold."""

    lines: list[str]  # the parser's view of the lines
    source: bytes  # what was parsed
    spec: LanguageSpec
    names: frozenset[str]  # the request's words and their parts: definitions and lines using them stay
    short_body: int
    barriers: frozenset[int]  # rows no fold may cross
    keep_literals: bool = True  # body lines holding a string literal stay
    folds: list[_Fold] = field(default_factory=list)

    def visit(self, root: Node) -> None:
        """Look for foldable functions under `root` (single-line nodes hold none). Iterative:
        a deeply nested input must not hit Python's recursion limit."""
        stack = [root]
        while stack:
            for child in stack.pop().named_children:
                if child.end_point.row == child.start_point.row:
                    continue
                kind = child.type
                if kind in self.spec.functions:
                    self.function(child, _definition_name(child))
                elif kind in self.spec.anonymous:
                    name = _binding_name(child)
                    if name is not None or not self.has_nested_function(child):
                        self.function(child, name or _callback_label(child))
                    else:
                        stack.append(child)
                elif not (_TYPE_DEFINITION.search(kind) and self.named_in_query(_type_name(child))):
                    stack.append(child)  # (a class the user named is kept whole)

    def function(self, node: Node, name: str) -> None:
        """Fold a function's body unless it is short, named in the query, or misparsed."""
        if node.has_error or self.named_in_query(name) or self.crosses_barrier(node):
            return
        body = _body(node)
        if body is None:
            return
        first, last = self.body_rows(node, body)
        if last - first + 1 <= self.short_body:
            return
        # Lines that use the request's words or raise/report errors stay: on the corpus they
        # are what the model cites next (with them, no needle of a whole-file read was lost).
        run = first
        for row in range(first, last + 2):
            if row == last + 1 or self.keeps_line(self.lines[row]):
                if row - run >= MIN_FOLD:
                    self.folds.append(_Fold(run, row, name))
                run = row + 1

    def keeps_line(self, line: str) -> bool:
        """Whether a line inside a folded body stays."""
        return mentions(line, self.names) or is_error_line(line) or (self.keep_literals and _STRING_LITERAL.search(line) is not None)

    def body_rows(self, node: Node, body: Node) -> tuple[int, int]:
        """The rows a fold of `body` covers: inside the braces, or the indented block after
        the signature (less a docstring's first line and trailing dedented comments)."""
        start, end = body.start_point.row, body.end_point.row
        if self.source[body.start_byte : body.start_byte + 1] == b"{":
            return start + 1, (end - 1 if self.source[body.end_byte - 1 : body.end_byte] == b"}" else end)
        first = start if start > node.start_point.row else start + 1
        docstring = _docstring(body) if self.spec.grammar == "python" else None
        if docstring is not None and docstring.start_point.row == first:
            # its first line, and the next when the first holds only the quotes
            bare = _BARE_QUOTES.match(self.lines[first]) and docstring.end_point.row > first
            first += 2 if bare else 1
        indent = _indent(self.lines[node.start_point.row])
        last = end
        while last >= first and self.lines[last].lstrip().startswith("#") and _indent(self.lines[last]) <= indent:
            last -= 1
        return first, last

    def crosses_barrier(self, node: Node) -> bool:
        """Whether an envelope line lies inside the node (its text was cut by the agent)."""
        return any(node.start_point.row <= row <= node.end_point.row for row in self.barriers)

    def has_nested_function(self, node: Node) -> bool:
        """Whether a multi-line function is defined anywhere inside `node`'s body."""
        body = _body(node)
        stack = list(body.named_children) if body is not None else []
        kinds = self.spec.functions | self.spec.anonymous
        while stack:
            child = stack.pop()
            if child.end_point.row - child.start_point.row > 1:
                if child.type in kinds:
                    return True
                stack.extend(child.named_children)
        return False

    def named_in_query(self, name: str) -> bool:
        """Whether the user's request names this definition."""
        if not name or not self.names:
            return False
        lower = name.lower()
        return lower in self.names or _NAME_SPLIT.split(lower)[-1] in self.names


def _body(node: Node) -> Node | None:
    body = node.child_by_field_name("body")
    if body is not None:
        return body
    for child in reversed(node.named_children):  # grammars without a `body` field (Kotlin)
        if child.type.endswith("body") or child.type == "block":
            return child
    return None


def _docstring(block: Node) -> Node | None:
    first = block.named_children[0] if block.named_child_count else None
    if first is not None and first.type == "expression_statement" and first.named_child_count == 1:
        first = first.named_children[0]
    return first if first is not None and first.type == "string" else None


def _definition_name(node: Node) -> str:
    """The declared name: a `name` field, or the innermost `declarator` (C, C++)."""
    current: Node | None = node
    while current is not None:
        name = current.child_by_field_name("name")
        if name is not None:
            return _text(name)
        current = current.child_by_field_name("declarator")
        if current is not None and current.type in (*_IDENTIFIER_TYPES, "qualified_identifier", "destructor_name"):
            return _text(current)
    for child in node.named_children:  # grammars without fields (Kotlin)
        if child.type in _IDENTIFIER_TYPES or child.type == "type_identifier":
            return _text(child)
    return ""


def _type_name(node: Node) -> str:
    """A class-like definition's name (`impl` blocks name their type)."""
    name = node.child_by_field_name("name") or node.child_by_field_name("type")
    return _text(name) if name is not None else ""


def _binding_name(node: Node) -> str | None:
    """The name an anonymous function is bound to (`const f = () => {…}`, `f: function …`)."""
    parent = node.parent
    if parent is None:
        return None
    for target_field, value_field in _BINDINGS:
        target = parent.child_by_field_name(target_field)
        if target is not None and parent.child_by_field_name(value_field) == node:
            return _text(target)
    return None


def _callback_label(node: Node) -> str:
    """`describe(…) callback`: names an anonymous function by the call it is passed to."""
    call = node.parent
    if call is not None and call.type in ("arguments", "argument_list"):
        call = call.parent
    if call is None:
        return "callback"
    callee = call.child_by_field_name("function") or call.child_by_field_name("method")
    return f"{_text(callee)[:40]}(…) callback" if callee is not None else "callback"


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace").split("\n", 1)[0]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _selection(lines: list[str], folds: list[_Fold]) -> Selection:
    """Notes for the folds, Keeps between them."""
    selection: Selection = []
    position = 0
    for fold in sorted(folds, key=lambda f: f.start):
        if fold.start > position:
            selection.append(Keep(position, fold.start))
        detail = f"body of {fold.name}" if fold.name else "function body"
        selection.append(Note(fold_note(fold.end - fold.start, "line", detail), fold.start, fold.end))
        position = fold.end
    if position < len(lines):
        selection.append(Keep(position, len(lines)))
    return selection


def _saving(lines: list[str], selection: Selection) -> float:
    """The share of characters a selection removes."""
    total = sum(len(line) + 1 for line in lines)
    removed = 0
    for item in selection:
        if isinstance(item, Note):
            removed += sum(len(lines[i]) + 1 for i in range(item.start, item.end)) - len(item.text) - 1
    return removed / total if total else 0.0
