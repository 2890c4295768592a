"""Splice the proxy's own retrieve-tool rounds out of a streamed answer, so the client sees one message.

Pure (no I/O, no mitmproxy): the caller parses each upstream stream with `SseParser`, feeds the
events to a splicer and sends what `feed` returns to the client. When an upstream stream ends it
calls `finish_round()`; if the round holds retrieve calls (`RoundResult.needs_followup`) it
answers them, sends the follow-up request (`followup_messages` appended to the messages), calls
`start_round()` and feeds the follow-up stream the same way. When it stops looping (the model is
done, or the caller's round limit is reached) it sends `final_events()` and closes the stream.

    splicer = AnthropicSplicer("headroom_retrieve")          # or OpenAIChatSplicer
    for each upstream round:
        splicer.start_round()                                # a no-op before the first round
        parser = SseParser()
        for chunk in upstream: send(splicer.feed(parser.feed(chunk)))
        send(splicer.feed(parser.close()))
        result = splicer.finish_round()
        if not result.needs_followup or over the limit: break
        messages += splicer.followup_messages(result, answers)
    send(splicer.final_events())

What the client sees:

- Passthrough. A stream without retrieve calls comes out byte for byte as it went in, however it
  was chunked: events that need no change are forwarded as their raw bytes, and the end of the
  message (Anthropic `message_delta` + `message_stop`; OpenAI the `finish_reason` chunk, the usage
  chunk and `[DONE]`) and everything after it is only held until `final_events()`.
- Streaming. Text, thinking and the client's own tool calls stream through at once. A retrieve
  call (Anthropic: a `tool_use` block of that name, its deltas and stop; OpenAI: the
  `tool_calls` entries of that name, matched by index across chunks) never reaches the client.
- One message. A follow-up round's opening (Anthropic `message_start`; OpenAI the `role` delta)
  is dropped. Anthropic block indices and OpenAI tool-call indices are renumbered so the client's
  are contiguous from 0 over all rounds (held-back retrieve calls take no index). OpenAI
  follow-up chunks carry the first round's `id`, `created` and `model`, as one completion's
  chunks do (the SDK's accumulator does not check, other clients may group by id). OpenAI text is
  one string, so when the client has text that does not end in whitespace and a follow-up's text
  does not start with it, "\\n\\n" is put between them; Anthropic rounds are separate blocks.
- Mixed turns (retrieve and client tool calls in one round). The client's calls have already
  streamed to the client, so they stay; the proxy still answers the retrieve calls in a
  follow-up whose assistant turn holds only the retrieve calls (plus the text and thinking of
  the round): the client calls are removed from it (`RoundResult.followup_assistant`), so the
  provider expects no results for them. The client gets its tool calls plus whatever the model
  says next, and the final stop reason is `tool_use` / `tool_calls`, because the client has
  calls to answer. (The model may repeat a removed call in the follow-up; the client then sees
  it twice and answers both.)
- The end. `final_events()` sends one closing sequence: the last round's, with the stop reason
  made consistent (client tool calls anywhere → `tool_use` / `tool_calls` unless the model
  stopped for `max_tokens`, a filter or the like; a round ended by retrieve calls the caller no
  longer answers → `end_turn` / `stop`) and the usage over all rounds. Retrieve calls are never
  sent, so no block is left dangling; a client block still open is closed.
- Usage. Output (completion) tokens are summed over rounds: they were all generated. Input
  figures (`input_tokens`, `cache_*`; OpenAI `prompt_tokens` and its details) stay the first
  round's by default: they describe the conversation the client holds, and clients such as
  Claude Code size their context window (auto-compaction) from them; summing would count the
  conversation once per round. `sum_input_usage=True` sums them too (what was billed).
  `total_tokens` is recomputed. Each round's own usage is in its `RoundResult.usage`.
- Failures are shown as they were: an error event passes through at once, and a stream cut off
  before its end gets nothing added (`final_events()` returns nothing for it), so the client
  sees the failure rather than a message that looks complete. Such a round never needs a
  follow-up.
- OpenAI: only choice 0 is examined (add the retrieve tool only to requests with n = 1).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from addon.sse_events import SseEvent, format_event

# Anthropic usage fields that describe the prompt rather than the generation.
_ANTHROPIC_INPUT_USAGE = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens", "cache_creation")
_OPENAI_INPUT_USAGE = ("prompt_tokens", "prompt_tokens_details")


@dataclass
class RetrieveCall:
    call_id: str  # the tool_use / tool_call id, for the tool result
    input: dict  # the parsed arguments ({} when they did not parse)
    raw_input: str  # the arguments as streamed
    complete: bool  # the call's stream ended and its arguments parsed as an object

    @property
    def ref_id(self) -> str | None:
        """The marker id the model asks for."""
        value = self.input.get("id")
        return value if isinstance(value, str) else None

    @property
    def query(self) -> str | None:
        value = self.input.get("query")
        return value if isinstance(value, str) else None


@dataclass
class RoundResult:
    retrieve_calls: list[RetrieveCall]
    assistant: dict  # the round's whole assistant message, in the provider's request shape
    followup_assistant: dict  # the same without the client's tool calls: for the follow-up request
    client_tool_calls: bool  # the round sent tool calls of the client's to the client
    usage: dict  # the round's own usage, in the provider's shape
    stop_reason: str | None  # Anthropic stop_reason / OpenAI finish_reason, as the provider sent it
    complete: bool  # the stream reached the end of the message
    error: Any = None  # the payload of an error event (it was passed through to the client)

    @property
    def needs_followup(self) -> bool:
        """The round ended asking for retrieve calls that can be answered. Not after an error, a
        cut-off stream, or a call whose arguments were cut off (say by max_tokens): the client
        then sees the round's own stop reason."""
        calls = self.retrieve_calls
        return bool(calls) and self.complete and self.error is None and all(c.complete for c in calls)


