import json

from scripts.bench_provenance import measure, requests_of


def test_a_session_is_replayed_turn_by_turn_and_its_ledger_is_smaller_than_full_copies(tmp_path):
    log = "\n".join(f"line {i}: request served" for i in range(300))
    messages = [{"role": "user", "content": "why?"}]
    for n in range(4):
        messages += [
            {"role": "assistant", "content": [{"type": "tool_use", "id": f"t{n}", "name": "Bash", "input": {"command": f"cat log{n}"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{n}", "content": log + str(n)}]},
        ]
    messages.append({"role": "assistant", "content": [{"type": "text", "text": "done"}]})
    sessions = tmp_path / "sessions.jsonl"
    sessions.write_text(json.dumps({"id": "cc:acme/app:1234", "messages": messages}) + "\n")
    assert [len(r) for r in requests_of(messages)] == [1, 3, 5, 7, 9]
    [row] = measure(sessions, None)
    assert (row["session"], row["requests"], row["units max"]) == ("acme/app 1234", 5, 9)
    assert row["compose ms p50"] > 0 and row["full copies KB"] >= 0 and row["ledger KB"] > 0
