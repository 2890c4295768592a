"""A small HTML tree built on the standard library's tokenizer, with the implied end tags of
HTML (an open `<p>` ends at the next block, `<li>` at the next `<li>`, `<td>` at the next cell).

BeautifulSoup's "html.parser" builder nests such unclosed elements inside each other, which
turns valid HTML like `<li>one<li>two` or `<td>a<td>b` into deep, wrong trees; it also takes
about twice as long to build its richer tree, of which a reader view needs nothing but names,
attributes, children and text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser

VOID = frozenset(
    "area base basefont bgsound br col embed frame hr img input keygen link meta param source track wbr".split()
)
# Start tags that close an open <p> (HTML's "closes a p element in button scope").
_CLOSES_P = frozenset(
    "address article aside blockquote center details dialog dir div dl fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hgroup hr li dd dt main menu nav ol p pre section summary table ul".split()
)
_SCOPE = frozenset("html table td th caption object template button marquee applet".split())
_HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
_HEAD_ONLY = frozenset("title meta link style script base noscript template".split())
# tag -> (open tags it ends, tags that bound the search)
_IMPLIED: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "li": (frozenset({"li"}), frozenset({"ul", "ol", "menu", "dir"}) | _SCOPE),
    "dt": (frozenset({"dt", "dd"}), frozenset({"dl"}) | _SCOPE),
    "dd": (frozenset({"dt", "dd"}), frozenset({"dl"}) | _SCOPE),
    "tr": (frozenset({"tr", "td", "th"}), frozenset({"table", "thead", "tbody", "tfoot"})),
    "td": (frozenset({"td", "th"}), frozenset({"tr", "table"})),
    "th": (frozenset({"td", "th"}), frozenset({"tr", "table"})),
    "thead": (frozenset({"thead", "tbody", "tfoot", "tr", "td", "th"}), frozenset({"table"})),
    "tbody": (frozenset({"thead", "tbody", "tfoot", "tr", "td", "th"}), frozenset({"table"})),
    "tfoot": (frozenset({"thead", "tbody", "tfoot", "tr", "td", "th"}), frozenset({"table"})),
    "option": (frozenset({"option"}), frozenset({"select", "datalist", "optgroup"})),
    "optgroup": (frozenset({"option", "optgroup"}), frozenset({"select"})),
    "a": (frozenset({"a"}), _SCOPE),
}


class Node:
    """An element: name, attributes (first value wins, bare attributes are ""), children
    (elements and strings) and parent."""

    __slots__ = ("name", "attrs", "children", "parent")

    def __init__(self, name: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.name = name
        self.attrs = attrs
        self.children: list[Node | str] = []
        self.parent = parent

    def __repr__(self) -> str:
        return f"<{self.name} {self.attrs}>"

    def get(self, key: str) -> str | None:
        """An attribute's value, or None."""
        return self.attrs.get(key)

    def elements(self) -> list[Node]:
        """The element children."""
        return [c for c in self.children if type(c) is Node]

    def iter(self) -> list[Node]:
        """All descendant elements in document order (not self)."""
        out: list[Node] = []
        stack = list(reversed(self.elements()))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.elements()))
        return out

    def walk(self) -> Iterator[Node]:
        """iter(), lazily: a search that stops at its first hit does not list the whole subtree."""
        stack = list(reversed(self.elements()))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.elements()))

    def find_all(self, names: frozenset[str] | set[str]) -> list[Node]:
        """Descendant elements with one of the names, in document order."""
        return [n for n in self.iter() if n.name in names]

    def has_ancestor(self, names: frozenset[str] | set[str]) -> bool:
        """Whether an enclosing element has one of the names."""
        node = self.parent
        while node is not None:
            if node.name in names:
                return True
            node = node.parent
        return False

    def strings(self) -> list[str]:
        """All text below this element, in order."""
        out: list[str] = []
        stack: list[Node | str] = list(reversed(self.children))
        while stack:
            item = stack.pop()
            if type(item) is str:
                out.append(item)
            else:
                stack.extend(reversed(item.children))  # type: ignore[union-attr]
        return out

    def text(self, sep: str = "") -> str:
        """The text below this element joined with `sep`."""
        return sep.join(self.strings())

    def text_len(self) -> int:
        """Characters of text below, not counting surrounding whitespace of each string."""
        return sum(len(s.strip()) for s in self.strings())

    def text_lengths(self) -> dict[int, int]:
        """text_len() of this element and every descendant, by id(), in one pass."""
        lengths: dict[int, int] = {}
        order = [self, *self.iter()]
        for node in reversed(order):  # children before parents
            total = 0
            for child in node.children:
                total += len(child.strip()) if type(child) is str else lengths[id(child)]  # type: ignore[union-attr]
            lengths[id(node)] = total
        return lengths

    def remove(self) -> None:
        """Detach this element from its parent."""
        if self.parent is not None:
            self.parent.children = [c for c in self.parent.children if c is not self]
            self.parent = None


