"""Listings for the search compressor: `ls -l`, `ls -R`, find/fd paths, tree, plain `ls`.

The parsers give each line its group (the directory it is listed in) for search_results to cap
and fold. `ls -l` is handled whole here: its metadata columns are mostly alike and the names
are what a model needs, so entries whose date or owner stands out (files the agent just
created) or that mention the query stay whole, and runs of ordinary entries fold into a note
that still names every entry (directories end in `/`, links in `@`): only permissions, sizes
and dates are lost.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from compressors.lines import Keep, Note, Selection
from compressors.notes import fold_note
from compressors.relevance import mentions

TAG = re.compile(r"^</?[a-z_]+>|</?[a-z_]+>$")  # agent wrappers such as <output_head>
TREE = re.compile(r"^((?:[│|]\s{2,3}|\s{4})*)(?:[├└]──|[|`]--) (.*)$")
LS_HEADER = re.compile(r"^(?:\.{0,2}/|/|~|\w)[^\t]*:$")
_NOISE_DIR = re.compile(r"(^|/)(__pycache__|node_modules|\.git|\.tox|\.venv|build|dist|target|[^/]*\.egg-info)(/|$)")

# type+mode, links, owner, group, size (or "major, minor"), date, name
_LONG = re.compile(
    r"^([dlcbps-])[rwxsStT-]{9}[.@+]?\s+\d+\s+(\S+)\s+(\S+)\s+(\d[\d,.]*[KMGTP]?(?:,\s*\d+)?)\s+"
    r"(\w{3}\s+\d{1,2}\s+(?:\d{4}|\d{1,2}:\d\d)|"  # Oct 24  2024, Nov 19 00:10
    r"\d{4}-\d\d-\d\d(?: \d\d:\d\d(?::\d\d(?:\.\d+)?)?)?(?: [+-]\d{4})?)\s(.*)$"  # --time-style=long-iso/full-iso
)
MIN_RUN = 4  # shorter runs of ordinary `ls -l` entries stay as they are


@dataclass(frozen=True)
class Entry:
    """One parsed `ls -l` line."""

    kind: str  # d, l, -, ...
    owner: str
    date: str
    name: str

    def short(self) -> str:
        """The name as the note lists it: `dir/`, `link@`, `file`."""
        if self.kind == "d":
            return self.name + "/"
        if self.kind == "l":
            return self.name.split(" -> ", 1)[0] + "@"
        return self.name


def parse_entry(line: str) -> Entry | None:
    """An `ls -l` line's type, owner, date and name; None for other lines."""
    m = _LONG.match(line)
    if not m:
        return None
    return Entry(m.group(1), m.group(2), " ".join(m.group(5).split()), m.group(6))


def is_long_listing(lines: list[str]) -> bool:
    """Whether most non-blank lines are `ls -l` entries."""
    body = [line for line in lines if line.strip()]
    return len(body) >= MIN_RUN and sum(bool(_LONG.match(line)) for line in body) >= 0.6 * len(body)


def select_long_listing(lines: list[str], terms: frozenset[str]) -> Selection:
    """Keep unusual and query-relevant entries and every other line; fold ordinary entries
    into notes that list their names."""
    entries = [parse_entry(line) for line in lines]
    parsed = [e for e in entries if e]
    common_date = Counter(e.date for e in parsed).most_common(1)[0][0] if parsed else ""
    common_owner = Counter(e.owner for e in parsed).most_common(1)[0][0] if parsed else ""

    def ordinary(i: int) -> bool:
        e = entries[i]
        return bool(e) and e.date == common_date and e.owner == common_owner and not mentions(lines[i], terms)

    selection: Selection = []
    i, n = 0, len(lines)
    while i < n:
        j = i
        while j < n and ordinary(j) == ordinary(i):
            j += 1
        if ordinary(i) and j - i >= MIN_RUN:
            names = " ".join(e.short() for e in entries[i:j] if e)
            selection.append(Note(fold_note(j - i, "item", names), i, j))
        elif selection and isinstance(selection[-1], Keep):
            selection[-1] = Keep(selection[-1].start, j)
        else:
            selection.append(Keep(i, j))
        i = j
    return selection


