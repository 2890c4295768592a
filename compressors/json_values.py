"""JSON values that keep their source text: parsing, compact serialisation, hashable keys.

Python's json module prints 1.50 as 1.5 and 1e5 as 100000.0. A compressor that rewrites
values must copy them exactly, so floats whose text Python would print differently (and
`-0`) are parsed as `RawNumber`, which serialises back to the text it was read from.
"""

from __future__ import annotations

import json
import re
from typing import Any

# A lone UTF-16 surrogate escape parses to a str that cannot be encoded as UTF-8 again.
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
_NEGATIVE_ZERO = re.compile(r"[\[,:]\s*-0(?![\w.])")
_SIMPLE_NAME = re.compile(r"[A-Za-z_$@][A-Za-z0-9_$@\-]*\Z")
# RawNumbers travel through json.dumps as "\u0000<text>\u0000" and are unquoted afterwards;
# inputs that contain that escape themselves are not parsed (see parse_json).
_RAW_MARK = re.compile(r'"\\u0000([-+.0-9eE]+)\\u0000"')


class RawNumber:
    """A JSON number kept as written (`1.50`, `1e5`, `-0`), usable as a float."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __float__(self) -> float:
        return float(self.text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawNumber) and other.text == self.text

    def __hash__(self) -> int:
        return hash(("RawNumber", self.text))

    def __repr__(self) -> str:
        return self.text


class Unparsed(ValueError):
    """The text is not JSON this module can copy exactly."""


def _parse_float(text: str) -> float | RawNumber:
    value = float(text)
    return value if repr(value) == text else RawNumber(text)


def _parse_int(text: str) -> int | RawNumber:
    return RawNumber(text) if text == "-0" else int(text)


def parse_json(text: str) -> Any:
    """Parse JSON keeping every number's text; raise `Unparsed` when that cannot be done."""
    if "\\u" in text and ("\\u0000" in text or _LONE_SURROGATE.search(text)):
        raise Unparsed("NUL or lone surrogate escapes")
    hooks = {"parse_int": _parse_int} if "-0" in text and _NEGATIVE_ZERO.search(text) else {}
    try:
        return json.loads(text, parse_float=_parse_float, **hooks)
    except (ValueError, RecursionError) as error:
        raise Unparsed(str(error)) from error


def _default(value: Any) -> str:
    if isinstance(value, RawNumber):
        return "\x00" + value.text + "\x00"
    raise TypeError(f"not JSON: {type(value).__name__}")


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default, check_circular=False)
# The C encoder called directly skips JSONEncoder's per-call set-up, which dominates for rows.
_C_ENCODE = (
    json.encoder.c_make_encoder(None, _default, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    if json.encoder.c_make_encoder is not None
    else None
)


def dumps(value: Any) -> str:
    """Compact JSON (no spaces, UTF-8 kept) with every number exactly as it was read."""
    text = "".join(_C_ENCODE(value, 0)) if _C_ENCODE is not None else _ENCODER.encode(value)
    return _RAW_MARK.sub(r"\1", text) if "\\u0000" in text else text


def value_key(value: Any) -> Any:
    """A hashable key that tells JSON values apart (1, 1.0, true and "1" all differ)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is dict or kind is list:
        return ("json", dumps(value))
    return (kind, value)


def is_number(value: Any) -> bool:
    """A JSON number (bools are not numbers here)."""
    kind = type(value)
    return kind is int or kind is float or kind is RawNumber


def is_simple_name(name: str) -> bool:
    """A key that reads unambiguously without quotes in a column list or a path."""
    return _SIMPLE_NAME.match(name) is not None


def name_text(name: str) -> str:
    """A key as written in a column list: bare when simple, else a JSON string."""
    return name if is_simple_name(name) else json.dumps(name, ensure_ascii=False)


def scalar_text(value: Any, limit: int = 24) -> str | None:
    """A short scalar as a note shows it (strings unquoted when plain), None when too long."""
    if type(value) is str:
        text = value if value and is_simple_name(value.replace(" ", "_")) else json.dumps(value, ensure_ascii=False)
    elif type(value) in (dict, list):
        return None
    else:
        text = dumps(value)
    return text if len(text) <= limit else None
