"""The cache aligner through the rewriter: forwarded prompts extend each other even when the
client's system prompt carries a clock, across a restart; reports say what broke the prefix."""

from __future__ import annotations

import json
from pathlib import Path

from addon.cache.cache_aligner import AlignOptions, AlignRequest, CacheAligner
from addon.cache.front_notes import NOTE_HEAD
from addon.compression.decision_memo import DecisionMemo
from addon.cache.prompt_units import prefix_break
from addon.providers import provider_for, provider_named
from addon.compression.pipeline import rewrite_body
from compressors import Result, compress

ALL = frozenset({"anthropic", "openai_chat", "openai_responses"})


def system_at(turn: int) -> str:
    return f"You are a coding agent.\nToday's date is 2025-11-{20 + turn // 7:02d}. Local time {9 + turn // 3:02d}:{turn:02d}:07.\n" + "Be brief.\n" * 600


class Proxy:
    """The rewriter with an aligner over a memo in `home`; restart() reopens both."""

    def __init__(self, home: Path, options: AlignOptions = AlignOptions(move=ALL)) -> None:
        self.home, self.options = home, options
        self.restart()

    def restart(self) -> None:
        self.memo = DecisionMemo(self.home / "decisions")
        self.aligner = CacheAligner(self.memo, self.options)

    def send(self, provider_path: str, body: dict, now: float, api_key: bool = True, compress_fn=compress, headers=None) -> tuple[dict, dict]:
        raw = json.dumps(body).encode()
        request = AlignRequest(headers or {}, api_key, now, "test-client")
        out, report = rewrite_body(raw, provider_for(provider_path), self.memo, compress_fn=compress_fn, alignment=(self.aligner, request))
        return json.loads(out), report.cache


def anthropic_turns(turns: int) -> list[dict]:
    messages: list[dict] = [{"role": "user", "content": "Fix the failing test."}]
    bodies = []
    for t in range(turns):
        bodies.append({"model": "claude-sonnet-4-5", "max_tokens": 64, "system": system_at(t), "messages": json.loads(json.dumps(messages))})
        messages.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"t{t}", "name": "Bash", "input": {"command": f"step {t}"}}]})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{t}", "content": f"ok {t}"}]})
    return bodies


def test_twenty_turns_with_a_clock_in_the_system_prompt_keep_one_prefix_across_a_restart(tmp_path):
    proxy = Proxy(tmp_path)
    previous = None
    for turn, body in enumerate(anthropic_turns(20)):
        if turn == 10:
            proxy.restart()  # the front and the notes come back from the memo
        forwarded, cache = proxy.send("/v1/messages", body, now=1000.0 + 30 * turn)
        units = provider_named("anthropic").prompt_units(forwarded)
        if previous is not None:
            assert prefix_break(previous, units) is None, f"turn {turn} broke the forwarded prefix"
            if turn != 10:  # (a restarted proxy has no previous request of its own to compare with)
                assert cache["client_break"]["at"] == "system" and cache["client_break"]["cause"] in ("date", "time")
            assert "prefix_break" not in cache and cache["moved"]
        previous = units
        assert forwarded["system"] == system_at(0)  # as first sent
        last = forwarded["messages"][-1]["content"]
        if turn:
            # the model is told the current values at the end of the request
            assert last[-1]["type"] == "text" and last[-1]["text"].startswith(NOTE_HEAD)
            assert f"Local time {9 + turn // 3:02d}:{turn:02d}:07." in last[-1]["text"]


