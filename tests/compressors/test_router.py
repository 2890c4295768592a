"""The router: kinds, modes, tool exclusions, agent envelopes and numbered reads."""

from __future__ import annotations

import pytest

from compressors import KINDS, Context, Settings, compress
from compressors.lines import Keep, Note
from compressors.numbered_lines import unpad_numbers
from compressors.router import REGISTRY, route

REPEATED = "\n".join(["build step failed, retrying with backoff"] * 6)


def test_unknown_kind_raises_value_error_naming_the_known_kinds() -> None:
    with pytest.raises(ValueError) as excinfo:
        compress(REPEATED, kind="no-such-kind")
    assert "'no-such-kind'" in str(excinfo.value)
    for kind in KINDS:
        assert kind in str(excinfo.value)


def test_compress_accepts_no_context() -> None:
    assert compress("plain", None).text == "plain"


def test_excluded_tool_is_left_whole() -> None:
    result = compress(REPEATED, Context(tool_name="mcp__crm__lookup"), settings=Settings(exclude_tools=("mcp__crm__lookup",)))
    assert result.text == REPEATED and result.kind == "excluded"


def test_mode_off_leaves_a_kind_alone_and_lossless_only_folds_repeats() -> None:
    context = Context(tool_name="Bash", tool_args={"command": "pytest -q"})
    off = compress(REPEATED, context, settings=Settings(modes={"test": "off"}))
    assert off.text == REPEATED and off.kind == "test"
    lossless = compress(REPEATED, context, settings=Settings(modes={"test": "lossless"}))
    assert lossless.lossless and "[previous line repeated 5 more times]" in lossless.text


def test_mini_swe_agent_envelope_is_kept_around_the_compressed_output() -> None:
    text = f"<returncode>1</returncode>\n<output>\n{REPEATED}\n</output>"
    result = compress(text, kind="repeated_lines")
    assert result.text.startswith("<returncode>1</returncode>\n<output>\n")
    assert result.text.endswith("\n</output>")
    assert "[previous line repeated 5 more times]" in result.text


def test_numbered_read_keeps_every_kept_line_number(monkeypatch) -> None:
    """A line compressor sees the content only; the router puts the numbers back."""

    def keep_first_and_last(lines, context):
        return [Keep(0, 1), Note("[… 3 lines folded]", 1, 4), Keep(4, 5)]

    monkeypatch.setitem(REGISTRY, "log", ("tests.compressors.test_router", "_unused", "lines"))
    monkeypatch.setattr("compressors.router.load", lambda kind: (keep_first_and_last, "lines"))
    text = "".join(f"{n:6d}→line {n}\n" for n in range(10, 15))
    result = route(text, Context(tool_name="Read", path="/x/app.log"), "log")
    assert result.text == "10→line 10\n[… 3 lines folded]\n14→line 14\n"  # numbers kept, their padding dropped
    # folds count lines of the text given (lines 2-4 here, which the read numbers 11-13)
    assert result.folds[0].first_line == 2 and result.folds[0].last_line == 4
    assert not result.lossless


def test_a_selection_that_loses_lines_is_rejected(monkeypatch) -> None:
    monkeypatch.setattr("compressors.router.load", lambda kind: (lambda lines, context: [Keep(0, 1)], "lines"))
    with pytest.raises(ValueError, match="covers 1 of"):
        route("a\nb\nc", Context(), "log")


def test_parse_modes_and_projections() -> None:
    from compressors.router import parse_modes, parse_projections

    assert parse_modes(["json=on", "code=off", "log=lossless"]) == {"json": "on", "code": "off", "log": "lossless"}
    for bad in (["json"], ["jsn=on"], ["json=maybe"]):
        with pytest.raises(ValueError, match="KIND=MODE"):
            parse_modes(bad)
    assert parse_projections(["api.github.com/*=items[].{id: id}"]) == (("api.github.com/*", "items[].{id: id}"),)
    with pytest.raises(ValueError, match="jmespath"):
        parse_projections(["x=items[.bad"])
    with pytest.raises(ValueError, match="GLOB=JMESPATH"):
        parse_projections(["=items"])


def test_projection_is_chosen_by_tool_name_or_url(monkeypatch) -> None:
    seen = {}

    def fake_json(text, context, projection=None):
        seen["projection"] = projection
        return Result(text, "json", True, ())

    from compressors.types import Result

    monkeypatch.setattr("compressors.router.load", lambda kind: (fake_json, "text"))
    settings = Settings(projections=(("mcp__gh__*", "items[].id"), ("https://api.example.com/*", "data")))
    route('{"items": []}', Context("mcp__gh__issues"), "json", settings)
    assert seen["projection"] == "items[].id"
    route('{"items": []}', Context("fetch", {"url": "https://api.example.com/v1/x"}), "json", settings)
    assert seen["projection"] == "data"
    route('{"items": []}', Context("other"), "json", settings)
    assert seen["projection"] is None


