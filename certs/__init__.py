"""The local CA that lets mitmproxy read LLM traffic: created once, private key 0600."""