def test_subscription_traffic_is_reported_but_never_changed(tmp_path):
    proxy = Proxy(tmp_path)
    bodies = anthropic_turns(3)
    for turn, body in enumerate(bodies):
        forwarded, cache = proxy.send("/v1/messages", body, now=1000.0 + turn, api_key=False)
        assert forwarded == body
        assert {d["kind"] for d in cache["dynamic"]} == {"date", "time"}
        assert cache["dynamic"][0]["at"] == "system" and cache["dynamic"][0]["tokens"] < 20
    brk = cache["client_break"]
    assert (brk["at"], brk["tokens"]) == ("system", len("You are a coding agent.\nToday's date is 2025-11-20. Local time 09:0") // 4) and brk["cause"] in ("date", "time") and brk["of"] > 1000, brk


def test_a_real_edit_of_the_system_prompt_is_forwarded_as_sent(tmp_path):
    proxy = Proxy(tmp_path)
    first, second = anthropic_turns(2)
    proxy.send("/v1/messages", first, now=1.0)
    second["system"] = second["system"].replace("You are a coding agent.", "You are a reviewing agent.")
    forwarded, cache = proxy.send("/v1/messages", second, now=2.0)
    assert forwarded["system"] == second["system"]
    assert "moved" not in cache


def test_openai_chat_system_message_is_kept_and_the_note_rides_on_the_tool_output(tmp_path):
    proxy = Proxy(tmp_path)
    messages = [{"role": "system", "content": system_at(0)}, {"role": "user", "content": "go"}]
    sent = []
    for turn in range(4):
        messages[0] = {"role": "system", "content": system_at(turn * 3)}
        forwarded, cache = proxy.send("/v1/chat/completions", {"model": "gpt-4.1", "messages": json.loads(json.dumps(messages))}, now=float(turn))
        sent.append(forwarded)
        messages.append({"role": "assistant", "content": None, "tool_calls": [{"id": f"c{turn}", "type": "function", "function": {"name": "run", "arguments": "{}"}}]})
        messages.append({"role": "tool", "tool_call_id": f"c{turn}", "content": f"result {turn}"})
    for before, after in zip(sent, sent[1:]):
        assert after["messages"][: len(before["messages"])] == before["messages"]
    assert sent[-1]["messages"][0]["content"] == system_at(0)
    assert sent[-1]["messages"][-1]["content"].startswith("result 2\n\n" + NOTE_HEAD)
    assert "Local time 12:09:07." in sent[-1]["messages"][-1]["content"]


def test_breakpoints_and_a_one_hour_ttl_once_the_gaps_say_so(tmp_path):
    proxy = Proxy(tmp_path, AlignOptions())
    messages: list[dict] = [{"role": "user", "content": "go"}]
    now, ttls = 0.0, []
    for t in range(8):
        messages.append({"role": "assistant", "content": [{"type": "tool_use", "id": f"t{t}", "name": "Bash", "input": {}}]})
        messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{t}", "content": "line of output\n" * 400}]})
        now += 420 if t % 2 else 20  # a sub-agent holds the thread for 7 minutes every other turn
        body = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": json.loads(json.dumps(messages))}
        forwarded, cache = proxy.send("/v1/messages", body, now, compress_fn=lambda text, context: Result(text, "none"))
        marks = [b["cache_control"] for m in forwarded["messages"] if isinstance(m["content"], list) for b in m["content"] if "cache_control" in b]
        assert 1 <= len(marks) <= 4 and cache["breakpoints"] == len(marks)
        ttls.append(cache["ttl"])
        assert all(m.get("ttl", "5m") == cache["ttl"] for m in marks)
    assert ttls[:3] == ["5m"] * 3  # no evidence yet
    assert ttls[-1] == "1h" and "gaps > 5 min" in cache["ttl_reason"]


def test_responses_instructions_are_kept_and_the_note_rides_on_the_function_output(tmp_path):
    proxy = Proxy(tmp_path)
    items: list[dict] = [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}]
    sent = []
    for turn in range(3):
        body = {"model": "gpt-5", "instructions": system_at(turn * 3), "input": json.loads(json.dumps(items))}
        forwarded, _ = proxy.send("/v1/responses", body, now=float(turn))
        sent.append(forwarded)
        items.append({"type": "function_call", "call_id": f"c{turn}", "name": "shell", "arguments": "{}"})
        items.append({"type": "function_call_output", "call_id": f"c{turn}", "output": f"done {turn}"})
    assert all(s["instructions"] == system_at(0) for s in sent)
    assert sent[2]["input"][: len(sent[1]["input"])] == sent[1]["input"]
    assert sent[2]["input"][-1]["output"].startswith("done 1\n\n" + NOTE_HEAD) and "Local time 11:06:07." in sent[2]["input"][-1]["output"]


def test_a_compacted_conversation_is_told_the_current_values_again(tmp_path):
    proxy = Proxy(tmp_path)
    bodies = anthropic_turns(4)
    session = {"x-claude-code-session-id": "one-session"}  # what keeps a compacted conversation one thread
    for turn, body in enumerate(bodies):
        proxy.send("/v1/messages", body, now=float(turn), headers=session)
    # the client compacts: the messages that carried the notes are gone (the values were told
    # on the last turn and have not changed since, yet the model must be told again)
    compacted = {**bodies[-1], "messages": [{"role": "user", "content": "Summary so far: two steps done. Continue."}]}
    forwarded, cache = proxy.send("/v1/messages", compacted, now=10.0, headers=session)
    assert forwarded["system"] == system_at(0)
    assert forwarded["messages"][-1]["content"].startswith("Summary so far") and "Local time 10:03:07." in forwarded["messages"][-1]["content"]


