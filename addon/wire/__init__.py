"""Wire formats, byte-exact: JSON string splicing and server-sent events."""
