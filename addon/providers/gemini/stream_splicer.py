"""The Gemini side of the stream splicer (the base class: addon/retrieval/stream_splicer.py).

`:streamGenerateContent?alt=sse` sends one GenerateContentResponse per event, no [DONE]; Gemini
CLI's Google-login endpoint (v1internal) wraps each in `{"response": …, "traceId"}`, a wrapper
kept when a chunk is rewritten. A functionCall arrives whole; the chunk with `finishReason`
(STOP for function calls too) is the end, held with any chunk after it until `final_events()`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from addon.providers.gemini.function_responses import Answer, answer_turn
from addon.providers.gemini.request_parser import root
from addon.retrieval.stream_splicer import RoundResult, Splicer, StreamedRetrieveCall, dumps, event_object, final_usage
from addon.wire.json_splice import Append, splice
from addon.wire.sse_events import SseEvent, format_event

# Usage fields that describe the prompt rather than the generation.
INPUT_USAGE = ("promptTokenCount", "cachedContentTokenCount", "toolUsePromptTokenCount", "promptTokensDetails", "cacheTokensDetails", "toolUsePromptTokensDetails")
TOTAL_OF = ("promptTokenCount", "toolUsePromptTokenCount", "candidatesTokenCount", "thoughtsTokenCount")


class GeminiSplicer(Splicer):
    """streamGenerateContent streams (alt=sse), plain or wrapped by Gemini CLI's v1internal."""

    def __init__(self, tool_name: str, *, sum_input_usage: bool = False) -> None:
        self._client_text_end = ""  # the last character of (non-thought) text the client has
        super().__init__(tool_name, sum_input_usage=sum_input_usage)

    def _reset_round(self) -> None:
        super()._reset_round()
        self._parts: list[dict] = []  # candidate 0's parts of the round, as streamed
        self._finish: str | None = None
        self._usage: dict = {}
        self._error: Any = None
        self._separate = self._round > 1 and bool(self._client_text_end) and not self._client_text_end.isspace()

    def follow_up_body(self, body: str, result: RoundResult, answers: Mapping[str, Answer]) -> str:
        path = root(json.loads(body)) + ("contents",)  # Gemini CLI's wrapper: inside `request`
        return splice(body, [Append(path, dumps(m)) for m in self.followup_messages(result, answers)])

    def followup_messages(self, result: RoundResult, answers: Mapping[str, Answer]) -> list[dict]:
        """The model's turn (retrieve calls, no client calls) and a user turn of functionResponses.

        `answers` maps each retrieve call's `call_id` to what to return to the model: text, or
        Gemini parts holding an original image or video (inlineData beside the responses)."""
        calls = [p["functionCall"] for p in result.followup_assistant["parts"] if self._is_retrieve(p)]
        answered = [(c, answers[streamed.call_id]) for c, streamed in zip(calls, result.retrieve_calls)]
        return [result.followup_assistant, answer_turn(self.tool_name, answered)]

    def _is_retrieve(self, part: Any) -> bool:
        return isinstance(part, dict) and isinstance(part.get("functionCall"), dict) and part["functionCall"].get("name") == self.tool_name

    def _event(self, event: SseEvent) -> list[bytes]:
        chunk = event_object(event)
        if chunk is None:  # comments, keepalives, anything unparsable: as it came
            return [event.raw]
        inner = _inner(chunk)
        self._accumulate(inner)
        candidate = _candidate0(inner)
        if candidate is None or candidate.get("finishReason") is None:  # an error chunk too: as it came
            return self._send(event, *self._rewrite(chunk))
        self._holding_end = True
        if not (any(self._is_retrieve(p) for p in self._parts) and _parts(candidate)):
            self._tail.append(event)
            return []
        # A retrieve round: the tail of a round that is followed up is never sent, so what this
        # chunk says (text, client calls) goes now and only its end (finish, usage) waits.
        now_candidate = {k: v for k, v in candidate.items() if k not in ("finishReason", "finishMessage")}
        now = {k: v for k, v in inner.items() if k != "usageMetadata"} | {"candidates": _swap(inner, candidate, now_candidate)}
        end = inner | {"candidates": _swap(inner, candidate, {k: v for k, v in candidate.items() if k != "content"})}
        end_text = dumps(_rewrap(chunk, end))
        self._tail.append(SseEvent(event.event, end_text, format_event(end_text, event.event, event.newline)))
        return self._send(event, self._rewrite(_rewrap(chunk, now))[0])

    def _send(self, event: SseEvent, chunk: dict | None, changed: bool = True) -> list[bytes]:
        """The chunk for the client (its bytes as they came when unchanged); None: nothing."""
        if chunk is None:
            return []
        self._note_client_text(chunk)
        return [format_event(dumps(chunk), event.event, event.newline) if changed else event.raw]

    def _accumulate(self, inner: dict) -> None:
        if "error" in inner and not inner.get("candidates"):  # `{"error": …}` ends a failed stream
            self._error = inner["error"]
            return
        if isinstance(inner.get("usageMetadata"), dict):
            self._usage = inner["usageMetadata"]
        candidate = _candidate0(inner)
        if candidate is None:
            return
        if candidate.get("finishReason") is not None:
            self._finish = candidate["finishReason"]
        self._parts += [p for p in _parts(candidate) if isinstance(p, dict)]

    def _rewrite(self, chunk: dict) -> tuple[dict | None, bool]:
        """The chunk as the client must see it (retrieve calls out, rounds' text kept apart), and
        whether that differs; None: nothing left worth sending."""
        inner = _inner(chunk)
        candidate = _candidate0(inner)
        if candidate is None or not (parts := _parts(candidate)):
            return chunk, False
        kept: list = []
        changed = False
        for part in parts:
            if self._is_retrieve(part):
                changed = True
                continue
            if self._separate and _client_text(part):
                self._separate = False
                if not part["text"][0].isspace():
                    part = part | {"text": "\n\n" + part["text"]}
                    changed = True
            kept.append(part)
        if not changed:
            return chunk, False
        if kept:
            new = candidate | {"content": candidate["content"] | {"parts": kept}}
        else:  # no content left: the candidate goes without it, as a blocked one comes
            new = {k: v for k, v in candidate.items() if k != "content"}
        candidates = _swap(inner, candidate, new)
        if not kept and new.get("finishReason") is None and len(candidates) == 1:
            return None, True  # running usage alone is not worth a chunk: the end carries the total
        return _rewrap(chunk, inner | {"candidates": candidates}), True

    def _note_client_text(self, chunk: dict) -> None:
        texts = [p["text"] for p in _parts(_candidate0(_inner(chunk))) if _client_text(p)]
        if texts:
            self._client_text_end = texts[-1][-1]

    def _observe_tail(self, event: SseEvent) -> None:
        if (chunk := event_object(event)) is not None:
            self._accumulate(_inner(chunk))

    def _result(self) -> RoundResult:
        parts = _merged(self._parts)
        calls: list[StreamedRetrieveCall] = []
        followup: list[dict] = []
        signature: str | None = None  # carried by a client call left out of the follow-up
        for part in parts:
            call = part.get("functionCall")
            if not isinstance(call, dict):
                followup.append(part)
            elif not self._is_retrieve(part):
                # Parallel calls: only the first carries the signature, and Gemini 3 refuses a
                # turn whose first call has none, so it moves to the next retrieve call.
                signature = signature or part.get("thoughtSignature")
            else:
                if signature is not None and "thoughtSignature" not in part:
                    part = part | {"thoughtSignature": signature}
                signature = None
                args = call.get("args", {})
                call_id = str(call.get("id") or f"{self.tool_name}-{self._round}-{len(calls)}")
                ok = isinstance(args, dict)
                calls.append(StreamedRetrieveCall(call_id, args if ok else {}, dumps(args), ok and self._finish is not None))
                followup.append(part)
        client_calls = any(isinstance(p.get("functionCall"), dict) and not self._is_retrieve(p) for p in parts)
        assistant, followup_assistant = {"role": "model", "parts": parts}, {"role": "model", "parts": followup}
        return RoundResult(calls, assistant, followup_assistant, client_calls, self._usage, self._finish, self._finish is not None, self._error)

    def _closing(self) -> list[bytes]:
        out: list[bytes] = []
        usages = [r.usage for r in self.results if r.usage]
        for event in self._tail:
            chunk = event_object(event)
            if chunk is None:
                out.append(event.raw)
                continue
            final, changed = self._rewrite(chunk)
            if final is None:
                continue
            inner = _inner(final)
            if len(self.results) > 1 and isinstance(inner.get("usageMetadata"), dict):
                usage = self._final_usage(inner["usageMetadata"], usages)
                if usage != inner["usageMetadata"]:
                    final, changed = _rewrap(final, inner | {"usageMetadata": usage}), True
            out.append(format_event(dumps(final), event.event, event.newline) if changed else event.raw)
        return out

    def _final_usage(self, base: dict, usages: list[dict]) -> dict:
        usage = final_usage(base, usages, "candidatesTokenCount", INPUT_USAGE, self.sum_input_usage)
        thoughts = [u["thoughtsTokenCount"] for u in usages if isinstance(u.get("thoughtsTokenCount"), int)]
        if thoughts:  # thinking is output: every round's was generated
            usage["thoughtsTokenCount"] = sum(thoughts)
        usage = {k: v for k, v in usage.items() if v is not None}  # a figure the first round lacked
        if "totalTokenCount" in usage:
            usage["totalTokenCount"] = sum(v for k in TOTAL_OF if isinstance(v := usage.get(k), int))
        return usage


