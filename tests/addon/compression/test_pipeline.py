"""rewrite_body: compress fresh segments, replay memoised ones, touch no other byte."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from addon.compression.decision_memo import Decision, DecisionMemo, content_key
from addon.providers import UnknownShape
from addon.providers.anthropic_messages import AnthropicMessages
from addon.providers.openai_chat import OpenAIChat
from addon.compression.pipeline import NotJson, rewrite_body
from addon.compression.segment_decisions import Policy, decide
from addon.compression.rewrite_report import count_tokens_for
from compressors import Context, Result, compress
from compressors.numbered_lines import unpad_numbers
from compressors.tokens import count_tokens
from tests.support.bodies import noisy_log

ANTHROPIC = AnthropicMessages()
LOG = noisy_log(300)
FOLDED = compress(LOG).text


@pytest.fixture
def memo(tmp_path: Path) -> Iterator[DecisionMemo]:
    m = DecisionMemo(tmp_path / "decisions")
    yield m
    m.close()


class Recorder:
    """A compress_fn that records what it was asked and delegates to the real compressor."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Context]] = []

    def __call__(self, text: str, context: Context) -> Result:
        self.calls.append((text, context))
        return compress(text, context)


def messages(*outputs: str, query: str = "why did the payment fail?") -> list[dict[str, Any]]:
    """A Read/tool_result round per output: only the last round comes after the model's last turn."""
    out: list[dict[str, Any]] = [{"role": "user", "content": query}]
    for n, output in enumerate(outputs):
        out.append(
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": f"t{n}", "name": "Read", "input": {"file_path": f"/var/log/{n}.log"}}],
            }
        )
        out.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{n}", "content": output}]})
    return out


def parallel(*outputs: str) -> list[dict[str, Any]]:
    """One model turn calling several tools at once: all results are fresh."""
    uses = [{"type": "tool_use", "id": f"p{n}", "name": "Bash", "input": {}} for n in range(len(outputs))]
    results = [{"type": "tool_result", "tool_use_id": f"p{n}", "content": o} for n, o in enumerate(outputs)]
    return [{"role": "user", "content": "go"}, {"role": "assistant", "content": uses}, {"role": "user", "content": results}]


def body_of(msgs: list[dict[str, Any]]) -> bytes:
    return json.dumps({"model": "claude-sonnet-4-5", "max_tokens": 1024, "messages": msgs}).encode()


def tool_result_text(body: bytes, index: int) -> str:
    return json.loads(body)["messages"][index]["content"][0]["content"]


def test_fresh_segment_is_compressed(memo: DecisionMemo) -> None:
    body = body_of(messages(LOG))
    out, report = rewrite_body(body, ANTHROPIC, memo)
    assert tool_result_text(out, 2) == FOLDED
    assert (report.segments, report.fresh, len(report.rewritten)) == (1, 1, 1)
    (segment,) = report.rewritten
    assert (segment.kind, segment.source, segment.tool_name, segment.memo) == ("log", "tool_output", "Read", False)
    assert (report.tokens_before, report.tokens_after) == (count_tokens(LOG), count_tokens(FOLDED))
    # The exact counts travel with the decision, so a replay need not count again.
    assert memo.get(content_key(LOG)) == Decision("log", FOLDED, count_tokens(LOG), count_tokens(FOLDED))


def test_compressor_gets_the_tool_context(memo: DecisionMemo) -> None:
    recorder = Recorder()
    rewrite_body(body_of(messages(LOG, query="find the declined card")), ANTHROPIC, memo, compress_fn=recorder)
    ((text, context),) = recorder.calls
    assert text == LOG
    assert context == Context("Read", {"file_path": "/var/log/0.log"}, "/var/log/0.log", "find the declined card", "tool_output")


def test_only_fresh_segments_are_compressed(memo: DecisionMemo) -> None:
    old, new = noisy_log(200, needle="old needle"), noisy_log(250, needle="new needle")
    msgs = messages(old, new)
    body = body_of(msgs)
    recorder = Recorder()
    out, report = rewrite_body(body, ANTHROPIC, memo, compress_fn=recorder)
    assert [text for text, _ in recorder.calls] == [new]
    assert tool_result_text(out, 2) == old  # seen by the provider as it was: left alone
    assert tool_result_text(out, 4) == compress(new).text
    assert (report.segments, report.fresh, len(report.rewritten)) == (2, 1, 1)
    assert memo.get(content_key(old)) is None