class _Splicer:
    """Round bookkeeping shared by both APIs."""

    def __init__(self, tool_name: str, *, sum_input_usage: bool = False) -> None:
        self.tool_name = tool_name
        self.sum_input_usage = sum_input_usage
        self.results: list[RoundResult] = []  # finished rounds
        self._round = 1
        self._fed = False
        self._finished = False
        self._reset_round()

    @property
    def rounds(self) -> int:
        return self._round

    def start_round(self) -> None:
        """Begin feeding a follow-up stream (before the first round: nothing to do)."""
        if self._round == 1 and not self._fed and not self._finished:
            return
        if not self._finished:
            raise RuntimeError("finish_round() before start_round()")
        self._round += 1
        self._fed = False
        self._finished = False
        self._reset_round()

    def feed(self, events: Iterable[SseEvent]) -> list[bytes]:
        """What to send to the client now, for these events of the current round's stream."""
        if self._finished:
            raise RuntimeError("the round is finished: start_round() first")
        self._fed = True
        out: list[bytes] = []
        for event in events:
            if self._holding_end:
                self._tail.append(event)
                self._observe_tail(event)
            else:
                out += self._event(event)
        return out

    def finish_round(self) -> RoundResult:
        """The current round's stream has ended: what it held."""
        if self._finished:
            return self.results[-1]
        self._finished = True
        result = self._result()
        self.results.append(result)
        return result

    def final_events(self) -> list[bytes]:
        """The one closing sequence for the client (the last round's end, made to fit all rounds)."""
        if not self._finished:
            self.finish_round()
        return self._closing()

    def _any_retrieve(self) -> bool:
        return any(r.retrieve_calls for r in self.results)

    def _any_client_calls(self) -> bool:
        return any(r.client_tool_calls for r in self.results)

    # provided by each API
    def _reset_round(self) -> None:
        self._holding_end = False
        self._tail: list[SseEvent] = []

    def _event(self, event: SseEvent) -> list[bytes]:
        raise NotImplementedError

    def _observe_tail(self, event: SseEvent) -> None:
        raise NotImplementedError

    def _result(self) -> RoundResult:
        raise NotImplementedError

    def _closing(self) -> list[bytes]:
        raise NotImplementedError


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


class AnthropicSplicer(_Splicer):
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
        data = _object(event)
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
        data = _object(event)
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
        calls: list[RetrieveCall] = []
        client_calls = False
        for block in self._blocks.values():
            built, raw_input, parsed = _built_block(block)
            content.append(built)
            if block.retrieve:
                calls.append(RetrieveCall(str(built.get("id", "")), built["input"], raw_input, parsed and block.stopped))
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
            data = _object(event)
            if data is None or (data.get("type") or event.event) != "message_delta":
                out.append(event.raw)
                continue
            for index in sorted(self._open):
                stop = {"type": "content_block_stop", "index": index}
                out.append(format_event(_dumps(stop), "content_block_stop", event.newline))
            self._open.clear()
            final = self._final_delta(data)
            out.append(event.raw if final == data else format_event(_dumps(final), event.event, event.newline))
        return out

    def _final_delta(self, data: dict) -> dict:
        final = copy.deepcopy(data)
        delta = final.get("delta")
        if isinstance(delta, dict):
            stop = delta.get("stop_reason")
            new = _final_stop(stop, self._any_retrieve(), self._any_client_calls(), self.results[-1], "end_turn", "tool_use", ("end_turn", "stop_sequence"))
            if new != stop:
                delta["stop_reason"] = new
                if stop == "stop_sequence":
                    delta["stop_sequence"] = None
        if len(self.results) > 1:
            final["usage"] = _final_usage(
                final.get("usage") or {}, [r.usage for r in self.results], "output_tokens", _ANTHROPIC_INPUT_USAGE, self.sum_input_usage
            )
        return final


@dataclass
class _Call:
    """One OpenAI tool call of the current round, by its upstream index."""

    id: str
    name: str
    retrieve: bool
    client_index: int | None
    arguments: list[str] = field(default_factory=list)