def _inner(chunk: dict) -> dict:
    """The GenerateContentResponse in a chunk (unwrapped from v1internal's `response`)."""
    response = chunk.get("response")
    return response if isinstance(response, dict) and "candidates" not in chunk else chunk


def _rewrap(chunk: dict, inner: dict) -> dict:
    return chunk | {"response": inner} if _inner(chunk) is not chunk else inner


def _candidate0(inner: dict) -> dict | None:
    candidates = inner.get("candidates")
    for candidate in candidates if isinstance(candidates, list) else []:
        if isinstance(candidate, dict) and candidate.get("index", 0) == 0:
            return candidate
    return None


def _swap(inner: dict, old: dict, new: dict) -> list:
    return [new if c is old else c for c in inner["candidates"]]


def _parts(candidate: dict | None) -> list:
    content = candidate.get("content") if candidate is not None else None
    parts = content.get("parts") if isinstance(content, dict) else None
    return parts if isinstance(parts, list) else []


def _client_text(part: Any) -> bool:
    """Answer text the client shows (thought summaries are shown apart)."""
    return isinstance(part, dict) and isinstance(part.get("text"), str) and bool(part["text"]) and not part.get("thought")


def _plain_text(part: dict) -> bool:
    return isinstance(part.get("text"), str) and set(part) <= {"text", "thought"}


def _merged(parts: list[dict]) -> list[dict]:
    """Adjacent streamed text pieces as one part, so the follow-up does not carry one part per
    chunk. A part with a thoughtSignature stays as it came: Gemini wants signed parts unmerged."""
    out: list[dict] = []
    for part in parts:
        last = out[-1] if out else {}
        if _plain_text(last) and _plain_text(part) and bool(last.get("thought")) == bool(part.get("thought")):
            out[-1] = last | {"text": last["text"] + part["text"]}
        else:
            out.append(part)
    return out
