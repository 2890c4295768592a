"""The OpenAI Responses side of the stream splicer (the base class: addon/retrieval/stream_splicer.py).

A Responses stream is typed events (`event: response.output_text.delta`, data with the same
`type` and a `sequence_number`) about output items, each with its `output_index`, ending in one
of response.completed / .incomplete / .failed that carries the whole response. Here:

- A retrieve call is a `function_call` output item of our name: every event of that item is held
  back. The client's `output_index` and `sequence_number` are renumbered so they stay contiguous
  over all rounds; a follow-up's response.created / in_progress are dropped. Each round's text is
  its own message item, so rounds need no separator.
- The closing event is the last round's, with `output` rebuilt from every round's client items,
  usage combined as the base module says, and the last round's `id`: that stored response holds
  the whole exchange. The first round's ends in a retrieve call with no output, so a client
  chaining onto it with `previous_response_id` would be refused.
- `RoundResult.assistant` is `{"items": [...], "response_id": ...}`: the round's output items,
  which the API takes back as input items as they are (reasoning `encrypted_content` included).
  `stop_reason` is the closing status (Responses has no stop reason; the client acts on the
  function calls it was sent).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from addon.retrieval.stream_splicer import (
    RoundResult,
    Splicer,
    StreamedRetrieveCall,
    dumps,
    event_object,
    final_usage,
    parse_object,
)
from addon.wire.json_splice import AddMember, Append, Replacement, SpliceError, find_spans, splice
from addon.wire.sse_events import SseEvent, format_event

# Usage fields that describe the prompt rather than the generation.
INPUT_USAGE = ("input_tokens", "input_tokens_details")
_OPENING = frozenset({"response.created", "response.in_progress", "response.queued"})
_CLOSING = frozenset({"response.completed", "response.incomplete", "response.failed"})
# Items the client must answer: they cannot go back in a follow-up, which would then lack their outputs.
_CLIENT_CALLS = frozenset(
    {"function_call", "custom_tool_call", "local_shell_call", "shell_call", "apply_patch_call", "computer_call", "mcp_approval_request"}
)


@dataclass
class _Item:
    """One output item of the current round, by its upstream output_index."""

    item: dict  # as added, then as done
    retrieve: bool
    client_index: int | None  # None for retrieve calls: they never reach the client
    parts: list[str] = field(default_factory=list)  # function_call_arguments deltas
    arguments: str | None = None  # from function_call_arguments.done
    done: bool = False

    def built(self) -> dict:
        item = copy.deepcopy(self.item)
        if item.get("type") == "function_call" and not (self.done and isinstance(item.get("arguments"), str)):
            item["arguments"] = self.arguments if self.arguments is not None else "".join(self.parts)
        return item


class OpenAIResponsesSplicer(Splicer):
    """Responses API streams: response.created, output item events, response.completed."""

    follow_up_list = ("input",)

    def __init__(self, tool_name: str, *, sum_input_usage: bool = False) -> None:
        self._next_index = 0  # the client's next output_index, over all rounds
        self._next_seq: int | None = None  # the client's next sequence_number (from upstream's first)
        super().__init__(tool_name, sum_input_usage=sum_input_usage)

    def _reset_round(self) -> None:
        super()._reset_round()
        self._items: dict[int, _Item] = {}
        self._response: dict = {}  # the round's response object, as last seen
        self._status: str | None = None  # the closing event's, once seen
        self._error: Any = None

    def followup_messages(self, result: RoundResult, answers: Mapping[str, str]) -> list[dict]:
        """The input items to append for the follow-up: the round's items (no client calls) and the outputs."""
        return [*result.followup_assistant["items"], *_outputs(result, answers)]

    def follow_up_body(self, body: str, result: RoundResult, answers: Mapping[str, str]) -> str:
        """Chained onto the round's stored response where the client chains; else the items appended."""
        request = json.loads(body)
        response_id = result.assistant.get("response_id")
        stored = request.get("store") is not False
        # A mixed round is not chained: the stored round holds the client's calls, and the API
        # refuses a follow-up without their outputs. Appending leaves them out.
        if isinstance(request.get("previous_response_id"), str) and stored and isinstance(response_id, str) and not result.client_tool_calls:
            body = splice(body, [Replacement(("previous_response_id",), response_id)])
            return _set_member(body, "input", dumps(_outputs(result, answers)))
        items = self.followup_messages(result, answers)
        if not stored:  # ids of unstored items cannot be resolved: send the items by value only
            items = [{k: v for k, v in item.items() if k not in ("id", "status")} for item in items]
        current = request.get("input")
        if isinstance(current, list):
            return splice(body, [Append(("input",), dumps(item)) for item in items])
        if isinstance(current, str):
            items = [{"role": "user", "content": current}, *items]
        return _set_member(body, "input", dumps(items))

    def _event(self, event: SseEvent) -> list[bytes]:
        data = event_object(event)
        if data is None:  # comments, keepalives, anything unparsable: as it came
            return [event.raw]
        kind = data.get("type") or event.event
        if kind in _CLOSING:
            self._holding_end = True
            self._tail.append(event)
            self._observe_tail(event)
            return []
        if kind in _OPENING:
            if isinstance(data.get("response"), dict):
                self._response = data["response"]
            return self._forward(event, data) if self._round == 1 else []
        if kind == "error":
            self._error = data["error"] if isinstance(data.get("error"), dict) else data
        index = data.get("output_index")
        if not isinstance(index, int):
            return self._forward(event, data)
        if kind == "response.output_item.added" and isinstance(data.get("item"), dict):
            item = data["item"]
            retrieve = item.get("type") == "function_call" and item.get("name") == self.tool_name
            self._items[index] = _Item(item, retrieve, None if retrieve else self._next_index)
            self._next_index += 0 if retrieve else 1
        tracked = self._items.get(index)
        if tracked is None:
            return self._forward(event, data)
        if kind == "response.output_item.done" and isinstance(data.get("item"), dict):
            tracked.item, tracked.done = data["item"], True
        elif kind == "response.function_call_arguments.delta" and isinstance(data.get("delta"), str):
            tracked.parts.append(data["delta"])
        elif kind == "response.function_call_arguments.done" and isinstance(data.get("arguments"), str):
            tracked.arguments = data["arguments"]
        return [] if tracked.retrieve else self._forward(event, data, tracked.client_index)

    def _forward(self, event: SseEvent, data: dict, index: int | None = None) -> list[bytes]:
        new = self._renumbered(data, index)
        return [event.raw if new == data else format_event(dumps(new), event.event, event.newline)]

    def _renumbered(self, data: dict, index: int | None) -> dict:
        """The event with the client's output_index and its next sequence_number."""
        new = dict(data)
        if index is not None:
            new["output_index"] = index
        seq = data.get("sequence_number")
        if isinstance(seq, int) and not isinstance(seq, bool):
            if self._next_seq is None:
                self._next_seq = seq
            new["sequence_number"] = self._next_seq
            self._next_seq += 1
        return new

    def _observe_tail(self, event: SseEvent) -> None:
        data = event_object(event)
        if data is None:
            return
        kind = data.get("type") or event.event
        if kind in _CLOSING:
            self._response = data["response"] if isinstance(data.get("response"), dict) else {}
            self._status = kind.removeprefix("response.")
            if kind == "response.failed":  # the round gets no follow-up: the client sees the failure
                self._error = self._response.get("error") or {"status": "failed"}
        elif kind == "error":
            self._error = data["error"] if isinstance(data.get("error"), dict) else data

    def _is_retrieve(self, item: dict) -> bool:
        return item.get("type") == "function_call" and item.get("name") == self.tool_name

    def _result(self) -> RoundResult:
        items: list[dict] = []
        followup: list[dict] = []
        calls: list[StreamedRetrieveCall] = []
        client_calls = False
        for index in sorted(self._items):
            tracked = self._items[index]
            item = tracked.built()
            items.append(item)
            if tracked.retrieve:
                raw = item["arguments"] if isinstance(item.get("arguments"), str) else ""
                parsed = parse_object(raw)
                complete = parsed is not None and tracked.done and item.get("status") != "incomplete"
                calls.append(StreamedRetrieveCall(str(item.get("call_id") or ""), parsed or {}, raw, complete))
            elif item.get("type") in _CLIENT_CALLS:
                client_calls = True
                continue  # the provider must not expect an output for it
            followup.append(item)
        response_id = self._response.get("id")
        usage = self._response.get("usage")
        return RoundResult(
            calls,
            {"items": items, "response_id": response_id},
            {"items": followup, "response_id": response_id},
            client_calls,
            usage if isinstance(usage, dict) else {},
            self._status,
            self._status is not None,
            self._error,
        )

    def _closing(self) -> list[bytes]:
        out: list[bytes] = []
        for event in self._tail:
            data = event_object(event)
            if data is None or (data.get("type") or event.event) not in _CLOSING or not isinstance(data.get("response"), dict):
                out.append(event.raw)  # keepalives after the end
                continue
            final = self._renumbered({**data, "response": self._final_response(data["response"])}, None)
            out.append(event.raw if final == data else format_event(dumps(final), event.event, event.newline))
        return out

    def _final_response(self, response: dict) -> dict:
        if len(self.results) == 1 and not self._any_retrieve():
            return response  # nothing was spliced: as the provider sent it
        final = dict(response)
        final["output"] = [item for r in self.results for item in r.assistant["items"] if not self._is_retrieve(item)]
        if isinstance(final.get("usage"), dict) and len(self.results) > 1:
            usage = final_usage(final["usage"], [r.usage for r in self.results if r.usage], "output_tokens", INPUT_USAGE, self.sum_input_usage)
            if isinstance(usage.get("input_tokens"), int) and isinstance(usage.get("output_tokens"), int):
                usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
            final["usage"] = usage
        return final


def _outputs(result: RoundResult, answers: Mapping[str, str]) -> list[dict]:
    return [{"type": "function_call_output", "call_id": c.call_id, "output": answers[c.call_id]} for c in result.retrieve_calls]


def _set_member(body: str, key: str, literal: str) -> str:
    """The body with its top-level `key` set to the JSON `literal`; every other byte kept."""
    try:
        start, end = find_spans(body, [], [(key,)])[(key,)]
    except SpliceError:  # no such member yet
        return splice(body, [AddMember((), key, literal)])
    return body[:start] + literal + body[end:]
