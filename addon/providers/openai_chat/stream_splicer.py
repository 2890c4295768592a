"""The OpenAI Chat Completions side of the stream splicer (the base class: addon/retrieval/stream_splicer.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from addon.wire.sse_events import SseEvent, format_event
from addon.retrieval.stream_splicer import (
    RoundResult,
    StreamedRetrieveCall,
    dumps,
    final_stop,
    final_usage,
    event_object,
    parse_object,
    Splicer,
)

# Usage fields that describe the prompt rather than the generation.
INPUT_USAGE = ("prompt_tokens", "prompt_tokens_details")


@dataclass
class _Call:
    """One OpenAI tool call of the current round, by its upstream index."""

    id: str
    name: str
    retrieve: bool
    client_index: int | None
    arguments: list[str] = field(default_factory=list)


class OpenAIChatSplicer(Splicer):
    """Chat Completions streams: chat.completion.chunk events, then `data: [DONE]`."""

    def __init__(self, tool_name: str, *, sum_input_usage: bool = False) -> None:
        self._next_tool_index = 0  # the client's next tool call index, over all rounds
        self._identity: dict[str, Any] = {}  # the first round's id, created, model
        self._client_text_end = ""  # the last character of content the client has
        super().__init__(tool_name, sum_input_usage=sum_input_usage)

    def _reset_round(self) -> None:
        super()._reset_round()
        self._calls: dict[int, _Call] = {}
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self._refusal: list[str] = []
        self._finish: str | None = None
        self._usage: dict = {}
        self._error: Any = None
        self._separate = self._round > 1 and bool(self._client_text_end) and not self._client_text_end.isspace()

    def followup_messages(self, result: RoundResult, answers: Mapping[str, str]) -> list[dict]:
        """The messages to append for the follow-up request: the assistant turn and the results.

        `answers` maps each retrieve call's `call_id` to the text to return to the model."""
        results = [{"role": "tool", "tool_call_id": c.call_id, "content": answers[c.call_id]} for c in result.retrieve_calls]
        return [result.followup_assistant, *results]

    def _event(self, event: SseEvent) -> list[bytes]:
        if event.data is None or not event.complete:
            return [event.raw]
        if event.data.strip() == "[DONE]":
            self._holding_end = True
            self._tail.append(event)
            return []
        data = event_object(event)
        if data is None:
            return [event.raw]
        if "error" in data and not data.get("choices"):
            self._error = data["error"]
            return [event.raw]
        if self._round == 1:
            for key in ("id", "created", "model"):
                if key in data and key not in self._identity:
                    self._identity[key] = data[key]
        self._accumulate(data)
        choice = _choice0(data)
        if choice is not None and choice.get("finish_reason") is not None:
            self._holding_end = True
            if self._calls_of_round_retrieve() and _has_delta(choice):
                # the round goes to the proxy: send what this chunk says now, hold its end
                now = {k: v for k, v in data.items() if k != "usage"} | {"choices": [{**choice, "finish_reason": None}]}
                end = {**data, "choices": [{**choice, "delta": {}}]}
                self._tail.append(SseEvent(event.event, dumps(end), format_event(dumps(end), event.event, event.newline)))
                say, _ = self._rewrite(now)
                if say is None:
                    return []
                self._note_client_text(say)
                return [format_event(dumps(say), event.event, event.newline)]
            self._tail.append(event)
            return []
        return self._forward(event, data)

    def _forward(self, event: SseEvent, data: dict) -> list[bytes]:
        rewritten, changed = self._rewrite(data)
        if not changed:
            self._note_client_text(data)
            return [event.raw]
        if rewritten is None:
            return []
        self._note_client_text(rewritten)
        return [format_event(dumps(rewritten), event.event, event.newline)]

    def _calls_of_round_retrieve(self) -> bool:
        return any(c.retrieve for c in self._calls.values())

    def _accumulate(self, data: dict) -> None:
        if isinstance(data.get("usage"), dict):
            self._usage = data["usage"]
        choice = _choice0(data)
        if choice is None:
            return
        if choice.get("finish_reason") is not None:
            self._finish = choice["finish_reason"]
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return
        for key, parts in (("content", self._content), ("reasoning_content", self._reasoning), ("refusal", self._refusal)):
            if isinstance(delta.get(key), str):
                parts.append(delta[key])
        for entry in delta.get("tool_calls") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("index"), int):
                continue
            function = entry.get("function") if isinstance(entry.get("function"), dict) else {}
            call = self._calls.get(entry["index"])
            if call is None:
                name = function.get("name") or ""  # type: ignore[union-attr]
                retrieve = name == self.tool_name
                call = _Call(entry.get("id") or "", name, retrieve, None if retrieve else self._next_tool_index)
                if not retrieve:
                    self._next_tool_index += 1
                self._calls[entry["index"]] = call
            elif entry.get("id") and not call.id:
                call.id = entry["id"]
            if isinstance(function.get("arguments"), str):  # type: ignore[union-attr]
                call.arguments.append(function["arguments"])  # type: ignore[index]

    def _rewrite(self, data: dict) -> tuple[dict | None, bool]:
        """The chunk as the client must see it, and whether that differs; None: nothing left to send."""
        changed = False
        out = dict(data)
        if self._round > 1:
            for key, value in self._identity.items():
                if key in out and out[key] != value:
                    out[key] = value
                    changed = True
        choices = data.get("choices")
        if isinstance(choices, list):
            new_choices = []
            for choice in choices:
                if not isinstance(choice, dict) or choice.get("index", 0) != 0 or not isinstance(choice.get("delta"), dict):
                    new_choices.append(choice)
                    continue
                delta = dict(choice["delta"])
                if self._round > 1 and "role" in delta:
                    del delta["role"]  # the SDK's accumulator would concatenate "assistantassistant"
                    changed = True
                if isinstance(delta.get("tool_calls"), list):
                    kept, renumbered = _client_calls(delta["tool_calls"], self._calls)
                    changed = changed or renumbered
                    if kept:
                        delta["tool_calls"] = kept
                    else:
                        del delta["tool_calls"]
                content = delta.get("content")
                if self._separate and isinstance(content, str) and content:
                    self._separate = False
                    if not content[0].isspace():
                        delta["content"] = "\n\n" + content
                        changed = True
                new_choices.append({**choice, "delta": delta})
            out["choices"] = new_choices
        if changed and _empty_chunk(out):
            return None, True
        return out, changed

    def _note_client_text(self, data: dict) -> None:
        choice = _choice0(data)
        delta = choice.get("delta") if choice else None
        if isinstance(delta, dict) and isinstance(delta.get("content"), str) and delta["content"]:
            self._client_text_end = delta["content"][-1]

    def _observe_tail(self, event: SseEvent) -> None:
        if event.data is None or event.data.strip() == "[DONE]":
            return
        data = event_object(event)
        if data is not None:
            self._accumulate(data)

    def _result(self) -> RoundResult:
        calls: list[StreamedRetrieveCall] = []
        all_calls: list[dict] = []
        retrieve_calls: list[dict] = []
        for call in self._calls.values():
            arguments = "".join(call.arguments)
            entry = {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}}
            all_calls.append(entry)
            if call.retrieve:
                retrieve_calls.append(entry)
                parsed = parse_object(arguments)
                calls.append(StreamedRetrieveCall(call.id, parsed or {}, arguments, parsed is not None and self._finish is not None))
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self._content) or None}
        if self._reasoning:
            message["reasoning_content"] = "".join(self._reasoning)
        if self._refusal:
            message["refusal"] = "".join(self._refusal)
        followup = {k: v for k, v in message.items() if k != "refusal"}
        if all_calls:
            message["tool_calls"] = all_calls
        if retrieve_calls:
            followup["tool_calls"] = retrieve_calls
        client_calls = any(not c.retrieve for c in self._calls.values())
        return RoundResult(calls, message, followup, client_calls, self._usage, self._finish, self._finish is not None, self._error)

    def _closing(self) -> list[bytes]:
        out: list[bytes] = []
        for event in self._tail:
            data = event_object(event) if event.data is not None and event.data.strip() != "[DONE]" else None
            if data is None:
                out.append(event.raw)
                continue
            final, changed = self._rewrite(data)
            final = final if final is not None else dict(data)
            choice = _choice0(final)
            if choice is not None and choice.get("finish_reason") is not None:
                stop = choice["finish_reason"]
                new = final_stop(stop, self._any_retrieve(), self._any_client_calls(), self.results[-1], "stop", "tool_calls", ("stop", "function_call"))
                if new != stop:
                    final["choices"] = [{**c, "finish_reason": new} if c is choice else c for c in final["choices"]]
                    changed = True
            if isinstance(final.get("usage"), dict) and len(self.results) > 1:
                usages = [r.usage for r in self.results if r.usage]
                final["usage"] = final_usage(final["usage"], usages, "completion_tokens", INPUT_USAGE, self.sum_input_usage)
                if isinstance(final["usage"].get("prompt_tokens"), int) and isinstance(final["usage"].get("completion_tokens"), int):
                    final["usage"]["total_tokens"] = final["usage"]["prompt_tokens"] + final["usage"]["completion_tokens"]
                changed = changed or final["usage"] != data["usage"]
            out.append(format_event(dumps(final), event.event, event.newline) if changed else event.raw)
        return out