def test_with_edits_builds_what_splice_sends_without_touching_the_body():
    from addon.cache.cache_aligner import with_edits
    from addon.wire.json_splice import AddMember, Append, Replacement, splice

    body = anthropic_turns(3)[-1] | {"tools": [{"name": "Bash", "input_schema": {"type": "object"}}]}
    before = json.dumps(body)
    edits = [
        Replacement(("messages", 2, "content", 0, "content"), "folded"),
        Append(("messages", 4, "content"), '{"type":"text","text":"note"}'),
        Append(("tools",), '{"name":"headroom_retrieve","input_schema":{"type":"object"}}'),
        AddMember(("messages", 4, "content", 0), "cache_control", '{"type":"ephemeral"}'),
        AddMember((), "prompt_cache_key", '"k"'),
    ]
    assert with_edits(body, edits) == json.loads(splice(before, edits))
    assert json.dumps(body) == before


def test_a_client_moving_its_own_breakpoint_keeps_the_notes_and_the_prefix(tmp_path):
    """Clients (the SDKs, Claude Code) put cache_control on their last block and move it each
    turn: the note's message must still be recognised, or the note would vanish and break the prefix."""
    proxy = Proxy(tmp_path, AlignOptions(move=ALL, breakpoints=False))
    previous = None
    for turn, body in enumerate(anthropic_turns(6)):
        last = body["messages"][-1]
        if isinstance(last["content"], list):
            last["content"][-1]["cache_control"] = {"type": "ephemeral"}
        forwarded, cache = proxy.send("/v1/messages", body, now=float(turn))
        units = provider_named("anthropic").prompt_units(forwarded)
        if previous is not None:
            assert prefix_break(previous, units) is None, f"turn {turn}"
            assert "prefix_break" not in cache
        previous = units
    notes = [b for m in forwarded["messages"] if isinstance(m["content"], list) for b in m["content"] if b.get("type") == "text"]
    assert len(notes) == 5  # one per change, none told twice


def test_a_changed_date_beside_a_grown_listing_is_still_moved(tmp_path):
    proxy = Proxy(tmp_path)
    listing = ["src/app.py", "src/util.py"]

    def system(turn: int) -> str:
        return system_at(turn * 7) + "Files:\n" + "\n".join(listing) + "\n"

    bodies = anthropic_turns(3)
    first = system(0)
    proxy.send("/v1/messages", {**bodies[0], "system": first}, now=1.0)
    listing.append("src/new_module.py")
    forwarded, cache = proxy.send("/v1/messages", {**bodies[1], "system": system(1)}, now=2.0)
    assert forwarded["system"] == first and cache["moved"] == ["date", "listing"]
    assert "src/new_module.py" in forwarded["messages"][-1]["content"][-1]["text"]


def test_responses_chained_by_previous_response_id_are_told_once_per_change(tmp_path):
    proxy = Proxy(tmp_path)
    first = {"model": "gpt-5", "instructions": system_at(0), "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}]}
    session = {"session_id": "codex-session"}  # what ties chained requests to one conversation
    proxy.send("/v1/responses", first, now=1.0, headers=session)
    outputs = []
    for turn in (1, 2):
        body = {"model": "gpt-5", "instructions": system_at(3), "previous_response_id": f"resp_{turn}",
                "input": [{"type": "function_call_output", "call_id": f"c{turn}", "output": f"done {turn}"}]}
        forwarded, cache = proxy.send("/v1/responses", body, now=1.0 + turn, headers=session)
        outputs.append(forwarded["input"][-1]["output"])
        assert forwarded["instructions"] == system_at(0) and "client_break" not in cache
    assert NOTE_HEAD in outputs[0] and outputs[1] == "done 2"  # told once; the next request chains on it


def test_edits_of_the_aligner_that_do_not_fit_leave_the_compression_going_out(tmp_path, monkeypatch):
    """Fail open per feature: a broken aligner edit costs the aligner's changes, not the compression."""
    from addon.wire.json_splice import Replacement

    proxy = Proxy(tmp_path, AlignOptions(move=ALL, breakpoints=False))
    body = {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "line of output\n" * 400}]},
    ]}  # fmt: skip
    real_align = proxy.aligner.align

    def broken(*args, **kwargs):
        alignment = real_align(*args, **kwargs)
        alignment.edits.append(Replacement(("messages", 0, "nowhere"), "x"))
        return alignment

    monkeypatch.setattr(proxy.aligner, "align", broken)
    forwarded, cache = proxy.send("/v1/messages", body, now=1.0, compress_fn=lambda t, c: Result("[folded]", "log"))
    assert forwarded["messages"][2]["content"][0]["content"] == "[folded]" and cache == {}
