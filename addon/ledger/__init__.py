"""The savings ledger: usage, prices, one row per request."""
