"""The VCS compressor: git diff/show, git log, git status and git blame."""

from __future__ import annotations

from compressors import Context, compress
from compressors import vcs_output
from compressors.lines import Keep, Note, check_selection, render
from compressors.notes import NOTE_PATTERN
from compressors.vcs_output import classify, select_vcs

NO_QUERY = Context()


def run(lines: list[str], context: Context = NO_QUERY) -> list[str]:
    selection = select_vcs(lines, context)
    check_selection(selection, len(lines))
    return render(lines, selection).split("\n")


def changed_lines(lines: list[str]) -> list[str]:
    return [line for line, r in zip(lines, classify(lines)) if r.role in ("add", "del")]


# --- diffs -----------------------------------------------------------------------------------

CONFIG_DIFF = """\
diff --git a/src/app/config.py b/src/app/config.py
index 3f2a9c1..8b7d0e4 100644
--- a/src/app/config.py
+++ b/src/app/config.py
@@ -12,7 +12,8 @@ class Settings:
     debug: bool = False
     database_url: str = "sqlite:///app.db"
     cache_ttl: int = 300
-    timeout: int = 30
+    timeout: float = 30.0
+    retries: int = 3
     log_level: str = "INFO"
     allowed_hosts: tuple[str, ...] = ()
     secret_key: str = ""
"""

# `git diff -U8`: long unchanged runs around the changes
VIEWS_DIFF = """\
diff --git a/src/app/views.py b/src/app/views.py
index 91c0d2e..4e5f6a7 100644
--- a/src/app/views.py
+++ b/src/app/views.py
@@ -40,20 +40,20 @@ def list_items(request):
     page = int(request.GET.get("page", 1))
     size = int(request.GET.get("size", 20))
     query = Item.objects.filter(owner=request.user)
     if "q" in request.GET:
         query = query.filter(name__icontains=request.GET["q"])
     query = query.order_by("-created")
     total = query.count()
     items = query[(page - 1) * size : page * size]
-    return render(request, "items.html", {"items": items})
+    return render(request, "items.html", {"items": items, "total": total})
 
 
 def item_detail(request, pk):
     item = get_object_or_404(Item, pk=pk, owner=request.user)
     history = item.history.order_by("-changed")[:10]
     comments = item.comments.select_related("author")
     related = Item.objects.filter(tags__in=item.tags.all()).exclude(pk=pk)
     context = {"item": item, "history": history}
-    context["comments"] = comments
+    context["comments"] = list(comments)
     context["related"] = related.distinct()[:5]
     return render(request, "item_detail.html", context)
"""

NEW_TEST_DIFF = """\
diff --git a/tests/test_config.py b/tests/test_config.py
new file mode 100644
index 0000000..5d1e2f3
--- /dev/null
+++ b/tests/test_config.py
@@ -0,0 +1,6 @@
+from app.config import Settings
+
+
+def test_timeout_is_a_float():
+    assert Settings().timeout == 30.0
+    assert Settings().retries == 3
"""


def lock_diff() -> str:
    removed = [f'-      "integrity": "sha512-{k:04d}oldhasholdhasholdhash==",' for k in range(18)]
    added = [f'+      "integrity": "sha512-{k:04d}newhashnewhashnewhash==",' for k in range(22)]
    head = [
        "diff --git a/package-lock.json b/package-lock.json",
        "index 1a2b3c4..5d6e7f8 100644",
        "--- a/package-lock.json",
        "+++ b/package-lock.json",
        "@@ -210,18 +210,22 @@",
    ]
    return "\n".join(head + removed + added) + "\n"


def diff_lines() -> list[str]:
    return (CONFIG_DIFF + VIEWS_DIFF + NEW_TEST_DIFF + lock_diff()).rstrip("\n").split("\n")