def test_memoised_decision_is_replayed_once_no_longer_fresh(memo: DecisionMemo) -> None:
    first = messages(LOG)
    out1, _ = rewrite_body(body_of(first), ANTHROPIC, memo)
    # The next turn of the same conversation: the model answered, the log is history now.
    later = first + [{"role": "assistant", "content": "card declined"}, {"role": "user", "content": "thanks, and now?"}]
    recorder = Recorder()
    out2, report = rewrite_body(body_of(later), ANTHROPIC, memo, compress_fn=recorder)
    assert recorder.calls == []
    assert tool_result_text(out2, 2) == tool_result_text(out1, 2) == FOLDED
    (segment,) = report.rewritten
    assert segment.memo and report.fresh == 0
    # The first request's bytes are a prefix of what the second forwards, up to the new turns.
    assert out2.startswith(out1[: out1.rindex(b"]")])


def test_memo_is_keyed_on_content_across_conversations(memo: DecisionMemo) -> None:
    rewrite_body(body_of(messages(LOG)), ANTHROPIC, memo)
    other = messages("different " + LOG, LOG)  # same text, other position, another tool id
    out, report = rewrite_body(body_of(other), ANTHROPIC, memo)
    assert tool_result_text(out, 4) == FOLDED
    assert [r.memo for r in report.rewritten] == [True]


def test_bytes_outside_rewritten_strings_are_identical(memo: DecisionMemo) -> None:
    body_dict = {
        "model": "claude-sonnet-4-5",
        "temperature": "@T@",
        "max_tokens": "@M@",
        "top_k": "@K@",
        "metadata": {"user_id": "caf\u00e9 / \u2603"},
        "messages": messages("SHORT OUTPUT", LOG),
    }
    text = json.dumps(body_dict, indent=3, ensure_ascii=True)
    text = text.replace('"@T@"', "1.0").replace('"@M@"', "1.024e3").replace('"@K@"', "-0")
    text = text.replace("caf\\u00e9 /", "caf\\u00e9 \\/")
    body = text.encode()
    out, report = rewrite_body(body, ANTHROPIC, memo)
    assert len(report.rewritten) == 1

    literal = json.dumps(LOG).encode()  # how the log is spelled in the original body
    start = body.index(literal)
    end = start + len(literal)
    assert out[:start] == body[:start]
    assert out[len(out) - (len(body) - end) :] == body[end:]
    assert json.loads(out[start : len(out) - (len(body) - end)]) == FOLDED
    assert b'"temperature": 1.0,' in out and b'"max_tokens": 1.024e3,' in out and b'"top_k": -0,' in out
    assert b"caf\\u00e9 \\/ \\u2603" in out


def test_nothing_to_do_returns_the_same_bytes(memo: DecisionMemo) -> None:
    body = body_of(messages("small output"))
    out, report = rewrite_body(body, ANTHROPIC, memo)
    assert out is body
    assert report.rewritten == [] and report.segments == 1


def test_segment_below_min_tokens_is_untouched(memo: DecisionMemo) -> None:
    body = body_of(messages(LOG))
    recorder = Recorder()
    policy = Policy(min_tokens=len(LOG))  # more tokens than the text has, however they are counted
    out, report = rewrite_body(body, ANTHROPIC, memo, policy, recorder)
    assert out is body and report.rewritten == [] and report.segments == 1
    assert recorder.calls == []
    assert memo.get(content_key(LOG)) is None


def test_long_text_of_few_tokens_is_untouched(memo: DecisionMemo) -> None:
    text = "a" * 600  # 150 tokens by the chars/4 estimate, fewer by the tokenizer
    assert count_tokens(text) < Policy().min_tokens
    recorder = Recorder()
    _, report = rewrite_body(body_of(messages(text)), ANTHROPIC, memo, compress_fn=recorder)
    assert report.rewritten == [] and recorder.calls == []


