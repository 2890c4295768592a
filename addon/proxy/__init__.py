"""The proxy glue: where Headroom listens, which hosts it opens, streaming, its own upstream requests."""