def remove_all(nodes: list[Node]) -> None:
    """Detach every node from its parent, each parent's children rebuilt once (removing
    them one by one costs a pass over the siblings each: quadratic for thousands of them)."""
    gone: dict[int, set[int]] = {}
    parents: dict[int, Node] = {}
    for node in nodes:
        if node.parent is not None:
            gone.setdefault(id(node.parent), set()).add(id(node))
            parents[id(node.parent)] = node.parent
            node.parent = None
    for key, parent in parents.items():
        ids = gone[key]
        parent.children = [c for c in parent.children if type(c) is not Node or id(c) not in ids]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.stack: list[Node] = [self.root]
        self.open = Counter[str]()  # open elements by name, so most scope searches are skipped
        # Stack indexes of the open elements, by name (ascending): scope searches look these up
        # instead of walking the stack, which is as deep as the unclosed elements are many.
        self.at: dict[str, list[int]] = {}

    def _push(self, node: Node) -> None:
        self.at.setdefault(node.name, []).append(len(self.stack))
        self.stack.append(node)
        self.open[node.name] += 1

    def _pop_to(self, index: int) -> None:
        for node in self.stack[index:]:
            self.open[node.name] -= 1
            self.at[node.name].pop()  # the highest index of its name: it is above the rest
        del self.stack[index:]

    def _close_implied(self, tag: str) -> None:
        if tag in _CLOSES_P:
            self._close_in_scope(frozenset({"p"}), _SCOPE)
        if tag in _HEADINGS and self.stack[-1].name in _HEADINGS:
            self._pop_to(len(self.stack) - 1)
        rule = _IMPLIED.get(tag)
        if rule:
            self._close_in_scope(*rule)
        if tag not in _HEAD_ONLY and self.open["head"]:
            self._close_in_scope(frozenset({"head"}), frozenset())

    def _close_in_scope(self, targets: frozenset[str], boundary: frozenset[str]) -> None:
        """Close the outermost open target below the nearest boundary (a new <tr> closes the
        open <tr>, not just the <td> inside it)."""
        if not any(self.open[name] for name in targets):
            return
        # The nearest boundary below the top, then the lowest target above it: what walking
        # the stack down from the top finds, stopping at a boundary (a name in both is a target).
        floor = max((self.at[name][-1] for name in boundary if self.open[name] and name not in targets), default=0)
        found = 0
        for name in targets:
            positions = self.at.get(name)
            if positions and positions[-1] > floor:
                first = positions[bisect_right(positions, floor)]
                found = first if not found else min(found, first)
        if found:
            self._pop_to(found)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._close_implied(tag)
        node = Node(tag, _attr_dict(attrs), self.stack[-1])
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self._push(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._close_implied(tag)
        self.stack[-1].children.append(Node(tag, _attr_dict(attrs), self.stack[-1]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "br":  # `</br>` is read as `<br>`
            self.handle_startendtag("br", [])
            return
        if not self.open[tag]:
            return
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].name == tag:
                self._pop_to(i)
                return

    def handle_data(self, data: str) -> None:
        children = self.stack[-1].children
        if children and type(children[-1]) is str:
            children[-1] += data  # type: ignore[operator]
        else:
            children.append(data)


def _attr_dict(attrs: list[tuple[str, str | None]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in attrs:
        if key not in out:
            out[key] = "" if value is None else value
    return out


class Unparseable(ValueError):
    """HTML the standard tokenizer fails on, or would take quadratic time over."""


# The standard tokenizer (html.parser, in Python 3.11 at least) searches from each opener
# that never closes to the end of the text: each `<!--` after the last `-->`, each `<![` after the
# last `]>`, each tag opener after the last `>` (thousands of them: minutes). Past this many
# characters searched in all, the text is not parsed (callers fall back to other treatments).
MAX_UNCLOSED_SCAN = 20_000_000
_COMMENT_CLOSE = re.compile(r"--\s*>")
_SECTION_CLOSE = re.compile(r"\]\s*>")
_TAG_OPENER = re.compile(r"<[A-Za-z!/?]")


def _unclosed_scan(html: str) -> int:
    """About how many characters the tokenizer would search for closers that are not there."""
    total = 0
    for opener, closer in (("<!--", _COMMENT_CLOSE), ("<![", _SECTION_CLOSE)):
        first = html.find(opener)
        if first < 0:
            continue
        last_close = -1
        for last_close_match in closer.finditer(html, first):
            last_close = last_close_match.start()
        start = max(first, last_close - len(opener) + 1)  # openers from here on find no closer
        if (count := html.count(opener, start)) > 0:
            total += count * (len(html) - html.find(opener, start))
    last_gt = html.rfind(">") + 1
    if openers := sum(1 for _ in _TAG_OPENER.finditer(html, last_gt)):
        total += openers * (len(html) - last_gt)
    return total


def parse(html: str) -> Node:
    """The document tree of `html` (a `#document` node); raises `Unparseable` (only) for text
    the tokenizer rejects or would take quadratic time over."""
    if _unclosed_scan(html) > MAX_UNCLOSED_SCAN:
        raise Unparseable("too many unclosed comments, sections or tags to tokenize in linear time")
    builder = _Builder()
    try:
        builder.feed(html)
        builder.close()
    except AssertionError as error:  # html.parser asserts on some input (`<![foo[`)
        raise Unparseable(str(error)) from error
    return builder.root
