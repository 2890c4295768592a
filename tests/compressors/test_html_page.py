"""compress_html: a reader view for fetched pages, tag-preserving folding for markup under inspection."""

from __future__ import annotations

from compressors import compress
from compressors.html_markup import skeleton
from compressors.html_page import Mode, choose_mode, compress_html
from compressors.html_render import shorten_href
from compressors.html_tree import parse
from compressors.notes import NOTE_PATTERN
from compressors.types import Context, Fold

FETCH = Context(tool_name="WebFetch", tool_args={"url": "https://news.example.org/2024/05/kestrel-3-released"})

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Kestrel 3.0 released | Example News</title>
  <link rel="stylesheet" href="/static/site.css?v=83f1c2">
  <style>
    body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 72rem; }
    .cookie-banner { position: fixed; bottom: 0; left: 0; right: 0; background: #222; color: #eee; }
    .share-bar a { display: inline-block; padding: 0.25rem 0.5rem; border-radius: 3px; }
  </style>
  <script async src="https://www.googletagmanager.com/gtag/js?id=G-XYZ123"></script>
  <script>
    window.dataLayer = window.dataLayer || [];
    function gtag(){dataLayer.push(arguments);}
    gtag('js', new Date()); gtag('config', 'G-XYZ123', { anonymize_ip: true });
  </script>
</head>
<body class="article-page has-sidebar">
  <a class="skip-link" href="#main">Skip to content</a>
  <header class="site-header">
    <a href="/" class="logo"><svg width="120" height="32" viewBox="0 0 120 32"><path d="M0 0h120v32H0z" fill="#0a5"/></svg>Example News</a>
    <nav aria-label="Primary">
      <ul>
        <li><a href="/world">World</a></li>
        <li><a href="/tech?utm_source=menu">Technology</a></li>
        <li><a href="/science">Science</a></li>
        <li><a href="/opinion">Opinion</a></li>
      </ul>
    </nav>
  </header>
  <div id="cookie-consent" class="cookie-banner" role="dialog">
    <p>We use cookies to personalise content and analyse our traffic. <a href="/privacy">Read our policy</a>.</p>
    <button>Accept all</button> <button>Reject</button>
  </div>
  <ol class="breadcrumb"><li><a href="/tech">Technology</a></li><li>Databases</li></ol>
  <main id="main">
    <article>
      <header>
        <h1>Kestrel 3.0 released with a faster query planner</h1>
        <p class="byline">By Dana Whitfield &middot; 14 May 2024</p>
      </header>
      <div class="share-bar"><a href="https://twitter.com/intent/tweet?url=x">Share on X</a> <a href="https://www.linkedin.com/shareArticle?url=x">Share on LinkedIn</a></div>
      <p>The Kestrel project shipped version <strong>3.0.0</strong> on Tuesday. The release replaces the
         rule-based planner with a cost-based one and drops support for Python 3.8.
         See the <a href="https://docs.kestrel.dev/en/latest/migrate.html?utm_source=news&amp;utm_medium=article&amp;version=3">migration guide</a>
         and the <a href="/2024/04/kestrel-3-beta">beta announcement</a>.</p>
      <h2>Benchmarks</h2>
      <p>Median query latency on the TPC-H suite, measured on the same 16-core machine:</p>
      <table>
        <thead><tr><th>Query</th><th>2.9 (ms)</th><th>3.0 (ms)</th></tr></thead>
        <tbody>
          <tr><td>Q1</td><td>412.7</td><td>198.3</td></tr>
          <tr><td>Q6</td><td>88.1</td><td>41.9</td></tr>
          <tr><td>Q18</td><td>1,904.0</td><td>733.5</td></tr>
        </tbody>
      </table>
      <div style="display: none" class="tracking-pixel">impression id 55d1e0 do not display</div>
      <h2>Upgrading</h2>
      <p>Most projects only need to change the planner setting:</p>
      <pre><code class="language-python">from kestrel import connect

db = connect("kestrel://localhost:5433/app",  planner="cost")
rows = db.execute("SELECT * FROM orders WHERE total &gt; 100")
</code></pre>
      <ul>
        <li>The <code>planner="rules"</code> option is removed.</li>
        <li>Prepared statements are cached per connection.</li>
      </ul>
      <blockquote><p>We rewrote the planner three times before it beat the old one on every query.</p></blockquote>
      <div class="newsletter-signup">
        <h3>Get the weekly digest</h3>
        <form action="/subscribe" method="post"><input type="email" name="email" placeholder="you@example.com"><button>Subscribe</button></form>
      </div>
      <p hidden>Internal: embargo lifted 09:00 UTC</p>
      <!-- ad slot 3 removed by editor -->
    </article>
  </main>
  <aside class="sidebar">
    <h3>Most read</h3>
    <ul><li><a href="/2024/05/rust-2024">Rust 2024 edition lands</a></li><li><a href="/2024/05/pg17">PostgreSQL 17 beta</a></li></ul>
  </aside>
  <footer class="site-footer">
    <p>&copy; 2024 Example News Ltd. All rights reserved.</p>
    <ul class="social"><li><a href="https://mastodon.social/@examplenews">Mastodon</a></li></ul>
  </footer>
  <noscript><img src="/pixel.gif?noscript=1" alt=""></noscript>
  <script src="/static/app.3f9a.js"></script>
</body>
</html>
"""

EXPECTED_CONTENT = """# Kestrel 3.0 released with a faster query planner
By Dana Whitfield · 14 May 2024
The Kestrel project shipped version 3.0.0 on Tuesday. The release replaces the rule-based planner with a cost-based one and drops support for Python 3.8. See the [migration guide](docs.kestrel.dev/en/latest/migrate.html?version=3) and the [beta announcement](/2024/04/kestrel-3-beta).

## Benchmarks
Median query latency on the TPC-H suite, measured on the same 16-core machine:
| Query | 2.9 (ms) | 3.0 (ms) |
| Q1 | 412.7 | 198.3 |
| Q6 | 88.1 | 41.9 |
| Q18 | 1,904.0 | 733.5 |

## Upgrading
Most projects only need to change the planner setting:
```python
from kestrel import connect

db = connect("kestrel://localhost:5433/app",  planner="cost")
rows = db.execute("SELECT * FROM orders WHERE total > 100")
```
- The `planner="rules"` option is removed.
- Prepared statements are cached per connection.
> We rewrote the planner three times before it beat the old one on every query."""

EXPECTED_NOTES = [
    "[… 5 navigation blocks folded: 29 words]",  # skip link, site header, breadcrumb, aside, footer
    "[… 3 boilerplate blocks folded: cookie, share, newsletter; 28 words]",
    "[… 2 hidden blocks folded: 11 words]",  # display:none div, <p hidden>
    "[… 7 markup blocks folded: script ×3, comment ×1, noscript ×1, style ×1, svg ×1; 6 words]",
]


def padded(html: str) -> str:
    """The page with enough article text that the reader view clearly pays off."""
    filler = "".join(f"<p>Background paragraph {i} about release engineering and planner design.</p>\n" for i in range(3))
    return html.replace("<h2>Upgrading</h2>", filler + "<h2>Upgrading</h2>")


# -- reader view ----------------------------------------------------------------------------


def test_reader_view_keeps_the_article_exactly_and_folds_the_rest_into_notes() -> None:
    result = compress_html(PAGE, FETCH)
    assert result.kind == "html" and result.lossless is False
    assert result.text == EXPECTED_CONTENT + "\n" + "\n".join(EXPECTED_NOTES) + "\n"
    assert [f.note for f in result.folds] == EXPECTED_NOTES
    n_lines = PAGE.count("\n") + 1
    assert all(f.first_line == 1 and f.last_line == n_lines - 1 for f in result.folds)
    assert all(NOTE_PATTERN.fullmatch(note) for note in EXPECTED_NOTES)


def test_reader_view_drops_every_kind_of_boilerplate() -> None:
    text = compress_html(PAGE, FETCH).text
    for gone in ("Skip to content", "Technology", "We use cookies", "Accept all", "Share on X", "Most read",
                 "All rights reserved", "Mastodon", "impression id", "embargo", "ad slot", "gtag", "font-family",
                 "M0 0h120", "pixel.gif", "weekly digest", "Subscribe"):  # fmt: skip
        assert gone not in text, gone


def test_code_block_table_and_values_survive_exactly() -> None:
    lines = compress_html(PAGE, FETCH).text.split("\n")
    start = lines.index("```python")
    assert lines[start : start + 6] == [
        "```python",
        "from kestrel import connect",
        "",
        'db = connect("kestrel://localhost:5433/app",  planner="cost")',  # two spaces kept
        'rows = db.execute("SELECT * FROM orders WHERE total > 100")',
        "```",
    ]
    assert "| Q18 | 1,904.0 | 733.5 |" in lines
    assert sum(line.startswith("| Query |") for line in lines) == 1  # header once


def test_links_lose_scheme_tracking_parameters_and_the_page_host() -> None:
    text = compress_html(PAGE, FETCH).text
    assert "[migration guide](docs.kestrel.dev/en/latest/migrate.html?version=3)" in text
    assert "utm_" not in text and "https://" not in text
    assert "[beta announcement](/2024/04/kestrel-3-beta)" in text


def test_shorten_href() -> None:
    assert shorten_href("https://www.example.com/a/b?utm_source=x&id=7&fbclid=abc#top") == "www.example.com/a/b?id=7"
    assert shorten_href("https://example.com/a?utm_campaign=x") == "example.com/a"
    assert shorten_href("https://example.com/a?q=a%20b&page=2") == "example.com/a?q=a%20b&page=2"  # untouched
    assert shorten_href("/docs/api.html#section-2") == "/docs/api.html"
    assert shorten_href("https://news.example.org/world", "news.example.org") == "/world"
    assert shorten_href("#comments") == ""
    assert shorten_href("javascript:void(0)") == ""
    assert shorten_href("mailto:press@example.org") == "mailto:press@example.org"


def test_main_content_found_by_density_when_the_page_has_no_landmarks() -> None:
    rows = "".join(f"<p>Paragraph {i}: the planner now estimates join cardinality from sampled statistics.</p>" for i in range(12))
    html = (
        "<html><head><style>" + ".c{margin:0}" * 200 + "</style></head>"
        "<body><div class='top'><a href='/a'>Home</a> <a href='/b'>Blog</a> <a href='/c'>Jobs</a></div>"
        f"<div class='wrap'><div class='col'>{rows}</div></div>"
        "<div class='bottom'>Contact us at the office on weekdays</div></body></html>"
    )
    result = compress_html(html, FETCH)
    assert result.text.startswith("Paragraph 0: the planner")
    assert "Paragraph 11" in result.text and "Contact us" not in result.text and "Jobs" not in result.text
    assert result.text.split("\n")[-2:] == [
        "[… 2 other blocks folded: outside the main content; 10 words]",
        "[… 1 markup block folded: style ×1]",
    ]


def test_forms_in_the_content_show_their_fields() -> None:
    html = padded(PAGE).replace(
        "<h2>Benchmarks</h2>",
        '<form action="/search" method="get"><input type="text" name="q" value="planner">'
        '<select name="v"><option>2.9</option><option selected>3.0</option></select><button>Go</button></form>'
        "<h2>Benchmarks</h2>",
    )
    text = compress_html(html, FETCH).text
    assert '[form action="/search" method="get"]' in text
    assert '[input type="text" name="q" value="planner"] [select name="v": 2 options, selected "3.0"] [button: Go]' in text


def test_malformed_html_still_reads() -> None:
    html = (
        "<html><head><title>Broken page</title><body><div class=content><h1>Release 7</h1>"
        "<p>First paragraph <b>bold <i>both</b> still italic"
        "<p>Second paragraph with a stray </span> end tag and an unclosed <a href='/x?utm_source=y'>link"
        "<ul><li>one<li>two</ul><table><tr><td>a<td>b<tr><td>c<td>d</table>"
        + "<p>Filler sentence about the release and its many small fixes.</p>" * 20
        + "<script>var unterminated = '</div>'</script><div style='visibility:hidden'>secret</div>"
        + "<style>" + "p{margin:0 0 1em}" * 120 + "</style>"
    )
    result = compress_html(html, FETCH)
    text = result.text
    assert text.startswith("Title: Broken page\n# Release 7\nFirst paragraph bold both still italic")
    assert "[link" in text and "(/x)" in text
    assert "| a | b |" in text and "| c | d |" in text
    assert "secret" not in text and "unterminated" not in text
    assert compress_html(html, FETCH) == result


def test_deeply_nested_markup_falls_back_without_crashing() -> None:
    html = "<html><body>" + "<div><span>x</span>" * 3000 + "text" + "</div>" * 3000 + "</body></html>"
    result = compress_html(html, FETCH)
    assert result.kind == "html"
    assert "text" in result.text


def test_reader_view_is_deterministic() -> None:
    first = compress_html(padded(PAGE), FETCH)
    for _ in range(3):
        assert compress_html(padded(PAGE), FETCH) == first


def test_through_the_router_with_auto_detection() -> None:
    result = compress(PAGE, FETCH, kind="html")
    assert result == compress_html(PAGE, FETCH)
    auto = compress(PAGE, Context(tool_name="fetch", tool_args={"url": "https://news.example.org/x"}))
    assert auto.kind == "html" and auto.text.startswith("# Kestrel 3.0 released")


def test_text_around_the_document_is_kept_verbatim() -> None:
    curl = Context(tool_name="Bash", tool_args={"command": "curl -si https://news.example.org/2024/05/kestrel-3-released"})
    text = "HTTP/2 200\ncontent-type: text/html; charset=utf-8\nx-request-id: 7f3e9a\n\n" + PAGE + "curl: (0) done\n"
    result = compress_html(text, curl)
    assert result.text.startswith("HTTP/2 200\ncontent-type: text/html; charset=utf-8\nx-request-id: 7f3e9a\n\n# Kestrel")
    assert result.text.endswith(EXPECTED_NOTES[-1] + "\ncurl: (0) done\n")
    assert {f.first_line for f in result.folds} == {5}


# -- small inputs and modes -----------------------------------------------------------------


def test_empty_and_small_inputs_are_unchanged() -> None:
    for text in ("", "<p>hi</p>", "<div><a href='/x?utm_source=y'>x</a></div>" * 10):
        result = compress_html(text, FETCH)
        assert result.text == text and result.lossless and result.folds == ()


def test_mode_follows_who_reads_the_html() -> None:
    big_page = PAGE.replace("<h2>Upgrading</h2>", "<p>Planner notes.</p>\n" * 1000 + "<h2>Upgrading</h2>")
    assert choose_mode(PAGE, FETCH) is Mode.PAGE
    assert choose_mode(PAGE, Context(tool_name="Bash", tool_args={"command": "curl -s http://localhost:8000/"})) is Mode.MARKUP
    assert choose_mode(PAGE, Context(tool_name="Bash", tool_args={"command": "cat site/index.html"})) is Mode.FILE
    assert choose_mode(PAGE, Context(tool_name="Read", path="templates/base.html")) is Mode.FILE
    assert choose_mode(PAGE, Context(tool_name="Bash", tool_args={"command": "python render.py"})) is Mode.MARKUP
    assert choose_mode(big_page, Context(tool_name="Bash", tool_args={"command": "python fetch.py"})) is Mode.PAGE
    scraping = Context(tool_name="WebFetch", query="write a scraper: which CSS selector finds the table?")
    assert choose_mode(PAGE, scraping) is Mode.MARKUP
    template = "{% extends 'base.html' %}\n{% block content %}" + PAGE + "{{ article.body }}{% endblock %}"
    assert choose_mode(template, Context(tool_name="Bash", tool_args={"command": "python manage.py shell"})) is Mode.VERBATIM


def test_django_template_source_is_returned_unchanged() -> None:
    template = (
        "{% extends 'base.html' %}\n{% load static %}\n{% block content %}\n<div class=\"posts\">\n"
        + "".join(f'  <div class="post"><a href="{{% url \'post\' {i} %}}">{{{{ post{i}.title }}}}</a></div>\n' for i in range(40))
        + "</div>\n<script>\n" + "  console.log('x');\n" * 60 + "</script>\n{% endblock %}\n"
    )
    result = compress_html(template, Context(tool_name="Bash", tool_args={"command": "python show.py"}))
    assert result.text == template and result.lossless


# -- markup under inspection ----------------------------------------------------------------

SCRIPT_OUTPUT = (
    "Rendering form...\n<form action=\"/create\" method=\"post\">\n<select name=\"lexer\">\n"
    + "".join(f'<option value="lang{i}">Language number {i}</option>\n' for i in range(60))
    + '<option value="text" selected="selected">Text only</option>\n'
    + "".join(f'<option value="more{i}">More {i}</option>\n' for i in range(40))
    + "</select>\n<textarea name=\"raw\"></textarea>\n</form>\nERROR: lexer python3 not accepted\n"
)


def test_markup_mode_folds_long_runs_but_keeps_tags_selected_items_and_errors() -> None:
    context = Context(tool_name="Bash", tool_args={"command": "python check_form.py"}, query="paste fails with lexer")
    result = compress_html(SCRIPT_OUTPUT, context)
    lines = result.text.split("\n")
    assert lines[:7] == [
        "Rendering form...",
        '<form action="/create" method="post">',
        '<select name="lexer">',
        '<option value="lang0">Language number 0</option>',
        '<option value="lang1">Language number 1</option>',
        '<option value="lang2">Language number 2</option>',
        "[… 55 lines folded: <option> ×55]",
    ]
    assert lines[7:18] == [  # the selected option has its own skeleton: it ends one run and is kept
        '<option value="lang58">Language number 58</option>',
        '<option value="lang59">Language number 59</option>',
        '<option value="text" selected="selected">Text only</option>',
        '<option value="more0">More 0</option>',
        '<option value="more1">More 1</option>',
        '<option value="more2">More 2</option>',
        "[… 35 lines folded: <option> ×35]",
        '<option value="more38">More 38</option>',
        '<option value="more39">More 39</option>',
        "</select>",
        '<textarea name="raw"></textarea>',
    ]
    assert "ERROR: lexer python3 not accepted" in lines
    assert result.folds == (
        Fold(7, 61, "[… 55 lines folded: <option> ×55]"),
        Fold(68, 102, "[… 35 lines folded: <option> ×35]"),
    )
    original = SCRIPT_OUTPUT.split("\n")
    assert original[6] == '<option value="lang3">Language number 3</option>'  # line 7, the first folded
    assert original[60] == '<option value="lang57">Language number 57</option>'  # line 61
    assert original[67] == '<option value="more3">More 3</option>'  # line 68
    assert original[101] == '<option value="more37">More 37</option>'  # line 102, the last folded
    assert result.lossless is False


def test_markup_mode_folds_bulky_script_and_style_bodies_in_place() -> None:
    script = "\n".join(f"  var v{i} = compute({i}, 'segment-{i}');" for i in range(40))
    html = (
        "<html><head><style>" + ".x{color:red}" * 60 + "</style></head><body>\n"
        f'<div class="result">ok</div>\n<script type="text/javascript">\n{script}\n</script>\n'
        '<img src="data:image/png;base64,' + "iVBORw0KGgo" * 40 + '">\n</body></html>'
    )
    result = compress_html(html, Context(tool_name="Bash", tool_args={"command": "python build_report.py"}))
    assert result.text.split("\n") == [
        "<html><head><style>[… 1 style folded: 780 chars]</style></head><body>",
        '<div class="result">ok</div>',
        f'<script type="text/javascript">[… 1 script folded: {len(script) + 2:,} chars]</script>',
        '<img src="data:image/png;base64,[… 1 data URI folded: 440 chars]">',
        "</body></html>",
    ]
    assert [(f.first_line, f.last_line) for f in result.folds] == [(1, 1), (3, 43), (45, 45)]  # the body's characters lie on lines 3-43


def test_text_lines_between_tags_are_content_and_never_fold() -> None:
    passwd = "".join(f"<br />user{i}:x:{1000 + i}:{1000 + i}:User {i}:/home/user{i}:/bin/bash\n" for i in range(40))
    text = "<html><body><h1>File Upload</h1>\n" + passwd + "</body></html>"
    result = compress_html(text, Context(tool_name="Bash", tool_args={"command": "python exploit.py"}))
    assert result.text == text


def test_file_reads_keep_runs_and_fold_only_very_bulky_blocks() -> None:
    rows = "".join(f"<tr><td>{i}</td><td>row {i}</td></tr>\n" for i in range(80))
    html = "<table>\n" + rows + "</table>\n<script>\n" + "init();\n" * 400 + "</script>\n"
    result = compress_html(html, Context(tool_name="Bash", tool_args={"command": "cat report.html"}))
    assert rows in result.text
    assert "<script>[… 1 script folded: 3,201 chars]</script>" in result.text


def test_skeleton_ignores_values_and_text() -> None:
    assert skeleton('<option value="a">A</option>') == skeleton("<option value='bb'>Bee</option>") == "<option value=></option>"
    assert skeleton("  <tr><td>1</td><td>2.5</td></tr> ") == "<tr><td></td><td></td></tr>"
    assert skeleton("plain text line") == ""


# -- rendering details ----------------------------------------------------------------------


def article(inner: str) -> str:
    """A fetched page whose article is `inner`, with enough chrome around it to be worth reading."""
    chrome = "<nav>" + "".join(f"<a href='/s{i}'>Section {i}</a>" for i in range(30)) + "</nav>"
    return f"<html><head><style>{'.x{margin:0}' * 300}</style></head><body>{chrome}<main>{inner}</main></body></html>"


def test_lists_nest_and_number_and_definitions_indent() -> None:
    html = article(
        "<h2>Steps</h2><ol start='3'><li>Stop the server<li>Run <code>migrate --plan</code>"
        "<ul><li>check the output<li>keep the log</ul><li>Start again</ol>"
        "<dl><dt>timeout<dd>Seconds to wait (default 30).<dt>retries<dd>How often to retry.</dl>"
    )
    assert compress_html(html, FETCH).text.split("\n")[:9] == [
        "## Steps",
        "3. Stop the server",
        "4. Run `migrate --plan`",
        "   - check the output",
        "   - keep the log",
        "5. Start again",
        "timeout",
        ": Seconds to wait (default 30).",
        "retries",
    ]


def test_error_banners_are_kept_even_with_a_boilerplate_class() -> None:
    html = article("<div class='banner alert'>Error: the API key sk-test is invalid or expired.</div><p>Body text.</p>")
    text = compress_html(html, FETCH).text
    assert text.startswith("Error: the API key sk-test is invalid or expired.\nBody text.")


def test_prose_sections_with_menu_like_ids_are_content() -> None:
    prose = " ".join(["The File menu opens, saves and closes editor windows and lists recent files."] * 12)
    html = article(f"<section id='file-menu-shell-and-editor'><h3>File menu</h3><p>{prose}</p></section>"
                   f"<div class='menu-docs'><h3>Edit menu</h3><p>{prose}</p></div>")  # fmt: skip
    text = compress_html(html, FETCH).text
    assert "### File menu" in text and "### Edit menu" in text
    assert text.count("The File menu opens") == 24


def test_table_cells_spanning_columns_keep_the_grid() -> None:
    html = article(
        "<table><tr><th></th><th colspan='2'>from</th><th colspan='2'>to</th></tr>"
        "<tr><td>n</td><td>2</td><td>beTTer</td><td>2</td><td>better</td></tr></table>"
    )
    lines = compress_html(html, FETCH).text.split("\n")
    assert lines[:2] == ["|  | from |  | to |  |", "| n | 2 | beTTer | 2 | better |"]


def test_a_log_full_of_angle_brackets_is_not_read_as_a_page() -> None:
    log = "".join(
        f"DEBUG: step {i} path type: <class 'django.db.models.query_utils.PathInfo'> at <object at 0x7f{i:04x}>\n"
        for i in range(80)
    )
    text = "<html><body><pre>\n" + log + "</pre></body></html>"
    assert choose_mode(text, FETCH) is Mode.MARKUP
    assert compress_html(text, FETCH).text == text


def test_implied_end_tags_build_flat_lists_and_rows() -> None:
    doc = parse("<ul><li>a<li>b<ul><li>b1<li>b2</ul><li>c</ul><table><tr><td>1<td>2<tr><td>3</table><p>x<div>y</div>")
    ul, table, p, div = doc.elements()
    assert [li.text() for li in ul.elements()] == ["a", "bb1b2", "c"]
    assert [[td.text() for td in tr.elements()] for tr in table.elements()] == [["1", "2"], ["3"]]
    assert (p.name, p.text(), div.name, div.text()) == ("p", "x", "div", "y")
