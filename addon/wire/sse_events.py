"""Incremental server-sent events: parse a text/event-stream byte stream, keeping each event's bytes.

Pure (no I/O). The parser cuts the stream into blocks at blank lines and keeps every byte of each
block, so an event forwarded as it came (`SseEvent.raw`) is byte-identical to what arrived, and
the concatenated `raw` of all events is exactly the stream. Chunks may split anywhere: mid-line,
mid-UTF-8 character, between the CR and LF of a CRLF. Lines end with CRLF, LF or CR, as the
WHATWG spec allows.

Blocks that carry no `data` field (comments such as `: ping`, keepalive blank lines, a lone
`event:` line) are still events, with `data` None: a splicer passes them through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE_END = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class SseEvent:
    event: str | None  # the `event:` field, None when absent
    data: str | None  # the `data:` lines joined by "\n"; None when the block has no data field
    raw: bytes  # every byte of the block, terminating blank line included
    complete: bool = True  # False for a block cut off at the end of the stream (from `close`)

    @property
    def newline(self) -> str:
        """The line terminator this event used, so rewritten events can keep it."""
        if b"\r\n" in self.raw:
            return "\r\n"
        if b"\n" not in self.raw and b"\r" in self.raw:
            return "\r"
        return "\n"


class SseParser:
    """Feed bytes as they arrive; get back the events completed so far."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._lines: list[bytes] = []  # raw lines (with terminators) of the block being read
        self._first_line = True  # a UTF-8 BOM may open the stream
        self._bom = False  # the block being read starts with that BOM

    def feed(self, chunk: bytes) -> list[SseEvent]:
        self._buffer += chunk
        return self._drain(final=False)

    def close(self) -> list[SseEvent]:
        """The stream ended: flush what is left, a cut-off block as an incomplete event."""
        events = self._drain(final=True)
        rest = bytes(self._buffer)
        self._buffer.clear()
        if rest:
            self._lines.append(rest)
        if self._lines:
            events.append(self._block(complete=False))
        return events

    def _drain(self, final: bool) -> list[SseEvent]:
        events: list[SseEvent] = []
        buffer = self._buffer
        pos = 0
        while (match := _LINE_END.search(buffer, pos)) is not None:
            start, end = match.span()
            # A CR at the end of what we have may be the first half of a CRLF.
            if not final and end == len(buffer) and buffer[start:end] == b"\r":
                break
            line = bytes(buffer[pos:end])
            content = line[: start - pos]
            if self._first_line:
                self._first_line = False
                if content.startswith(_BOM):
                    content = content[len(_BOM) :]
                    self._bom = True
            self._lines.append(line)
            pos = end
            if not content:
                events.append(self._block(complete=True))
        del buffer[:pos]
        return events

    def _block(self, complete: bool) -> SseEvent:
        lines, self._lines = self._lines, []
        bom, self._bom = self._bom, False
        raw = b"".join(lines)
        name: str | None = None
        data: list[str] = []
        for index, line in enumerate(lines):
            text = line.rstrip(b"\r\n")
            if index == 0 and bom:
                text = text[len(_BOM) :]
            if not text or text.startswith(b":"):
                continue
            field, _, value = text.decode("utf-8", errors="replace").partition(":")
            if value.startswith(" "):
                value = value[1:]
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            # `id` and `retry` stay in `raw`; nothing here needs them
        return SseEvent(name, "\n".join(data) if data else None, raw, complete)


def format_event(data: str, event: str | None = None, newline: str = "\n") -> bytes:
    """One event's bytes: an optional `event:` line, one `data:` line per line of data, a blank line."""
    head = f"event: {event}{newline}" if event is not None else ""
    body = "".join(f"data: {line}{newline}" for line in data.split("\n"))
    return (head + body + newline).encode("utf-8")