def test_diff_keeps_headers_and_every_changed_line_and_trims_long_context() -> None:
    lines = diff_lines()
    out = run(lines)
    views = lines.index("diff --git a/src/app/views.py b/src/app/views.py")
    # -U8 context: 6 of the 8 lines before the first change fold, 2 stay on each side
    assert out[views + 5 : views + 9] == [
        "[… 6 unchanged lines folded]",
        "     total = query.count()",
        "     items = query[(page - 1) * size : page * size]",
        '-    return render(request, "items.html", {"items": items})',
    ]
    assert "[… 4 unchanged lines folded]" in out  # between the two changes: 8 unchanged, 2+2 kept
    assert out[-1] == "[… 1 hunk folded: +22 -18 in package-lock.json]"
    assert "+++ b/package-lock.json" in out
    for line in changed_lines(lines):
        if "sha512" not in line:
            assert line in out
    for line in lines[: lines.index("diff --git a/package-lock.json b/package-lock.json") + 4]:
        if line.startswith(("diff --git", "@@", "--- ", "+++ ", "index ", "new file mode")):
            assert line in out
    assert out[: len(CONFIG_DIFF.splitlines())] == CONFIG_DIFF.splitlines()  # default context: whole


def test_context_mentioning_the_query_is_kept() -> None:
    lines = diff_lines()
    out = run(lines, Context(query="item_detail should select_related the comment author"))
    assert '     comments = item.comments.select_related("author")' in out


def test_hunks_past_the_budget_fold_with_counts_but_files_stay_named(monkeypatch) -> None:
    monkeypatch.setattr(vcs_output, "CHANGED_BUDGET", 4)
    lines = (CONFIG_DIFF + VIEWS_DIFF + NEW_TEST_DIFF).rstrip("\n").split("\n")
    out = run(lines)
    assert "+    retries: int = 3" in out  # the first hunk (3 changed lines) fits the budget
    assert "[… 1 hunk folded: +2 -2 in src/app/views.py]" in out
    assert "[… 1 hunk folded: +6 -0 in tests/test_config.py]" in out
    assert "diff --git a/src/app/views.py b/src/app/views.py" in out
    assert "+++ b/tests/test_config.py" in out


def test_a_small_diff_is_left_whole() -> None:
    lines = CONFIG_DIFF.rstrip("\n").split("\n")
    assert select_vcs(lines, NO_QUERY) == [Keep(0, len(lines))]


def test_git_show_keeps_the_commit_header_and_its_diff() -> None:
    header = [
        "commit 7c1e5b2a9d4f3e8b6a0c2d1e5f7a9b3c4d6e8f01",
        "Author: Ana Lima <ana@example.org>",
        "Date:   Tue Mar 5 14:02:11 2024 +0100",
        "",
        "    Make the request timeout a float and add retries",
        "",
    ]
    lines = header + diff_lines()
    out = run(lines)
    assert out[:6] == header
    assert "[… 1 hunk folded: +22 -18 in package-lock.json]" in out


# --- log, status, blame ----------------------------------------------------------------------


def git_log(commits: int) -> list[str]:
    lines: list[str] = []
    for k in range(commits):
        lines += [
            f"commit {k:02x}{'5e3a9c' * 6}{k:02x}",
            "Author: Ana Lima <ana@example.org>",
            f"Date:   Tue Mar {k % 28 + 1} 14:02:11 2024 +0100",
            "",
            f"    Fix cache invalidation in the item list (#{4100 + k})",
            "    ",
            "    The list view cached pages per user but never dropped them when",
            "    an item changed, so edits showed up only after the TTL expired.",
            "    This adds a post_save hook that clears the owner's pages and a",
            "    regression test that edits an item and reloads the first page.",
            "    ",
            "    The hook runs after the transaction commits, so a rolled-back",
            "    edit keeps the cached pages it never changed.",
            "    ",
            f"    Fixes #{4000 + k}",
            "",
        ]
    return lines[:-1]


def test_log_keeps_hash_author_date_subject_and_folds_long_messages() -> None:
    lines = git_log(3)
    out = run(lines)
    assert out[:9] == lines[:9]
    assert out[9] == "[… 6 message lines folded]"
    assert out[10:20] == lines[15:25]  # the blank line between commits stays
    assert sum(line.startswith("commit ") for line in out) == 3
    assert all(f"(#{4100 + k})" in "\n".join(out) for k in range(3))


