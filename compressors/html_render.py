"""Render a cleaned HTML tree as compact text with light markdown.

Headings become `#` lines, list items `- ` lines, tables pipe rows, `<pre>` a fenced block kept
exactly, links `[text](host/path)` with tracking parameters dropped. Whitespace outside `<pre>`
is collapsed the way a browser would collapse it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from compressors.html_tree import Node

_WS = re.compile(r"\s+")
_LANG = re.compile(r"\b(?:language|lang|highlight|brush:?)-?([A-Za-z][\w+#.-]*)")
_TRACKING = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|yclid|mc_cid|mc_eid|_ga|_gl|_hsenc|_hsmi|"
    r"igshid|ref_src|ref_url|spm|mkt_tok|trk|trkCampaign|si|oly_enc_id|oly_anon_id|vero_id|cmpid)$",
    re.IGNORECASE,
)

_PERMALINKS = frozenset(("¶", "#", "§", "🔗", "⚓", "link", "permalink"))
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Elements that start and end a line of their own.
BLOCKS = frozenset(
    "address article aside blockquote body center dd details dialog dir div dl dt fieldset figcaption figure "
    "footer form h1 h2 h3 h4 h5 h6 header hgroup hr li main menu nav ol p pre section summary table tbody "
    "td tfoot th thead tr ul caption legend".split()
)
_OPTION = frozenset(("option",))
_FORM_ATTRS = ("type", "name", "value", "placeholder", "action", "method")
_SKIP = frozenset("head script style noscript template svg iframe object embed canvas link meta base button".split())


@dataclass
class _Prefix:
    """A line prefix (list bullet, quote mark): `first` on the first line, `rest` after."""

    first: str
    rest: str
    used: bool = False


@dataclass
class Renderer:
    """Walks a tree and accumulates output lines; `base_host` is dropped from same-site links."""

    base_host: str = ""
    lines: list[str] = field(default_factory=list)
    _buf: list[str] = field(default_factory=list)
    _prefixes: list[_Prefix] = field(default_factory=list)
    _in_form: int = 0

    def render(self, node: Node) -> str:
        """The text of `node`'s content, lines joined with newlines."""
        self._children(node)
        self._flush()
        return "\n".join(self.lines).strip("\n")

    # -- line assembly -------------------------------------------------------------------
    def _prefix(self) -> str:
        parts = []
        for p in self._prefixes:
            parts.append(p.rest if p.used else p.first)
            p.used = True
        return "".join(parts)

    def _flush(self) -> None:
        if not self._buf:
            return
        line = _WS.sub(" ", "".join(self._buf)).strip()
        self._buf.clear()
        if line:
            self.lines.append(self._prefix() + line)

    def _raw_line(self, line: str) -> None:
        self._flush()
        self.lines.append(line)

    def _blank(self) -> None:
        self._flush()
        if self.lines and self.lines[-1] != "" and not self._prefixes:
            self.lines.append("")

    # -- tree walk -----------------------------------------------------------------------
    def _children(self, node: Node) -> None:
        for child in node.children:
            if type(child) is str:
                self._buf.append(child)
            else:
                self._element(child)  # type: ignore[arg-type]

    def _element(self, el: Node) -> None:
        name = el.name
        if name in _SKIP and not (name == "button" and self._in_form):
            return
        if name in HEADINGS:
            self._heading(el, HEADINGS[name])
        elif name == "pre":
            self._pre(el)
        elif name == "table":
            self._table(el)
        elif name in ("ul", "ol", "menu", "dir"):
            self._list(el, ordered=name == "ol")
        elif name == "blockquote":
            self._nested(el, _Prefix("> ", "> "))
        elif name == "dd":
            self._nested(el, _Prefix(": ", "  "))
        elif name == "br":
            self._flush()
        elif name == "a":
            self._link(el)
        elif name in ("code", "kbd", "samp", "tt"):
            self._code(el)
        elif name == "img":
            alt = _WS.sub(" ", el.get("alt") or "").strip()
            if len(alt) >= 3:
                self._buf.append(f" [image: {alt}] ")
        elif name in ("form", "input", "select", "textarea", "button"):
            self._form_element(el)
        elif name in BLOCKS:
            self._flush()
            self._children(el)
            self._flush()
        else:
            self._children(el)

    def _heading(self, el: Node, level: int) -> None:
        text = self._inline(el)
        if text:
            self._blank()
            self._raw_line(self._prefix() + "#" * level + " " + text)

    def _pre(self, el: Node) -> None:
        body = el.text()
        body = body[1:] if body.startswith("\n") else body  # HTML drops a newline right after <pre>
        body = body[:-1] if body.endswith("\n") else body
        if not body.strip():
            return
        fence = "```"
        while fence in body:
            fence += "`"
        self._raw_line(fence + _language(el))
        self.lines.extend(body.split("\n"))
        self.lines.append(fence)

    def _list(self, el: Node, ordered: bool) -> None:
        self._flush()
        number = _start(el)
        for item in el.children:
            if type(item) is str:
                if item.strip():
                    self._buf.append(item)
            elif item.name == "li":  # type: ignore[union-attr]
                bullet = f"{number}. " if ordered else "- "
                self._nested(item, _Prefix(bullet, " " * len(bullet)))  # type: ignore[arg-type]
                number += 1
            else:
                self._element(item)  # type: ignore[arg-type]
        self._flush()

    def _nested(self, el: Node, prefix: _Prefix) -> None:
        self._flush()
        self._prefixes.append(prefix)
        self._children(el)
        self._flush()
        self._prefixes.pop()

    def _link(self, el: Node) -> None:
        text = self._inline(el)
        href = shorten_href(el.get("href") or "", self.base_host)
        if not text or (not href and text in _PERMALINKS):
            return
        if not href or href == text or shorten_href(text, self.base_host) == href:
            self._buf.append(f" {text} " if _is_block_inside(el) else text)
        else:
            self._buf.append(f"[{text}]({href})")

    def _code(self, el: Node) -> None:
        text = _WS.sub(" ", el.text()).strip()
        if text:
            ticks = "``" if "`" in text else "`"
            self._buf.append(f"{ticks}{text}{ticks}")

    def _table(self, el: Node) -> None:
        rows = _rows(el)
        if rows is None:  # a layout table: its cells are ordinary blocks
            self._flush()
            for row in _own_rows(el):
                for cell in row:
                    self._flush()
                    self._children(cell)
                    self._flush()
            return
        self._flush()
        caption = next((c for c in el.elements() if c.name == "caption"), None)
        if caption is not None and (text := self._inline(caption)):
            self._raw_line(self._prefix() + text)
        for row in rows:
            cells = [text for cell in row for text in [self._inline(cell)] + [""] * (_span(cell) - 1)]
            if any(cells):
                self._raw_line(self._prefix() + "| " + " | ".join(cells) + " |")

    def _form_element(self, el: Node) -> None:
        name = el.name
        attrs = " ".join(f'{key}="{_WS.sub(" ", el.attrs[key])}"' for key in _FORM_ATTRS if key in el.attrs)
        if name == "form":
            self._raw_line(self._prefix() + f"[form {attrs}]".replace(" ]", "]"))
            self._in_form += 1
            self._children(el)
            self._in_form -= 1
            self._flush()
        elif name == "input":
            self._buf.append(f" [input {attrs}] ".replace(" ] ", "] "))
        elif name == "select":
            options = el.find_all(_OPTION)
            chosen = [o for o in options if "selected" in o.attrs]
            detail = f": {len(options)} options"
            if chosen:
                detail += ", selected " + ", ".join(f'"{_WS.sub(" ", o.text()).strip()}"' for o in chosen)
            self._buf.append(f" [select {attrs}{detail}] ")
        elif name == "textarea":
            self._buf.append(f" [textarea {attrs}] ".replace(" ] ", "] "))
            if el.text().strip():
                self._raw_line(el.text())
        else:  # button inside a form
            self._buf.append(f" [button: {self._inline(el)}] ")

    def _inline(self, el: Node) -> str:
        """`el`'s content on one line (links and code rendered, blocks joined by spaces)."""
        sub = Renderer(self.base_host, _in_form=self._in_form)
        sub._children(el)
        sub._flush()
        return " ".join(line.strip() for line in sub.lines if line.strip())