# --- other listings --------------------------------------------------------------------------


@dataclass
class Layout:
    """Each line's group (a file or directory; None for blanks and `--`, kept when beside kept
    lines), the lines that head a group, and lines always kept."""

    group: list[str | None]
    unit: str  # what a folded member line is called
    listing: bool  # whole groups may fold (a listing); grep keeps a line of every file
    headers: dict[int, str] = field(default_factory=dict)
    always: set[int] = field(default_factory=set)
    context: set[int] = field(default_factory=set)  # grep context lines (not matches)
    depth: dict[str, int] = field(default_factory=dict)


def structure(layout: Layout, lines: list[str], i: int) -> bool:
    """Whether line i is a blank, a `--` separator or an agent tag (tags are always kept)."""
    line = lines[i]
    if not line.strip() or line == "--":
        return True
    if TAG.search(line) or line.endswith("characters elided"):
        layout.always.add(i)
        return True
    return False


def is_ls_header(lines: list[str], i: int) -> bool:
    """Whether line i is an `ls -R` directory line (`./dir:` after a blank line)."""
    previous = lines[i - 1] if i else ""
    return bool(LS_HEADER.match(lines[i])) and (not previous.strip() or previous.endswith(">"))


def parse_ls_recursive(lines: list[str]) -> Layout:
    """`ls -R`: a `dir:` line heads the names under it, up to a blank line."""
    layout = Layout([None] * len(lines), "item", listing=True)
    current = ""
    for i, line in enumerate(lines):
        if structure(layout, lines, i):
            continue
        if is_ls_header(lines, i):
            current = line[:-1]
            layout.headers[i] = current
            layout.depth[current] = current.count("/") + _noise(current)
        layout.group[i] = current
    layout.depth.setdefault("", -1)
    return layout


def parse_paths(lines: list[str]) -> Layout:
    """find/fd: one path per line, grouped by parent directory."""
    layout = Layout([None] * len(lines), "path", listing=True)
    for i, line in enumerate(lines):
        if structure(layout, lines, i):
            continue
        if ": " in line:  # "find: './x': Permission denied" and other messages
            layout.always.add(i)
            continue
        path = line.rstrip("/")
        parent = path.rsplit("/", 1)[0] if "/" in path else "."
        layout.group[i] = parent
        layout.depth[parent] = parent.count("/") + _noise(parent)
    for i, line in enumerate(lines):  # a directory's own line heads its entries
        if layout.group[i] is not None and (path := line.rstrip("/")) in layout.depth:
            layout.headers[i] = path
            layout.group[i] = path
    return layout


def parse_tree(lines: list[str]) -> Layout:
    """tree: entries grouped under the directory line above them (by indentation)."""
    layout = Layout([None] * len(lines), "item", listing=True)
    stack: list[tuple[str, int]] = []  # (name, line) of the directories above
    root = ""
    for i, line in enumerate(lines):
        if structure(layout, lines, i):
            continue
        m = TREE.match(line)
        if not m:
            if not stack and not root:
                root = line  # the tree's root, e.g. "."
            layout.always.add(i)  # the root and "12 directories, 40 files"
            continue
        level = len(m.group(1)) // 4
        del stack[level:]
        parent = "/".join([root, *(name for name, _ in stack)]).strip("/")
        if stack:
            layout.headers[stack[-1][1]] = parent
            layout.group[stack[-1][1]] = parent
        stack.append((m.group(2), i))
        layout.group[i] = parent
        layout.depth[parent] = level + _noise(parent)
    return layout


def _noise(path: str) -> int:
    """Build output and caches rank after everything else (as if ten levels deeper)."""
    return 10 if _NOISE_DIR.search(path) else 0


def parse_flat(lines: list[str], unit: str) -> Layout:
    """Anything else (a plain `ls`, one file's matches without numbers): one group."""
    layout = Layout([None] * len(lines), unit, listing=True)
    for i, line in enumerate(lines):
        if structure(layout, lines, i):
            continue
        if line.startswith("total ") and line[6:].strip().isdigit():
            layout.always.add(i)
            continue
        layout.group[i] = ""
    layout.depth[""] = 0
    return layout
