"""`headroom eval`: an A/B of compression on the user's own recorded traffic.

For each request Headroom rewrote, the client's original body and the forwarded body are sent
again to the provider and the two answers compared. One job per module:

- recorded_flows: read a mitmproxy flow file, keep the rewritten LLM requests
- resend_requests: the two requests to send (non-streamed, capped output, temperature 0, credentials)
- sending: the network part (httpx), behind a small interface tests replace
- answers: an API's answer as stop reason, tool calls and text
- text_similarity: MiniLM embeddings (difflib when the model cannot load)
- answer_comparison: what agrees between the two answers
- eval_cost: estimated and billed cost, and the budget
- eval_run: the pairs run in parallel within the budget, with a progress bar
- eval_report: the table and the JSON report
- eval_command: the command line
"""
