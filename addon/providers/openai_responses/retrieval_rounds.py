"""OpenAI Responses' side of a retrieval round: the retrieve tool, its calls in a response, the
follow-up body, the final response.

A follow-up extends the forwarded `input` with the round's output items (reasoning with its
`encrypted_content`, text, the retrieve `function_call`s; the client's own calls left out)
and one `function_call_output` per call, so the provider sees the forwarded bytes as the
prefix. Codex sends `store: false` and the whole input every time: unstored items cannot be
named by id, so their `id`s are dropped. A client that chains with `previous_response_id`
(stored responses) gets a follow-up chained the same way: onto this round's id, with only the
outputs as input.
"""

from __future__ import annotations

import json
from typing import Any

from addon.retrieval.retrieval_rounds import RetrieveCall, call_of
from addon.retrieval.retrieve_tool import DESCRIPTION, SCHEMA
from addon.retrieval.stream_splicer import final_usage
from addon.wire.json_splice import AddMember, Append, splice

CALL_ITEMS = ("function_call", "custom_tool_call", "local_shell_call", "computer_call", "mcp_call")
INPUT_USAGE = ("input_tokens", "input_tokens_details")


def tool_definition(name: str) -> str:
    value = {"type": "function", "name": name, "description": DESCRIPTION, "parameters": SCHEMA}
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def tool_names(tools: object) -> set[str]:
    return {str(tool.get("name")) for tool in tools if isinstance(tool, dict)} if isinstance(tools, list) else set()


def is_retrieve_item(item: object, tool_name: str) -> bool:
    return isinstance(item, dict) and item.get("type") == "function_call" and item.get("name") == tool_name


def is_client_call(item: object, tool_name: str) -> bool:
    return isinstance(item, dict) and item.get("type") in CALL_ITEMS and not is_retrieve_item(item, tool_name)


def _arguments(item: dict) -> dict:
    try:
        value = json.loads(item.get("arguments") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def retrieve_calls(response: dict, tool_name: str) -> list[RetrieveCall]:
    return [call_of(str(item.get("call_id")), _arguments(item)) for item in response.get("output") or [] if is_retrieve_item(item, tool_name)]


def follow_up_items(output: list[Any], tool_name: str, answers: dict[str, str], stored: bool) -> list[dict]:
    """The round's output as input items (the client's calls left out), then the answers."""
    items = [dict(item) for item in output if isinstance(item, dict) and not is_client_call(item, tool_name)]
    if not stored:
        items = [{k: v for k, v in item.items() if k not in ("id", "status")} for item in items]
    outputs = [{"type": "function_call_output", "call_id": call_id, "output": text} for call_id, text in answers.items()]
    return items + outputs


def follow_up_body(body: str, response: dict, tool_name: str, answers: dict[str, str]) -> str:
    request = json.loads(body)
    stored = request.get("store") is not False
    if stored and request.get("previous_response_id") and response.get("id"):
        # The provider holds the conversation: chain onto this round, send only the answers.
        outputs = [{"type": "function_call_output", "call_id": call_id, "output": text} for call_id, text in answers.items()]
        return json.dumps({**request, "previous_response_id": response["id"], "input": outputs}, ensure_ascii=False)
    items = follow_up_items(response.get("output") or [], tool_name, answers, stored)
    return extend_input(body, request, items)


def extend_input(body: str, request: dict, items: list[dict]) -> str:
    """The body with items appended to its input, the forwarded bytes kept as the prefix where
    the input is a list (a string input becomes a user message first)."""
    literals = [json.dumps(item, ensure_ascii=False, separators=(",", ":")) for item in items]
    if isinstance(request.get("input"), list):
        return splice(body, [Append(("input",), literal) for literal in literals])
    first = [{"role": "user", "content": request["input"]}] if isinstance(request.get("input"), str) else []
    rebuilt = {k: v for k, v in request.items() if k != "input"}
    text = json.dumps(rebuilt, ensure_ascii=False)
    return splice(text, [AddMember((), "input", json.dumps(first + items, ensure_ascii=False))])


def without_retrieve_calls(response: dict, tool_name: str, note: str) -> dict:
    response = json.loads(json.dumps(response))
    output = [item for item in response.get("output") or [] if not is_retrieve_item(item, tool_name)]
    if not any(is_client_call(item, tool_name) for item in output):
        output.append({"type": "message", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": note, "annotations": []}]})
    response["output"] = output
    return response


def final_response(rounds: list[dict]) -> dict:
    """The last round (its id: a chaining client must chain onto the round that holds the whole
    exchange), with the usage of every round added up, as for the other APIs' non-streamed rounds."""
    final: dict[str, Any] = json.loads(json.dumps(rounds[-1]))
    usages = [r["usage"] for r in rounds if isinstance(r.get("usage"), dict)]
    if usages and isinstance(final.get("usage"), dict):
        usage = final_usage(final["usage"], usages, "output_tokens", INPUT_USAGE, True)
        if isinstance(usage.get("input_tokens"), int) and isinstance(usage.get("output_tokens"), int):
            usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        final["usage"] = usage
    return final


def call_names(items: list[Any]) -> list[object]:
    return [i.get("name") for i in items if isinstance(i, dict) and i.get("type") == "function_call"]


def answers_retrieve(body: dict, tool_prefix: str) -> bool:
    """Whether the body's input ends with the answer to a retrieve call: the last items are
    function_call_outputs whose calls (earlier in the input, or chained) are ours."""
    items = body.get("input")
    if not isinstance(items, list) or not items or not isinstance(items[-1], dict) or items[-1].get("type") != "function_call_output":
        return False
    answered = {i.get("call_id") for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"}
    calls = [i for i in items if isinstance(i, dict) and i.get("type") == "function_call" and i.get("call_id") in answered]
    if not calls:  # chained follow-up: the call lives upstream
        return False
    return any(isinstance(c.get("name"), str) and c["name"].startswith(tool_prefix) for c in calls[-1:])