def test_truncated_mini_swe_agent_envelope_compresses_head_and_tail_separately() -> None:
    head = "\n".join(["collecting packages, please wait"] * 8)
    tail = "\n".join(["FAILED (errors=1)"] * 5)
    text = (
        "<returncode>1</returncode>\n<warning>\nThe output of your last command was too long.\n</warning><output_head>\n"
        f"{head}\n</output_head>\n<elided_chars>\n14764 characters elided\n</elided_chars>\n<output_tail>\n{tail}\n</output_tail>"
    )
    result = compress(text, kind="repeated_lines")
    assert result.text == (
        "<returncode>1</returncode>\n<warning>\nThe output of your last command was too long.\n</warning><output_head>\n"
        "collecting packages, please wait\n[previous line repeated 7 more times]\n</output_head>\n<elided_chars>\n"
        "14764 characters elided\n</elided_chars>\n<output_tail>\nFAILED (errors=1)\n[previous line repeated 4 more times]\n</output_tail>"
    )
    assert len(result.folds) == 2


def test_lossless_mode_gives_json_its_lossless_table() -> None:
    import json as jsonlib

    items = [{"id": i, "login": f"user{i}", "type": "User", "site_admin": False} for i in range(60)]
    text = jsonlib.dumps(items, indent=2)
    result = compress(text, Context(tool_name="fetch"), kind="json", settings=Settings(default_mode="lossless"))
    assert result.lossless and len(result.text) < len(text) / 2
    assert "user59" in result.text and "constant in all 60 items" in result.text


REMINDER = "\n\n<system-reminder>\nWhenever you read a file, you should consider whether it looks malicious.\n</system-reminder>\n"


def _log_file(lines: int = 600) -> str:
    return "\n".join(
        f"2025-08-11T18:{i // 60 % 60:02d}:{i % 60:02d}Z INFO worker-{i % 4} processed batch {i} in {i % 97} ms" for i in range(lines)
    ) + "\n2025-08-11T19:00:00Z ERROR worker-2 lost its connection to db-7: timeout after 30 s"


def _claude_code_read(source: str) -> str:
    return "\n".join(f"{n:6d}→{line}" for n, line in enumerate(source.split("\n"), 1)) + REMINDER


def test_a_claude_code_read_with_its_trailing_reminder_is_compressed_and_the_reminder_kept() -> None:
    read = _claude_code_read(_log_file())
    result = compress(read, Context(tool_name="Read", tool_args={"file_path": "/srv/app.log"}, path="/srv/app.log", query="why did it fail"))
    assert len(result.text) < 0.7 * len(read), "the numbered lines under Claude Code's reminder were not compressed"
    assert result.text.endswith(REMINDER)  # Claude Code's own text, byte for byte
    assert "\n601→2025-08-11T19:00:00Z ERROR worker-2 lost its connection to db-7" in result.text  # with its exact number


@pytest.mark.parametrize("tool_input", [{"file_path": "/srv/app.log", "offset": 1, "limit": 900}, {"file_path": "/repo/app.py", "limit": 2000}])
def test_a_range_chosen_by_claude_code_is_left_whole(tool_input: dict) -> None:
    read = _claude_code_read(_log_file())
    result = compress(read, Context(tool_name="Read", tool_args=tool_input, path=tool_input["file_path"]))
    # every line and number kept, byte for byte after the separator: only the numbers' padding goes
    assert result.text == unpad_numbers(read) and result.kind == "whole" and result.lossless
    assert result.text.startswith("1→2025-08-11T18:00:00Z INFO") and "\n601→2025-08-11T19:00:00Z ERROR" in result.text
    assert result.text.endswith(REMINDER)


def test_a_whole_source_file_read_by_claude_code_is_outlined_with_its_numbers_literals_and_reminder() -> None:
    source = ["import logging", "", "log = logging.getLogger(__name__)", ""]
    for n in range(30):
        source += [f"def step_{n}(batch):", "    total = 0", "    for item in batch:", "        total += item.size",
                   f"    if total > {1000 + n}:", f'        log.warning("batch too large for step {n}: %d", total)',
                   "    total = total * 2", "    return total", ""]
    read = _claude_code_read("\n".join(source))
    result = compress(read, Context(tool_name="Read", tool_args={"file_path": "/repo/steps.py"}, path="/repo/steps.py"))
    assert result.kind == "code" and not result.lossless and len(result.text) < 0.8 * len(read)
    assert "\n5→def step_0(batch):\n" in result.text and "lines folded: body of step_29" in result.text
    assert '\n10→        log.warning("batch too large for step 0: %d", total)' in result.text  # a literal stays
    assert "total += item.size" not in result.text and result.text.endswith(REMINDER)


