"""One line that tells a person what the ledger recorded for a flow (shown in mitmweb).

Pure of mitmproxy: the ledger addon builds it on the writer thread, right after the row.
"""

from __future__ import annotations

from addon.ledger.ledger_table import LedgerRow


def _money(value: float) -> str:
    return f"−${-value:.4f}" if value < 0 else f"${value:.4f}"


def ledger_line(row: LedgerRow) -> str:
    """E.g. `ledger: in 1,234 · cache read 10,000 · write 2,000 (5m) · out 345 · $0.0123 · saved $0.0045 (table)`."""
    parts = []
    usage = row.usage
    if usage is None:
        parts.append("usage unknown")
    else:
        parts.append(f"in {usage.input_tokens:,}")
        if usage.cache_read_tokens:
            parts.append(f"cache read {usage.cache_read_tokens:,}")
        writes = [f"{n:,} ({ttl})" for n, ttl in ((usage.cache_write_5m_tokens, "5m"), (usage.cache_write_1h_tokens, "1h")) if n]
        if writes:
            parts.append("write " + " + ".join(writes))
        parts.append(f"out {usage.output_tokens:,}")
    if row.cost_usd is not None:
        parts.append(_money(row.cost_usd))
    elif usage is not None:
        parts.append(f"no price for {row.model or 'an unknown model'}")
    if row.saved_usd is not None and (row.segments or row.retrieve_round):
        parts.append(f"saved {_money(row.saved_usd)}")
    # What kind of row this is, where it is not a plain client request that counts in spend.
    if row.role == "follow_up":
        parts.append("retrieval round" if row.retrieve_round else "follow-up")
    if not row.billed:
        parts.append("not billed here: " + ("its client row carries it" if row.role == "follow_up" else "its follow-up rows carry it"))
    if row.error:
        parts.append(f"error: {row.error[:120]}")
    where = f" ({row.pricing})" if row.pricing else ""
    return "ledger: " + " · ".join(parts) + where
