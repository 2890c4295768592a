"""The search compressor: grep/rg matches, find paths, ls, ls -l, ls -R and tree listings."""

from __future__ import annotations

import pytest

from compressors import Context, compress
from compressors.lines import Keep, Note, check_selection, render
from compressors.notes import NOTE_PATTERN
from compressors import search_results
from compressors.search_results import select_search

NO_QUERY = Context()


@pytest.fixture
def budget_35_40(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixtures below were sized for a keep share of 35% and a floor of 40 lines; they
    test the capping mechanics at that budget (the default is tighter, tested on its own)."""
    monkeypatch.setattr(search_results, "KEEP_SHARE", 0.35)
    monkeypatch.setattr(search_results, "MIN_BUDGET", 40)


def run(lines: list[str], context: Context = NO_QUERY) -> list[str]:
    """The output lines, after checking the selection covers every line once."""
    selection = select_search(lines, context)
    check_selection(selection, len(lines))
    return render(lines, selection).split("\n")


# --- grep / rg -------------------------------------------------------------------------------

QUERY_FILE = "django/db/models/query.py"


def rg_chain() -> list[str]:
    """`rg -n _chain`: 60 matches in one file, a few in two others."""
    lines = [f"{QUERY_FILE}:{100 + 7 * k}:        clone = self._chain()  # step {k}" for k in range(60)]
    lines[45] = f"{QUERY_FILE}:1890:    def _chain(self):"
    lines[50] = f"{QUERY_FILE}:1932:        prefetch_related_objects(clone._result_cache, *lookups)._chain()"
    lines += [
        "django/db/models/sql/query.py:310:        obj = self._chain_copy()",
        "django/db/models/sql/query.py:512:        # _chain keeps the filters",
        "django/db/models/sql/query.py:977:        return self._chain_copy(klass)",
        "tests/queries/tests.py:88:        qs = Note.objects.all()._chain()",
        "tests/queries/tests.py:91:        self.assertIsNot(qs, qs._chain())",
    ]
    return lines


@pytest.mark.usefixtures("budget_35_40")
def test_grep_caps_a_busy_file_and_keeps_definitions_and_query_matches() -> None:
    lines = rg_chain()
    out = run(lines, Context(query="prefetch_related_objects loses the cache"))
    # 65 matches, a budget of 40: the busy file keeps 35 (its first 18, its definition and its
    # query match, then the next in order); the small files stay whole.
    expected = (
        lines[:33]
        + ["[… 12 matching lines folded: in django/db/models/query.py]", lines[45]]
        + ["[… 4 matching lines folded: in django/db/models/query.py]", lines[50]]
        + ["[… 9 matching lines folded: in django/db/models/query.py]"]
        + lines[60:]
    )
    assert out == expected


def test_grep_keeps_every_file_visible() -> None:
    lines = [f"src/app/module_{k // 20}.py:{k}:    register(handler_{k})" for k in range(200)]
    lines += [f"src/plugins/p{k}.py:3:register(plugin_{k})" for k in range(12)]
    out = "\n".join(run(lines))
    files = {line.split(":", 1)[0] for line in lines}
    assert all(f"{path}:" in out for path in files)
    assert "[… " in out and len(out) < 0.8 * len("\n".join(lines))


@pytest.mark.usefixtures("budget_35_40")
def test_grep_context_lines_with_dashed_paths_and_separators() -> None:
    path = "src/my-app/api-client.js"
    lines: list[str] = []
    for k in range(30):
        n = 20 + 12 * k
        lines += [f"{path}-{n - 1}-  const url = `${{base}}/users/${{id}}`;", f"{path}:{n}:  return fetchJson(url, opts);", f"{path}-{n + 1}-}}", "--"]
    lines += ["web/src/hooks/use-user.ts-4-import { useEffect } from 'react';", "web/src/hooks/use-user.ts:5:const data = fetchJson(url);"]
    out = run(lines)
    notes = [line for line in out if NOTE_PATTERN.fullmatch(line)]
    # the busy file's context lines fold with its matches (so the unit is "line"), under its name
    assert notes == ["[… 51 lines folded: in src/my-app/api-client.js]"]  # whole hunks in order: 39 of 90 kept
    assert out[-2:] == lines[-2:]
    assert out[:3] == lines[:3]


@pytest.mark.usefixtures("budget_35_40")
def test_rg_heading_mode_groups_under_the_path_line() -> None:
    lines = ["src/server/routes.ts"]
    lines += [f"{10 + k}:router.get('/api/v1/items/{k}', authMiddleware, listItems);" for k in range(70)]
    lines += ["", "src/server/auth.ts", "3:export function authMiddleware(req, res, next) {", "41:  return authMiddleware;"]
    out = run(lines)
    assert out[0] == "src/server/routes.ts"
    # 72 matches and 2 heading lines, budget 40: the busy file keeps 36 of 70
    assert out[36:38] == [lines[36], "[… 34 matching lines folded: in src/server/routes.ts]"]
    assert out[-4:] == lines[-4:]


def test_huge_line_folds_whole_unless_it_mentions_the_query() -> None:
    minified = "static/js/app.min.js:1:" + "var a=function(){return 1};" * 120
    lines = [minified, *[f"src/app.js:{k}:  render(App, root);" for k in range(1, 6)]]
    out = run(lines)
    assert out[0] == f"[… 1 line folded: {len(minified):,} chars in static/js/app.min.js]"
    assert out[1:] == lines[1:]
    kept = run(lines, Context(query="why does app.min.js break"))
    assert kept == lines  # relevant: kept verbatim (never cut inside a line)


# --- find / tree / ls ------------------------------------------------------------------------

LOCALES = ["ar", "bg", "bn", "ca", "cs", "da", "de", "el", "eo", "es", "et", "eu", "fa", "fi", "fr", "he",
           "hi", "hr", "hu", "id", "it", "ja", "ko", "lt", "lv", "mk", "nb", "ne", "nl", "pl", "pt", "ro",
           "ru", "si", "sk", "sl", "sq", "sr", "sv", "ta"]  # fmt: skip


def find_sphinx() -> list[str]:
    """`find sphinx -maxdepth 2`: a locale folder with 40 languages and some small folders."""
    lines = ["sphinx", "sphinx/locale", *[f"sphinx/locale/{code}" for code in LOCALES]]
    lines += ["sphinx/domains", *[f"sphinx/domains/{m}.py" for m in ("c", "cpp", "math", "python", "rst", "std", "index", "citation")]]
    lines += ["sphinx/util", *[f"sphinx/util/{m}.py" for m in ("inspect", "typing", "nodes", "docutils", "logging", "osutil", "i18n")]]
    lines += [f"sphinx/{m}.py" for m in ("application", "config", "errors", "events", "highlighting", "project", "registry", "roles")]
    return lines


@pytest.mark.usefixtures("budget_35_40")
def test_find_caps_the_biggest_directory_and_keeps_small_ones_whole() -> None:
    lines = find_sphinx()
    out = run(lines)
    # 63 paths and 4 directory lines, budget 40: the water level is 13 per folder
    assert out == lines[:15] + ["[… 27 paths folded: in sphinx/locale]"] + lines[42:]


@pytest.mark.usefixtures("budget_35_40")
def test_find_keeps_query_matches_in_a_capped_directory() -> None:
    lines = find_sphinx()
    out = run(lines, Context(query="Translations for sphinx/locale/sv are not loaded"))
    assert "sphinx/locale/sv" in out
    assert "sphinx/locale" in out and "sphinx/domains/python.py" in out


@pytest.mark.usefixtures("budget_35_40")
def test_find_keeps_its_error_messages() -> None:
    lines = [*find_sphinx(), "find: 'sphinx/.cache': Permission denied"]
    out = run(lines)
    assert out[-1] == "find: 'sphinx/.cache': Permission denied"
    assert "[… 27 paths folded: in sphinx/locale]" in out


def test_ls_long_names_every_folded_entry_and_keeps_new_files() -> None:
    names = [".editorconfig", ".gitignore", "AUTHORS", "LICENSE", "MANIFEST.in", "README.rst", "setup.cfg", "setup.py", "tox.ini"]
    lines = ["total 184", "drwxrwxrwx  1 root root  4096 Nov 19 00:10 .", "drwxr-xr-x  1 root root  4096 Nov 19 00:08 .."]
    lines += [f"-rw-r--r--  1 root root  {1000 + k * 37} Oct 24  2024 {name}" for k, name in enumerate(names)]
    lines += [
        "drwxrwxrwx 14 root root  4096 Oct 24  2024 django",
        "drwxrwxrwx 13 root root  4096 Oct 24  2024 docs",
        "-rw-r--r--  1 root root   912 Nov 19 00:09 reproduce_bug.py",
        "drwxrwxrwx 21 root root 12288 Oct 24  2024 tests",
    ]
    out = run(lines)
    assert out == [
        *lines[:3],
        "[… 11 items folded: .editorconfig .gitignore AUTHORS LICENSE MANIFEST.in README.rst setup.cfg setup.py tox.ini django/ docs/]",
        "-rw-r--r--  1 root root   912 Nov 19 00:09 reproduce_bug.py",
        "drwxrwxrwx 21 root root 12288 Oct 24  2024 tests",
    ]


def ls_recursive() -> list[str]:
    """`ls -R`: a small package, and 30 test fixture folders of three files each."""
    roots = [f"test-ext-{k:02d}" for k in range(30)]
    lines = [".:", "README.rst", "pkg", "pyproject.toml", "setup.py", "tests", "tox.ini", ""]
    lines += ["./pkg:", *[f"{m}.py" for m in ("__init__", "api", "cli", "config", "core", "errors", "io", "utils")], ""]
    lines += ["./pkg/core:", *[f"{m}.py" for m in ("__init__", "engine", "graph", "nodes", "rules")], ""]
    lines += ["./tests:", "conftest.py", "roots", "test_core.py", ""]
    lines += ["./tests/roots:", *roots, ""]
    for root in roots:
        lines += [f"./tests/roots/{root}:", "conf.py", "index.rst", "module.py", ""]
    return lines[:-1]


@pytest.mark.usefixtures("budget_35_40")
def test_ls_recursive_folds_whole_deep_directories_past_the_budget() -> None:
    lines = ls_recursive()
    out = run(lines)
    assert out[: lines.index("./tests/roots:") + 11] == lines[: lines.index("./tests/roots:") + 11]
    assert "[… 20 items folded: in ./tests/roots]" in out
    # 142 names and 35 headers, budget 49: shallow folders first, then three fixture folders
    assert "./tests/roots/test-ext-02:" in out and "./tests/roots/test-ext-03:" not in out
    assert out[-1] == "[… 81 items folded: 27 directories under ./tests/roots]"


def test_ls_recursive_shows_a_directory_the_query_names() -> None:
    out = run(ls_recursive(), Context(query="conf.py of test-ext-25 is ignored"))
    assert "./tests/roots/test-ext-25:" in out
    assert "conf.py" in out


@pytest.mark.usefixtures("budget_35_40")
def test_ls_recursive_keeps_empty_directories_when_only_capping() -> None:
    lines = [".:", "assets", "empty", "src", "", "./assets:", *[f"img_{k:03d}.png" for k in range(80)], "", "./empty:", "", "./src:", "app.py", "cli.py"]
    out = run(lines)
    assert "[… 49 items folded: in ./assets]" in out  # 31 of 80 kept (budget 40 less 4 headers)
    assert out[-5:] == lines[-5:]  # `./empty:` has no names but stays


def test_grep_errors_and_binary_matches_stay() -> None:
    lines = [f"lib/core.py:{k}:    cache.get(key)" for k in range(1, 90)]
    lines += ["grep: lib/secret: Permission denied", "Binary file lib/core.cpython-311.pyc matches"]
    out = run(lines)
    assert out[-2:] == lines[-2:]
    assert "[… " in "\n".join(out)


@pytest.mark.usefixtures("budget_35_40")
def test_tree_groups_entries_under_their_directory() -> None:
    icons = [f"│   │   ├── icon-{k:03d}.svg" for k in range(60)]
    lines = [".", "├── src", "│   ├── assets", *icons, "│   │   └── logo.png", "│   ├── main.ts", "│   └── router.ts"]
    lines += ["├── package.json", "└── tsconfig.json", "", "3 directories, 66 files"]
    out = run(lines)
    assert out[:3] == lines[:3]
    assert out[37] == "[… 27 items folded: in ./src/assets]"  # 34 of 61 kept
    assert out[-6:] == lines[-6:]  # logo.png was the 61st entry


def test_flat_listing_of_one_directory_is_kept_whole() -> None:
    lines = [f"test_{name}_{k}.py" for k in range(40) for name in ("api", "cli", "db")]
    assert select_search(lines, NO_QUERY) == [Keep(0, len(lines))]


# --- edge cases and the router ---------------------------------------------------------------


def test_small_and_empty_inputs_are_left_whole() -> None:
    small = ["src/a.py:3:import os", "src/b.py:9:import os", "src/c.py:1:import os"]
    assert select_search(small, NO_QUERY) == [Keep(0, 3)]
    assert select_search([], NO_QUERY) == []
    assert select_search([""], NO_QUERY) == [Keep(0, 1)]
    assert select_search(["just one line"], NO_QUERY) == [Keep(0, 1)]


def test_selection_is_deterministic_and_notes_match_the_pattern() -> None:
    for lines in (rg_chain(), find_sphinx(), ls_recursive()):
        first = select_search(lines, Context(query="sphinx locale _chain"))
        assert first == select_search(lines, Context(query="sphinx locale _chain"))
        for item in first:
            if isinstance(item, Note):
                assert NOTE_PATTERN.fullmatch(item.text), item.text


@pytest.mark.parametrize(("command", "kind"), [("rg -n _chain", "search"), ("grep -rn _chain django tests", "auto")])
@pytest.mark.usefixtures("budget_35_40")
def test_through_the_router_with_an_agent_envelope(command: str, kind: str) -> None:
    body = "\n".join(rg_chain())
    text = f"<returncode>0</returncode>\n<output>\n{body}\n</output>"
    context = Context(tool_name="bash", tool_args={"command": command}, query="prefetch_related_objects")
    result = compress(text, context, kind=kind)
    assert result.kind == "search" and not result.lossless
    assert result.text.startswith("<returncode>0</returncode>\n<output>\ndjango/db/models/query.py:100:")
    assert "[… 12 matching lines folded: in django/db/models/query.py]" in result.text
    assert [fold.note for fold in result.folds][0] == "[… 12 matching lines folded: in django/db/models/query.py]"
    assert result.folds[0].first_line == 34 + 2 and result.folds[0].last_line == 45 + 2  # + the envelope's 2 lines


def test_default_budget_keeps_a_fifth_of_a_long_grep_plus_definitions() -> None:
    # 65 matches, the default floor of 25: the three small files stay whole (5 lines), the busy
    # file keeps 20: its first 19 and its definition; every folded run is announced.
    lines = rg_chain()
    out = run(lines)
    expected = (
        lines[:19]
        + ["[… 26 matching lines folded: in django/db/models/query.py]", lines[45]]
        + ["[… 14 matching lines folded: in django/db/models/query.py]"]
        + lines[60:]
    )
    assert out == expected


def test_default_budget_still_keeps_query_matches_on_top() -> None:
    # A file that mentions the query keeps up to RELEVANT_CAP lines whatever the share.
    lines = rg_chain()
    out = run(lines, Context(query="prefetch_related_objects loses the cache"))
    assert lines[50] in out and lines[45] in out
    assert out[:28] == lines[:28]
    assert out[28] == "[… 17 matching lines folded: in django/db/models/query.py]"
    assert out[-5:] == lines[-5:]


def test_a_files_first_hunk_stays_whole_and_a_later_one_keeps_the_lines_nearest_its_match() -> None:
    # `grep -n -C 30 'createClient'`: the context around a match is a range the model chose.
    # The file's first hunk stays whole; a later one over the budget keeps its match and the
    # lines nearest to it, after the match first (a definition's body), not its first lines.
    path = "test/types/test-types.ts"
    first = [f"{path}-4-import {{ vi }} from 'vitest';", f"{path}:5:import {{ createClient }} from './client';", f"{path}-6-"]
    hunk = [f"{path}-{n}-  field_{n}?: string;" for n in range(18, 48)]
    hunk += [f"{path}:48:export function createClient(): Client {{"]
    hunk += [f"{path}-{n}-    call_{n}: vi.fn()," for n in range(49, 79)]
    lines = first + ["--"] + hunk
    out = run(lines)
    assert out[:4] == first + ["--"]
    assert f"{path}:48:export function createClient(): Client {{" in out
    assert all(f"{path}-{n}-    call_{n}: vi.fn()," in out for n in range(49, 58))  # the body right after it
    assert f"{path}-18-  field_18?: string;" not in out  # the far end of the before-context folds
    assert sum(line in out for line in hunk[31:]) >= sum(line in out for line in hunk[:30])
    assert any(NOTE_PATTERN.fullmatch(line) for line in out)
    assert run(hunk) == hunk  # one hunk alone: whole


def test_a_list_of_matching_files_stays_whole() -> None:
    # Claude Code's Grep in its default mode, `grep -rl`, `rg -l`: every path is an answer the
    # model may open next, so the list goes whole (the training sessions lost 2 of 14 such
    # paths when these lists folded, head+tail of the same size 1).
    paths = [f"/home/dev/app/src/{area}/module_{k}.ts" for area in ("api", "handlers", "objects", "utils") for k in range(30)]
    for context in (
        Context("Grep", {"pattern": "batch", "glob": "**/*.ts"}),
        Context("Grep", {"pattern": "batch", "output_mode": "files_with_matches"}),
        Context("Bash", {"command": "cd app && grep -rli 'batch' src | head -200"}),
        Context("Bash", {"command": "rg --files-with-matches batch src"}),
    ):
        assert run(paths, context) == paths, context
    folded = run(paths, Context("Bash", {"command": "find src -name '*.ts'"}))
    assert any(NOTE_PATTERN.fullmatch(line) for line in folded)  # a listing of a tree still folds
