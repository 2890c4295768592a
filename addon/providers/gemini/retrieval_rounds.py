"""Gemini's side of a retrieval round: the retrieve tool as a function declaration, its
`functionCall`s in a response, the follow-up body, the final response.

A response is one GenerateContentResponse, or (`streamGenerateContent` without `alt=sse`,
which the proxy receives whole) a JSON array of them; Gemini CLI's Google-login endpoint wraps
each in `{"response": …, "traceId"}`. The follow-up appends the model's turn (its text, thoughts
and retrieve calls, `thoughtSignature`s byte-identical in value; the client's own calls left
out) and a user turn of `functionResponse`s (and any original image or video beside them,
addon/providers/gemini/function_responses.py) to the forwarded `contents`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from addon.providers.gemini.function_responses import Answer, answer_turn
from addon.providers.gemini.request_parser import request_of, root
from addon.retrieval.retrieval_rounds import RetrieveCall, call_of
from addon.retrieval.retrieve_tool import DESCRIPTION, SCHEMA
from addon.retrieval.stream_splicer import final_usage
from addon.wire.json_splice import Append, splice

INPUT_USAGE = ("promptTokenCount", "cachedContentTokenCount", "toolUsePromptTokenCount")


def tool_definition(name: str) -> str:
    value = {"functionDeclarations": [{"name": name, "description": DESCRIPTION, "parameters": SCHEMA}]}
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def tool_names(tools: object) -> set[str]:
    names: set[str] = set()
    for tool in tools if isinstance(tools, list) else []:
        declarations = tool.get("functionDeclarations") if isinstance(tool, dict) else None
        for declaration in declarations if isinstance(declarations, list) else []:
            if isinstance(declaration, dict):
                names.add(str(declaration.get("name")))
    return names


def blocks_retrieval(body: dict) -> bool:
    """`toolConfig.functionCallingConfig`: mode NONE, or ANY restricted to other functions."""
    config = request_of(body).get("toolConfig") or request_of(body).get("tool_config")
    calling = config.get("functionCallingConfig") if isinstance(config, dict) else None
    if not isinstance(calling, dict):
        return False
    mode = str(calling.get("mode", "")).upper()
    return mode == "NONE" or (mode in ("ANY", "VALIDATED") and bool(calling.get("allowedFunctionNames")))


def _inner(chunk: Any) -> dict:
    """The GenerateContentResponse in a chunk (unwrapped from Gemini CLI's `response`)."""
    if isinstance(chunk, dict) and "candidates" not in chunk and isinstance(chunk.get("response"), dict):
        return chunk["response"]
    return chunk if isinstance(chunk, dict) else {}


def _chunks(response: Any) -> list[Any]:
    return response if isinstance(response, list) else [response]


def parts_of(response: Any) -> list[dict]:
    """Candidate 0's parts, over every chunk of a response."""
    parts: list[dict] = []
    for chunk in _chunks(response):
        candidates = _inner(chunk).get("candidates") or []
        first = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
        content = first.get("content") if isinstance(first.get("content"), dict) else {}
        parts += [p for p in content.get("parts") or [] if isinstance(p, dict)]
    return parts


def _call(part: dict) -> dict | None:
    call = part.get("functionCall")
    return call if isinstance(call, dict) else None


def _is_retrieve(part: dict, tool_name: str) -> bool:
    call = _call(part)
    return call is not None and call.get("name") == tool_name


def _call_id(call: dict, k: int) -> str:
    """Gemini may give a call an id; without one, the k-th retrieve call of the round names it."""
    return str(call["id"]) if call.get("id") else f"{call.get('name')}#{k}"


def retrieve_calls(response: Any, tool_name: str) -> list[RetrieveCall]:
    calls = [c for p in parts_of(response) if _is_retrieve(p, tool_name) and (c := _call(p)) is not None]
    return [call_of(_call_id(call, k), call.get("args") if isinstance(call.get("args"), dict) else {}) for k, call in enumerate(calls)]


def follow_up_turns(parts: list[dict], tool_name: str, answers: Mapping[str, Answer]) -> list[dict]:
    """The model's turn (client calls left out) and the user turn answering its retrieve calls
    (an original image or video as an inlineData part beside the responses)."""
    kept = [p for p in parts if _call(p) is None or _is_retrieve(p, tool_name)]
    calls = [c for p in kept if (c := _call(p)) is not None]
    answered = [(call, answers.get(_call_id(call, k), "")) for k, call in enumerate(calls)]
    return [{"role": "model", "parts": kept}, answer_turn(tool_name, answered)]


def follow_up_body(body: str, response: Any, tool_name: str, answers: Mapping[str, Answer]) -> str:
    path = root(json.loads(body)) + ("contents",)
    for turn in follow_up_turns(parts_of(response), tool_name, answers):
        body = splice(body, [Append(path, json.dumps(turn, ensure_ascii=False, separators=(",", ":")))])
    return body


def without_retrieve_calls(response: Any, tool_name: str, note: str) -> Any:
    response = copy.deepcopy(response)
    client_calls = False
    chunks = _chunks(response)
    for chunk in chunks:
        for candidate in _inner(chunk).get("candidates") or []:
            content = candidate.get("content") if isinstance(candidate, dict) else None
            if isinstance(content, dict) and isinstance(content.get("parts"), list):
                content["parts"] = [p for p in content["parts"] if not (isinstance(p, dict) and _is_retrieve(p, tool_name))]
                client_calls = client_calls or any(isinstance(p, dict) and _call(p) for p in content["parts"])
    if not client_calls:
        candidates = _inner(chunks[-1]).setdefault("candidates", [{"content": {"role": "model", "parts": []}, "index": 0}])
        if candidates and isinstance(candidates[0], dict):
            candidates[0].setdefault("content", {"role": "model", "parts": []}).setdefault("parts", []).append({"text": note})
    return response


def _usage(response: Any) -> dict | None:
    for chunk in reversed(_chunks(response)):
        metadata = _inner(chunk).get("usageMetadata")
        if isinstance(metadata, dict):
            return metadata
    return None


def final_response(rounds: list[Any]) -> Any:
    """The last round with the usage of every round added up (as for the other APIs'
    non-streamed rounds); thoughts are output, so they are summed with it."""
    final = copy.deepcopy(rounds[-1])
    target = _usage(final)
    usages = [u for r in rounds if (u := _usage(r)) is not None]
    if target is not None and usages:
        merged = final_usage(target, usages, "candidatesTokenCount", INPUT_USAGE, True)
        total = sum(int(merged.get(k) or 0) for k in ("promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "toolUsePromptTokenCount"))
        merged["totalTokenCount"] = total
        target.clear()
        target.update(merged)
    return final


def answers_retrieve(body: dict, tool_prefix: str) -> bool:
    """Whether the body's contents end with the answer to a retrieve call."""
    contents = [c for c in request_of(body).get("contents") or [] if isinstance(c, dict)]
    if len(contents) < 2:
        return False
    last, model = contents[-1], contents[-2]
    answered = [p for p in last.get("parts") or [] if isinstance(p, dict) and isinstance(p.get("functionResponse"), dict)]
    if not answered or model.get("role") != "model":
        return False
    names = [str(c.get("name")) for p in model.get("parts") or [] if isinstance(p, dict) and (c := _call(p)) is not None]
    return any(name.startswith(tool_prefix) for name in names)
