"""The user turn that answers the model's retrieve calls, in Gemini's parts.

An answer is text, or (an original image or video, GeminiMedia.answer in media.py) a list of
Gemini parts: its text goes in the `functionResponse`, its media as `inlineData` parts of the
same user turn, after every `functionResponse` (each call keeps its response, in order). Parts
beside a functionResponse are accepted by every Gemini version; media nested in
`functionResponse.parts` (the "multimodal function response" of Gemini's function-calling
guide) is Gemini 3 only (client libraries report HTTP 400 from Gemini 2.x) and takes images
and PDFs, not video.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Answer = str | list[dict[str, Any]]


def split_answer(answer: Answer) -> tuple[str, list[dict[str, Any]]]:
    """(the text for the functionResponse, the media parts that go beside it)."""
    if isinstance(answer, str):
        return answer, []
    texts = [str(p["text"]) for p in answer if isinstance(p, dict) and "text" in p]
    return "\n".join(texts), [p for p in answer if isinstance(p, dict) and "text" not in p]


def answer_turn(tool_name: str, answered: Iterable[tuple[dict, Answer]]) -> dict:
    """The user turn for (functionCall, answer) pairs: the responses first, then any media."""
    responses: list[dict] = []
    media: list[dict] = []
    for call, answer in answered:
        content, parts = split_answer(answer)
        response: dict[str, Any] = {"name": tool_name, "response": {"content": content}}
        if call.get("id"):
            response["id"] = call["id"]
        responses.append({"functionResponse": response})
        media += parts
    return {"role": "user", "parts": responses + media}