def test_small_saving_is_not_applied_and_remembered_as_unchanged(memo: DecisionMemo) -> None:
    calls: list[str] = []

    def trim_last_line(text: str, context: Context) -> Result:
        calls.append(text)
        return Result(text.rsplit("\n", 1)[0], "trim", False)

    body = body_of(messages(LOG))
    out, report = rewrite_body(body, ANTHROPIC, memo, compress_fn=trim_last_line)
    assert out is body and report.rewritten == []
    decision = memo.get(content_key(LOG))
    assert decision is not None and (decision.kind, decision.text) == ("trim", None)
    # The decision is not taken again: the same text is left alone without compressing.
    out2, report2 = rewrite_body(body, ANTHROPIC, memo, compress_fn=trim_last_line)
    assert out2 is body and report2.rewritten == [] and len(calls) == 1


def test_saving_threshold_is_a_share_of_tokens(memo: DecisionMemo, tmp_path: Path) -> None:
    # Saving 20 % of the tokens is enough for min_saving=0.1 but not for min_saving=0.5.
    def drop_fifth(text: str, context: Context) -> Result:
        lines = text.split("\n")
        return Result("\n".join(lines[: len(lines) * 4 // 5]), "drop", False)

    body = body_of(messages(LOG))
    out, _ = rewrite_body(body, ANTHROPIC, memo, Policy(min_saving=0.5), drop_fifth)
    assert out is body
    memo2 = DecisionMemo(tmp_path / "clean")  # the first memo remembers "unchanged" for this text
    try:
        out, report = rewrite_body(body, ANTHROPIC, memo2, Policy(min_saving=0.1), drop_fifth)
        assert out is not body and report.rewritten[0].kind == "drop"
    finally:
        memo2.close()


def test_a_lossless_result_needs_no_share_of_the_tokens_only_enough_of_them(tmp_path: Path) -> None:
    # Unpadding a Read's line numbers saves ~1 token a line, often under min_saving: nothing is
    # lost, so it goes whenever it saves min_lossless_saved_tokens; the same saving, lossy, does not.
    read = "".join(f"{n:6d}→    value_{n} = compute(value_{n - 1}, step={n})  # a longer line of source\n" for n in range(1, 400))
    unpadded = Result(unpad_numbers(read), "whole", True)
    assert len(unpadded.text) > 0.9 * len(read)  # under the 10 % share
    for lossless, expected in ((True, unpadded.text), (False, None)):
        decision = decide(read, Context(tool_name="Read"), Policy(), lambda t, c: replace(unpadded, lossless=lossless))
        assert decision.text == expected, lossless
    small = "".join(read.splitlines(keepends=True)[:7])  # 35 characters saved: under min_lossless_saved_tokens
    assert decide(small, Context(tool_name="Read"), Policy(min_tokens=0), lambda t, c: Result(unpad_numbers(t), "whole", True)).text is None


def test_a_small_segment_goes_through_the_lossless_passes_only(memo: DecisionMemo) -> None:
    # A short Read (under min_tokens) is never given to the lossy compressors, but its padded
    # line numbers go when that saves min_lossless_saved_tokens; the decision is remembered
    # like any other, so the same bytes go again on later requests.
    read = "".join(f"{n:6d}→    total_{n} = price * quantity + {n}\n" for n in range(1, 21))
    assert len(read) // 4 < Policy().min_tokens
    lossy_calls: list[str] = []

    def lossy(text: str, context: Context) -> Result:
        lossy_calls.append(text)
        return Result("[… 20 lines folded]", "code", False)

    def lossless(text: str, context: Context) -> Result:
        return Result(unpad_numbers(text), "whole", True)

    decision = decide(read, Context(tool_name="Read"), Policy(), lossy, lossless)
    assert decision.text == unpad_numbers(read) and decision.kind == "whole" and not lossy_calls
    assert decide(read, Context(tool_name="Read"), Policy(), lossy).kind == "small"  # no lossless pass given
    assert decide(read, Context(), Policy(min_lossless_saved_tokens=200), lossy, lossless).text is None
    assert decide(read, Context(), Policy(), lossy, lambda t, c: Result(t[:100], "x", False)).text is None  # lossy: never

    body = body_of(messages(read))
    out, report = rewrite_body(body, ANTHROPIC, memo, compress_fn=lossy, lossless_fn=lossless)
    assert tool_result_text(out, 2) == unpad_numbers(read) and not lossy_calls
    later = body_of(messages(read, "next output that is short"))
    out2, _ = rewrite_body(later, ANTHROPIC, memo, compress_fn=lossy, lossless_fn=lambda t, c: Result(t, "whole", True))
    assert tool_result_text(out2, 2) == unpad_numbers(read)  # replayed from the memo


def test_a_lossy_result_that_saves_too_little_leaves_the_lossless_passes_to_do_what_they_can() -> None:
    # A long prose Read whose selection saves under min_saving is not sent lossy; its padded
    # line numbers still go (losslessly), rather than the whole text.
    read = "".join(f"{n:6d}→- note {n}: the importer retries page {n} and logs nothing useful at all\n" for n in range(1, 200))

    def barely(text: str, context: Context) -> Result:
        return Result(text[: int(len(text) * 0.97)] + "\n[… 6 lines folded]", "text", False)

    def lossless(text: str, context: Context) -> Result:
        return Result(unpad_numbers(text), "text", True)

    decision = decide(read, Context(tool_name="Read"), Policy(), barely, lossless)
    assert decision.text == unpad_numbers(read) and decision.folds == ()
    assert decide(read, Context(tool_name="Read"), Policy(), barely).text is None


def test_fold_notes_the_original_quotes_are_not_folds(tmp_path: Path) -> None:
    # A Read of a file about Headroom quotes a fold note; unpadding it is lossless: nothing is
    # stored, no marker is added, and the quoted note arrives exactly as the file has it.
    from addon.retrieval.original_store import open_store
    from addon.compression.pipeline import RetrievalPath

    quoted = "`[… 1,240 lines folded]` stands for the lines a compressor removed"
    read = "".join(f"{n:6d}→    {quoted if n == 3 else f'line {n} of the notes module'}\n" for n in range(1, 21))
    memo = DecisionMemo(tmp_path / "memo")
    retrieval = RetrievalPath(open_store(tmp_path, None), "owner", ANTHROPIC)
    lossless = lambda t, c: Result(unpad_numbers(t), "whole", True)  # noqa: E731
    try:
        out, report = rewrite_body(body_of(messages(read)), ANTHROPIC, memo, compress_fn=lossless, retrieval=retrieval, lossless_fn=lossless)
    finally:
        memo.close()
    assert tool_result_text(out, 2) == unpad_numbers(read) and f"3→    {quoted}" in tool_result_text(out, 2)
    assert report.markers == 0 and "tools" not in json.loads(out)


def test_compressor_errors_leave_the_segment_and_are_reported(memo: DecisionMemo) -> None:
    def broken(text: str, context: Context) -> Result:
        raise RuntimeError("boom")

    body = body_of(messages(LOG))
    out, report = rewrite_body(body, ANTHROPIC, memo, compress_fn=broken)
    assert out is body and report.errors == ["RuntimeError: boom"] and not report.rewritten
    assert memo.get(content_key(LOG)) is None


@pytest.mark.parametrize("body", [b"\xff\xfe{}", b"{not json", b"", b'{"messages": []} trailing', "{\"a\": \"\xe9\"}".encode("latin-1")])
def test_non_json_raises_not_json(memo: DecisionMemo, body: bytes) -> None:
    with pytest.raises(NotJson):
        rewrite_body(body, ANTHROPIC, memo)


def test_unknown_shape_propagates(memo: DecisionMemo) -> None:
    with pytest.raises(UnknownShape):
        rewrite_body(b'{"prompt": "hi"}', ANTHROPIC, memo)


def test_other_adapters_use_the_same_machinery(memo: DecisionMemo) -> None:
    msgs = [
        {"role": "user", "content": "why?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "sh", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": LOG},
    ]
    out, report = rewrite_body(json.dumps({"messages": msgs}).encode(), OpenAIChat(), memo)
    assert json.loads(out)["messages"][2]["content"] == FOLDED
    assert report.provider == "openai_chat" and report.rewritten[0].tool_name == "sh"


def test_summary_and_token_totals(memo: DecisionMemo) -> None:
    second = noisy_log(100, needle="second needle")
    _, report = rewrite_body(body_of(parallel(LOG, second)), ANTHROPIC, memo)
    assert len(report.rewritten) == 2
    before = count_tokens(LOG) + count_tokens(second)
    after = count_tokens(FOLDED) + count_tokens(compress(second).text)
    assert (report.tokens_before, report.tokens_after) == (before, after)
    summary = report.summary()
    assert summary.startswith(f"headroom: {before:,} → {after:,} tokens (−{100 * (before - after) / before:.0f}%) in 2 of 2 segments")
    assert "[log]" in summary and summary.endswith(" ms")
    data = report.as_dict()
    assert (data["tokens_before"], data["tokens_after"], data["provider"]) == (before, after, "anthropic")
    assert json.loads(json.dumps(data)) == data  # it goes to a ledger as JSON


def test_counting_can_be_deferred(memo: DecisionMemo) -> None:
    body = body_of(messages(LOG))
    out, report = rewrite_body(body, ANTHROPIC, memo, exact_counts=False)
    assert tool_result_text(out, 2) == FOLDED
    assert not report.counted and report.summary().endswith("(counting tokens…)")
    count_tokens_for(report, memo)
    assert report.counted
    assert (report.tokens_before, report.tokens_after) == (count_tokens(LOG), count_tokens(FOLDED))
    assert report.summary().startswith(f"headroom: {count_tokens(LOG):,} → {count_tokens(FOLDED):,} tokens")
    # Counted once: a replay carries the counts from the memo.
    _, replay = rewrite_body(body, ANTHROPIC, memo, exact_counts=False)
    assert replay.counted and replay.rewritten[0].memo
    assert (replay.tokens_before, replay.tokens_after) == (count_tokens(LOG), count_tokens(FOLDED))


def test_summary_when_nothing_was_compressed(memo: DecisionMemo) -> None:
    _, report = rewrite_body(body_of(messages("tiny", "tiny too")), ANTHROPIC, memo)
    assert report.summary().startswith("headroom: anthropic, 2 segments, nothing to compress (")
    assert (report.tokens_before, report.tokens_after) == (0, 0)


def test_memo_replay_does_not_depend_on_the_current_policy(memo: DecisionMemo) -> None:
    # BUG (addon/compression/pipeline.py, _decide): the policy checks run before the memo lookup.
    # Once a compressed form was forwarded, every later request must forward it again, or the
    # provider's prompt cache breaks; a policy change (new --set headroom_min_tokens after a
    # restart) must not switch old, non-fresh segments back to their original text.
    first = messages(LOG)
    rewrite_body(body_of(first), ANTHROPIC, memo, Policy(min_tokens=250))
    later = first + [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "next"}]
    out, _ = rewrite_body(body_of(later), ANTHROPIC, memo, Policy(min_tokens=len(LOG)))
    assert tool_result_text(out, 2) == FOLDED


def test_failed_rewrite_leaves_no_decisions_behind(memo: DecisionMemo, monkeypatch: pytest.MonkeyPatch) -> None:
    # BUG (addon/compression/pipeline.py, _decide/rewrite_body): decisions are memoised before the
    # body is spliced. When a later segment makes the rewrite fail, the addon forwards the
    # original body, yet the memo says the first segment went out compressed; the next turn
    # then replays the compressed form and the provider's cached prefix no longer matches.
    second = noisy_log(200, needle="second needle")

    def failing_splice(doc, replacements):
        raise RuntimeError("boom")

    first_turn = parallel(LOG, second)
    monkeypatch.setattr("addon.compression.pipeline.splice", failing_splice)
    with pytest.raises(RuntimeError):
        rewrite_body(body_of(first_turn), ANTHROPIC, memo)
    monkeypatch.undo()
    # The addon failed open: the provider saw LOG as it was. The next turn re-sends it as history.
    later = first_turn + [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "next"}]
    out, _ = rewrite_body(body_of(later), ANTHROPIC, memo)
    assert json.loads(out)["messages"][2]["content"][0]["content"] == LOG


def test_output_with_an_escaped_lone_surrogate_does_not_block_the_body(memo: DecisionMemo) -> None:
    # BUG (same place): a tool output truncated inside a surrogate pair arrives as a legal
    # "\ud83d" escape. Its folded form cannot be encoded, splice raises, and because the
    # decision was memoised first every later request of the conversation raises again, so no
    # segment of it is ever compressed. Such a segment should just be left as it was.
    broken = noisy_log(200, needle="truncated emoji \ud83d")
    body = body_of(parallel(LOG, broken))
    assert b"\\ud83d" in body  # valid JSON, valid UTF-8
    out, report = rewrite_body(body, ANTHROPIC, memo)
    results = json.loads(out)["messages"][2]["content"]
    assert [r["content"] for r in results] == [FOLDED, broken]
    assert len(report.rewritten) == 1


@pytest.mark.parametrize(
    "choice, blocked",
    [(None, False), ("auto", False), ("required", False), ("none", True), ({"type": "auto"}, False), ({"type": "any"}, False),
     ({"type": "none"}, True), ({"type": "tool", "name": "Read"}, True), ({"type": "function", "function": {"name": "x"}}, True)],
)  # fmt: skip
def test_tool_choice_that_rules_out_retrieval(choice: object, blocked: bool) -> None:
    from addon.retrieval.retrieval_path import tool_choice_blocks_retrieval

    assert tool_choice_blocks_retrieval(choice) is blocked


def _lossy(saving: float):
    """A compressor that folds away `saving` of a text behind one fold note (lossy)."""

    def fold(text: str, context: Context) -> Result:
        keep = text[: int(len(text) * (1 - saving))]
        return Result(keep + "\n[… 10 lines folded]", "log", False, ())

    return fold


def _cached_history_then(output: str) -> list[dict[str, Any]]:
    history = "x" * 20_000  # ~5,000 estimated tokens the provider has cached
    return [
        {"role": "user", "content": "investigate"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t0", "name": "Bash", "input": {"command": "cat notes"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t0", "content": history}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "cat app.log"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": output}]},
    ]


@pytest.mark.parametrize("size, lossy_goes_out", [(8_000, False), (60_000, True)])
def test_the_tool_enters_a_cached_conversation_only_when_the_fold_pays_for_it(tmp_path: Path, size: int, lossy_goes_out: bool) -> None:
    """Adding the tool re-writes the cached prefix: a small lossy fold late in a conversation
    goes out lossless instead; a fold that saves more than the prefix holds goes out lossy."""
    from addon.retrieval.original_store import open_store
    from addon.compression.pipeline import RetrievalPath

    memo = DecisionMemo(tmp_path / "memo")
    retrieval = RetrievalPath(open_store(tmp_path, None), "owner", ANTHROPIC)
    output = "line of output that does not repeat, number %d\n"
    text = "".join(output % i for i in range(size // 45))
    lossless = lambda t, c: Result(t, "log", True, ())  # noqa: E731
    out, report = rewrite_body(body_of(_cached_history_then(text)), ANTHROPIC, memo, compress_fn=_lossy(0.9), retrieval=retrieval, lossless_fn=lossless)
    sent = json.loads(out)
    assert ("tools" in sent) is lossy_goes_out
    assert ("retrieve id=" in out.decode()) is lossy_goes_out
    assert report.lossless_to_keep_cache is not lossy_goes_out


def test_a_large_agent_conversation_carries_the_tool_from_its_first_request(tmp_path: Path) -> None:
    """Nothing is cached at the first request, so a large agent gets the tool then and keeps
    it: no later request re-writes the cached prefix to add it. A small agent and a plain chat
    (no tools) get it only with a fold that pays for it."""
    from addon.retrieval.original_store import open_store
    from addon.compression.pipeline import STICKY_FROM_FIRST_TOKENS, RetrievalPath

    memo = DecisionMemo(tmp_path / "memo")
    retrieval = RetrievalPath(open_store(tmp_path, None), "owner", ANTHROPIC)
    small = [{"name": "Bash", "input_schema": {"type": "object"}}]
    out, report = rewrite_body(json.dumps({"tools": small, "messages": [{"role": "user", "content": "hi"}]}).encode(), ANTHROPIC, memo, retrieval=retrieval)
    assert "headroom_retrieve" not in out.decode() and report.retrieve_tool is None
    tools = [{"name": "Bash", "description": "Runs a command. " * (STICKY_FROM_FIRST_TOKENS // 3), "input_schema": {"type": "object"}}]
    first = [{"role": "user", "content": "investigate the logs"}]
    out, report = rewrite_body(json.dumps({"tools": tools, "messages": first}).encode(), ANTHROPIC, memo, retrieval=retrieval)
    assert [t["name"] for t in json.loads(out)["tools"]] == ["Bash", "headroom_retrieve"] and report.retrieve_tool
    later = first + [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "and now?"}]
    out2, _ = rewrite_body(json.dumps({"tools": tools, "messages": later}).encode(), ANTHROPIC, memo, retrieval=retrieval)
    assert json.loads(out2)["tools"] == json.loads(out)["tools"]  # sticky, byte-identical
    chat_opening = [{"role": "user", "content": "write a haiku about logs"}]
    chat, _ = rewrite_body(json.dumps({"messages": chat_opening}).encode(), ANTHROPIC, memo, retrieval=retrieval)
    assert "tools" not in json.loads(chat)


def test_a_fresh_output_identical_to_an_earlier_one_goes_as_a_reference_to_it(memo: DecisionMemo) -> None:
    """The same test re-run with the same failure: the second output is the first, which is in
    the same prompt: a lossless reference, replayed byte for byte, dropped once the first is gone."""
    failing = "FAILED tests/test_billing.py::test_refund - AssertionError: 10.05 != 10.04\n" + "".join(
        f"tests/test_billing.py::test_case_{i} PASSED\n" for i in range(60)
    )
    first = messages(failing, failing)
    out, report = rewrite_body(body_of(first), ANTHROPIC, memo, compress_fn=lambda t, c: Result(t, "log", True, ()))
    assert tool_result_text(out, 4) == "[headroom: the same output as tool call t0 above, repeated exactly]"
    assert tool_result_text(out, 2) == failing  # the earlier copy is untouched
    assert [r.kind for r in report.rewritten] == ["repeat"]
    later = first + [{"role": "assistant", "content": "It fails on rounding."}, {"role": "user", "content": "fix it"}]
    again, _ = rewrite_body(body_of(later), ANTHROPIC, memo)
    assert tool_result_text(again, 4) == tool_result_text(out, 4) and tool_result_text(again, 2) == failing
    compacted = [later[0], *later[3:]]  # the first copy is gone: its reference must not go out
    kept, _ = rewrite_body(body_of(compacted), ANTHROPIC, memo)
    assert tool_result_text(kept, 2) == failing


def reruns(*outputs: str) -> list[dict[str, Any]]:
    """The same command run again and again (a test re-run), one tool_result per output."""
    out: list[dict[str, Any]] = [{"role": "user", "content": "fix the refund test"}]
    for n, output in enumerate(outputs):
        out.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"r{n}", "name": "Bash", "input": {"command": "pytest -v"}}]})
        out.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"r{n}", "content": output}]})
    return out


