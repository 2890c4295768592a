"""grep_context: context lines lose the path their match line names, and nothing else changes."""

from __future__ import annotations

import re

import pytest

from compressors import Context, Settings, compress
from compressors.grep_context import asks_for_context, shorten_context_paths

GREP = """/home/u/repo/src/store-v2.py-38-    cache = {}
/home/u/repo/src/store-v2.py-39-
/home/u/repo/src/store-v2.py:40:def lookup(key):
/home/u/repo/src/store-v2.py-41-    return cache.get(key)
/home/u/repo/src/store-v2.py-42-
/home/u/repo/src/store-v2.py:43:def lookup_all(keys):
/home/u/repo/src/store-v2.py-44-    return [lookup(k) for k in keys]
--
/home/u/repo/tests/test_store.py-9-import store
/home/u/repo/tests/test_store.py:10:    assert store.lookup("a") is None
/home/u/repo/tests/test_store.py-11-    assert store.lookup_all([]) == []"""


def test_context_lines_keep_their_number_and_text_under_a_line_naming_their_file() -> None:
    out = shorten_context_paths(GREP).split("\n")
    assert out == [
        "/home/u/repo/src/store-v2.py-38-    cache = {}",  # a group's first line names its file
        "39-",
        "/home/u/repo/src/store-v2.py:40:def lookup(key):",  # match lines stay byte for byte
        "41-    return cache.get(key)",
        "42-",
        "/home/u/repo/src/store-v2.py:43:def lookup_all(keys):",
        "44-    return [lookup(k) for k in keys]",
        "--",
        "/home/u/repo/tests/test_store.py-9-import store",
        '/home/u/repo/tests/test_store.py:10:    assert store.lookup("a") is None',
        "11-    assert store.lookup_all([]) == []",
    ]


def test_it_is_lossless_the_path_comes_back_from_the_line_above() -> None:
    out = shorten_context_paths(GREP).split("\n")
    rebuilt, path = [], None
    for line in out:
        if m := re.match(r"^(.+?)(?::\d+:|-\d+-)", line):
            path = m.group(1) if line.startswith("/") else path
        rebuilt.append(f"{path}-{line}" if re.match(r"^\d+-", line) else line)
    assert "\n".join(rebuilt) == GREP


@pytest.mark.parametrize(
    "text",
    [
        "  feature/issue-363-phase2-tools\n  feature/issue-363-phase3-tools\n* main",  # a branch list
        "src/a.py:3:x = 1\nsrc/b.py-4-y = 2",  # another file's context line keeps its path
        "src/a.py:3:x = 1\n\nsrc/a.py-4-y = 2",  # a blank line ends the group
        "src/a.py:x = 1\nsrc/a.py-y = 2",  # without -n a context line cannot be told from a path with a dash
    ],
)
def test_what_only_looks_like_context_stays(text: str) -> None:
    assert shorten_context_paths(text) == text


def test_only_searches_run_with_context_are_shortened() -> None:
    assert asks_for_context(Context("Grep", {"pattern": "lookup", "-A": 2, "-n": True}))
    assert asks_for_context(Context("Bash", {"command": "rg -n -C 3 lookup src/"}))
    assert asks_for_context(Context("Bash", {"command": "grep -rn -A2 lookup ."}))
    assert not asks_for_context(Context("Grep", {"pattern": "lookup", "output_mode": "content", "-n": True}))
    assert not asks_for_context(Context("Bash", {"command": "git branch -a"}))


def test_through_the_router_a_grep_with_context_arrives_shortened() -> None:
    lines = []
    for n in range(60):  # 60 matches, 3 context lines each, in one long absolute path
        lines += [f"/home/u/projects/service/src/handlers/store_handler.py:{10 * n + 1}:def handler_{n}(request):"]
        lines += [f"/home/u/projects/service/src/handlers/store_handler.py-{10 * n + k}-    step_{k}(request)" for k in (2, 3, 4)]
        lines += ["--"]
    text = "\n".join(lines)
    context = Context("Grep", {"pattern": "def handler_", "output_mode": "content", "-n": True, "-A": 3})
    result = compress(text, context)
    assert result.kind == "search" and len(result.text) < 0.6 * len(text)
    assert "\n2-    step_2(request)" in result.text  # a kept context line, without its path
    kept_matches = [line for line in result.text.split("\n") if ":def handler_" in line]
    assert kept_matches and all(line.startswith("/home/u/projects/service/src/handlers/store_handler.py:") for line in kept_matches)
    plain = compress(text, Context("Grep", {"pattern": "def handler_", "output_mode": "content", "-n": True}))
    assert "\n2-    step_2(request)" not in plain.text  # without a context flag nothing is shortened

    off = compress(text, context, settings=Settings(modes={"search": "off"}))
    assert off.text == text  # a kind turned off is left exactly as it came
