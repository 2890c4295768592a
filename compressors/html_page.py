"""HTML tool output: a reader view for fetched web pages, conservative folding for markup
that a coding agent is inspecting.

Which one applies depends on who is reading. A page fetched to be read (a web-fetch tool,
curl of a public URL, a big document) is turned into its main content as light markdown, with
navigation, banners, hidden blocks and scripts folded into a few notes. HTML that is itself
the subject (a generated page under test, a template or .html file being read or edited, a
script printing markup) keeps every tag and attribute, because the model quotes class names
and attributes back; only bulky script/style/SVG bodies and long repetitive runs fold there.
Templates (`{% %}`, `{{ }}`) are left as they are.
"""

from __future__ import annotations

import re
from enum import Enum
from urllib.parse import urlsplit

from compressors.detect import command_file, extension
from compressors.html_extract import RAW, Dropped, read_page
from compressors.html_markup import FILE_READ, GENERAL, fold_markup
from compressors.html_tree import Unparseable
from compressors.notes import fold_note
from compressors.types import Context, Fold, Result

KIND = "html"
MIN_CHARS = 1000  # below this nothing is worth a note
MIN_SAVING = 0.2  # a result must be at least this much shorter than the input
WEB_PAGE_MIN = 3000  # document chars from a web fetch before a reader view pays off
OTHER_PAGE_MIN = 20000  # ... when nothing says the page was fetched to be read

_WEB_TOOL = re.compile(r"fetch|brows|scrap|crawl|web|url|http|navigat|playwright|puppeteer|selenium", re.I)
_WEB_COMMAND = re.compile(r"(^|[\s;&|(])(curl|wget|http|https|xh|lynx|w3m)\s")
_URL = re.compile(r"https?://([^/\s:'\"?#]+)")
_LOCAL_HOSTS = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|\[::1\]|testserver)$", re.I)
_READ_TOOLS = frozenset(
    "read read_file readfile view open view_file cat str_replace_editor str_replace_based_edit_tool edit "
    "write multiedit grep search_file search_dir".split()
)
# Template syntax (Django/Jinja, ERB/JSP, PHP); bounded so a stray "{{" costs nothing.
_TEMPLATE = re.compile(r"\{%[^%\n]{0,200}%\}|\{\{[^{}\n]{0,200}\}\}|<%[^%]{0,200}%>|<\?php\b|\{#[^#\n]{0,200}#\}")
# A request about the markup itself: the model will need tags, classes and attributes.
_MARKUP_QUERY = re.compile(
    r"\b(scrap\w*|selectors?|xpath|css|dom|markup|beautiful ?soup|bs4|lxml|html ?parser|"
    r"attributes?|tags?|class names?|templates?|render\w*|escap\w*)\b",
    re.I,
)
_TITLE_SUFFIX = re.compile(r"\s+[|·•—–-]\s+")  # "Article | Site name"
_DOC_START = re.compile(r"<!doctype\s+html|<html\b", re.I)
_DOC_END = re.compile(r"</html\s*>", re.I)
_KNOWN_TAG = re.compile(
    r"</?(?:html|head|body|div|span|p|a|ul|ol|li|table|thead|tbody|tr|td|th|h[1-6]|section|article|main|nav|"
    r"header|footer|aside|img|br|hr|form|input|script|style|meta|link|pre|code|strong|em|b|i|button|label|"
    r"select|option|textarea|dl|dt|dd|blockquote|figure|iframe|svg|path|title|small|sup|sub)\b[^<>]{0,500}>",
    re.I,
)
_DOCUMENTISH = re.compile(r"<!doctype\s+html|<html\b|<body\b", re.I)


class Mode(Enum):
    """How a piece of HTML is compressed."""

    VERBATIM = "verbatim"  # templates: returned unchanged
    FILE = "file"  # a file being read: only very bulky blocks fold
    MARKUP = "markup"  # markup under inspection: bulky blocks and long runs fold
    PAGE = "page"  # a page to be read: reader view


def compress_html(text: str, context: Context) -> Result:
    """Compress HTML: a reader view for fetched pages, tag-preserving folding otherwise.

    Returns the text unchanged when it is small, a template, or would shrink by less than 20%.
    """
    unchanged = Result(text, KIND, True, ())
    if len(text) < MIN_CHARS or "<" not in text:
        return unchanged
    mode = choose_mode(text, context)
    if mode is Mode.VERBATIM:
        return unchanged
    result = _page_result(text, context) if mode is Mode.PAGE else None
    if result is None:
        result = fold_markup(text, context, FILE_READ if mode is Mode.FILE else GENERAL)
    if not result.folds or len(result.text) > (1 - MIN_SAVING) * len(text):
        return unchanged
    return result