class OpenAIChatSplicer(_Splicer):
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
        data = _object(event)
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
                self._tail.append(SseEvent(event.event, _dumps(end), format_event(_dumps(end), event.event, event.newline)))
                say, _ = self._rewrite(now)
                if say is None:
                    return []
                self._note_client_text(say)
                return [format_event(_dumps(say), event.event, event.newline)]
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
        return [format_event(_dumps(rewritten), event.event, event.newline)]

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
                    kept = []
                    for entry in delta["tool_calls"]:
                        call = self._calls.get(entry.get("index")) if isinstance(entry, dict) else None
                        if call is None:
                            kept.append(entry)
                        elif call.retrieve:
                            changed = True
                        elif entry["index"] != call.client_index:
                            kept.append({**entry, "index": call.client_index})
                            changed = True
                        else:
                            kept.append(entry)
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
        data = _object(event)
        if data is not None:
            self._accumulate(data)

    def _result(self) -> RoundResult:
        calls: list[RetrieveCall] = []
        all_calls: list[dict] = []
        retrieve_calls: list[dict] = []
        for call in self._calls.values():
            arguments = "".join(call.arguments)
            entry = {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}}
            all_calls.append(entry)
            if call.retrieve:
                retrieve_calls.append(entry)
                parsed = _parse_object(arguments)
                calls.append(RetrieveCall(call.id, parsed or {}, arguments, parsed is not None and self._finish is not None))
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
            data = _object(event) if event.data is not None and event.data.strip() != "[DONE]" else None
            if data is None:
                out.append(event.raw)
                continue
            final, changed = self._rewrite(data)
            final = final if final is not None else dict(data)
            choice = _choice0(final)
            if choice is not None and choice.get("finish_reason") is not None:
                stop = choice["finish_reason"]
                new = _final_stop(stop, self._any_retrieve(), self._any_client_calls(), self.results[-1], "stop", "tool_calls", ("stop", "function_call"))
                if new != stop:
                    final["choices"] = [{**c, "finish_reason": new} if c is choice else c for c in final["choices"]]
                    changed = True
            if isinstance(final.get("usage"), dict) and len(self.results) > 1:
                usages = [r.usage for r in self.results if r.usage]
                final["usage"] = _final_usage(final["usage"], usages, "completion_tokens", _OPENAI_INPUT_USAGE, self.sum_input_usage)
                if isinstance(final["usage"].get("prompt_tokens"), int) and isinstance(final["usage"].get("completion_tokens"), int):
                    final["usage"]["total_tokens"] = final["usage"]["prompt_tokens"] + final["usage"]["completion_tokens"]
                changed = changed or final["usage"] != data["usage"]
            out.append(format_event(_dumps(final), event.event, event.newline) if changed else event.raw)
        return out


def _final_stop(
    stop: str | None, any_retrieve: bool, client_calls: bool, last: RoundResult, done: str, tools: str, ordinary: tuple[str, ...]
) -> str | None:
    """The stop reason the client gets. Unchanged unless a retrieve call happened."""
    if not any_retrieve:
        return stop
    if client_calls and (stop == tools or stop in ordinary):
        return tools  # the client has tool calls to answer
    if not client_calls and stop == tools and last.retrieve_calls:
        return done  # the caller stopped answering retrieve calls: end the turn
    return stop


def _final_usage(base: dict, rounds: list[dict], output_key: str, input_keys: tuple[str, ...], sum_input: bool) -> dict:
    """The last round's usage object with output summed and input figures first-round or summed."""
    summed = _sum_numbers(rounds)
    first = rounds[0] if rounds else {}
    usage = dict(base)
    for key in list(usage):
        if key in input_keys:
            usage[key] = summed.get(key) if sum_input else first.get(key)
        elif key in summed:
            usage[key] = summed[key]
    if output_key in summed:
        usage[output_key] = summed[output_key]
    if sum_input:  # so the client's total replaces the first round's figures
        usage.update({k: summed[k] for k in input_keys if summed.get(k) is not None})
    return usage


def _sum_numbers(dicts: list[dict]) -> dict:
    """Numbers summed key by key (nested objects too); anything else: the last value given."""
    out: dict = {}
    for d in dicts:
        for key, value in d.items():
            if value is None:
                continue
            known = out.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool) and isinstance(known, int | float) and not isinstance(known, bool):
                out[key] = known + value
            elif isinstance(value, dict) and isinstance(known, dict):
                out[key] = _sum_numbers([known, value])
            else:
                out[key] = copy.deepcopy(value)
    return out


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
        value = _parse_object(raw_input)
        parsed = value is not None
        built["input"] = value if value is not None else {}
    elif "input" in built or block.retrieve:
        if not isinstance(built.get("input"), dict):
            built["input"] = {}
            parsed = False
        raw_input = _dumps(built["input"])
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
    return format_event(_dumps({**data, "index": index}), event.event, event.newline)


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


def _object(event: SseEvent) -> dict | None:
    if event.data is None or not event.complete:
        return None
    return _parse_object(event.data)


def _parse_object(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
