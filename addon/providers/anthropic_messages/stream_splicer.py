"""The Anthropic Messages side of the stream splicer (the base class: addon/retrieval/stream_splicer.py)."""

from __future__ import annotations

import copy
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
INPUT_USAGE = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation")


@dataclass
class _Block:
    """One Anthropic content block of the current round."""

    start: dict  # its content_block as started
    retrieve: bool
    client_index: int | None  # None for retrieve blocks: they never reach the client
    parts: list[str] = field(default_factory=list)  # input_json_delta pieces
    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    signature: str | None = None
    citations: list = field(default_factory=list)
    stopped: bool = False


class AnthropicSplicer(Splicer):
    """Messages API streams: message_start, content_block_start/delta/stop, message_delta, message_stop."""

    def __init__(self, tool_name: str, *, sum_input_usage: bool = False) -> None:
        self._next_index = 0  # the client's next content block index, over all rounds
        self._open: set[int] = set()  # client indices started and not stopped
        super().__init__(tool_name, sum_input_usage=sum_input_usage)

    def _reset_round(self) -> None:
        super()._reset_round()
        self._blocks: dict[int, _Block] = {}  # by upstream index, in the order they started
        self._start_usage: dict = {}
        self._end: dict | None = None  # the round's message_delta
        self._error: Any = None

    def followup_messages(self, result: RoundResult, answers: Mapping[str, str]) -> list[dict]:
        """The messages to append for the follow-up request: the assistant turn and the results.

        `answers` maps each retrieve call's `call_id` to the text to return to the model."""
        results = [{"type": "tool_result", "tool_use_id": c.call_id, "content": answers[c.call_id]} for c in result.retrieve_calls]
        return [result.followup_assistant, {"role": "user", "content": results}]

    def _event(self, event: SseEvent) -> list[bytes]:
        data = event_object(event)
        if data is None:  # comments, keepalives, anything unparsable: as it came
            return [event.raw]
        kind = data.get("type") or event.event
        if kind == "message_start":
            message = data.get("message")
            if isinstance(message, dict) and isinstance(message.get("usage"), dict):
                self._start_usage = message["usage"]
            return [event.raw] if self._round == 1 else []
        if kind == "content_block_start":
            return self._block_start(event, data)
        if kind in ("content_block_delta", "content_block_stop"):
            block = self._blocks.get(data.get("index"))  # type: ignore[arg-type]
            if block is None:
                return [event.raw]
            if kind == "content_block_delta":
                _apply_delta(block, data.get("delta"))
            else:
                block.stopped = True
                self._open.discard(block.client_index)  # type: ignore[arg-type]
            return [] if block.retrieve else [_reindexed(event, data, block.client_index)]
        if kind in ("message_delta", "message_stop"):
            self._holding_end = True
            self._tail.append(event)
            self._observe_tail(event)
            return []
        if kind == "error":
            self._error = data.get("error", data)
        return [event.raw]  # ping, error, events this module does not know

    def _block_start(self, event: SseEvent, data: dict) -> list[bytes]:
        start = data.get("content_block")
        index = data.get("index")
        if not isinstance(start, dict) or not isinstance(index, int):
            return [event.raw]
        if start.get("type") == "tool_use" and start.get("name") == self.tool_name:
            self._blocks[index] = _Block(start, True, None)
            return []
        client_index = self._next_index
        self._next_index += 1
        self._open.add(client_index)
        self._blocks[index] = _Block(start, False, client_index)
        return [_reindexed(event, data, client_index)]

    def _observe_tail(self, event: SseEvent) -> None:
        data = event_object(event)
        if data is None:
            return
        kind = data.get("type") or event.event
        if kind == "message_delta":
            self._end = data
        elif kind == "error":
            self._error = data.get("error", data)

    def _result(self) -> RoundResult:
        content: list[dict] = []
        followup: list[dict] = []
        calls: list[StreamedRetrieveCall] = []
        client_calls = False
        for block in self._blocks.values():
            built, raw_input, parsed = _built_block(block)
            content.append(built)
            if block.retrieve:
                calls.append(StreamedRetrieveCall(str(built.get("id", "")), built["input"], raw_input, parsed and block.stopped))
            elif built.get("type") == "tool_use":
                client_calls = True
                continue  # the provider must not expect a result for it
            if built.get("type") == "text" and not built.get("text"):
                continue  # the API refuses empty text blocks in requests
            followup.append(built)
        end = self._end or {}
        usage = dict(self._start_usage)
        usage.update({k: v for k, v in (end.get("usage") or {}).items() if v is not None})
        delta = end.get("delta") if isinstance(end.get("delta"), dict) else {}
        return RoundResult(
            calls,
            {"role": "assistant", "content": content},
            {"role": "assistant", "content": followup},
            client_calls,
            usage,
            delta.get("stop_reason"),  # type: ignore[union-attr]
            self._end is not None,
            self._error,
        )

    def _closing(self) -> list[bytes]:
        out: list[bytes] = []
        for event in self._tail:
            data = event_object(event)
            if data is None or (data.get("type") or event.event) != "message_delta":
                out.append(event.raw)
                continue
            for index in sorted(self._open):
                stop = {"type": "content_block_stop", "index": index}
                out.append(format_event(dumps(stop), "content_block_stop", event.newline))
            self._open.clear()
            final = self._final_delta(data)
            out.append(event.raw if final == data else format_event(dumps(final), event.event, event.newline))
        return out

    def _final_delta(self, data: dict) -> dict:
        final = copy.deepcopy(data)
        delta = final.get("delta")
        if isinstance(delta, dict):
            stop = delta.get("stop_reason")
            new = final_stop(stop, self._any_retrieve(), self._any_client_calls(), self.results[-1], "end_turn", "tool_use", ("end_turn", "stop_sequence"))
            if new != stop:
                delta["stop_reason"] = new
                if stop == "stop_sequence":
                    delta["stop_sequence"] = None
        if len(self.results) > 1:
            final["usage"] = final_usage(
                final.get("usage") or {}, [r.usage for r in self.results], "output_tokens", INPUT_USAGE, self.sum_input_usage
            )
        return final


