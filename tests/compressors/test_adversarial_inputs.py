"""Adversarial inputs: each case took from seconds to minutes before its compressor was made
linear (scripts/bench_adversarial.py measures all of them); here they must give the right
output, and where the work can be counted, do a bounded amount of it."""

from __future__ import annotations

import random
import re

import pytest

from compressors import KINDS, Context, compress
from compressors import log_templates, text_fallback
from compressors.html_blocks import replace_tags
from compressors.html_extract import RAW, RAW_BLOCKS, read_page
from compressors.html_markup import _BLOCK, BLOCKS
from compressors.html_tree import Unparseable, parse
from compressors.search_results import _GREP_ANY, _PATH_TEXT
from compressors.vcs_output import _BLAME

LOG = Context(tool_name="Bash", tool_args={"command": "tail -n 100000 app.log"})
WEB = Context(tool_name="WebFetch", tool_args={"url": "https://example.com/page"})


def test_identical_lines_scan_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """20,000 identical lines: one run search, not one per line (each rescanned the rest:
    5 s for 2,000 lines, minutes for 20,000)."""
    calls = []
    original = log_templates._run_from
    monkeypatch.setattr(log_templates, "_run_from", lambda *a: calls.append(a[2]) or original(*a))
    text = "\n".join(["INFO worker pool is healthy"] * 20_000)
    result = compress(text, LOG, kind="log")
    assert result.text == "INFO worker pool is healthy\n[previous line repeated 19999 more times]"
    assert result.lossless
    assert len(calls) <= 2


def test_identical_lines_between_others_fold_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of identical lines inside a varied log: skipped in one step, same folds as before."""
    lines = []
    for k in range(40):
        lines += [f"2024-05-01 10:00:{k:02d} INFO request {k} served in {k % 7}ms"]
        lines += ["WARN cache miss for dependency graph, rebuilding shard"] * (k % 9 + 1)
    calls = []
    original = log_templates._run_from
    monkeypatch.setattr(log_templates, "_run_from", lambda *a: calls.append(a[2]) or original(*a))
    templates = [log_templates.template(line) for line in lines]
    runs = log_templates.similar_runs(lines, templates, [False] * len(lines))
    assert len(calls) <= 2 * 40 + 1  # at most one search per distinct stretch, not per line
    # The same runs a search from every line finds (the rule before the skip).
    expected, i = [], 0
    while i < len(lines):
        run = original(templates, [False] * len(lines), i)
        if run.end - i >= 4 and any(lines[k] != lines[i] for k in range(i + 1, run.end)):
            expected.append(run)
            i = run.end
        else:
            i += 1
    assert runs == expected


@pytest.mark.parametrize("text", ["[" * 10_000 + "]" * 10_000, '{"a": ' * 10_000 + "1" + "}" * 10_000])
@pytest.mark.parametrize("kind", ["auto", "json"])
def test_deep_json_comes_back_unchanged(text: str, kind: str) -> None:
    """JSON nested 10,000 deep: the RecursionError is caught (routing included), the text
    comes back whole."""
    result = compress(text, Context(tool_name="api_call"), kind=kind)
    assert result.text == text
    assert result.kind == "json"
    assert result.lossless


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("auto", "json")])
def test_deep_json_does_not_break_any_kind(kind: str) -> None:
    text = "[" * 10_000 + "]" * 10_000
    assert compress(text, LOG, kind=kind).kind == kind  # no exception; some kinds fold the line


def test_unclosed_html_blocks() -> None:
    """20,000 unclosed <div><p><b>: each <div> closing the open <p> walked the whole stack
    (14 s; a minute for 40,000); the page still goes whole (nothing to fold)."""
    text = "<html><body>" + "<div><p>para <b>bold " * 20_000 + "</body></html>"
    result = compress(text, WEB, kind="html")
    assert result.text == text


def test_many_removed_elements_and_nested_chrome() -> None:
    """10,000 <meta> siblings removed one by one (each a pass over the siblings), and sidebars
    nested 1,000 deep (each scanning its whole subtree): the reader view still comes out."""
    wide = "<html><body><main>" + "".join(f"<p>paragraph {i} with words</p><meta name=m{i}>" for i in range(10_000)) + "</main></body></html>"
    page = read_page(wide)
    assert page.text.split("\n") == [f"paragraph {i} with words" for i in range(10_000)]
    nested = "<html><body>" + '<div class="sidebar"><header><h1>t</h1>' * 1_000 + "text " * 50 + "</header></div>" * 1_000
    assert compress(nested, WEB, kind="html").text  # the render's RecursionError is caught too


@pytest.mark.parametrize("unit", ["<!-- note ", "<script>var a = 1; ", "<script a=1 "])
def test_unclosed_comments_and_scripts(unit: str) -> None:
    """30,000 unclosed comments or scripts: the block regexes scanned to the end from each
    (over a minute); the scan now knows the closer is missing."""
    text = "<html><body><p>text</p>" + unit * 30_000
    assert compress(text, WEB, kind="html").text == text
    assert compress(text, Context(tool_name="Bash", tool_args={"command": "python page.py"}), kind="html").text == text


def test_block_patterns_match_the_regexes() -> None:
    """The linear scans find exactly the regexes' matches (random mixes of openers and closers)."""
    tokens = ["<!--", "-->", "--", ">", "/>", "<script", "<SCRIPT", "</script>", "</Script >", "<style", "</style>",
              "<svg", "</svg>", "<svgx", "<noscript", "</noscript>", " ", "a", "\n", "<", "data:", "image/png;base64,", "QUJD"]  # fmt: skip
    rng = random.Random(7)
    for _ in range(3_000):
        text = "".join(rng.choice(tokens) for _ in range(rng.randint(0, 30)))
        for fast, regex in ((RAW, RAW_BLOCKS), (BLOCKS, _BLOCK)):
            assert [(m.span(), m.groups()) for m in fast.finditer(text)] == [(m.span(), m.groups()) for m in regex.finditer(text)]
            assert fast.sub("", text) == regex.sub("", text)
        assert replace_tags(text, " ") == re.sub(r"<[^>]*>", " ", text)