def choose_mode(text: str, context: Context) -> Mode:
    """Decide from the tool call, the user's request and the text whether this is a page to
    read or markup to inspect."""
    begin, end = document_span(text)
    doc_chars = end - begin
    readable = not _MARKUP_QUERY.search(context.query or "") and _is_markup(text[begin:end])
    if _is_web_fetch(context):
        return Mode.PAGE if doc_chars >= WEB_PAGE_MIN and readable else Mode.MARKUP
    if len(_TEMPLATE.findall(text[:200_000])) >= 2:
        return Mode.VERBATIM
    if _is_file_read(context):
        return Mode.FILE
    if context.source == "document" and readable:
        return Mode.PAGE
    if (
        readable
        and doc_chars >= OTHER_PAGE_MIN
        and doc_chars >= 0.6 * len(text)
        and _DOCUMENTISH.search(text[begin : begin + 4096])
    ):
        return Mode.PAGE
    return Mode.MARKUP


def _is_markup(doc: str) -> bool:
    """Whether a document span is really made of HTML elements (a log with `<class 'X'>` reprs
    or an agent's `<output>` wrapper is not): 20+ known tags filling 15%+ of it."""
    sample = RAW.sub("", doc[:300_000])  # inline scripts and styles are not text either
    tags = _KNOWN_TAG.findall(sample)
    return len(tags) >= 20 and sum(map(len, tags)) >= 0.15 * len(sample)


def document_span(text: str) -> tuple[int, int]:
    """Where the HTML document sits in a tool output (curl headers or script output around it)."""
    start = _DOC_START.search(text)
    begin = start.start() if start else 0
    end = len(text)
    for match in _DOC_END.finditer(text, begin):
        end = match.end()
    return begin, end


def _is_web_fetch(context: Context) -> bool:
    """A web tool, or curl/wget of a URL that is not a local test server."""
    if context.tool_name and _WEB_TOOL.search(context.tool_name):
        return True
    command = context.command
    if not command or not _WEB_COMMAND.search(command):
        return False
    hosts = _URL.findall(command)
    return bool(hosts) and not all(_LOCAL_HOSTS.match(h) for h in hosts)


def _is_file_read(context: Context) -> bool:
    tool = (context.tool_name or "").lower()
    if tool in _READ_TOOLS:
        return True
    if context.path and extension(context.path) in (".html", ".htm", ".xhtml", ".jinja", ".j2", ".tmpl", ".vue"):
        return True
    return bool(context.command and command_file(context.command))


def _base_host(context: Context) -> str:
    """The host of the fetched URL, so same-site links can drop it."""
    for key in ("url", "uri", "href"):
        value = context.tool_args.get(key)
        if isinstance(value, str) and (host := urlsplit(value.strip()).hostname):
            return host
    match = _URL.search(context.command)
    return match.group(1) if match else ""


def _page_result(text: str, context: Context) -> Result | None:
    """The reader view of the document in `text`, with the text around it kept as it is;
    None when the document cannot be walked (nesting too deep) or parsed (see html_tree.parse)."""
    begin, end = document_span(text)
    try:
        page = read_page(text[begin:end], _base_host(context))
    except (RecursionError, Unparseable):
        return None
    body = page.text
    if page.title and not _title_shown(page.title, body):
        body = f"Title: {page.title}\n{body}" if body else f"Title: {page.title}"
    notes = fold_notes(page.dropped)
    first_line = text.count("\n", 0, begin) + 1
    last_line = first_line + text.count("\n", begin, end)
    folds = tuple(Fold(first_line, last_line, note) for note in notes)
    rendered = "\n".join(part for part in (body, *notes) if part)
    tail = text[end:]
    if tail and not tail.startswith("\n"):
        rendered += "\n"
    return Result(text[:begin] + rendered + tail, KIND, False, folds)


def _title_shown(title: str, body: str) -> bool:
    """Whether the page title, or a heading it extends ("Intro — Site docs"), opens the text."""
    core = _TITLE_SUFFIX.split(title, 1)[0].strip() or title
    for line in body.split("\n", 8)[:8]:
        heading = line.lstrip("#").strip()
        if line.startswith("#") and heading and (heading in title or core in heading):
            return True
    return title in body[: len(title) + 300]


def fold_notes(dropped: Dropped) -> list[str]:
    """One note per category of removed content, in a fixed order."""
    notes: list[str] = []
    for category, unit in (("navigation", "navigation block"), ("boilerplate", "boilerplate block"),
                           ("hidden", "hidden block"), ("outside", "other block")):  # fmt: skip
        count = dropped.blocks[category]
        if not count:
            continue
        detail = f"{dropped.words[category]:,} words"
        if category == "outside":
            detail = "outside the main content; " + detail
        elif category == "boilerplate" and dropped.hints:
            detail = ", ".join(hint for hint, _ in dropped.hints.most_common(4)) + "; " + detail
        notes.append(fold_note(count, unit, detail))
    if dropped.raw:
        detail = ", ".join(f"{tag} ×{n:,}" for tag, n in sorted(dropped.raw.items(), key=lambda kv: (-kv[1], kv[0])))
        if dropped.raw_words:
            detail += f"; {dropped.raw_words:,} words"
        notes.append(fold_note(sum(dropped.raw.values()), "markup block", detail))
    return notes