def _client_calls(entries: list, calls: dict[int, _Call]) -> tuple[list, bool]:
    """A chunk's tool call entries as the client sees them: retrieve calls left out, the client's
    renumbered over all rounds; and whether anything changed."""
    kept, changed = [], False
    for entry in entries:
        call = calls.get(entry.get("index")) if isinstance(entry, dict) else None
        if call is None:
            kept.append(entry)
        elif call.retrieve:
            changed = True
        elif entry["index"] != call.client_index:
            kept.append({**entry, "index": call.client_index})
            changed = True
        else:
            kept.append(entry)
    return kept, changed


def _choice0(data: dict) -> dict | None:
    for choice in data.get("choices") or []:
        if isinstance(choice, dict) and choice.get("index", 0) == 0:
            return choice
    return None


def _has_delta(choice: dict, role_counts: bool = False) -> bool:
    delta = choice.get("delta")
    return isinstance(delta, dict) and any(v not in (None, "", [], {}) for k, v in delta.items() if role_counts or k != "role")


def _empty_chunk(data: dict) -> bool:
    """Nothing a client could use: no delta content, no finish, no usage, no logprobs."""
    if data.get("usage") is not None:
        return False
    for choice in data.get("choices") or []:
        if not isinstance(choice, dict):
            return False
        if choice.get("finish_reason") is not None or choice.get("logprobs") is not None or _has_delta(choice, role_counts=True):
            return False
    return True