def test_line_regexes_do_not_backtrack() -> None:
    """One long line of "1.1.1…" (grep path:text) or of dates (git blame): each regex tried
    every split of the line (minutes for 200 KB); the rewritten ones match what the old did."""
    dotted = "1." * 100_000
    assert compress(dotted, Context(tool_name="Bash", tool_args={"command": "grep -rn x ."}), kind="search").text
    blame = "0123abc (someone " + "2024-01-01 " * 20_000
    assert compress(blame, Context(tool_name="Bash", tool_args={"command": "git blame x.py"}), kind="diff").text == blame
    old_path = re.compile(r"^([^\s:]*[/.][^\s:]*\w):")
    old_grep = re.compile(r"^([^\s:]*[/.][^\s:]*\w):|^[^\s:]+?-\d+-")
    old_blame = re.compile(r"^\^?[0-9a-f]{7,40} (\S+ )?\(.*?\d{4}-\d\d-\d\d .*?\s\d+\)")

    def same(a: re.Match | None, b: re.Match | None) -> bool:
        return (a is None) == (b is None) and (a is None or (a.span() == b.span() and a.groups() == b.groups()))  # type: ignore[union-attr]

    rng = random.Random(11)
    for _ in range(5_000):
        line = "".join(rng.choice(["a", "1", "/", ".", ":", " ", "-", "_", "b/c.py", "-12-"]) for _ in range(rng.randint(0, 12)))
        assert same(old_path.match(line), _PATH_TEXT.match(line)) and same(old_grep.match(line), _GREP_ANY.match(line))
        line = rng.choice(["abcdef1 (", "^abcdef12 Name ("]) + "".join(
            rng.choice(["(", ")", "2024-01-01 ", "12", "x", " ", " 7)"]) for _ in range(rng.randint(0, 8))
        )
        assert same(old_blame.match(line), _BLAME.match(line))


def test_long_sentence_of_short_clauses() -> None:
    """A 600 KB sentence of 100,000 short clauses: each merge recounted the spaces of the
    whole clause so far (19 s); it is still one unit."""
    text = "Intro sentence here. " + "word, " * 100_000 + "end."
    units = text_fallback.segment(text, clauses=True)
    assert [(u.start, u.end) for u in units] == [(0, len(text))]


def test_fold_line_numbers_counted_incrementally() -> None:
    """render() counts newlines once along the text, not from the start for every fold."""
    rng = random.Random(3)
    lines = [f"line {i} " + " ".join(rng.choice(["alpha", "beta", "gamma_x", "v1.2", "Delta"]) for _ in range(8)) for i in range(3_000)]
    text = "\n".join(lines)
    units = text_fallback.segment(text)
    keep = [rng.random() < 0.3 for _ in units]
    result = text_fallback.render(text, units, keep, "text")
    assert result.folds
    runs = text_fallback._runs(units, keep)
    long_runs = [(a, b) for a, b in runs if units[b].end - units[a].start >= text_fallback.MIN_FOLD_CHARS]
    expected = []
    for a, b in long_runs:
        first = text.count("\n", 0, units[a].start) + 1
        expected.append((first, first + text.count("\n", units[a].start, units[b].end)))
    assert [(f.first_line, f.last_line) for f in result.folds] == expected


@pytest.mark.parametrize("unit", ["<a x='1' ", "<a\n", "<!-- c <b>x ", "<![CDATA[ x>"])
def test_unclosed_tags_at_the_end_are_not_tokenized(unit: str) -> None:
    """Thousands of openers with no closer after them: html.parser searches to the end from
    each (4 s for 8,000 `<a\\n`); the tree is refused and the markup fold answers instead."""
    text = "<html><body>" + "<p>a paragraph of page text</p>" * 50 + unit * 40_000
    with pytest.raises(Unparseable):
        parse(text)
    assert compress(text, WEB, kind="html").kind == "html"


def test_a_few_unclosed_openers_still_parse() -> None:
    """A page cut off mid-comment and mid-tag: parsed as before (html.parser reads the rest as text)."""
    page = "<html><body><p>first</p><!-- cut off <div>tail <a href='/x"
    assert parse(page).text(" ") == "first <!-- cut off <div>tail <a href='/x"


def test_marked_section_the_tokenizer_rejects() -> None:
    """`<![foo[`: html.parser raises AssertionError; the page falls back to the markup fold."""
    text = "<html><body>" + "<p>hello world paragraph text</p>" * 200 + "<![foo[ x ]]></body></html>"
    with pytest.raises(Unparseable):
        parse(text)
    assert compress(text, WEB, kind="html").kind == "html"