def test_a_rerun_that_changed_a_few_lines_goes_as_a_diff_against_the_earlier_output(memo: DecisionMemo, tmp_path: Path) -> None:
    """Near-duplicates: a test re-run whose output differs in two lines is sent as a unified diff
    against the earlier run (which went whole, so the model holds what the diff applies to), with
    a marker for the full text; replayed while the earlier run is in the request, never without
    a retrieve path, never against an earlier output that was itself compressed."""
    from addon.retrieval.original_store import open_store
    from addon.retrieval.retrieval_path import RetrievalPath
    from addon.retrieval.retrieve_tool import marker_ids

    def run(failing: str) -> str:
        return "".join(f"tests/test_billing.py::test_case_{i} PASSED\n" for i in range(60)) + failing + "1 failed, 60 passed in 3.2s\n"

    first, second = run("FAILED test_refund - AssertionError: 10.05 != 10.04\n"), run("FAILED test_refund - AssertionError: 10.05 != 10.06\n")
    keep_whole = lambda t, c: Result(t, "log", True, ())  # noqa: E731
    retrieval = RetrievalPath(open_store(tmp_path, None), "owner", ANTHROPIC)
    body = reruns(first, second)
    out, report = rewrite_body(body_of(body), ANTHROPIC, memo, compress_fn=keep_whole, retrieval=retrieval)
    sent = tool_result_text(out, 4)
    assert sent.startswith("[… 61 lines folded: the same as the output of tool call r0 above except for the lines below")
    assert "-FAILED test_refund - AssertionError: 10.05 != 10.04\n+FAILED test_refund - AssertionError: 10.05 != 10.06" in sent
    [original_id] = marker_ids(sent)
    assert retrieval.originals.fetch(original_id, "owner").original.text == second  # the full text is retrievable
    assert tool_result_text(out, 2) == first and [r.kind for r in report.rewritten] == ["delta"]
    later = body + [{"role": "assistant", "content": "Still off by one cent."}, {"role": "user", "content": "go on"}]
    again, _ = rewrite_body(body_of(later), ANTHROPIC, memo, compress_fn=keep_whole, retrieval=retrieval)
    assert tool_result_text(again, 4) == sent  # replayed byte for byte
    compacted = [later[0], *later[3:]]  # the earlier run is gone: the diff must not go out
    kept, _ = rewrite_body(body_of(compacted), ANTHROPIC, memo, compress_fn=keep_whole, retrieval=retrieval)
    assert tool_result_text(kept, 2) == second
    # without a retrieve path the diff does not go out either (it carries a marker)
    plain, _ = rewrite_body(body_of(reruns(first, second)), ANTHROPIC, DecisionMemo(tmp_path / "other"), compress_fn=keep_whole)
    assert tool_result_text(plain, 4) == second
    # an earlier output that went compressed (when it was fresh) is not what the model holds: no diff against it
    fold = lambda t, c: Result(t.replace("tests/test_billing.py::", ""), "log", True, ())  # noqa: E731
    other = DecisionMemo(tmp_path / "third")
    earlier, _ = rewrite_body(body_of(reruns(first)), ANTHROPIC, other, compress_fn=fold, retrieval=retrieval)
    assert tool_result_text(earlier, 2) != first
    folded, _ = rewrite_body(body_of(reruns(first, second)), ANTHROPIC, other, compress_fn=fold, retrieval=retrieval)
    assert tool_result_text(folded, 2) == tool_result_text(earlier, 2) and "tool call r0" not in tool_result_text(folded, 4)


