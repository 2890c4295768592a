"""compress() and the router: automatic choice, forced kinds, and unknown kinds."""

from __future__ import annotations

import pytest

from compressors import Context, Result, compress
from compressors.repeated_lines import fold_repeated_lines
from compressors.router import COMPRESSORS, choose_kind, route

REPEATED = "\n".join(["build step failed, retrying with backoff"] * 6)


def test_auto_picks_a_known_kind_and_compresses() -> None:
    result = compress(REPEATED)
    assert isinstance(result, Result)
    assert result.kind in COMPRESSORS
    assert result.text == "build step failed, retrying with backoff\n[previous line repeated 5 more times]"


def test_auto_is_the_default_kind() -> None:
    assert compress(REPEATED) == compress(REPEATED, kind="auto") == compress(REPEATED, Context(), "auto")


def test_auto_routes_by_choose_kind() -> None:
    context = Context(tool_name="Bash", tool_args={"command": "make"})
    kind = choose_kind(REPEATED, context)
    assert kind in COMPRESSORS
    assert route(REPEATED, context) == COMPRESSORS[kind](REPEATED, context)


def test_a_forced_kind_runs_that_compressor() -> None:
    result = compress(REPEATED, Context(tool_name="Read", path="/tmp/x.log"), kind="repeated_lines")
    assert result == fold_repeated_lines(REPEATED)
    assert result.kind == "repeated_lines"


def test_compress_accepts_no_context() -> None:
    assert compress("plain", None).text == "plain"


def test_unknown_kind_raises_value_error_naming_the_known_kinds() -> None:
    with pytest.raises(ValueError) as excinfo:
        compress(REPEATED, kind="no-such-kind")
    message = str(excinfo.value)
    assert "'no-such-kind'" in message
    for kind in COMPRESSORS:
        assert kind in message
    assert excinfo.value.__cause__ is None  # the KeyError is not chained onto the user's error


def test_kind_names_are_case_sensitive() -> None:
    with pytest.raises(ValueError, match="unknown compressor kind 'Repeated_Lines'"):
        route(REPEATED, Context(), "Repeated_Lines")
