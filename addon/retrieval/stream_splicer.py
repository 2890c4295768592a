"""Splice the proxy's own retrieve-tool rounds out of a streamed answer, so the client sees one message.

Pure (no I/O, no mitmproxy): the caller parses each upstream stream with `SseParser`, feeds the
events to a splicer and sends what `feed` returns to the client. When an upstream stream ends it
calls `finish_round()`; if the round holds retrieve calls (`RoundResult.needs_followup`) it
answers them, sends the follow-up request (`follow_up_body`: by default the forwarded body with
`followup_messages` appended to its messages), calls
`start_round()` and feeds the follow-up stream the same way. When it stops looping (the model is
done, or the caller's round limit is reached) it sends `final_events()` and closes the stream.

    splicer = provider.splicer("headroom_retrieve")        # AnthropicSplicer, OpenAIChatSplicer
    for each upstream round:
        splicer.start_round()                                # a no-op before the first round
        parser = SseParser()
        for chunk in upstream: send(splicer.feed(parser.feed(chunk)))
        send(splicer.feed(parser.close()))
        result = splicer.finish_round()
        if not result.needs_followup or over the limit: break
        body = splicer.follow_up_body(body, result, answers)
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
from dataclasses import dataclass
from typing import Any

from addon.wire.json_splice import Append, Path, splice
from addon.wire.sse_events import SseEvent


@dataclass
class StreamedRetrieveCall:
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

    @property
    def lines(self) -> str | None:
        """A line range of the original the model asked for."""
        value = self.input.get("lines")
        return value if isinstance(value, str) else None


@dataclass
class RoundResult:
    retrieve_calls: list[StreamedRetrieveCall]
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


class Splicer:
    """Round bookkeeping shared by every API; each provider's stream_splicer.py subclasses it."""

    follow_up_list: Path = ("messages",)  # where `followup_messages` go in the request body

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

    def follow_up_body(self, body: str, result: RoundResult, answers: Mapping[str, str]) -> str:
        """The next round's request: the forwarded body with the round's assistant turn (retrieve
        calls only) and the answers appended, as bytes spliced onto it so the prefix stays cached."""
        for message in self.followup_messages(result, answers):
            body = splice(body, [Append(self.follow_up_list, dumps(message))])
        return body

    def followup_messages(self, result: RoundResult, answers: Mapping[str, str]) -> list[dict]:
        """The messages to append for the follow-up request (`answers`: call id → tool result)."""
        raise NotImplementedError

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


def final_stop(
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


def final_usage(base: dict, rounds: list[dict], output_key: str, input_keys: tuple[str, ...], sum_input: bool) -> dict:
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


def event_object(event: SseEvent) -> dict | None:
    if event.data is None or not event.complete:
        return None
    return parse_object(event.data)


def parse_object(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