def test_a_store_outage_never_changes_bytes_already_sent(memo: DecisionMemo, tmp_path: Path) -> None:
    """With the store of originals down, a segment folded on an earlier turn goes out exactly
    as it went then (from the memo), a new output goes lossless instead of folded, and once the
    store is back new folds carry markers again, without a restart."""
    from addon.retrieval.original_store import open_store
    from addon.retrieval.retrieval_path import RetrievalPath

    def fold(text: str, context: Context) -> Result:
        if "[… " in text:
            return Result(text, "log", True, ())
        return Result(text[:300] + "\n[… 200 lines folded]", "log", False, ())

    def lossless(text: str, context: Context) -> Result:
        return Result(text.replace("WARN upstream db-1 slow, retrying request with exponential backoff policy", "W"), "log", True, ())

    originals = open_store(tmp_path, None)
    retrieval = RetrievalPath(originals, "owner", ANTHROPIC)
    first = messages(LOG)
    out, report = rewrite_body(body_of(first), ANTHROPIC, memo, compress_fn=fold, lossless_fn=lossless, retrieval=retrieval)
    sent = tool_result_text(out, 2)
    assert "retrieve id=" in sent and report.new_markers == 1

    class Down:
        def store(self, *args, **kwargs):
            raise ConnectionError("redis is down")

    down = RetrievalPath(Down(), "owner", ANTHROPIC)  # type: ignore[arg-type]
    second_log = LOG.replace("order 48213", "order 48214")
    later = messages(LOG, second_log)
    out2, report2 = rewrite_body(body_of(later), ANTHROPIC, memo, compress_fn=fold, lossless_fn=lossless, retrieval=down)
    assert tool_result_text(out2, 2) == sent  # the earlier turn's bytes, from the memo
    new = tool_result_text(out2, 4)
    assert "retrieve id=" not in new and "order 48214" in new and len(new) < len(second_log)  # lossless, not folded
    assert report2.store_down and any(e.startswith("store:") for e in report2.errors)
    third = messages(LOG, second_log, LOG.replace("order 48213", "order 48215"))
    out3, report3 = rewrite_body(body_of(third), ANTHROPIC, memo, compress_fn=fold, lossless_fn=lossless, retrieval=retrieval)
    assert tool_result_text(out3, 2) == sent and tool_result_text(out3, 4) == new  # both replayed as sent
    assert "retrieve id=" in tool_result_text(out3, 6) and not report3.store_down  # the store is back
