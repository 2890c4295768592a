from addon.provenance.window_summary import repeats, summarize, tool_of


def _unit(pos, tokens, **more) -> dict:
    return {"pos": pos, "role": "tool", "type": "tool_result", "new": False, "tokens": tokens, "sent": tokens, "fate": "whole", **more}


def test_tool_of_names_the_tool_of_a_source_line():
    assert tool_of("mcp github/get_issue owner=a") == "mcp github/get_issue"
    assert tool_of("Bash $ ls") == "Bash" and tool_of("") == "(unknown tool)"


def test_repeats_list_the_same_content_from_a_size_and_the_same_source_at_any():
    window = [_unit(0, 10, content="x", source="Read a"), _unit(1, 10, content="x", source="Read a"), _unit(2, 900, content="y", source="Bash $ make")]
    [same_source] = repeats(window)
    assert (same_source["what"], same_source["source"], same_source["positions"]) == ("same source", "Read a", [0, 1])
    window += [_unit(3, 900, content="y", source="Bash $ make")]
    assert [g["what"] for g in repeats(window)] == ["same content", "same source", "same source"]


def test_summarize_marks_what_was_retrieved():
    data = summarize([_unit(0, 100, ids=["a"], fate="compressed", sent=10), _unit(1, 50)], {"a": "found"})
    assert data["segments"][0]["retrieved"] == ["a"] and "retrieved" not in data["segments"][1]
    assert data["tokens"] == {"client": 150, "forwarded": 60, "new": 0}
    assert [g["name"] for g in data["fates"]] == ["compressed", "whole"]