def _is_block_inside(el: Node) -> bool:
    return any(c.name in BLOCKS for c in el.elements())


def _span(cell: Node) -> int:
    """A cell's colspan (kept small: a bogus colspan="1000" must not blow up a row)."""
    value = cell.get("colspan") or "1"
    return min(int(value), 20) if value.isdigit() and int(value) > 0 else 1


def _start(el: Node) -> int:
    try:
        return int(el.get("start") or 1)
    except ValueError:
        return 1


def _language(pre: Node) -> str:
    """The code language named by a class on the block, its code child or its wrapper."""
    code = next((c for c in pre.elements() if c.name == "code"), None)
    candidates = [pre, code, pre.parent, pre.parent.parent if pre.parent else None]
    for node in candidates:
        if node is not None:
            match = _LANG.search(node.get("class") or "")
            if match and match.group(1).lower() not in ("default", "none", "text", "plaintext"):
                return match.group(1).lower()
    return ""


def _own_rows(table: Node) -> list[list[Node]]:
    """The rows of this table (not of tables nested in it), as lists of cells."""
    rows: list[list[Node]] = []
    stack = list(reversed(table.elements()))
    while stack:
        node = stack.pop()
        if node.name == "tr":
            rows.append([c for c in node.elements() if c.name in ("td", "th")])
        elif node.name in ("thead", "tbody", "tfoot"):
            stack.extend(reversed(node.elements()))
    return rows


_CELL_BLOCKS = frozenset("table p div ul ol pre h1 h2 h3 h4 blockquote form".split())


def _has_block(cell: Node) -> bool:
    return any(node.name in _CELL_BLOCKS for node in cell.walk())


def _rows(table: Node) -> list[list[Node]] | None:
    """Rows of a data table, or None for a layout table (nested tables or block-filled cells)."""
    rows = _own_rows(table)
    if not rows:
        return None
    blocky = sum(1 for row in rows for cell in row if _has_block(cell))
    if blocky > max(1, len(rows) // 4):
        return None
    return rows


def shorten_href(href: str, base_host: str = "") -> str:
    """A link target without scheme, fragment or tracking parameters: `host/path?kept=1`.

    Same-page anchors and `javascript:` links give "": their text is enough.
    """
    href = href.strip()
    if not href or href.startswith("#") or href.lower().startswith(("javascript:", "data:")):
        return ""
    if href.lower().startswith(("mailto:", "tel:")):
        return href
    try:
        parts = urlsplit(href)
    except ValueError:
        return href
    # Parameters are filtered as written, so kept values stay byte-for-byte the same.
    query = "&".join(p for p in parts.query.split("&") if p and not _TRACKING.match(p.split("=", 1)[0]))
    host = parts.netloc
    if host and base_host and host.lower() == base_host.lower():
        host = ""
    path = parts.path or ("/" if host and query else parts.path)
    short = (host + path) if host else path
    if not short and not query:
        return href if not parts.fragment else ""
    return short + ("?" + query if query else "")


def render_text(root: Node, base_host: str = "") -> str:
    """Render `root`'s content as compact light-markdown text."""
    return Renderer(base_host).render(root)