def test_log_folds_author_and_date_after_many_commits() -> None:
    lines = git_log(25)
    out = run(lines)
    assert out.count("[… 2 header lines folded: Author/Date]") == 5
    assert "Date:   Tue Mar 20 14:02:11 2024 +0100" in out  # commit 20 keeps its date
    assert "Date:   Tue Mar 21 14:02:11 2024 +0100" not in out


def test_oneline_log_keeps_head_tail_and_query_matches() -> None:
    lines = [f"{k:07x}a Fix issue #{900 + k} in the exporter" for k in range(80)]
    lines[60] = "3c0ffee Handle unicode filenames in export_csv"
    out = run(lines, Context(query="export_csv crashes on unicode file names"))
    assert out[:40] == lines[:40]
    assert out[40] == "[… 20 commits folded]"
    assert out[41] == lines[60]
    assert out[42] == "[… 9 commits folded]"
    assert out[43:] == lines[70:]


def test_status_keeps_changed_paths_and_folds_untracked_by_directory() -> None:
    lines = [
        "On branch main",
        "Changes not staged for commit:",
        '  (use "git add <file>..." to update what will be committed)',
        '  (use "git restore <file>..." to discard changes in working directory)',
        "\tmodified:   src/app/config.py",
        "\tmodified:   src/app/views.py",
        "\tdeleted:    src/app/legacy.py",
        "",
        "Untracked files:",
        '  (use "git add <file>..." to include in what will be committed)',
        *[f"\tbuild/lib/app/module_{k}.py" for k in range(30)],
        *[f"\tnotes/draft_{k}.md" for k in range(6)],
        "\treproduce_issue.py",
        "",
        'no changes added to commit (use "git add" and/or "git commit -a")',
    ]
    out = run(lines)
    assert out[:20] == lines[:20]  # everything up to the first 10 untracked paths
    assert out[20] == "[… 27 untracked paths folded: 20 in build/, 6 in notes/, 1 in .]"
    assert out[21:] == lines[-2:]


def test_long_blame_keeps_head_tail_and_lines_near_the_query() -> None:
    lines = [
        f"{'a1b2c3d4' if k % 3 else '9f8e7d6c'} (Ana Lima 2023-11-0{k % 9 + 1} 10:0{k % 6}:00 +0100 {k + 1:3d})     value_{k} = compute({k})"
        for k in range(120)
    ]
    lines[80] = "5e5e5e5e (Bo Chen 2024-02-14 09:30:00 +0100  81)     timeout = parse_timeout(raw)"
    out = run(lines, Context(query="parse_timeout rejects floats"))
    assert out[:40] == lines[:40]
    assert lines[77:84] == out[out.index(lines[77]) : out.index(lines[77]) + 7]
    assert out[-10:] == lines[-10:]
    notes = [line for line in out if NOTE_PATTERN.fullmatch(line)]
    assert notes == ["[… 37 blame lines folded: 25 in a1b2c3d4, 12 in 9f8e7d6c]", "[… 26 blame lines folded: 17 in a1b2c3d4, 9 in 9f8e7d6c]"]


# --- edge cases and the router ---------------------------------------------------------------


def test_empty_and_tiny_inputs() -> None:
    assert select_vcs([], NO_QUERY) == []
    assert select_vcs([""], NO_QUERY) == [Keep(0, 1)]
    assert select_vcs(["nothing to commit, working tree clean"], NO_QUERY) == [Keep(0, 1)]


def test_deterministic_and_every_note_matches_the_pattern() -> None:
    for lines in (diff_lines(), git_log(25)):
        selection = select_vcs(lines, NO_QUERY)
        assert selection == select_vcs(lines, NO_QUERY)
        assert all(NOTE_PATTERN.fullmatch(item.text) for item in selection if isinstance(item, Note))


def test_through_the_router() -> None:
    text = "\n".join(diff_lines())
    context = Context(tool_name="bash", tool_args={"command": "git diff"})
    result = compress(text, context, kind="diff")
    assert compress(text, context).text == result.text  # `git diff` routes here on its own
    assert result.kind == "diff" and not result.lossless
    assert result.folds[-1].note == "[… 1 hunk folded: +22 -18 in package-lock.json]"
    assert result.folds[-1].last_line == len(diff_lines())
