"""Reader view of a web page: drop scripts, hidden and boilerplate blocks, keep the main content.

Everything removed is counted by category so the caller can announce it with a few fold notes.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from compressors.html_blocks import BlockPattern, replace_tags
from compressors.html_render import render_text
from compressors.html_tree import Node, parse, remove_all
from compressors.relevance import is_error_line

# Raw-text and non-content elements, cut out before parsing (the parser would only skip them,
# slower). Matched left to right, so a script inside a comment goes with the comment.
RAW_BLOCKS = re.compile(
    r"<!--(.*?)-->|<(script|style|noscript|iframe|template|svg)\b[^>]*(?<!/)>(.*?)</\2\s*>", re.S | re.I
)
# RAW_BLOCKS' finditer and sub in linear time (the regex alone is quadratic on unclosed blocks).
RAW = BlockPattern(RAW_BLOCKS, ("script", "style", "noscript", "iframe", "template", "svg"))
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_SPLIT = re.compile(r"[^a-z0-9]+")

# class/id words that mark site chrome, by note category.
NAV_WORDS = frozenset(
    "nav navbar navigation menu menubar submenu sidebar breadcrumb breadcrumbs footer toc skip skiplink "
    "pagination pager masthead topbar toolbar".split()
)
BOILER_WORDS = frozenset(
    "cookie cookies consent gdpr banner newsletter subscribe subscription signup share sharing social "
    "sharethis addthis popup modal promo advert advertisement ad ads sponsor sponsored related recommended".split()
)
# Compound spellings (cookieBanner, mainsidebar) that a word split misses.
_HINT_SUBSTRINGS = {
    "cookie": "boilerplate", "consent": "boilerplate", "newsletter": "boilerplate", "gdpr": "boilerplate",
    "breadcrumb": "navigation", "sidebar": "navigation", "navbar": "navigation",
}  # fmt: skip
_NAV_ROLES = frozenset("navigation banner contentinfo complementary search menu menubar".split())
_BOILER_ROLES = frozenset("dialog alertdialog".split())
_ALERT_CHARS = 400
_PROSE_CHARS = 600
_PROTECTED = frozenset("html body main article".split())
_CONTENT = frozenset(("main", "article"))
_CHROME_TAGS = frozenset(("nav", "aside", "header", "footer"))
_META_TAGS = frozenset("title meta link base".split())


@dataclass
class Dropped:
    """What a reader view removed: blocks and words per category, raw blocks per tag."""

    blocks: Counter = field(default_factory=Counter)
    words: Counter = field(default_factory=Counter)
    hints: Counter = field(default_factory=Counter)  # which class/id words triggered boilerplate folds
    raw: Counter = field(default_factory=Counter)  # script, style, svg, comment, ...
    raw_words: int = 0


@dataclass(frozen=True)
class Page:
    """The readable text of a page and what was dropped to get it."""

    text: str
    title: str
    dropped: Dropped


def strip_raw_blocks(html: str, dropped: Dropped) -> str:
    """Cut comments, scripts, styles, SVG, iframes and noscript out of the source, counting them."""

    def cut(match: re.Match) -> str:
        if match.group(2) is None:
            dropped.raw["comment"] += 1
            dropped.raw_words += len(match.group(1).split())
        else:
            tag = match.group(2).lower()
            dropped.raw[tag] += 1
            if tag == "noscript":
                dropped.raw_words += len(replace_tags(match.group(3), " ").split())
        return ""

    return RAW.sub(cut, html)


def read_page(html: str, base_host: str = "") -> Page:
    """The main content of an HTML document as compact text, with what was dropped."""
    dropped = Dropped()
    document = parse(strip_raw_blocks(html, dropped))
    elements = document.iter()
    titles = [n for n in elements if n.name == "title"]
    title = " ".join(titles[0].text().split()) if titles else ""
    remove_all([node for node in elements if node.name in _META_TAGS])
    body = next((n for n in elements if n.name == "body"), document)
    remove_all(_droppable(body, body.text_lengths(), dropped))
    root = _main_root(body, body.text_lengths(), dropped)
    return Page(render_text(root, base_host), title, dropped)


def _droppable(body: Node, lengths: dict[int, int], dropped: Dropped) -> list[Node]:
    """The outermost hidden and boilerplate elements under body, counted into `dropped`."""
    total = lengths[id(body)]
    below = _Below.of(body, lengths)
    found: list[Node] = []
    # (element, whether it or an ancestor is main/article): has_ancestor() per element would
    # walk up the whole nesting each time.
    stack = [(body, body.name in _CONTENT or body.has_ancestor(_CONTENT))]
    while stack:
        node, in_content = stack.pop()
        for el in node.elements():
            category, hint = _category(el, in_content)
            if category is None or (category != "hidden" and _protects_content(el, lengths, total, hint is not None, below)):
                stack.append((el, in_content or el.name in _CONTENT))
                continue
            text = el.text(" ")
            if category != "hidden" and len(text) <= _ALERT_CHARS and is_error_line(text):
                continue  # an error banner ("Invalid API key") is what the model needs to see
            found.append(el)
            words = len(text.split())
            if words:
                dropped.blocks[category] += 1
                dropped.words[category] += words
                if hint and category == "boilerplate":
                    dropped.hints[hint] += 1
    return found


def _category(el: Node, in_content: bool | None = None) -> tuple[str | None, str | None]:
    """("hidden" | "navigation" | "boilerplate" | None, the class/id word that decided it);
    `in_content`: whether an ancestor of `el` is main/article (looked up when not given)."""
    attrs = el.attrs
    if "hidden" in attrs or attrs.get("aria-hidden") == "true":
        return "hidden", None
    style = attrs.get("style")
    if style and _HIDDEN_STYLE.search(style):
        return "hidden", None
    name = el.name
    if name in _CHROME_TAGS and (name in ("nav", "aside") or not (el.has_ancestor(_CONTENT) if in_content is None else in_content)):
        return "navigation", None
    classes = attrs.get("class") or ""
    ident = attrs.get("id") or ""
    if len(_SPLIT.split(ident)) > 3:
        ident = ""  # a slug made from a heading ("file-menu-shell-and-editor") names content
    if classes or ident:
        label = f"{classes} {ident}".lower()
        for word in _SPLIT.split(label):
            if word in NAV_WORDS:
                return "navigation", word
            if word in BOILER_WORDS:
                return "boilerplate", word
        for part, category in _HINT_SUBSTRINGS.items():
            if part in label:
                return category, part
    role = attrs.get("role")
    if role in _NAV_ROLES:
        return "navigation", None
    if role in _BOILER_ROLES:
        return "boilerplate", None
    return None, None


@dataclass
class _Below:
    """What the descendants of each element (by id) hold, gathered in one bottom-up pass:
    a main/article/role=main element, an <h1>, and the text chars of their links."""

    content: dict[int, bool]
    h1: dict[int, bool]
    link_chars: dict[int, int]

    @classmethod
    def of(cls, root: Node, lengths: dict[int, int]) -> _Below:
        below = cls({}, {}, {})
        for node in reversed([root, *root.iter()]):  # children before parents
            content = h1 = False
            links = 0
            for child in node.children:
                if type(child) is not Node:
                    continue
                key = id(child)
                content = content or below.content[key] or child.name in _CONTENT or child.attrs.get("role") == "main"
                h1 = h1 or below.h1[key] or child.name == "h1"
                links += below.link_chars[key] + (lengths.get(key, 0) if child.name == "a" else 0)
            below.content[id(node)], below.h1[id(node)], below.link_chars[id(node)] = content, h1, links
        return below


def _protects_content(el: Node, lengths: dict[int, int], total: int, by_hint: bool, below: _Below | None = None) -> bool:
    """Whether a would-be boilerplate block holds the page's content (a wrapper with a
    misleading class, a header that carries the article title)."""
    if el.name in _PROTECTED:
        return True
    below = below or _Below.of(el, lengths)
    if below.content[id(el)]:
        return True
    if below.h1[id(el)] and (by_hint or el.name == "header"):
        return True
    link_chars = below.link_chars[id(el)]
    if el.name in _CHROME_TAGS:
        return False  # <nav>, <aside>, a page <header>/<footer> say what they are
    chars = lengths[id(el)]
    if by_hint and chars >= _PROSE_CHARS and link_chars < 0.3 * chars:
        return True  # a class word on a block of prose is more likely a theme name than chrome
    return total > 0 and chars > 0.5 * total


def _main_root(body: Node, lengths: dict[int, int], dropped: Dropped) -> Node:
    """The element holding the main content: <main>/role=main, the biggest <article>, or the
    element that holds most of the text; `body` when none holds enough of it."""
    total = lengths[id(body)]
    if total == 0:
        return body
    elements = body.iter()
    mains = [n for n in elements if n.name == "main" or n.attrs.get("role") == "main"]
    articles = [n for n in elements if n.name == "article"]
    root: Node | None = None
    for candidates in (mains, articles):
        if candidates and root is None:
            best = max(candidates, key=lambda n: lengths[id(n)])
            root = best if lengths[id(best)] >= 0.5 * total else None
    if root is None:
        root = _densest(body, lengths, total)
    if root is not body:
        _count_outside(root, body, dropped)
    return root


def _densest(body: Node, lengths: dict[int, int], total: int) -> Node:
    """Descend from body while one child still holds 70% of all the text and what it leaves
    behind is small or mostly links (menus, link lists), not prose such as an introduction."""
    node = body
    while True:
        children = node.elements()
        if not children:
            return node
        best = max(children, key=lambda n: lengths[id(n)])
        if lengths[id(best)] < 0.7 * total:
            return node
        left = lengths[id(node)] - lengths[id(best)]
        left_links = sum(lengths[id(a)] for c in children if c is not best for a in c.iter() if a.name == "a")
        left_links += sum(lengths[id(c)] for c in children if c is not best and c.name == "a")
        if left > 0.05 * total and left_links < 0.5 * left:
            return node
        node = best


def _count_outside(root: Node, body: Node, dropped: Dropped) -> None:
    """Count the text-bearing blocks beside the path from body down to root."""
    node = root
    while node is not body and node.parent is not None:
        for sibling in node.parent.children:
            if sibling is not node:
                words = len(sibling.split()) if type(sibling) is str else len(sibling.text(" ").split())
                if words:
                    dropped.blocks["outside"] += 1
                    dropped.words["outside"] += words
        node = node.parent
