"""Tool outputs that repeat an earlier one of the same request, exactly or nearly.

Agents re-read files and re-run the same failing test. A fresh output identical to an earlier
one goes as a reference to that call; one that differs in a few lines from the latest earlier
output of the same tool and arguments (a test re-run, a log polled again) goes as a unified
diff against it, when the diff is under half its size. Both are lossless given the earlier copy
in the same prompt; the diff also keeps the full text retrievable. A delta is taken only against
an earlier output forwarded whole, so the model holds exactly what the diff applies to. Both
decisions are memoised per call and replayed only while the call they name is still in the
request (compaction may have removed it); decided only for fresh outputs, so nothing the
provider has seen changes.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field

from addon.compression.decision_memo import Decision, DecisionMemo
from addon.providers import Segment
from compressors.notes import fold_note

MIN_CHARS = 256  # shorter outputs are never worth a reference (segment_decisions.MIN_SEGMENT_CHARS)
REPEAT = "repeat"  # the kind of a decision that points at an identical earlier output
REPEAT_NOTE = "[headroom: the same output as tool call {call_id} above, repeated exactly]"
DELTA = "delta"  # the kind of a decision sent as a diff against an earlier output
DELTA_DETAIL = "the same as the output of tool call {call_id} above except for the lines below (a unified diff against it)"
DELTA_MAX_SHARE = 0.5  # a diff at least this share of the output's size is not worth it
_DELTA_CALL = re.compile(r"the output of tool call (\S+) above except")


@dataclass
class EarlierOutputs:
    """The tool outputs of one request seen so far, in order, with what was forwarded for each."""

    calls: set[str | None]  # every tool call whose output is in the request
    first_by_text: dict[str, str] = field(default_factory=dict)  # content key -> first call with that output
    whole_by_source: dict[str, tuple[str, str]] = field(default_factory=dict)  # source -> (call, text) forwarded whole

    def add(self, segment: Segment, key: str, forwarded_whole: bool) -> None:
        if not segment.call_id or len(segment.text) < MIN_CHARS:
            return
        self.first_by_text.setdefault(key, segment.call_id)
        source = source_of(segment)
        if source is not None:
            if forwarded_whole:
                self.whole_by_source[source] = (segment.call_id, segment.text)
            else:  # the latest output of this source is not what the model holds whole
                self.whole_by_source.pop(source, None)


def source_of(segment: Segment) -> str | None:
    """What an output is of: its tool and arguments (a file read again, a command run again)."""
    if not segment.tool_name:
        return None
    return f"{segment.tool_name}:{json.dumps(segment.tool_args, sort_keys=True, default=str)}"


def repeat_key(segment: Segment, key: str) -> str:
    """The memo key of a repeat decision: the output *and* the call it answers, so the earlier
    copy (the same text under another call) never picks up the reference to itself."""
    return f"repeat:{segment.call_id}:{key}"


def delta_key(segment: Segment, key: str) -> str:
    return f"delta:{segment.call_id}:{key}"


def repeat_decision(segment: Segment, key: str, earlier: EarlierOutputs, memo: DecisionMemo) -> tuple[Decision | None, bool]:
    """An output identical to an earlier one, as a reference to that call (and whether replayed)."""
    if not segment.call_id or len(segment.text) < MIN_CHARS:
        return None, False
    known = memo.get(repeat_key(segment, key))
    if known is not None:
        still_there = any(c and known.text == REPEAT_NOTE.format(call_id=c) for c in earlier.calls)
        return (known, True) if still_there else (None, False)
    first = earlier.first_by_text.get(key)
    if not segment.fresh or first is None or first == segment.call_id:
        return None, False
    reference = REPEAT_NOTE.format(call_id=first)
    return (Decision(REPEAT, reference, None, None), False) if len(reference) < len(segment.text) else (None, False)


def delta_decision(segment: Segment, key: str, earlier: EarlierOutputs, memo: DecisionMemo) -> tuple[Decision | None, bool]:
    """An output that differs in a few lines from the latest whole one of the same tool and
    arguments, as a diff against it (and whether replayed). Its fold note gets a marker, so the
    full text is also retrievable."""
    if not segment.call_id or len(segment.text) < MIN_CHARS:
        return None, False
    known = memo.get(delta_key(segment, key))
    if known is not None:
        named = _DELTA_CALL.search(known.text or "")
        return (known, True) if named and named.group(1) in earlier.calls else (None, False)
    source = source_of(segment)
    before = earlier.whole_by_source.get(source) if source else None
    if not segment.fresh or before is None or before[0] == segment.call_id or before[1] == segment.text:
        return None, False
    text = delta_text(before[0], before[1], segment.text)
    return (Decision(DELTA, text, None, None), False) if text is not None else (None, False)


def delta_text(call_id: str, old: str, new: str) -> str | None:
    """The new output as a note naming the earlier call and a unified diff (no context lines:
    each hunk header gives the line numbers), or None when that is not much smaller."""
    old_lines, new_lines = old.split("\n"), new.split("\n")
    hunks = list(difflib.unified_diff(old_lines, new_lines, lineterm="", n=0))[2:]  # without the ---/+++ header
    changed = sum(1 for line in hunks if line.startswith("+"))
    note = fold_note(len(new.splitlines()) - changed, "line", DELTA_DETAIL.format(call_id=call_id))
    text = note + "\n" + "\n".join(hunks)
    return text if len(text) < DELTA_MAX_SHARE * len(new) else None