def _apply_delta(block: _Block, delta: Any) -> None:
    if not isinstance(delta, dict):
        return
    kind = delta.get("type")
    if kind == "text_delta" and isinstance(delta.get("text"), str):
        block.text.append(delta["text"])
    elif kind == "input_json_delta" and isinstance(delta.get("partial_json"), str):
        block.parts.append(delta["partial_json"])
    elif kind == "thinking_delta" and isinstance(delta.get("thinking"), str):
        block.thinking.append(delta["thinking"])
    elif kind == "signature_delta" and isinstance(delta.get("signature"), str):
        block.signature = delta["signature"]
    elif kind == "citations_delta" and delta.get("citation") is not None:
        block.citations.append(delta["citation"])


def _built_block(block: _Block) -> tuple[dict, str, bool]:
    """The block as a request content block; for tool input also its raw text and whether it parsed."""
    built = {k: copy.deepcopy(v) for k, v in block.start.items() if v is not None}
    raw_input = "".join(block.parts)
    parsed = True
    if block.parts:
        value = parse_object(raw_input)
        parsed = value is not None
        built["input"] = value if value is not None else {}
    elif "input" in built or block.retrieve:
        if not isinstance(built.get("input"), dict):
            built["input"] = {}
            parsed = False
        raw_input = dumps(built["input"])
    if block.text:
        built["text"] = built.get("text", "") + "".join(block.text)
    if block.thinking:
        built["thinking"] = built.get("thinking", "") + "".join(block.thinking)
    if block.signature is not None:
        built["signature"] = block.signature
    if block.citations:
        built["citations"] = list(built.get("citations") or []) + block.citations
    return built, raw_input, parsed


def _reindexed(event: SseEvent, data: dict, index: int | None) -> bytes:
    if data.get("index") == index:
        return event.raw
    return format_event(dumps({**data, "index": index}), event.event, event.newline)