@pytest.mark.parametrize("tool", ["Edit", "MultiEdit", "Write", "Task", "Agent"])
def test_edit_confirmations_and_sub_agent_reports_are_left_whole(tool: str) -> None:
    text = "The file /repo/app.py has been updated. Here's the result of running `cat -n` on a snippet of the edited file:\n" + "\n".join(
        f"{n:6d}→    step({n})  # the snippet the model edits from next" for n in range(100, 400)
    )
    result = compress(text, Context(tool_name=tool, tool_args={"file_path": "/repo/app.py"}))
    assert result.text == unpad_numbers(text) and result.kind == "whole" and result.lossless
    assert "edited file:\n100→    step(100)  # the snippet" in result.text  # the header whole, the numbers unpadded
    report = "The sub-agent found three call sites:\n" + "\n".join(f"- src/app.py line {n}: step({n})" for n in range(100, 300))
    assert compress(report, Context(tool_name=tool, tool_args={})).text == report  # nothing else changes


def test_a_background_shell_poll_is_routed_as_a_log() -> None:
    text = "<status>running</status>\n\n<stdout>\n" + "\n".join(f"2025-08-11T18:33:{i % 60:02d}Z INFO step {i} done" for i in range(300)) + "\n</stdout>"
    result = compress(text, Context(tool_name="BashOutput", tool_args={"bash_id": "bash_1"}))
    assert result.kind == "log"


def _vitest_run(repeats: int) -> str:
    stack = [
        "stderr | test/api/email.test.ts > PersonValidator > accepts valid email formats",
        "[batchEmailValidation] Batch query failed, falling back: TypeError: Cannot read properties of undefined (reading 'data')",
        "    at searchPeopleByEmails (/srv/app/src/objects/people-write.ts:69:18)",
        "    at Function.validateCreate (/srv/app/src/objects/people-write.ts:154:28)",
        "",
    ]
    passes = [f" ✓ test/unit/module{k}.test.ts (4 tests) {k + 3}ms" for k in range(40)]
    # a failing run: what its tests wrote to stderr is kept (test_output)
    summary = [" Test Files  1 failed | 40 passed (41)", "      Tests  1 failed | 166 passed (167)", "   Duration  2.31s"]
    return "\n".join(["> app@1.0.0 test", "> vitest", "", *passes, "", *summary, *stack * repeats])


def test_blocks_a_compressor_kept_that_repeat_back_to_back_go_once_with_a_count() -> None:
    text = _vitest_run(12)
    result = compress(text, Context(tool_name="Bash", tool_args={"command": "npm test"}))
    assert result.kind == "test"
    out = result.text.split("\n")
    assert "[previous 5 lines repeated 11 more times]" in out
    assert out.count("    at searchPeopleByEmails (/srv/app/src/objects/people-write.ts:69:18)") == 1
    assert "      Tests  1 failed | 166 passed (167)" in out
    # A text that already holds a line shaped like that note is left to the compressor alone.
    shaped = text + "\n[previous 2 lines repeated 3 more times]"
    assert "[previous 5 lines repeated 11 more times]" not in compress(shaped, Context(tool_name="Bash", tool_args={"command": "npm test"})).text


@pytest.mark.parametrize("tool", ["ExitPlanMode", "AskUserQuestion"])
def test_the_users_approved_plan_and_answers_are_left_whole(tool: str) -> None:
    # ExitPlanMode hands back the plan the user approved, for the model to carry out next; it
    # reads as prose, and the prose model would drop steps of it.
    steps = "\n".join(f"{n}. Update `src/module_{n}.ts` so that the importer retries page {n} before giving up on it." for n in range(1, 80))
    text = "User has approved your plan. You can now start coding.\n\n## Approved Plan:\n# Importer retries\n\n" + steps
    assert compress(text, Context(tool_name=tool, tool_args={})).text == text
    assert compress(text, Context(tool_name="mcp__notes__read", tool_args={})).text != text  # prose elsewhere is compressed


def test_an_envelopes_parts_get_the_repeat_pass_under_their_own_kind() -> None:
    # mini-swe-agent's head/tail envelope: a log head and a test tail; with tests turned off the
    # tail comes back exactly as it was, repeats and all.
    head = "\n".join(f"2025-01-01T00:00:{k:02d} INFO worker {k} started on port {8000 + k}" for k in range(40))
    block = ["FAIL tests/test_api.py::test_create - AssertionError: expected 201, got 500 from the create endpoint", "    at create (src/api.py:88)"]
    tail = "\n".join([*block * 6, "========== 6 failed, 40 passed in 3.21s =========="])
    text = f"<returncode>1</returncode>\n<warning>long</warning><output_head>\n{head}\n</output_head>\n<elided_chars>\n9000 characters elided\n</elided_chars>\n<output_tail>\n{tail}\n</output_tail>"
    result = compress(text, Context(tool_name="bash", tool_args={"command": "./run_all.sh"}), settings=Settings(modes={"test": "off"}))
    assert result.kind != "test"  # the head's kind: the envelope reports its first part's
    assert tail in result.text and "repeated" not in result.text.split("<output_tail>")[1]
