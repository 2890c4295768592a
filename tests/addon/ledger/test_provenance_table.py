import json

from addon.ledger.ledger_table import LedgerRow, LedgerWriter, connect, insert
from addon.ledger.provenance_table import CompositionWriter, Retrieval, read_composition, retrieved_after


def _records(n: int, new_from: int) -> list[dict]:
    return [{"pos": i, "at": f"messages[{i}]", "role": "user", "type": "text", "new": i >= new_from, "tokens": 10 + i, "sent": 10 + i, "fate": "untouched"} for i in range(n)]


def test_each_turn_is_written_as_a_delta_and_read_back_whole(tmp_path):
    db = connect(tmp_path / "ledger.sqlite3")
    writer = CompositionWriter()
    turns = [_records(3, 1), _records(5, 3), _records(8, 5)]
    for n, records in enumerate(turns):
        insert(db, [LedgerRow(float(n), "anthropic", "m", "s1", composition=records)], writer)
    stored = db.execute("SELECT base_id, base_units, units FROM compositions ORDER BY request_id").fetchall()
    assert [(b, n, len(json.loads(u))) for b, n, u in stored] == [(None, 0, 3), (1, 3, 2), (2, 5, 3)]
    assert db.execute("SELECT COUNT(*) FROM units").fetchone()[0] == 8  # each distinct unit once
    for n, records in enumerate(turns, 1):
        assert read_composition(db, n) == records
    # after a restart (a new writer), the next turn still finds its base in the file
    insert(db, [LedgerRow(9.0, "anthropic", "m", "s1", composition=_records(9, 8))], CompositionWriter())
    assert tuple(db.execute("SELECT base_id, base_units FROM compositions WHERE request_id = 4").fetchone()) == (3, 8)
    assert read_composition(db, 4) == _records(9, 8)
    assert read_composition(db, 99) is None


def test_a_changed_unit_breaks_the_shared_prefix_there(tmp_path):
    db = connect(tmp_path / "ledger.sqlite3")
    writer = CompositionWriter()
    first = _records(4, 4)
    second = _records(5, 4)
    second[1] = {**second[1], "fate": "whole", "reason": "small"}
    insert(db, [LedgerRow(1.0, "openai_chat", "m", "s", composition=first)], writer)
    insert(db, [LedgerRow(2.0, "openai_chat", "m", "s", composition=second)], writer)
    assert tuple(db.execute("SELECT base_units FROM compositions WHERE request_id = 2").fetchone()) == (1,)
    assert read_composition(db, 2) == second


def test_retrievals_are_recorded_through_the_writer(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    writer = LedgerWriter(path)
    writer.submit(lambda: Retrieval(5.0, "a" * 24, "found"))
    writer.submit(lambda: LedgerRow(4.0, "anthropic", "m", "s", composition=_records(2, 1)))
    assert writer.flush()
    writer.close()
    db = connect(path)
    assert retrieved_after(db, {"a" * 24, "b" * 24}, 4.0) == {"a" * 24: "found"}
    assert retrieved_after(db, {"a" * 24}, 6.0) == {}
    assert len(read_composition(db, 1)) == 2
