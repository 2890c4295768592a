from addon.provenance.tool_sources import MAX_CHARS, source_of


def test_reads_name_the_file_and_the_lines_asked_for() -> None:
    assert source_of("Read", {"file_path": "src/app.py"}) == "Read src/app.py"
    assert source_of("Read", {"file_path": "src/app.py", "offset": 100, "limit": 200}) == "Read src/app.py:100-299"
    assert source_of("read_file", {"absolute_path": "/w/a.go", "limit": 50}) == "read_file /w/a.go:1-50"


def test_shells_name_their_command_on_one_line() -> None:
    assert source_of("Bash", {"command": "pytest -q\n  tests/x", "description": "run"}) == "Bash $ pytest -q tests/x"
    assert source_of("shell", {"command": ["bash", "-lc", "ls -la"]}) == "shell $ ls -la"
    assert source_of("local_shell", {"action": {"command": ["git", "status"]}}) == "local_shell $ git status"
    assert source_of("exec", {"input": "text(await run('ls'))"}) == "exec $ text(await run('ls'))"


def test_fetches_searches_and_mcp_tools() -> None:
    assert source_of("WebFetch", {"url": "https://example.org/a", "prompt": "x"}) == "WebFetch https://example.org/a"
    assert source_of("Grep", {"pattern": "def main", "path": "src"}) == 'Grep "def main" in src'
    assert source_of("mcp__github__get_issue", {"owner": "acme", "repo": "web", "issue_number": 12}) == (
        "mcp github/get_issue owner=acme repo=web issue_number=12"
    )
    assert source_of("TodoWrite", {"todos": [{"content": "x"}]}) == "TodoWrite"


def test_no_tool_no_source_and_long_ones_are_cut() -> None:
    assert source_of(None, {}) == ""
    long = source_of("Bash", {"command": "echo " + "x" * 500})
    assert len(long) == MAX_CHARS and long.endswith("…")
